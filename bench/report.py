"""Rendering the harness's figures: tables, simgql-to-baseline ratios, the issue's targets."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

BASELINES = ("handwritten", "naive", "postgraphile")


def num(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}f}"


def ratio(a: Any, b: Any) -> float:
    try:
        return float(a) / float(b) if b else math.nan
    except (TypeError, ValueError):
        return math.nan


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table (readable as plain text too)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), rule, *map(line, rows)])


def brief(r: dict[str, Any]) -> str:
    return (
        f"{num(r['rps'])} req/s, p50 {num(r['p50_ms'])} ms, p99 {num(r['p99_ms'])} ms, "
        f"{r['errors']} errors, CPU {num(r.get('server_cpu_ms_per_req'), 2)} ms/req"
    )


def brief_m1(r: dict[str, Any]) -> str:
    return (
        f"{num(r['transitions_per_s'])} transitions/s, submit p99 {num(r['submit']['p99_ms'])} ms, "
        f"accept p99 {num(r['accept']['p99_ms'])} ms, {r['errors']} errors"
    )


def _timing(result: dict[str, Any], server: str) -> dict[str, Any]:
    return dict(result["servers"].get(server, {}).get("timing") or {})


def throughput_rows(result: dict[str, Any]) -> list[list[str]]:
    rows = []
    conc = [str(c) for c in result["args"]["concurrency"]]
    for op in ("Q1", "Q2"):
        for server, r in result["servers"].items():
            t = r.get("timing", {}).get(op)
            if not t:
                continue
            sql = r.get("sql", {}).get(op, {})
            row = [op, server]
            for c in conc:
                f = t["closed"][c]
                row += [num(f["rps"]), f"{num(f['p50_ms'])} / {num(f['p99_ms'])}"]
            o = t["open"]
            row += [
                f"{num(o['rate'], 0)}/s: {num(o['p50_ms'])} / {num(o['p99_ms'])}"
                + (f" ({o['errors']} err)" if o["errors"] else ""),
                num(sql.get("data"), 1), num(sql.get("round_trips"), 1),
                num(t["closed"][conc[0]]["server_cpu_ms_per_req"], 2),
                num(t["closed"][conc[0]]["pg_cpu_ms_per_req"], 2),
            ]  # fmt: skip
            rows.append(row)
    return rows


def ratio_rows(result: dict[str, Any]) -> list[list[str]]:
    rows = []
    simgql = _timing(result, "simgql")
    for op in ("Q1", "Q2"):
        for c in map(str, result["args"]["concurrency"]):
            row = [op, f"closed c={c}"]
            for base in BASELINES:
                other = _timing(result, base).get(op)
                if not other or op not in simgql:
                    row.append("—")
                    continue
                r = ratio(simgql[op]["closed"][c]["rps"], other["closed"][c]["rps"])
                row.append(f"{r:.2f}x")
            rows.append(row)
    return rows


def sql_rows(result: dict[str, Any]) -> list[list[str]]:
    rows = []
    for server, r in result["servers"].items():
        sizes = r.get("sql", {}).get("Q1_by_page_size")
        if not sizes:
            continue
        rows.append([server] + [
            f"{num(v['data'], 1)} ({num(v['round_trips'], 1)} rt, {num(v['tx'], 1)} tx)"
            for _, v in sorted(sizes.items(), key=lambda kv: int(kv[0]))
        ])  # fmt: skip
    return rows


def s1_rows(result: dict[str, Any]) -> list[list[str]]:
    rows = []
    for mode, r in (result.get("S1") or {}).items():
        for run in r.get("runs", []):
            rows.append([
                mode, str(run["n"]), str(run["events_committed"]), str(run["lost"]),
                num(run["lat_p50"] * 1000), num(run["lat_p99"] * 1000),
                num(run["rss_idle"] / 2**20), num(run["rss_subs"] / 2**20),
                num(run["bytes_per_sub"] / 1024),
            ])  # fmt: skip
    return rows


def targets(result: dict[str, Any]) -> list[list[str]]:
    """The issue's targets, each with the measured figure and met / missed by how much."""
    out = []
    simgql = _timing(result, "simgql")
    c = str(result["args"]["concurrency"][0])

    def verdict(ok: bool | None, detail: str) -> str:
        return ("met" if ok else "MISSED") + f" ({detail})" if ok is not None else "not measured"

    for op in ("Q1", "Q2"):
        for base, want in (("handwritten", 0.5), ("naive", 5.0)):
            other = _timing(result, base).get(op)
            if not other or op not in simgql:
                out.append([f"{op} ≥{want}x {base} (c={c})", "not measured"])
                continue
            r = ratio(simgql[op]["closed"][c]["rps"], other["closed"][c]["rps"])
            extra = f"{r:.2f}x" + (", first milestone 0.25x " + ("met" if r >= 0.25 else "missed")
                                   if base == "handwritten" else "")  # fmt: skip
            out.append([f"{op} ≥{want}x {base} (c={c})", verdict(r >= want, extra)])
    other = _timing(result, "postgraphile").get("Q1")
    if other and "Q1" in simgql:
        r = ratio(simgql["Q1"]["closed"][c]["rps"], other["closed"][c]["rps"])
        out.append(["Q1 ahead of PostGraphile", verdict(r > 1, f"{r:.2f}x")])
    else:
        out.append(["Q1 ahead of PostGraphile", "not measured"])
    sizes = result["servers"].get("simgql", {}).get("sql", {}).get("Q1_by_page_size", {})
    if sizes:
        counts = {k: v["data"] for k, v in sizes.items()}
        shown = ", ".join(
            f"{k}: {num(v, 1)}" for k, v in sorted(counts.items(), key=lambda kv: int(kv[0]))
        )
        same = len(set(counts.values())) == 1
        out.append(["constant SQL per request over page sizes", verdict(same, shown)])
    m1 = simgql.get("M1")
    if m1:
        worst = max(m1["submit"]["p99_ms"], m1["accept"]["p99_ms"])
        out.append([f"M1 p99 < 50 ms at c={m1['concurrency']}",
                    verdict(worst < 50, f"submit {num(m1['submit']['p99_ms'])} ms, "
                            f"accept {num(m1['accept']['p99_ms'])} ms")])  # fmt: skip
    runs = {(mode, run["n"]): run for mode, r in (result.get("S1") or {}).items()
            for run in r.get("runs", [])}  # fmt: skip
    for mode in ("dashboard", "po"):
        run = runs.get((mode, 5000))
        if run:
            extra = (run["rss_subs"] - run["rss_idle"]) / 2**20
            out.append([f"5,000 idle subscriptions < 200 MB ({mode})",
                        verdict(extra < 200, f"+{num(extra)} MiB over the idle server, "
                                f"{num(run['rss_subs'] / 2**20)} MiB in all")])  # fmt: skip
        run = runs.get((mode, 1000))
        if run:
            p99 = run["lat_p99"] * 1000
            out.append([f"S1 p99 < 100 ms at 1,000 subscribers, 0 lost ({mode})",
                        verdict(p99 < 100 and run["lost"] == 0,
                                f"p99 {num(p99)} ms, {run['lost']} lost")])  # fmt: skip
    return out


