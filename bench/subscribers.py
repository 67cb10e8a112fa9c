"""Load benchmark: N concurrent `purchaseOrderEvents` subscribers on one server process.

    python bench/subscribers.py [--subscribers 100 1000 5000] [--events 200] [--rate 20]
                                [--mode dashboard|po]
                                [--events-at 5000=40] [--selection full|scalars ...]
                                [--database-url postgresql://postgres@127.0.0.1:5432/test]
                                [--source DIR] [--json FILE]

Figures and what they mean: docs/performance-subscriptions.md.

What one run does, for the baseline N=1 first and then for every N asked for:

1. creates a fresh PostgreSQL database (random name, dropped at the end), migrates it and
   prepares one tenant with enough SUBMITTED purchase orders for every run (through the
   application's own actions, `tests/factories.py`);
2. starts ONE uvicorn process (`simgql.app:create_app --factory`) for this N, warms it up with
   one subscription and one event, and reads its idle RSS;
3. opens N WebSockets (`graphql-transport-ws`, split over a few client processes) and reads
   the RSS once every `connection_init` is acknowledged, then starts one `purchaseOrderEvents`
   subscription on each, waits until the server's `/metrics` counts N live subscriptions, and
   reads the RSS again (memory per idle subscription, and how much of it is the socket);
4. accepts one PO and waits until every subscriber has that event (`/metrics` counts a
   subscription before its start query has run, so only this proves all N are live);
5. accepts the prepared POs over HTTP at a steady rate (open loop: request i leaves at
   t0 + i/rate whether or not earlier ones have answered) and waits until every subscriber
   has every event, or until the drain timeout;
6. reports, over all (event, subscriber) pairs, the latency from the mutation's HTTP response
   (the commit is done by then) to receipt, events lost (the event log in the database is the
   ground truth), duplicates, errors, server/PostgreSQL/client CPU and database transactions
   per event; then the ratios against the N=1 baseline of the same run.

`--mode dashboard` (the default) gives every subscriber the same `purchaseOrderEvents`
subscription (fan-out: each event goes to all N). `--mode po` gives each subscriber one
`purchaseOrderStatusChanged(id, after)` subscription: the N subscribers are spread over the
POs the stream will accept (N / events per PO), each starting `after` its PO's first event so
the server replays the history first (which also proves the subscription is live). Each event
then goes to the subscribers of its PO only, and the expected deliveries are counted per PO.

`--selection full` (the default) asks for `cursor toStatus occurredAt purchaseOrder { id }`,
as a client showing a list would; `purchaseOrder` is resolved per subscriber. `--selection
scalars` asks for `cursor toStatus occurredAt` only, which the event row already holds; running
both shows what the nested field costs. `--source DIR` serves from another source tree (e.g.
`git archive` of the commit being measured) instead of the installed simgql.

Timestamps come from `time.monotonic()` (CLOCK_MONOTONIC, shared by every process on the
machine), so the client processes and the process that sends mutations compare directly.
Everything listens on and connects to loopback only. Every wait is bounded; the server, the
client processes and the database are cleaned up on any error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import base64
import contextlib
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import platform
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import asyncpg
import httpx
import websockets
from websockets.asyncio.client import ClientConnection, connect

# The source tree whose `simgql` and `tests/factories.py` are used; `--source` changes it.
ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PROTOCOL = "graphql-transport-ws"

SELECTIONS = {
    # The brief's selection: the nested `purchaseOrder` is resolved per subscriber.
    "full": "cursor toStatus occurredAt purchaseOrder { id }",
    # Scalars only: what the event row itself holds, no further reads.
    "scalars": "cursor toStatus occurredAt",
}
ACCEPT = "mutation($id: ID!) { acceptPurchaseOrder(input: {id: $id}) { purchaseOrder { id } } }"


# --------------------------------------------------------------------------- helpers


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted `values` (nan when empty)."""
    if not values:
        return math.nan
    rank = max(1, math.ceil(q * len(values)))
    return values[min(rank, len(values)) - 1]


def encode_event_cursor(event_id: int) -> str:
    return base64.urlsafe_b64encode(f"event:{event_id}".encode()).decode().rstrip("=")


def _po_uuid(gid: str) -> str:
    raw = base64.urlsafe_b64decode(gid + "=" * (-len(gid) % 4)).decode()
    return raw.partition(":")[2]


def decode_event_cursor(cursor: str) -> int:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    prefix, _, number = raw.partition(":")
    if prefix != "event":
        raise ValueError(cursor)
    return int(number)


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle, from /proc/stat (every process on the machine)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def proc_status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_loopback(url: str) -> None:
    host = urlparse(url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"refusing a non-loopback address: {url}")


def raise_fd_limit(needed: int) -> tuple[int, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        new = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    if soft < needed:
        raise SystemExit(f"ulimit -n is {soft} (hard {hard}); {needed} file descriptors needed")
    return soft, hard


def fmt_ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f}"


def fmt_ratio(value: float, base: float) -> str:
    """value / base; n/a where a ratio means nothing (missing, or not positive)."""
    if math.isnan(value) or math.isnan(base) or base <= 0 or value <= 0:
        return "n/a"
    return f"{value / base:.2f}x"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| "
        + " | ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        + " |"
        for r in rows
    ]
    return "\n".join([line, rule, *body])


# --------------------------------------------------------------------------- client processes

# Per client process, shared counters: sockets connected, deliveries of the stream (event id
# above `min_event`), errors, failed connects, live subscribers (had at least one message),
# all deliveries.
SLOTS = 6
CONNECTED, RECEIVED, ERRORS, FAILED, LIVE, ALL = range(SLOTS)
SYNC_ROUNDS = 10
# The parent moves every client process through these phases with one shared byte.
PHASE_CONNECT, PHASE_SUBSCRIBE, PHASE_STREAM = 0, 1, 2


@dataclass
class ClientJob:
    index: int
    url: str
    token: str
    query: str
    count: int
    connect_concurrency: int
    deadline_s: float  # hard end of this process, from its start
    field: str = "purchaseOrderEvents"  # the subscription's root field
    variables: list[dict[str, Any]] | None = None  # per subscriber (per-PO mode)


