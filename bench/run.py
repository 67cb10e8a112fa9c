"""simgql against the physical limit and its peers: one command, one table of ratios.

    python bench/run.py [--scale tiny|small|medium|full] [--json out.json] [--keep]
                        [--servers simgql handwritten naive postgraphile]
                        [--page-size 50] [--duration 10] [--concurrency 16 64]
                        [--s1 100 1000 5000] [--profile 15]

What one run does (docs/performance.md explains the method and the figures):

1. creates a fresh PostgreSQL database (random name; dropped at the end unless --keep),
   migrates it with simgql's migrations and fills it with COPY (bench/datagen.py);
2. for each server (simgql first, then the baselines), ONE process on loopback:
   a. correctness and SQL pass: the server talks to PostgreSQL through a counting proxy
      (bench/sqlcount.py); its Q1/Q2 answers are compared with simgql's, and the SQL
      statements per request are counted (Q1 at page sizes 10/50/100 for simgql, M1 too);
   b. timing pass, direct to PostgreSQL: Q1 and Q2 closed loop (wrk) at each concurrency,
      then open loop at a fixed arrival rate; server CPU and PostgreSQL backend CPU per
      request from /proc; M1 (create → submit → accept) for simgql; a py-spy profile of
      simgql under Q1 with --profile;
3. S1: bench/subscribers.py for the dashboard and the per-PO subscription;
4. prints the figures with simgql as ratios of each baseline, and writes them with --json.

Every wait is bounded; servers, the proxy and the database are cleaned up on any error,
Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import orjson  # noqa: E402

from bench import operations as ops  # noqa: E402
from bench import pgql, report  # noqa: E402
from bench.datagen import SCALES, generate  # noqa: E402
from bench.loadgen import HttpConnection, Target, closed_loop, have_wrk, open_loop  # noqa: E402
from bench.profiling import profile_server  # noqa: E402
from bench.servers import QUIET_ENV, SPECS, RunningServer, postgraphile_problem  # noqa: E402
from bench.sqlcount import CountingProxy  # noqa: E402

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
SQL_SAMPLES = 5  # requests averaged per SQL count (--sql-samples)


# --------------------------------------------------------------------------- database


class BenchDatabase:
    """A fresh database next to the admin URL's, dropped by `drop()` unless kept."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = f"simgql_bench_{secrets.token_hex(6)}"
        self.url = f"{admin_url.rsplit('/', 1)[0]}/{self.name}"
        self.created = False

    async def create(self) -> None:
        conn = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{self.name}"')
            self.created = True
        finally:
            await conn.close()

    async def drop(self) -> None:
        if not self.created:
            return
        conn = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self.created = False
        finally:
            await conn.close()


@dataclass
class Fixtures:
    """Who asks what: the dashboard's tenant, the PO of the edit view, tokens."""

    account_code: str
    account_id: uuid.UUID
    account_pos: int
    product_id: uuid.UUID
    q2_po: uuid.UUID
    q2_sims: int
    viewer_token: str
    purchaser_token: str
    agent_token: str


async def pick_fixtures(url: str, secret: str) -> Fixtures:
    """The ACTIVE account with most POs (Q1), a PROVISIONING PO with SIMs (Q2), tokens."""
    from simgql.api.auth import mint_token
    from simgql.domain.model import Role

    conn = await asyncpg.connect(url, timeout=10)
    try:
        account = await conn.fetchrow(
            "SELECT a.id, a.code, count(*) AS n FROM accounts a "
            "JOIN purchase_orders po ON po.account_id = a.id WHERE a.status = 'ACTIVE' "
            "GROUP BY a.id, a.code ORDER BY n DESC, a.code LIMIT 1"
        )
        product = await conn.fetchval(
            "SELECT p.id FROM product_assignments pa JOIN products p ON p.id = pa.product_id "
            "WHERE pa.account_id = $1 AND p.active ORDER BY p.code LIMIT 1",
            account["id"],
        )
        po = await conn.fetchrow(
            "SELECT po.id, (SELECT count(*) FROM sims s WHERE s.purchase_order_id = po.id) AS n "
            "FROM purchase_orders po WHERE po.status = 'PROVISIONING' "
            "ORDER BY n DESC, po.id LIMIT 1"
        )
    finally:
        await conn.close()
    ttl = dt.timedelta(hours=12)
    code = account["code"]
    return Fixtures(
        account_code=code,
        account_id=account["id"],
        account_pos=account["n"],
        product_id=product,
        q2_po=po["id"],
        q2_sims=po["n"],
        viewer_token=mint_token(
            secret=secret, role=Role.ENTERPRISE_VIEWER, sub=f"viewer@{code}", account=code,
            ttl=ttl,
        ),
        purchaser_token=mint_token(
            secret=secret, role=Role.ENTERPRISE_PURCHASER, sub=f"buyer@{code}", account=code,
            ttl=ttl,
        ),
        agent_token=mint_token(secret=secret, role=Role.SP_AGENT, sub="agent-007", ttl=ttl),
    )  # fmt: skip


