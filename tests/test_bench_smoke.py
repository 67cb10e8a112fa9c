"""Smoke test of the performance harness (bench/run.py) at the tiny scale.

It runs the whole harness once as a subprocess, with very short measurements, and checks
that it completes, that simgql and the baselines return the same data, and that the JSON
report has its keys. It asserts no timing: the figures of a two-second run on a shared CI
machine mean nothing. Like every PostgreSQL test, it is skipped when PostgreSQL is away,
and fails instead in CI (CI=true).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_ADMIN_URL, unavailable

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.postgres


def postgres_reachable() -> None:
    import asyncio

    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable("PostgreSQL", exc)


def test_harness_runs_at_tiny_scale(tmp_path: Path) -> None:
    postgres_reachable()
    out = tmp_path / "bench.json"
    cmd = [
        sys.executable, str(ROOT / "bench" / "run.py"), "--scale", "tiny",
        "--servers", "handwritten", "naive",
        "--duration", "1", "--warmup", "0.3", "--concurrency", "4",
        "--sql-page-sizes", "10", "50", "--sql-samples", "2",
        "--s1", "5", "--s1-modes", "po", "--s1-events", "3", "--s1-rate", "10",
        "--s1-budget", "60",
        "--database-url", POSTGRES_ADMIN_URL, "--json", str(out),
        "--s1-extra", "--stats-wait", "0.2", "--settle", "0.1", "--sync-stall", "1",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = json.loads(out.read_text())

    assert {"machine", "dataset", "fixtures", "servers", "agreement", "S1"} <= set(report)
    assert set(report["servers"]) == {"simgql", "handwritten", "naive"}
    for server, checks in report["agreement"].items():
        for op, check in checks.items():
            assert check["same"], (server, op, check)
    for server, figures in report["servers"].items():
        assert {"Q1", "Q2", "Q1_by_page_size"} <= set(figures["sql"]), server
        for op in ("Q1", "Q2"):
            timing = figures["timing"][op]
            assert {"closed", "open"} <= set(timing)
            assert {"rps", "p50_ms", "p99_ms", "server_cpu_ms_per_req"} <= set(
                timing["closed"]["4"]
            )
            assert {"rate", "p50_ms", "p99_ms"} <= set(timing["open"])
    simgql = report["servers"]["simgql"]
    assert {"M1"} <= set(simgql["timing"])
    assert "M1_walk" in simgql["sql"]
    runs = report["S1"]["po"]["runs"]
    assert [r["n"] for r in runs] == [1, 5]
    assert all(r["lost"] == 0 for r in runs)