def client_process(
    job: ClientJob, counters: Any, phase: Any, min_event: Any, stop: Any, results: Any
) -> None:  # pragma: no cover - runs in a child process
    """Entry point of one client process: `job.count` sockets with one subscription each."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        out = runner(_clients(job, counters, phase, min_event, stop))
    except BaseException as exc:
        out = {"fatal": repr(exc)}
    results.put((job.index, out))


async def _clients(
    job: ClientJob, counters: Any, phase: Any, min_event: Any, stop: Any
) -> dict[str, Any]:
    base = job.index * SLOTS
    loop = asyncio.get_running_loop()
    hard_end = loop.time() + job.deadline_s
    sem = asyncio.Semaphore(job.connect_concurrency)
    times: dict[int, array.array[float]] = {}
    sockets: list[ClientConnection] = []
    stats = {
        "received": 0,
        "all": 0,
        "live": 0,
        "errors": 0,
        "dups": 0,
        "unexpected_close": 0,
        "failed": 0,
    }
    error_samples: list[str] = []
    stopping = False
    init = json.dumps(
        {"type": "connection_init", "payload": {"authorization": f"Bearer {job.token}"}}
    )
    def subscribe_message(k: int) -> str:
        payload: dict[str, Any] = {"query": job.query}
        if job.variables:
            payload["variables"] = job.variables[k]
        return json.dumps({"id": "1", "type": "subscribe", "payload": payload})

    def error(text: str) -> None:
        stats["errors"] += 1
        counters[base + ERRORS] = stats["errors"]
        if len(error_samples) < 5:
            error_samples.append(text[:500])

    async def open_one() -> ClientConnection | None:
        for attempt in range(3):
            try:
                async with sem:
                    ws = await connect(
                        job.url,
                        subprotocols=[PROTOCOL],  # type: ignore[list-item]
                        compression=None,
                        ping_interval=None,
                        open_timeout=60,
                        close_timeout=5,
                        max_queue=None,
                    )
                    await ws.send(init)
                    ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    if ack.get("type") != "connection_ack":
                        await ws.close()
                        raise RuntimeError(f"no connection_ack: {ack}")
                    return ws
            except Exception as exc:
                if attempt == 2:
                    error(f"connect: {exc!r}")
                await asyncio.sleep(0.5 * (attempt + 1))
        return None

    async def run_one(k: int) -> None:
        ws = await open_one()
        if ws is None:
            stats["failed"] += 1
            counters[base + FAILED] = stats["failed"]
            return
        sockets.append(ws)
        counters[base + CONNECTED] = len(sockets)
        seen: set[int] = set()
        live = False
        try:
            await subscribe_now.wait()
            await ws.send(subscribe_message(k))
            async for raw in ws:
                now = time.monotonic()
                msg = json.loads(raw)
                kind = msg.get("type")
                if kind == "next":
                    if not live:
                        live = True
                        stats["live"] += 1
                        counters[base + LIVE] = stats["live"]
                    payload = msg.get("payload") or {}
                    data = payload.get("data") or {}
                    event = data.get(job.field)
                    if payload.get("errors") or not event:
                        error(json.dumps(payload))
                        continue
                    event_id = decode_event_cursor(event["cursor"])
                    if event_id in seen:
                        stats["dups"] += 1
                        continue
                    seen.add(event_id)
                    got = times.get(event_id)
                    if got is None:
                        got = times[event_id] = array.array("d")
                    got.append(now)
                    stats["all"] += 1
                    counters[base + ALL] = stats["all"]
                    if event_id > min_event.value:
                        stats["received"] += 1
                        counters[base + RECEIVED] = stats["received"]
                elif kind == "ping":
                    await ws.send('{"type":"pong"}')
                elif kind != "pong":
                    error(json.dumps(msg))
        except websockets.ConnectionClosed as exc:
            if not stopping:
                stats["unexpected_close"] += 1
                error(f"closed: {exc!r}")

    subscribe_now = asyncio.Event()
    tasks = [asyncio.create_task(run_one(k)) for k in range(job.count)]
    cpu_at_phase: float | None = None
    wall_at_phase: float | None = None
    while not stop.is_set() and loop.time() < hard_end:
        if phase.value >= PHASE_SUBSCRIBE:
            subscribe_now.set()
        if cpu_at_phase is None and phase.value >= PHASE_STREAM:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            cpu_at_phase, wall_at_phase = usage.ru_utime + usage.ru_stime, time.monotonic()
        await asyncio.sleep(0.05)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_phase = usage.ru_utime + usage.ru_stime - (cpu_at_phase or 0.0)
    wall_phase = time.monotonic() - (wall_at_phase or time.monotonic())
    stopping = True

    async def close(ws: ClientConnection) -> None:
        async with sem:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 5)

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(close(ws) for ws in sockets)), 60)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        **stats,
        "connected": len(sockets),
        "error_samples": error_samples,
        "times": times,
        "cpu_phase_s": cpu_phase if cpu_at_phase is not None else math.nan,
        "wall_phase_s": wall_phase,
    }


class ClientPool:
    """`n` subscribers spread over `procs` processes; counters shared, results via a queue."""

    def __init__(
        self,
        n: int,
        procs: int,
        *,
        url: str,
        token: str,
        query: str,
        concurrency: int,
        life: float,
        field: str = "purchaseOrderEvents",
        variables: list[dict[str, Any]] | None = None,
    ) -> None:
        ctx = mp.get_context("spawn")
        self.procs = procs
        self.counters = ctx.Array("q", procs * SLOTS, lock=False)
        self.phase = ctx.Value("b", 0, lock=False)
        self.min_event = ctx.Value("q", 2**62, lock=False)
        self.stop_event = ctx.Event()
        self.results: Any = ctx.Queue()
        shares = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
        starts = [sum(shares[:i]) for i in range(procs)]
        self.workers = [
            ctx.Process(
                target=client_process,
                args=(
                    ClientJob(
                        i,
                        url,
                        token,
                        query,
                        share,
                        concurrency,
                        life,
                        field,
                        variables[starts[i] : starts[i] + share] if variables else None,
                    ),
                    self.counters,
                    self.phase,
                    self.min_event,
                    self.stop_event,
                    self.results,
                ),
                daemon=True,
                name=f"bench-clients-{i}",
            )
            for i, share in enumerate(shares)
        ]

    def start(self) -> None:
        for w in self.workers:
            w.start()

    def total(self, slot: int) -> int:
        return sum(self.counters[i * SLOTS + slot] for i in range(self.procs))

    def alive(self) -> bool:
        return all(w.is_alive() for w in self.workers)

    def collect(self, timeout: float) -> list[dict[str, Any]]:
        """Tell every process to stop; their results (read before joining, to not deadlock)."""
        self.stop_event.set()
        out: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while len(out) < self.procs and time.monotonic() < deadline:
            try:
                index, result = self.results.get(timeout=1)
            except Exception:  # queue.Empty
                if not any(w.is_alive() for w in self.workers):
                    break
                continue
            out[index] = result
        self.shutdown()
        return [out.get(i, {"fatal": "no result from client process"}) for i in range(self.procs)]

    def shutdown(self) -> None:
        self.stop_event.set()
        for w in self.workers:
            w.join(timeout=10)
            if w.is_alive():
                w.terminate()
                w.join(timeout=5)
            if w.is_alive():
                w.kill()
                w.join(timeout=5)


# --------------------------------------------------------------------------- database


class BenchDatabase:
    """A fresh database on the admin URL's server, dropped by `drop()`."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = f"simgql_bench_{secrets.token_hex(6)}"
        base = admin_url.rsplit("/", 1)[0]
        self.url = f"{base}/{self.name}"
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
    tenant_code: str
    account_id: uuid.UUID
    viewer_token: str
    agent_token: str
    po_ids: list[str]  # global IDs of SUBMITTED POs, consumed in order

    def take(self, k: int) -> list[str]:
        if len(self.po_ids) < k:
            raise RuntimeError("not enough prepared purchase orders")
        taken, self.po_ids = self.po_ids[:k], self.po_ids[k:]
        return taken