def requests_for(server: str, fx: Fixtures, page_size: int) -> dict[str, tuple[bytes, str]]:
    """The Q1 and Q2 request bodies (and tokens) of one server."""
    if server == "postgraphile":
        q1 = pgql.q1_body(fx.account_id, page_size)
        q2 = pgql.q2_body(fx.q2_po)
    else:
        q1 = ops.q1_body(page_size)
        q2 = ops.q2_body(ops.gid("PurchaseOrder", fx.q2_po))
    return {
        "Q1": (orjson.dumps(q1), fx.viewer_token),
        "Q2": (orjson.dumps(q2), fx.agent_token),
    }


def target(port: int, body: bytes, token: str) -> Target:
    return Target("127.0.0.1", port, "/graphql", body, {"Authorization": f"Bearer {token}"})


async def post_json(conn: HttpConnection, body: bytes, token: str) -> dict[str, Any]:
    status, data = await asyncio.wait_for(
        conn.post("/graphql", body, {"Authorization": f"Bearer {token}"}), 60
    )
    parsed: dict[str, Any] = orjson.loads(data)
    if status != 200 or parsed.get("errors"):
        raise RuntimeError(f"HTTP {status}: {data[:1000]!r}")
    return parsed


# --------------------------------------------------------------------------- M1


async def m1_once(conn: HttpConnection, fx: Fixtures) -> list[tuple[str, float]]:
    """create → submit → accept one PO; each step's latency."""
    create = {
        "query": ops.CREATE,
        "variables": {
            "input": {
                "lines": [{"productId": ops.gid("Product", fx.product_id), "quantity": 2}],
                "shippingAddress": ops.ADDRESS,
                "requestedShipDate": (dt.date.today() + dt.timedelta(days=7)).isoformat(),
            }
        },
    }
    out = []
    t = time.monotonic()
    body = await post_json(conn, orjson.dumps(create), fx.purchaser_token)
    out.append(("create", time.monotonic() - t))
    po = body["data"]["createPurchaseOrder"]["purchaseOrder"]["id"]
    for name, doc, token in (
        ("submit", ops.SUBMIT, fx.purchaser_token),
        ("accept", ops.ACCEPT, fx.agent_token),
    ):
        t = time.monotonic()
        await post_json(conn, orjson.dumps({"query": doc, "variables": {"id": po}}), token)
        out.append((name, time.monotonic() - t))
    return out


async def m1_closed(port: int, fx: Fixtures, concurrency: int, duration: float) -> dict[str, Any]:
    """M1 closed loop: `concurrency` purchasers each walking POs through create/submit/accept."""
    from bench.loadgen import percentile

    samples: dict[str, list[float]] = {"create": [], "submit": [], "accept": [], "pair": []}
    errors: list[str] = []
    end = time.monotonic() + duration

    async def worker() -> None:
        conn = HttpConnection("127.0.0.1", port)
        try:
            while time.monotonic() < end:
                try:
                    steps = await m1_once(conn, fx)
                except Exception as exc:  # a failed walk is counted, the loop goes on
                    errors.append(repr(exc)[:300])
                    conn.close()
                    continue
                for name, seconds in steps:
                    samples[name].append(seconds)
                samples["pair"].append(steps[1][1] + steps[2][1])
        finally:
            conn.close()

    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - t0
    result: dict[str, Any] = {"concurrency": concurrency, "seconds": elapsed,
                              "errors": len(errors), "error_samples": errors[:3]}  # fmt: skip
    for name, values in samples.items():
        values.sort()
        result[name] = {
            "count": len(values),
            "p50_ms": percentile(values, 0.5) * 1000,
            "p99_ms": percentile(values, 0.99) * 1000,
        }
    result["walks_per_s"] = len(samples["pair"]) / elapsed if elapsed else math.nan
    result["transitions_per_s"] = 2 * result["walks_per_s"]
    return result


