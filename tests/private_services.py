"""PostgreSQL and Redis servers of one test only, so a test can stop and start them for real.

Both listen on 127.0.0.1 on a free port that stays the same across restarts, keep their
files in a temporary directory, and are stopped and removed when the context ends. A
missing binary is `unavailable` (skipped locally, a failure in CI), like a missing service.
"""

from __future__ import annotations

import contextlib
import glob
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.conftest import unavailable


def restartable_port() -> int:
    """A free port below the kernel's ephemeral range, for a server that will be restarted.

    While the server is down, its port must stay nobody else's: a port from the ephemeral
    range (what binding port 0 hands out) can be picked meanwhile as the source port of an
    outgoing connection, and a client retrying against its own port can even connect to
    itself (TCP simultaneous open) and believe the server is back.
    """
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        port = random.randint(max(1024, low - 12000), low - 1)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def _postgres_bin() -> Path | None:
    configured = os.environ.get("SIMGQL_TEST_POSTGRES_BIN")
    candidates = [configured] if configured else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists():
            return Path(folder)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PrivatePostgres:
    """One PostgreSQL cluster in a temporary directory; `stop()` and `start()` it at will."""

    def __init__(self, bin_dir: Path, root: Path, port: int) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.data = root / "data"
        self.port = port
        self.log = root / "postgres.log"
        # initdb refuses to run as root: the cluster then belongs to the `postgres` user.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str = "simgql") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            [*self.as_user, *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
        )

    def init(self) -> None:
        self._run(
            str(self.bin_dir / "initdb"),
            "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\n"
                "max_connections = 200\n"
            )

    def start(self) -> None:
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
            "-w", "-t", "30", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends sessions and checkpoints; `immediate` is a crash (recovery on start)."""
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def create_database(self, name: str = "simgql") -> str:
        self._run(
            str(self.bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", f'CREATE DATABASE "{name}"',
        )  # fmt: skip
        return self.url(name)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running PostgreSQL of this test; stopped (immediately) and deleted afterwards."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        unavailable("PostgreSQL binaries (initdb, pg_ctl)", "not installed")
        raise AssertionError("unreachable")
    # Not under pytest's tmp_path: its root-only parent folders are closed to `postgres`.
    root = Path(tempfile.mkdtemp(prefix="simgql-pg-"))
    server = PrivatePostgres(bin_dir, root, restartable_port())
    try:
        if server.as_user:
            shutil.chown(root, "postgres", "postgres")
        server.init()
        server.start()
        yield server
    finally:
        try:
            if server.running():
                server.stop("immediate")
        finally:
            shutil.rmtree(root, ignore_errors=True)


class PrivateRedis:
    """One redis-server process (no persistence); `stop()` and `start()` it on its port."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        proc = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.proc = proc
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:  # e.g. the port was taken meanwhile
                raise RuntimeError(f"private redis-server exited ({proc.returncode})")
            try:
                with redis.Redis(port=self.port, socket_timeout=1) as client:
                    client.ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@contextmanager
def private_redis(root: Path) -> Iterator[PrivateRedis]:
    """A running redis-server of this test; stopped afterwards."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server", "not installed")
    server = PrivateRedis(root, restartable_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