async def prepare(url: str, secret: str, count: int) -> Fixtures:
    """One tenant and `count` SUBMITTED POs, made through the application's own actions."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.factories import AGENT, gid, make_po, make_tenant

    from simgql.api.auth import mint_token
    from simgql.db.engine import Database
    from simgql.db.migrate import upgrade
    from simgql.domain.model import PurchaseOrderStatus, Role

    await upgrade(url)
    db = Database(url)
    try:
        tenant = await make_tenant(db)
        sem = asyncio.Semaphore(8)

        async def one() -> str:
            async with sem:
                return gid(await make_po(db, tenant, PurchaseOrderStatus.SUBMITTED, quantity=1))

        ids = await asyncio.gather(*(one() for _ in range(count)))
    finally:
        await db.dispose()
    ttl = dt.timedelta(hours=6)
    return Fixtures(
        tenant_code=tenant.code,
        account_id=tenant.account_id,
        viewer_token=mint_token(
            secret=secret,
            role=Role.ENTERPRISE_VIEWER,
            sub=tenant.viewer.sub,
            account=tenant.code,
            ttl=ttl,
        ),
        agent_token=mint_token(secret=secret, role=AGENT.role, sub=AGENT.sub, ttl=ttl),
        po_ids=list(ids),
    )


@dataclass(frozen=True)
class LoggedEvent:
    purchase_order_id: str
    to_status: str
    occurred_at: float  # epoch seconds, set by the server inside the transaction


class PgProbe:
    """Transactions of the bench database and CPU of its server backends."""

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name
        self.conn: asyncpg.Connection | None = None

    async def open(self) -> None:
        self.conn = await asyncpg.connect(self.url, timeout=10)

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()

    async def snapshot(self) -> tuple[int, int, dict[int, float]]:
        """(transactions, sessions opened, {backend pid: CPU s}) of the bench database."""
        assert self.conn is not None
        await self.conn.execute("SELECT pg_stat_clear_snapshot()")
        row = await self.conn.fetchrow(
            "SELECT xact_commit + xact_rollback AS xacts, sessions FROM pg_stat_database "
            "WHERE datname = $1",
            self.name,
        )
        assert row is not None
        pids = await self.conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            self.name,
        )
        cpu = {r["pid"]: proc_cpu_seconds(r["pid"]) for r in pids}
        return int(row["xacts"]), int(row["sessions"]), cpu

    async def first_event_ids(self, po_gids: Sequence[str]) -> dict[str, int]:
        """The id of each PO's first event (its creation), by global ID."""
        assert self.conn is not None
        by_uuid = {uuid.UUID(_po_uuid(g)): g for g in po_gids}
        rows = await self.conn.fetch(
            "SELECT purchase_order_id, min(id) AS id FROM po_status_events "
            "WHERE purchase_order_id = ANY($1::uuid[]) GROUP BY purchase_order_id",
            list(by_uuid),
        )
        return {by_uuid[r["purchase_order_id"]]: int(r["id"]) for r in rows}

    async def latest_event_id(self) -> int:
        assert self.conn is not None
        return int(await self.conn.fetchval("SELECT coalesce(max(id), 0) FROM po_status_events"))

    async def events_after(self, after: int, account_id: uuid.UUID) -> dict[int, LoggedEvent]:
        """Every event of the tenant after `after`, by id: the ground truth of what to expect."""
        assert self.conn is not None
        rows = await self.conn.fetch(
            "SELECT id, purchase_order_id, to_status, occurred_at FROM po_status_events "
            "WHERE id > $1 AND account_id = $2",
            after,
            account_id,
        )
        return {
            int(r["id"]): LoggedEvent(
                str(r["purchase_order_id"]), r["to_status"], r["occurred_at"].timestamp()
            )
            for r in rows
        }


# --------------------------------------------------------------------------- server


def ws_protocol() -> str:
    """uvicorn's `--ws` as `simgql serve` runs it: simgql's lean protocol when the served tree
    has one (`simgql.api.websocket.WS_PROTOCOL`); older trees (`--source`) ran uvicorn's own."""
    try:
        module = (ROOT / "src" / "simgql" / "api" / "websocket.py").read_text()
    except OSError:
        module = ""
    if "class LeanWebSocketProtocol" in module:
        return "simgql.api.websocket:LeanWebSocketProtocol"
    return "websockets-sansio"