# --------------------------------------------------------------------------- passes


async def correctness_and_sql(
    name: str, args: argparse.Namespace, db_url: str, fx: Fixtures, secret: str, logdir: Path
) -> dict[str, Any]:
    """Answers to Q1/Q2 and SQL statements per request, through the counting proxy."""
    host, port = "127.0.0.1", int(db_url.rsplit(":", 1)[1].split("/", 1)[0])
    proxy = CountingProxy(host, port)
    proxied = db_url.replace(f":{port}/", f":{await proxy.start()}/", 1)
    server = RunningServer(SPECS[name], proxied, secret, logdir, extra_env=QUIET_ENV)
    conn = HttpConnection("127.0.0.1", server.port)
    out: dict[str, Any] = {"sql": {}}
    try:
        server.spawn()
        await server.wait_ready()
        reqs = requests_for(name, fx, args.page_size)
        for op, (body, token) in reqs.items():
            for _ in range(2):  # first use: connections, prepared statements, introspection
                out[op] = (await post_json(conn, body, token))["data"]
            proxy.reset()
            for _ in range(args.sql_samples):
                await post_json(conn, body, token)
            out["sql"][op] = per_request(proxy, args.sql_samples)
        if name != "postgraphile":
            sizes: dict[str, Any] = {}
            for size in sorted({*args.sql_page_sizes, args.page_size}):
                body, token = requests_for(name, fx, size)["Q1"]
                await post_json(conn, body, token)
                proxy.reset()
                for _ in range(args.sql_samples):
                    await post_json(conn, body, token)
                sizes[str(size)] = per_request(proxy, args.sql_samples)
            out["sql"]["Q1_by_page_size"] = sizes
    finally:
        conn.close()
        await server.astop()
        await proxy.close()
    return out


def per_request(proxy: CountingProxy, n: int) -> dict[str, Any]:
    snap = proxy.counts.snapshot()
    result: dict[str, Any] = {k: v / n for k, v in snap.items()}
    result["statements"] = sorted(
        ((text, count / n) for text, count in proxy.counts.texts.items()), key=lambda kv: -kv[1]
    )[:20]
    return result


async def backend_cpu(conn: asyncpg.Connection, dbname: str) -> dict[int, float]:
    """CPU seconds of every PostgreSQL backend of the bench database (not ours)."""
    from bench.servers import proc_cpu_seconds

    rows = await conn.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", dbname
    )
    return {r["pid"]: proc_cpu_seconds(r["pid"]) for r in rows}


async def measured(
    server: RunningServer, probe: asyncpg.Connection, dbname: str, work: Any
) -> dict[str, Any]:
    """Run `work()` and add server and PostgreSQL CPU per request to its figures."""
    cpu0, pg0 = server.cpu(), await backend_cpu(probe, dbname)
    result: dict[str, Any] = await work()
    cpu1, pg1 = server.cpu(), await backend_cpu(probe, dbname)
    # Requests completed (M1: mutations); none completed leaves the per-request CPU unknown.
    n = result.get("requests") or 2 * result.get("pair", {}).get("count", 0)
    pg_cpu = sum(v - pg0.get(pid, 0.0) for pid, v in pg1.items())
    result["server_cpu_ms_per_req"] = (cpu1 - cpu0) / n * 1000 if n else math.nan
    result["pg_cpu_ms_per_req"] = pg_cpu / n * 1000 if n else math.nan
    result["server_cpu_util"] = (cpu1 - cpu0) / result["seconds"] if result["seconds"] else 0
    return result