def render(result: dict[str, Any]) -> str:
    conc = [str(c) for c in result["args"]["concurrency"]]
    parts = ["# simgql performance run", ""]
    ds = result.get("dataset", {})
    parts.append(f"scale {ds.get('scale')}: {ds.get('counts')} (generated in "
                 f"{num(ds.get('seconds'))} s); fixtures {result.get('fixtures')}")  # fmt: skip
    if result.get("skipped"):
        parts.append(f"skipped: {result['skipped']}")
    headers = ["op", "server"]
    for c in conc:
        headers += [f"req/s c={c}", f"p50/p99 ms c={c}"]
    headers += ["open loop p50/p99 ms", "SQL/req", "round trips/req", "CPU ms/req",
                "PG CPU ms/req"]  # fmt: skip
    parts += ["", "## Throughput and latency", "", table(headers, throughput_rows(result))]
    parts += ["", "## simgql / baseline (requests per second)", "",
              table(["op", "load", *(f"simgql/{b}" for b in BASELINES)],
                    ratio_rows(result))]  # fmt: skip
    sizes = result["args"].get("sql_page_sizes", [])
    parts += ["", "## SQL statements per Q1 request by page size (data statements)", "",
              table(["server", *map(str, sorted({*sizes, result["args"]["page_size"]}))],
                    sql_rows(result))]  # fmt: skip
    m1 = _timing(result, "simgql").get("M1")
    if m1:
        sql = result["servers"]["simgql"].get("sql", {}).get("M1_walk", {})
        parts += ["", "## M1 (simgql): create → submit → accept", "", table(
            ["concurrency", "walks/s", "create p50/p99", "submit p50/p99", "accept p50/p99",
             "submit+accept p50/p99", "errors", "SQL per walk", "CPU ms/transition"],
            [[str(m1["concurrency"]), num(m1["walks_per_s"]),
              *(f"{num(m1[k]['p50_ms'])} / {num(m1[k]['p99_ms'])}"
                for k in ("create", "submit", "accept", "pair")),
              str(m1["errors"]), num(sql.get("data")), num(m1["server_cpu_ms_per_req"], 2)]],
        )]  # fmt: skip
    if result.get("S1"):
        parts += ["", "## S1 subscription fan-out", "", table(
            ["mode", "subscribers", "events", "lost", "p50 ms", "p99 ms", "RSS idle MiB",
             "RSS with subs MiB", "KiB/sub"], s1_rows(result))]  # fmt: skip
    prof = _timing(result, "simgql").get("profile")
    if prof and "own" in prof:
        parts += ["", f"## simgql Q1 profile (py-spy, {prof['samples']} samples, own time)", "",
                  table(["%", "function"], [[num(p), f] for f, p in prof["own"]])]  # fmt: skip
    parts += ["", "## Targets", "", table(["target", "result"], targets(result))]
    agreement = result.get("agreement", {})
    parts += ["", "## Agreement with simgql", ""]
    for server, checks in agreement.items():
        for op, c in checks.items():
            state = "same" if c["same"] else f"DIFFERENT: {c['difference']}"
            parts.append(f"- {server} {op} ({c['compared']}): {state}")
    return "\n".join(parts)