class Server:
    """One uvicorn process serving simgql on a loopback port."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.port = free_port()
        self.log = logdir / f"server-{self.port}.log"
        self.env = {**os.environ, **env}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def spawn(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "simgql.app:create_app",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--ws",
                    ws_protocol(),
                    "--ws-per-message-deflate",
                    "false",  # as `simgql serve` runs
                    "--backlog",
                    "8192",
                    "--log-level",
                    "warning",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=ROOT,
            )

    async def wait_ready(self, limit: float = 60) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + limit
        async with httpx.AsyncClient(timeout=2) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited early:\n{self.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{self.http}/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"server not ready in {limit}s:\n{self.tail()}")

    async def metric(self, http: httpx.AsyncClient, name: str) -> float:
        text = (await http.get(f"{self.http}/metrics")).text
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise KeyError(name)

    def rss_bytes(self) -> int:
        return proc_status_kib(self.pid, "VmRSS") * 1024

    def hwm_bytes(self) -> int:
        return proc_status_kib(self.pid, "VmHWM") * 1024

    def cpu(self) -> float:
        return proc_cpu_seconds(self.pid)

    def problems(self, top: int = 5) -> list[tuple[str, int]]:
        """The most frequent error lines of the log (exception lines, ERROR/WARNING records)."""
        counts: dict[str, int] = {}
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return []
        for line in text.splitlines():
            if (
                not line
                or line[0].isspace()
                or line.startswith(("Traceback", "The above", "During"))
            ):
                continue
            if "Error" in line or "Exception" in line or "ERROR" in line or "WARNING" in line:
                key = line.strip()[:200]
                counts[key] = counts.get(key, 0) + 1
        return sorted(counts.items(), key=lambda kv: -kv[1])[:top]

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


# --------------------------------------------------------------------------- one run


@dataclass
class RunResult:
    n: int
    selection: str
    mode: str = "dashboard"
    events_sent: int = 0
    events_committed: int = 0
    mutation_errors: int = 0
    deliveries_expected: int = 0
    received: int = 0
    lost: int = 0
    duplicates: int = 0
    errors: int = 0
    unexpected_closes: int = 0
    failed_connects: int = 0
    connect_s: float = math.nan
    lat_p50: float = math.nan
    lat_p99: float = math.nan
    lat_max: float = math.nan
    lat_min: float = math.nan
    first_p50: float = math.nan  # first subscriber to get an event, per event
    last_p50: float = math.nan  # last subscriber to get an event, per event
    http_p50: float = math.nan
    http_p99: float = math.nan
    send_rate: float = math.nan
    stream_s: float = math.nan  # first mutation sent .. last delivery received
    deliveries_per_s: float = math.nan
    rss_idle: int = 0
    rss_conns: int = 0
    rss_subs: int = 0
    rss_after: int = 0
    hwm: int = 0
    bytes_per_sub: float = math.nan
    bytes_per_conn: float = math.nan
    subscribe_s: float = math.nan
    sync_s: float = math.nan
    sync_events: int = 0
    broker_reconnects: int = 0
    errors_before_stream: int = 0
    load_avg: float = math.nan
    machine_busy_s: float = math.nan
    event_p50: float = math.nan  # latency from the event's `occurred_at` (before the commit)
    event_p99: float = math.nan
    event_max: float = math.nan
    send_p50: float = math.nan  # latency from the request being sent (an upper bound)
    send_p99: float = math.nan
    server_cpu_s: float = math.nan
    pg_cpu_s: float = math.nan
    client_cpu_s: float = math.nan
    client_wall_s: float = math.nan
    pg_xacts: int = 0
    pg_sessions: int = 0
    client_procs: int = 1
    error_samples: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def server_cpu_per_delivery_ms(self) -> float:
        return self.server_cpu_s / self.received * 1000 if self.received else math.nan

    @property
    def xacts_per_event(self) -> float:
        return self.pg_xacts / self.events_committed if self.events_committed else math.nan


async def wait_for(
    check: Any, limit: float, what: str, interval: float = 0.1, stall: float | None = None
) -> None:
    """Poll the async predicate until true; error after `limit` s (or `stall` s unchanged)."""
    deadline = time.monotonic() + limit
    last, last_change = None, time.monotonic()
    while time.monotonic() < deadline:
        value = await check()
        if value is True:
            return
        if value != last:
            last, last_change = value, time.monotonic()
        elif stall is not None and time.monotonic() - last_change > stall:
            raise TimeoutError(f"{what}: no progress for {stall:.0f}s (at {value})")
        await asyncio.sleep(interval)
    raise TimeoutError(f"{what}: not done in {limit:.0f}s")


async def warm_up(
    server: Server, fx: Fixtures, http: httpx.AsyncClient, query: str, per_po: bool = False
) -> None:
    """One subscription receives one event, so first-use costs are not counted per subscriber."""
    (po,) = fx.take(1)
    variables = {"id": po} if per_po else {}
    async with connect(server.ws_url, subprotocols=[PROTOCOL], open_timeout=30) as ws:  # type: ignore[list-item]
        auth = {"authorization": f"Bearer {fx.viewer_token}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": auth}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"warm-up: no ack: {ack}")
        payload = {"query": query, "variables": variables}
        await ws.send(json.dumps({"id": "w", "type": "subscribe", "payload": payload}))
        await wait_for(lambda: _gauge_is(server, http, 1), 30, "warm-up subscription registered")
        await asyncio.sleep(0.3)
        await mutate(http, server, fx.agent_token, po)
        msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if msg.get("type") != "next" or msg["payload"].get("errors"):
            raise RuntimeError(f"warm-up: unexpected message {msg}")


async def _gauge_is(server: Server, http: httpx.AsyncClient, n: int) -> bool | float:
    value = await server.metric(http, "simgql_subscriptions")
    return True if value == n else value


async def mutate(
    http: httpx.AsyncClient, server: Server, token: str, po: str
) -> tuple[dict[str, Any], float, float]:
    sent = time.monotonic()
    response = await http.post(
        f"{server.http}/graphql",
        json={"query": ACCEPT, "variables": {"id": po}},
        headers={"Authorization": f"Bearer {token}"},
    )
    done = time.monotonic()
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"mutation failed: {response.status_code} {body}")
    return body, sent, done


def auto_procs(n: int) -> int:
    return max(1, min(4, math.ceil(n / 1250)))


async def run_one(
    n: int,
    events: int,
    selection: str,
    args: argparse.Namespace,
    bench_db: BenchDatabase,
    fx: Fixtures,
    logdir: Path,
    secret: str,
) -> RunResult:
    result = RunResult(n=n, selection=selection, mode=args.mode)
    per_po = args.mode == "po"
    field_name = "purchaseOrderStatusChanged" if per_po else "purchaseOrderEvents"
    if per_po:
        query = (
            "subscription($id: ID!, $after: String) { purchaseOrderStatusChanged(id: $id, "
            f"after: $after) {{ {SELECTIONS[selection]} }} }}"
        )
    else:
        query = f"subscription {{ purchaseOrderEvents {{ {SELECTIONS[selection]} }} }}"
    # Per-PO mode: the POs of the stream are known up front, each watched by N / events.
    targets = fx.take(events) if per_po else []
    env = {
        "SIMGQL_DATABASE_URL": bench_db.url.replace("postgresql://", "postgresql+asyncpg://", 1),
        "SIMGQL_JWT_SECRET": secret,
        "SIMGQL_BROADCAST_URL": args.broadcast_url,
        "SIMGQL_SUBSCRIBER_QUEUE_SIZE": str(max(1000, 4 * events)),
        "SIMGQL_LOG_LEVEL": "warning",
    }
    server = Server(env, logdir)
    probe = PgProbe(bench_db.url, bench_db.name)
    procs = args.client_procs or auto_procs(n)
    result.client_procs = procs
    pool: ClientPool | None = None
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    try:
        server.spawn()
        await server.wait_ready()
        await probe.open()
        async with httpx.AsyncClient(timeout=httpx.Timeout(120), limits=limits) as http:
            await warm_up(server, fx, http, query, per_po)
            await wait_for(lambda: _gauge_is(server, http, 0), 30, "warm-up subscription gone")
            await asyncio.sleep(1.0)
            result.rss_idle = server.rss_bytes()

            variables = None
            if per_po:
                firsts = await probe.first_event_ids(targets)
                variables = [
                    {"id": po, "after": encode_event_cursor(firsts[po])}
                    for po in (targets[k % len(targets)] for k in range(n))
                ]
            pool = ClientPool(
                n,
                procs,
                url=server.ws_url,
                token=fx.viewer_token,
                query=query,
                concurrency=args.connect_concurrency,
                life=args.time_budget,
                field=field_name,
                variables=variables,
            )
            t_connect = time.monotonic()
            pool.start()

            async def all_connected() -> bool | int:
                if not pool.alive():
                    raise RuntimeError("a client process died while connecting")
                if pool.total(FAILED):
                    raise RuntimeError(f"{pool.total(FAILED)} subscribers could not connect")
                return True if pool.total(CONNECTED) >= n else pool.total(CONNECTED)

            async def all_subscribed() -> bool | float:
                if not pool.alive():
                    raise RuntimeError("a client process died while subscribing")
                gauge = await server.metric(http, "simgql_subscriptions")
                return True if gauge >= n else gauge

            # Sockets first (connection_init acknowledged), then the subscriptions, so the
            # memory of a connection and of a subscription on it can be told apart.
            await wait_for(all_connected, 60 + n / 20, f"{n} sockets", interval=0.25, stall=60)
            result.connect_s = time.monotonic() - t_connect
            await asyncio.sleep(args.settle)
            result.rss_conns = server.rss_bytes()
            t_subscribe = time.monotonic()
            pool.phase.value = PHASE_SUBSCRIBE
            await wait_for(
                all_subscribed, 60 + n / 20, f"{n} subscriptions live", interval=0.25, stall=60
            )
            result.subscribe_s = time.monotonic() - t_subscribe
            await asyncio.sleep(args.settle)
            result.rss_subs = server.rss_bytes()
            result.bytes_per_sub = (result.rss_subs - result.rss_idle) / n
            result.bytes_per_conn = (result.rss_conns - result.rss_idle) / n

            # --- synchronising events: `/metrics` counts a subscription before its start
            # query has run, and a subscription started after an event commits never gets
            # it. Only an event received by each of the N proves they are all live; send one,
            # wait until deliveries stop, and again while some subscriber has had nothing.
            t_sync = time.monotonic()

            async def quiet() -> bool | tuple[int, int]:
                if not pool.alive():
                    raise RuntimeError("a client process died before the stream")
                return (pool.total(ALL), pool.total(ERRORS))

            for _ in range(SYNC_ROUNDS):
                (sync_po,) = fx.take(1)
                await mutate(http, server, fx.agent_token, sync_po)
                await asyncio.sleep(0.5)
                with contextlib.suppress(TimeoutError):  # "no progress" is what we wait for
                    await wait_for(
                        quiet, 180 + n / 10, "sync", interval=0.2, stall=args.sync_stall
                    )
                result.sync_events += 1
                if pool.total(LIVE) >= n:
                    break
            else:
                raise RuntimeError(f"only {pool.total(LIVE)} of {n} subscriptions became live")
            result.sync_s = time.monotonic() - t_sync
            result.errors_before_stream = pool.total(ERRORS)
            if result.errors_before_stream:
                result.notes.append(
                    f"{result.errors_before_stream} errors before the stream (synchronising "
                    "events); not counted below"
                )
            result.load_avg = os.getloadavg()[0]

            # --- the stream
            # PostgreSQL backends flush their statistics up to 10 s late when idle.
            await asyncio.sleep(args.stats_wait)
            start_event = await probe.latest_event_id()
            pool.min_event.value = start_event
            xacts0, sessions0, pg0 = await probe.snapshot()
            reconnects0 = await server.metric(http, "simgql_broker_reconnects")
            cpu0, busy0 = server.cpu(), machine_busy_seconds()
            pos = targets or fx.take(events)
            sent: dict[str, tuple[float, float]] = {}  # PO gid -> (sent, response)
            mutation_errors: list[str] = []

            async def one(po: str) -> None:
                try:
                    _, t_sent, t_done = await mutate(http, server, fx.agent_token, po)
                    sent[po] = (t_sent, t_done)
                except Exception as exc:
                    mutation_errors.append(repr(exc)[:300])

            pool.phase.value = PHASE_STREAM
            t0 = time.monotonic()
            tasks = []
            for i, po in enumerate(pos):
                delay = t0 + i / args.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(po)))
            _, pending = await asyncio.wait(tasks, timeout=180)
            for task in pending:
                task.cancel()
            result.events_sent = len(pos)
            result.mutation_errors = len(mutation_errors) + len(pending)
            if mutation_errors:
                result.notes.append(f"mutation errors, e.g. {mutation_errors[0]}")
            if sent:
                t_first = min(s for s, _ in sent.values())
                t_last = max(s for s, _ in sent.values())
                result.send_rate = (len(sent) - 1) / (t_last - t_first) if len(sent) > 1 else 0

            # --- the drain: every subscriber gets every committed event, or we give up
            logged = await probe.events_after(start_event, fx.account_id)
            result.events_committed = len(logged)
            result.deliveries_expected = len(logged) * n
            if per_po:
                watchers: dict[str, int] = {}
                for v in variables or []:
                    parsed = _po_uuid(v["id"])
                    watchers[parsed] = watchers.get(parsed, 0) + 1
                result.deliveries_expected = sum(
                    watchers.get(e.purchase_order_id, 0) for e in logged.values()
                )

            async def drained() -> bool | int:
                if not pool.alive():
                    raise RuntimeError("a client process died during the stream")
                # deliveries, and errors in their place
                got = pool.total(RECEIVED) + pool.total(ERRORS) - result.errors_before_stream
                return True if got >= result.deliveries_expected else got

            try:
                await wait_for(
                    drained, args.drain_timeout, "delivery", interval=0.2, stall=args.stall_timeout
                )
            except TimeoutError as exc:
                result.notes.append(f"drain stopped: {exc}")
            cpu1, busy1 = server.cpu(), machine_busy_seconds()
            await asyncio.sleep(args.stats_wait)
            xacts1, sessions1, pg1 = await probe.snapshot()
            result.server_cpu_s = cpu1 - cpu0
            result.pg_xacts = xacts1 - xacts0
            result.pg_sessions = sessions1 - sessions0
            result.pg_cpu_s = sum(cpu - pg0.get(pid, 0.0) for pid, cpu in pg1.items())
            result.rss_after = server.rss_bytes()
            result.hwm = server.hwm_bytes()
            result.machine_busy_s = busy1 - busy0
            reconnects1 = await server.metric(http, "simgql_broker_reconnects")
            result.broker_reconnects = int(reconnects1 - reconnects0)

            outs = await asyncio.to_thread(pool.collect, 120)
            pool = None
        analyse(result, outs, sent, logged, t0)
        for line, count in server.problems():
            result.notes.append(f"server log: {count} x {line}")
        return result
    except BaseException:
        print(f"--- server log tail ({server.log}):\n{server.tail()}", file=sys.stderr)
        raise
    finally:
        if pool is not None:
            await asyncio.to_thread(pool.shutdown)
        await probe.close()
        server.stop()


def analyse(
    result: RunResult,
    outs: list[dict[str, Any]],
    sent: dict[str, tuple[float, float]],
    logged: dict[int, LoggedEvent],
    t0: float,
) -> None:
    from simgql.api.ids import parse_id

    # Wall clock to monotonic clock, for `occurred_at` (same machine, same clocks).
    wall_offset = time.time() - time.monotonic()
    by_key = {(e.purchase_order_id, e.to_status): i for i, e in logged.items()}
    response_at: dict[int, tuple[float, float]] = {}
    for po, times in sent.items():
        parsed = parse_id(po)
        assert parsed is not None
        event_id = by_key.get((str(parsed[1]), "ACCEPTED"))
        if event_id is not None:
            response_at[event_id] = times
    latencies: list[float] = []
    from_send: list[float] = []
    from_event: list[float] = []
    firsts: dict[int, float] = {}
    lasts: dict[int, float] = {}
    received = 0
    last_receipt = t0
    cpu, wall = 0.0, 0.0
    for out in outs:
        if "fatal" in out:
            result.notes.append(f"client process failed: {out['fatal']}")
            continue
        result.duplicates += out["dups"]
        result.errors += out["errors"]
        result.unexpected_closes += out["unexpected_close"]
        result.failed_connects += out["failed"]
        result.error_samples += out["error_samples"]
        cpu += out["cpu_phase_s"]
        wall = max(wall, out["wall_phase_s"])
        for event_id, times in out["times"].items():
            if event_id not in logged:
                continue  # not an event of this stream
            received += len(times)
            last_receipt = max(last_receipt, max(times))
            occurred = logged[event_id].occurred_at - wall_offset
            from_event.extend(t - occurred for t in times)
            if event_id in response_at:
                base = response_at[event_id][1]
                latencies.extend(t - base for t in times)
                from_send.extend(t - response_at[event_id][0] for t in times)
                firsts[event_id] = min(firsts.get(event_id, math.inf), min(times) - base)
                lasts[event_id] = max(lasts.get(event_id, -math.inf), max(times) - base)
    latencies.sort()
    from_send.sort()
    from_event.sort()
    result.event_p50 = percentile(from_event, 0.50)
    result.event_p99 = percentile(from_event, 0.99)
    result.event_max = from_event[-1] if from_event else math.nan
    result.received = received
    result.errors -= result.errors_before_stream
    result.lost = result.deliveries_expected - received
    result.lat_p50 = percentile(latencies, 0.50)
    result.lat_p99 = percentile(latencies, 0.99)
    result.lat_max = latencies[-1] if latencies else math.nan
    result.lat_min = latencies[0] if latencies else math.nan
    result.send_p50 = percentile(from_send, 0.50)
    result.send_p99 = percentile(from_send, 0.99)
    result.first_p50 = percentile(sorted(firsts.values()), 0.5)
    result.last_p50 = percentile(sorted(lasts.values()), 0.5)
    http = sorted(done - s for s, done in sent.values())
    result.http_p50 = percentile(http, 0.5)
    result.http_p99 = percentile(http, 0.99)
    result.stream_s = last_receipt - t0
    result.deliveries_per_s = received / result.stream_s if result.stream_s > 0 else math.nan
    result.client_cpu_s = cpu
    result.client_wall_s = wall


# --------------------------------------------------------------------------- reporting


def mib(b: float) -> str:
    return f"{b / 2**20:.1f}"


def report_run(r: RunResult, base: RunResult | None) -> str:
    rows = [
        ("subscribers (client processes)", f"{r.n} ({r.client_procs})"),
        ("selection", SELECTIONS[r.selection]),
        (
            "events committed / sent / mutation errors",
            f"{r.events_committed} / {r.events_sent} / {r.mutation_errors}",
        ),
        ("mutation send rate achieved", f"{r.send_rate:.1f}/s"),
        ("mutation HTTP round trip p50 / p99 ms", f"{fmt_ms(r.http_p50)} / {fmt_ms(r.http_p99)}"),
        ("deliveries expected / received", f"{r.deliveries_expected} / {r.received}"),
        ("events lost (must be 0)", str(r.lost)),
        (
            "duplicates / errors / unexpected closes",
            f"{r.duplicates} / {r.errors} / {r.unexpected_closes}",
        ),
        (
            "latency p50 / p99 / max ms",
            f"{fmt_ms(r.lat_p50)} / {fmt_ms(r.lat_p99)} / {fmt_ms(r.lat_max)}",
        ),
        ("latency min ms (negative: delivered before the HTTP response)", fmt_ms(r.lat_min)),
        (
            "latency from the request being sent p50 / p99 ms (upper bound)",
            f"{fmt_ms(r.send_p50)} / {fmt_ms(r.send_p99)}",
        ),
        (
            "latency from the event's occurredAt p50 / p99 / max ms",
            f"{fmt_ms(r.event_p50)} / {fmt_ms(r.event_p99)} / {fmt_ms(r.event_max)}",
        ),
        (
            "per event, first / last subscriber p50 ms",
            f"{fmt_ms(r.first_p50)} / {fmt_ms(r.last_p50)}",
        ),
        ("stream wall time s / deliveries per s", f"{r.stream_s:.1f} / {r.deliveries_per_s:.0f}"),
        (
            "server CPU s (ms per delivery)",
            f"{r.server_cpu_s:.1f} ({r.server_cpu_per_delivery_ms:.3f})",
        ),
        (
            "PostgreSQL backends CPU s / transactions per event",
            f"{r.pg_cpu_s:.1f} / {r.xacts_per_event:.1f}",
        ),
        (
            "PostgreSQL connections opened during the stream (per event)",
            f"{r.pg_sessions} ({r.pg_sessions / max(1, r.events_committed):.1f})",
        ),
        (
            "client processes CPU s over stream wall s",
            f"{r.client_cpu_s:.1f} / {r.client_wall_s:.1f}",
        ),
        (
            "machine CPU busy s (all processes) / of which not server, PG, clients",
            f"{r.machine_busy_s:.1f} / "
            f"{r.machine_busy_s - r.server_cpu_s - r.pg_cpu_s - r.client_cpu_s:.1f}",
        ),
        ("load average (1 min) before the stream", f"{r.load_avg:.2f}"),
        ("broadcast bus reconnects during the stream", str(r.broker_reconnects)),
        (
            "connect N sockets / start N subscriptions / all live (sync events) s",
            f"{r.connect_s:.1f} / {r.subscribe_s:.1f} / {r.sync_s:.1f} ({r.sync_events})",
        ),
        (
            "server RSS MiB: idle / N sockets / N idle subs / after stream / peak",
            f"{mib(r.rss_idle)} / {mib(r.rss_conns)} / {mib(r.rss_subs)} / "
            f"{mib(r.rss_after)} / {mib(r.hwm)}",
        ),
        (
            "RSS per idle subscription (of which the socket alone)",
            f"{r.bytes_per_sub / 1024:.1f} KiB ({r.bytes_per_conn / 1024:.1f} KiB)",
        ),
    ]
    out = [f"## N = {r.n} ({r.mode}, {r.selection})", table(["measure", "value"], rows)]
    if base is not None:
        ratio_rows = [
            ("latency p50", fmt_ratio(r.lat_p50, base.lat_p50)),
            ("latency p99", fmt_ratio(r.lat_p99, base.lat_p99)),
            ("latency from occurredAt p50", fmt_ratio(r.event_p50, base.event_p50)),
            ("latency from occurredAt p99", fmt_ratio(r.event_p99, base.event_p99)),
            ("mutation HTTP round trip p50", fmt_ratio(r.http_p50, base.http_p50)),
            (
                "server CPU per delivery",
                fmt_ratio(r.server_cpu_per_delivery_ms, base.server_cpu_per_delivery_ms),
            ),
            ("DB transactions per event", fmt_ratio(r.xacts_per_event, base.xacts_per_event)),
            (
                "marginal server CPU per extra delivery (ms)",
                f"{marginal_cpu_ms(r, base):.3f}",
            ),
            ("RSS with N idle subs vs idle server", fmt_ratio(r.rss_subs, r.rss_idle)),
            ("RSS idle server vs baseline idle server", fmt_ratio(r.rss_idle, base.rss_idle)),
        ]
        out += [f"ratios against N = {base.n} (same run)", table(["ratio", "value"], ratio_rows)]
    for note in r.notes:
        out.append(f"note: {note}")
    for sample in r.error_samples[:3]:
        out.append(f"error sample: {sample}")
    return "\n".join(out)


def marginal_cpu_ms(r: RunResult, base: RunResult) -> float:
    """Server CPU per event beyond the baseline's, per extra subscriber."""
    if r.n <= base.n or not r.events_committed or not base.events_committed:
        return math.nan
    per_event = r.server_cpu_s / r.events_committed
    base_per_event = base.server_cpu_s / base.events_committed
    return (per_event - base_per_event) / (r.n - base.n) * 1000