async def timing(
    name: str,
    args: argparse.Namespace,
    db: BenchDatabase,
    fx: Fixtures,
    secret: str,
    logdir: Path,
    rates: dict[str, float],
) -> dict[str, Any]:
    """Throughput and latency of one server, direct to PostgreSQL."""
    server = RunningServer(SPECS[name], db.url, secret, logdir)
    probe = await asyncpg.connect(db.url, timeout=10)
    out: dict[str, Any] = {}
    try:
        server.spawn()
        await server.wait_ready()
        reqs = requests_for(name, fx, args.page_size)
        for op, (body, token) in reqs.items():
            t = target(server.port, body, token)
            await closed_loop(t, 4, args.warmup)  # warm: pool filled, code paths hot
            figures: dict[str, Any] = {"closed": {}}
            for c in args.concurrency:
                figures["closed"][str(c)] = await measured(
                    server, probe, db.name, lambda t=t, c=c: closed_loop(t, c, args.duration)
                )
                print(f"  {name} {op} c={c}: {report.brief(figures['closed'][str(c)])}", flush=True)
            if op not in rates:  # simgql runs first and sets the arrival rate
                best = figures["closed"][str(args.concurrency[0])]["rps"]
                rates[op] = max(1.0, round(args.open_fraction * best, 1))
            figures["open"] = await measured(
                server, probe, db.name, lambda t=t, op=op: open_loop(t, rates[op], args.duration)
            )
            print(f"  {name} {op} open {rates[op]}/s: {report.brief(figures['open'])}", flush=True)
            out[op] = figures
        if name == "simgql" and args.profile > 0:
            body, token = reqs["Q1"]
            out["profile"] = await profile_server(
                server.pid, target(server.port, body, token), args.profile, logdir
            )
        out["rss_mib"] = server.rss() / 2**20
    except BaseException:
        print(f"--- {name} log tail:\n{server.tail()}", file=sys.stderr)
        raise
    finally:
        await server.astop()
        await probe.close()
    return out


