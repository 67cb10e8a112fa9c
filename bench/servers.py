"""The servers under test: how each is started, and one running process of them.

Every server is ONE process on loopback: uvicorn (uvloop, httptools, no access log, one
worker) for simgql and the two Python baselines, `node` for PostGraphile. They all get the
same database and the same connection pool size (10).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
POSTGRAPHILE_DIR = ROOT / "bench" / "postgraphile"
POOL_SIZE = 10
SIMGQL_WS_PROTOCOL = "simgql.api.websocket:LeanWebSocketProtocol"
# While SQL is counted, simgql's safety-net poll of the event log (every 5 s) would add
# statements that belong to no request; it is pushed out of the counting window.
QUIET_ENV = {"SIMGQL_EVENT_POLL_SECONDS": "3600", "SIMGQL_SALES_ORDER_JOB": "off"}


@dataclass(frozen=True)
class ServerSpec:
    """How to start one kind of server."""

    name: str
    app: str  # uvicorn factory "module:function", or "node" for PostGraphile
    ready_path: str = "/readyz"


SPECS = {
    "simgql": ServerSpec("simgql", "simgql.app:create_app"),
    "handwritten": ServerSpec("handwritten", "bench.baselines.handwritten:make_app"),
    "naive": ServerSpec("naive", "bench.baselines.naive:make_app"),
    "postgraphile": ServerSpec("postgraphile", "node", ready_path="/graphql"),
}


def postgraphile_problem() -> str | None:
    """Why PostGraphile cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (POSTGRAPHILE_DIR / "node_modules" / "postgraphile").is_dir():
        return "bench/postgraphile/node_modules is missing: run `npm install` in bench/postgraphile"
    return None


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class RunningServer:
    """One server process; `stop()` is safe to call more than once."""

    spec: ServerSpec
    database_url: str  # postgresql://… (plain; each server picks its driver)
    secret: str
    logdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def log(self) -> Path:
        return self.logdir / f"{self.spec.name}-{self.port}.log"

    def command(self) -> list[str]:
        if self.spec.app == "node":
            return ["node", str(POSTGRAPHILE_DIR / "server.mjs")]
        # simgql as `simgql serve` runs it (`simgql.api.websocket.WS_PROTOCOL`), the
        # baselines with uvicorn's own protocol.
        ws = SIMGQL_WS_PROTOCOL if self.spec.name == "simgql" else "websockets-sansio"
        return [
            sys.executable, "-m", "uvicorn", self.spec.app, "--factory",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--loop", "uvloop", "--http", "httptools", "--no-access-log",
            "--ws", ws, "--ws-per-message-deflate", "false",
            "--log-level", "warning", "--backlog", "4096",
        ]  # fmt: skip

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "SIMGQL_DATABASE_URL": self.database_url.replace(
                "postgresql://", "postgresql+asyncpg://", 1
            ),
            "SIMGQL_JWT_SECRET": self.secret,
            "SIMGQL_DB_POOL_SIZE": str(POOL_SIZE),
            # Measuring the server, not its limits: no rate limit, generous query limits.
            "SIMGQL_RATE_LIMIT_ENABLED": "false",
            "SIMGQL_MAX_QUERY_COST": "100000000",
            "SIMGQL_MAX_QUERY_TOKENS": "100000",
            "SIMGQL_MAX_QUERY_DEPTH": "30",
            "SIMGQL_MAX_QUERY_ALIASES": "1000",
            "SIMGQL_LOG_LEVEL": "warning",
            "DATABASE_URL": self.database_url,
            "PORT": str(self.port),
            "POOL_SIZE": str(POOL_SIZE),
            "NODE_ENV": "production",
        })  # fmt: skip
        env.update(self.extra_env)
        return env

    def spawn(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                cwd=ROOT,
                start_new_session=True,  # Ctrl-C in the terminal reaches the harness only
            )

    async def wait_ready(self, limit: float = 90) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + limit
        url = f"http://127.0.0.1:{self.port}{self.spec.ready_path}"
        async with httpx.AsyncClient(timeout=2) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.spec.name} exited early:\n{self.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(url)).status_code < 500:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.spec.name} not ready in {limit}s:\n{self.tail()}")

    def cpu(self) -> float:
        return proc_cpu_seconds(self.pid)

    def rss(self) -> int:
        return proc_rss_bytes(self.pid)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def astop(self, grace: float = 15.0) -> None:
        """`stop()` that keeps the event loop running (the SQL-counting proxy lives in it)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            await asyncio.wait_for(asyncio.to_thread(self.proc.wait), grace)
        except TimeoutError:
            pass  # killed below
        finally:
            self.stop()  # kills it if it is still there (also when we are cancelled)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