def summary(results: list[RunResult]) -> str:
    """Two tables over every run; ratios against N=1 of the same selection."""
    base = {r.selection: r for r in results if r.n == 1}
    latency_headers = [
        "N", "selection", "events", "lost", "dup", "err",
        "p50 ms", "p99 ms", "max ms", "p50 / N=1", "p99 / N=1",
        "evt p50 ms", "evt p99 ms", "evt p50 / N=1", "evt p99 / N=1", "HTTP p50 ms",
    ]  # fmt: skip
    resource_headers = [
        "N", "selection", "deliveries/s", "srv CPU ms/extra delivery", "DB xacts/event",
        "RSS idle MiB", "RSS N sockets MiB", "RSS N subs MiB", "RSS N subs / idle",
        "KiB/sub", "KiB/socket",
    ]  # fmt: skip
    latency_rows, resource_rows = [], []
    for r in results:
        b = base.get(r.selection, r)
        latency_rows.append([
            str(r.n), r.selection, str(r.events_committed), str(r.lost), str(r.duplicates),
            str(r.errors), fmt_ms(r.lat_p50), fmt_ms(r.lat_p99), fmt_ms(r.lat_max),
            fmt_ratio(r.lat_p50, b.lat_p50), fmt_ratio(r.lat_p99, b.lat_p99),
            fmt_ms(r.event_p50), fmt_ms(r.event_p99),
            fmt_ratio(r.event_p50, b.event_p50), fmt_ratio(r.event_p99, b.event_p99),
            fmt_ms(r.http_p50),
        ])  # fmt: skip
        resource_rows.append([
            str(r.n), r.selection, f"{r.deliveries_per_s:.0f}", f"{marginal_cpu_ms(r, b):.3f}",
            f"{r.xacts_per_event:.1f}", mib(r.rss_idle), mib(r.rss_conns), mib(r.rss_subs),
            fmt_ratio(r.rss_subs, r.rss_idle), f"{r.bytes_per_sub / 1024:.1f}",
            f"{r.bytes_per_conn / 1024:.1f}",
        ])  # fmt: skip
    return "\n\n".join([
        "latency from the mutation's HTTP response (p50/p99/max) and from the event's "
        "occurredAt (evt)",
        table(latency_headers, latency_rows),
        "throughput, cost and memory",
        table(resource_headers, resource_rows),
    ])  # fmt: skip