async def m1_pass(
    args: argparse.Namespace, db: BenchDatabase, fx: Fixtures, secret: str, logdir: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """M1 on simgql: SQL per walk through the proxy, then the closed loop direct.

    It runs after every read measurement, because the POs it creates join the dashboard.
    """
    port = int(db.url.rsplit(":", 1)[1].split("/", 1)[0])
    proxy = CountingProxy("127.0.0.1", port)
    proxied = db.url.replace(f":{port}/", f":{await proxy.start()}/", 1)
    server = RunningServer(SPECS["simgql"], proxied, secret, logdir)
    conn = HttpConnection("127.0.0.1", server.port)
    try:
        server.spawn()
        await server.wait_ready()
        for _ in range(2):
            await m1_once(conn, fx)  # warm
        proxy.reset()
        for _ in range(args.sql_samples):
            await m1_once(conn, fx)
        sql = per_request(proxy, args.sql_samples)
    finally:
        conn.close()
        await server.astop()
        await proxy.close()
    server = RunningServer(SPECS["simgql"], db.url, secret, logdir)
    probe = await asyncpg.connect(db.url, timeout=10)
    try:
        server.spawn()
        await server.wait_ready()
        await m1_closed(server.port, fx, 4, args.warmup)
        timing = await measured(
            server, probe, db.name,
            lambda: m1_closed(server.port, fx, args.m1_concurrency, args.duration),
        )  # fmt: skip
        print(f"  simgql M1: {report.brief_m1(timing)}", flush=True)
    except BaseException:
        print(f"--- simgql log tail:\n{server.tail()}", file=sys.stderr)
        raise
    finally:
        await server.astop()
        await probe.close()
    return sql, timing


def run_s1(args: argparse.Namespace, logdir: Path) -> dict[str, Any]:
    """Subscription fan-out through bench/subscribers.py, per subscription mode."""
    results: dict[str, Any] = {}
    for mode in args.s1_modes:
        out = logdir / f"s1-{mode}.json"
        cmd = [
            sys.executable, str(ROOT / "bench" / "subscribers.py"), "--mode", mode,
            "--subscribers", *map(str, args.s1), "--events", str(args.s1_events),
            "--rate", str(args.s1_rate), "--database-url", args.database_url,
            "--json", str(out), "--time-budget", str(args.s1_budget),
            *args.s1_extra,
        ]  # fmt: skip
        print(f"\n== S1 ({mode}): {' '.join(cmd[1:])}", flush=True)
        try:
            proc = subprocess.run(cmd, cwd=ROOT, timeout=args.s1_budget + 300, check=False)
            results[mode] = {"exit_code": proc.returncode}
        except subprocess.TimeoutExpired:
            results[mode] = {"exit_code": None, "error": "timed out"}
        if out.exists():
            results[mode]["runs"] = json.loads(out.read_text())
    return results


# --------------------------------------------------------------------------- main


def check_agreement(results: dict[str, Any]) -> dict[str, Any]:
    """Do the servers return the same data for Q1 and Q2?"""
    base = results["simgql"]["answers"]
    verdict: dict[str, Any] = {}
    for name, r in results.items():
        if name == "simgql" or "answers" not in r:
            continue
        answers = r["answers"]
        checks = {}
        for op in ("Q1", "Q2"):
            if name == "postgraphile":
                mine = (pgql.summary_q1 if op == "Q1" else pgql.summary_q2)(answers[op])
                theirs = (ops.summary_q1 if op == "Q1" else ops.summary_q2)(base[op])
                theirs = {k: v for k, v in theirs.items() if k in mine}
                diff = ops.first_difference(theirs, mine)
                checks[op] = {"same": diff is None, "compared": "ids, line counts, product "
                              "codes, SIMs, history", "difference": diff}  # fmt: skip
            else:
                diff = ops.first_difference(base[op], answers[op])
                checks[op] = {"same": diff is None, "compared": "whole JSON", "difference": diff}
        verdict[name] = checks
    return verdict


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    secret = secrets.token_hex(32)
    db = BenchDatabase(args.database_url)
    servers = [s for s in ["simgql", *args.servers] if s in SPECS]
    servers = list(dict.fromkeys(servers))
    skipped: dict[str, str] = {}
    if "postgraphile" in servers and (why := postgraphile_problem()):
        skipped["postgraphile"] = why
        servers.remove("postgraphile")
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "load_avg_start": os.getloadavg(),
            "load_generator": "wrk (closed loop) + asyncio open loop" if have_wrk()
            else "asyncio (wrk not installed)",
        },
        "args": {k: v for k, v in vars(args).items() if k != "json"},
        "skipped": skipped,
        "servers": {},
    }  # fmt: skip
    with contextlib.ExitStack() as stack:
        logdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="simgql-bench-")))
        try:
            await db.create()
            from simgql.db.migrate import upgrade

            await upgrade(db.url)
            gen = await generate(db.url, args.scale)
            result["dataset"] = asdict(gen) | {"database": db.name}
            result["dataset"].pop("account_po_counts", None)
            print(f"data set {args.scale} in {gen.seconds:.1f}s: {gen.counts}", flush=True)
            fx = await pick_fixtures(db.url, secret)
            result["fixtures"] = {
                "q1_account": fx.account_code, "q1_account_pos": fx.account_pos,
                "q2_po": str(fx.q2_po), "q2_sims": fx.q2_sims,
            }  # fmt: skip
            for name in servers:
                print(f"\n== {name}: correctness and SQL pass", flush=True)
                try:
                    checked = await correctness_and_sql(name, args, db.url, fx, secret, logdir)
                except Exception as exc:
                    if name != "postgraphile":
                        raise
                    skipped[name] = f"failed: {exc!r}"[:2000]
                    print(f"   skipping postgraphile: {exc!r}"[:2000], flush=True)
                    continue
                result["servers"][name] = {
                    "answers": {op: checked[op] for op in ("Q1", "Q2")},
                    "sql": checked["sql"],
                }
            result["agreement"] = check_agreement(result["servers"])
            print(f"agreement: {json.dumps(result['agreement'])}", flush=True)
            if args.strict and not all(
                c["same"] for v in result["agreement"].values() for c in v.values()
            ):
                raise SystemExit("the servers disagree on the data (see above)")
            rates: dict[str, float] = dict(args.rate or {})
            for name in result["servers"]:
                print(f"\n== {name}: timing pass", flush=True)
                result["servers"][name]["timing"] = await timing(
                    name, args, db, fx, secret, logdir, rates
                )
            result["open_loop_rates"] = rates
            if not args.skip_m1:
                print("\n== simgql: M1 pass", flush=True)
                sql, m1 = await m1_pass(args, db, fx, secret, logdir)
                result["servers"]["simgql"]["sql"]["M1_walk"] = sql
                result["servers"]["simgql"]["timing"]["M1"] = m1
        finally:
            if args.keep:
                print(f"kept database {db.name} ({db.url})", flush=True)
            else:
                with contextlib.suppress(Exception):
                    await db.drop()
        if args.s1:
            result["S1"] = run_s1(args, logdir)
    if not args.keep_answers:
        for r in result["servers"].values():
            r.pop("answers", None)
    return result


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    def handler(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def rate_arg(text: str) -> tuple[str, float]:
    """`Q1=100` → ("Q1", 100.0)."""
    op, _, value = text.partition("=")
    return op, float(value)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--scale", choices=sorted(SCALES), default="small")
    p.add_argument("--json", type=Path, help="write every figure here")
    p.add_argument("--keep", action="store_true", help="do not drop the database")
    p.add_argument("--keep-answers", action="store_true", help="put Q1/Q2 answers in the JSON")
    p.add_argument("--servers", nargs="*", default=["handwritten", "naive", "postgraphile"],
                   choices=sorted(SPECS), help="baselines (simgql always runs)")  # fmt: skip
    p.add_argument("--page-size", type=int, default=50)
    p.add_argument("--sql-page-sizes", type=int, nargs="+", default=[10, 50, 100])
    p.add_argument("--sql-samples", type=int, default=SQL_SAMPLES, help="requests per SQL count")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per query")
    p.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    p.add_argument("--open-fraction", type=float, default=0.5,
                   help="open-loop rate as a fraction of simgql's closed-loop rate")  # fmt: skip
    p.add_argument(
        "--rate",
        action="append",
        type=rate_arg,
        help="fixed open-loop rate, e.g. Q1=100 (default: --open-fraction)",
    )
    p.add_argument("--m1-concurrency", type=int, default=16)
    p.add_argument("--skip-m1", action="store_true")
    p.add_argument("--profile", type=float, default=0.0, help="py-spy seconds on simgql Q1")
    p.add_argument("--s1", type=int, nargs="*", default=[100, 1000, 5000],
                   help="subscriber counts for S1 (none: skip S1)")  # fmt: skip
    p.add_argument("--s1-modes", nargs="+", default=["dashboard", "po"],
                   choices=["dashboard", "po"])  # fmt: skip
    p.add_argument("--s1-events", type=int, default=40)
    p.add_argument("--s1-rate", type=float, default=20.0)
    p.add_argument("--s1-budget", type=float, default=1200.0)
    p.add_argument("--s1-extra", nargs=argparse.REMAINDER, default=[],
                   help="passed on to bench/subscribers.py (must come last)")  # fmt: skip
    p.add_argument("--database-url", default=os.environ.get("SIMGQL_BENCH_ADMIN_URL",
                                                            DEFAULT_ADMIN_URL))  # fmt: skip
    p.add_argument("--strict", action="store_true", help="stop when servers disagree")
    args = p.parse_args(argv)
    if args.page_size < 1 or args.page_size > 100:
        p.error("--page-size must be 1..100 (simgql's maximum page)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with sigterm_as_exit():
        try:
            import uvloop

            result = uvloop.run(amain(args))
        except ImportError:
            result = asyncio.run(amain(args))
    print()
    print(report.render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
        print(f"\nfigures written to {args.json}")
    agreement = result.get("agreement", {})
    return 0 if all(c["same"] for v in agreement.values() for c in v.values()) else 2


if __name__ == "__main__":
    sys.exit(main())