# --------------------------------------------------------------------------- main


def use_source(source: Path) -> None:
    """Serve and prepare from another source tree, e.g. a `git archive` of one commit."""
    global ROOT
    ROOT = source.resolve()
    if not (ROOT / "src" / "simgql").is_dir() or not (ROOT / "tests" / "factories.py").is_file():
        raise SystemExit(f"{ROOT} has no src/simgql or tests/factories.py")
    for path in (ROOT, ROOT / "src"):
        sys.path.insert(0, str(path))
    # The server and the client processes inherit this; it comes before the editable install.
    extra = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), str(ROOT), *([extra] if extra else [])]
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--subscribers", type=int, nargs="+", default=[100, 1000, 5000])
    p.add_argument("--events", type=int, default=200, help="transitions per N")
    p.add_argument(
        "--events-at",
        action="append",
        default=[],
        metavar="N=E",
        help="fewer (or more) events for one N, e.g. 5000=40",
    )
    p.add_argument("--rate", type=float, default=20.0, help="transitions per second")
    p.add_argument("--selection", nargs="+", choices=sorted(SELECTIONS), default=["full"])
    p.add_argument(
        "--mode",
        choices=["dashboard", "po"],
        default="dashboard",
        help="one purchaseOrderEvents for all, or purchaseOrderStatusChanged per PO",
    )
    p.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument("--broadcast-url", default="memory://")
    p.add_argument("--client-procs", type=int, default=0, help="0: one per 1250 subscribers")
    p.add_argument("--connect-concurrency", type=int, default=100, help="per client process")
    p.add_argument("--settle", type=float, default=3.0, help="seconds before reading the RSS")
    p.add_argument(
        "--stats-wait", type=float, default=11.0, help="seconds for pg_stat_database to settle"
    )
    p.add_argument(
        "--sync-stall", type=float, default=5.0, help="seconds without deliveries = synced"
    )
    p.add_argument("--drain-timeout", type=float, default=300.0)
    p.add_argument("--stall-timeout", type=float, default=30.0, help="drain without progress")
    p.add_argument("--time-budget", type=float, default=1800.0, help="seconds for everything")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--log-dir", type=Path, help="keep the server logs here (default: deleted)")
    p.add_argument(
        "--source",
        type=Path,
        help="serve from this source tree instead of the installed simgql (e.g. a git archive)",
    )
    args = p.parse_args(argv)
    args.events_for = {}
    for item in args.events_at:
        n, _, e = item.partition("=")
        args.events_for[int(n)] = int(e)
    if args.rate <= 0 or args.events <= 0 or any(n <= 0 for n in args.subscribers):
        p.error("rate, events and subscribers must be positive")
    return args


async def amain(args: argparse.Namespace) -> list[RunResult]:
    ensure_loopback(args.database_url)
    if not args.broadcast_url.startswith("memory://"):
        ensure_loopback(args.broadcast_url)
    ns = [1, *sorted(n for n in set(args.subscribers) if n != 1)]
    soft, hard = raise_fd_limit(max(ns) * 2 + 1024)
    plan = [(n, sel, args.events_for.get(n, args.events)) for sel in args.selection for n in ns]
    print(
        f"# simgql subscriber benchmark\n"
        f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}; ulimit -n {soft} (hard {hard})\n"
        f"plan: {', '.join(f'N={n}/{s}/{e} events' for n, s, e in plan)} at {args.rate}/s",
        flush=True,
    )
    secret = secrets.token_hex(32)
    bench_db = BenchDatabase(args.database_url)
    results: list[RunResult] = []
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        if args.log_dir:
            args.log_dir.mkdir(parents=True, exist_ok=True)
            tmp = str(args.log_dir)
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="simgql-bench-"))
        try:
            await bench_db.create()
            print(f"database {bench_db.name}: migrating and preparing POs", flush=True)
            needed = sum(e + 1 + SYNC_ROUNDS for _, _, e in plan)  # + warm-up and sync events
            t = time.monotonic()
            fx = await prepare(bench_db.url, secret, needed)
            print(f"prepared {needed} SUBMITTED POs in {time.monotonic() - t:.1f}s", flush=True)
            for n, sel, events in plan:
                if time.monotonic() - started > args.time_budget:
                    print(f"time budget spent; skipping N={n}/{sel}", flush=True)
                    continue
                print(f"\n... N={n} ({sel}), {events} events at {args.rate}/s", flush=True)
                r = await run_one(n, events, sel, args, bench_db, fx, Path(tmp), secret)
                results.append(r)
                base = next((b for b in results if b.n == 1 and b.selection == sel), None)
                print(report_run(r, None if base is r else base), flush=True)
        finally:
            with contextlib.suppress(Exception):
                await bench_db.drop()
    if results:
        print("\n## Summary (ratios against N=1 of the same selection, same run)")
        print(summary(results))
        if any(r.lost for r in results):
            print("\nEVENTS WERE LOST (see above)")
    if args.json:
        args.json.write_text(
            json.dumps(
                [asdict(r) for r in results],
                indent=2,
                default=str,
            )
        )
    return results


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    def handler(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.source:
        use_source(args.source)
    with sigterm_as_exit():
        results = asyncio.run(amain(args))
    return 1 if not results or any(r.lost for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
