"""Counting the SQL a server sends, with a PostgreSQL wire-protocol proxy.

pg_stat_statements needs `shared_preload_libraries` (a server restart), which a shared
PostgreSQL cannot get; statement logging needs log files. So the harness puts this proxy
between a server under test and PostgreSQL during its correctness pass, and reads the
frontend messages as they go by:

- a simple-protocol `Query` ('Q') is one statement and one round trip;
- in the extended protocol, `Parse` ('P') names a statement's text, `Bind` ('B') picks a
  statement for a portal, `Execute` ('E') runs it (one statement), `Sync` ('S') ends a
  round trip (prepare-only exchanges have a Sync but no Execute).

Each statement is classed by its first word: `data` (SELECT/INSERT/UPDATE/DELETE/WITH …),
`tx` (BEGIN/COMMIT/ROLLBACK/SAVEPOINT…), `session` (SET/SHOW/RESET, pings like `;`). The
proxy works for any client (asyncpg, node-postgres), so every server is counted the same
way. It is never in the path while throughput is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections import Counter
from dataclasses import dataclass, field

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
TX_WORDS = {"BEGIN", "START", "COMMIT", "ROLLBACK", "END", "SAVEPOINT", "RELEASE", "ABORT"}
SESSION_WORDS = {"SET", "SHOW", "RESET", "DISCARD", "DEALLOCATE", "LISTEN", "UNLISTEN", ""}


def classify(sql: str) -> str:
    """`data`, `tx` or `session` by the statement's first word."""
    text = sql.strip().lstrip("(").strip()
    word = text.split(None, 1)[0].upper().rstrip(";") if text else ""
    if word in TX_WORDS:
        return "tx"
    if word in SESSION_WORDS or text in (";", "SELECT 1", "select 1"):
        return "session"
    if "pg_advisory_unlock_all()" in text:  # asyncpg's connection reset on pool release
        return "session"
    return "data"


@dataclass
class Counts:
    """What went through the proxy since the last reset."""

    statements: Counter[str] = field(default_factory=Counter)
    round_trips: int = 0
    connections: int = 0
    texts: Counter[str] = field(default_factory=Counter)

    @property
    def data(self) -> int:
        return self.statements["data"]

    def snapshot(self) -> dict[str, int]:
        return {
            "data": self.statements["data"],
            "tx": self.statements["tx"],
            "session": self.statements["session"],
            "round_trips": self.round_trips,
            "connections": self.connections,
        }


class _Session:
    """Parses one client connection's frontend messages."""

    def __init__(self, counts: Counts) -> None:
        self.counts = counts
        self.buffer = b""
        self.startup = True
        self.statements: dict[str, str] = {}
        self.portals: dict[str, str] = {}

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.startup:
                if len(self.buffer) < 8:
                    return
                (length,) = struct.unpack("!I", self.buffer[:4])
                if len(self.buffer) < length:
                    return
                (code,) = struct.unpack("!I", self.buffer[4:8])
                self.buffer = self.buffer[length:]
                if code not in (SSL_REQUEST, GSSENC_REQUEST):
                    self.startup = False
                    self.counts.connections += 1
                continue
            if len(self.buffer) < 5:
                return
            kind = self.buffer[0:1]
            (length,) = struct.unpack("!I", self.buffer[1:5])
            if len(self.buffer) < 1 + length:
                return
            body = self.buffer[5 : 1 + length]
            self.buffer = self.buffer[1 + length :]
            self._message(kind, body)

    def _message(self, kind: bytes, body: bytes) -> None:
        if kind == b"Q":
            sql = body.rstrip(b"\0").decode(errors="replace")
            self._count(sql)
            self.counts.round_trips += 1
        elif kind == b"P":
            name, rest = body.split(b"\0", 1)
            sql = rest.split(b"\0", 1)[0].decode(errors="replace")
            self.statements[name.decode()] = sql
        elif kind == b"B":
            portal, rest = body.split(b"\0", 1)
            statement = rest.split(b"\0", 1)[0]
            self.portals[portal.decode()] = self.statements.get(statement.decode(), "?")
        elif kind == b"E":
            portal = body.split(b"\0", 1)[0].decode()
            self._count(self.portals.get(portal, "?"))
        elif kind == b"S":
            self.counts.round_trips += 1

    def _count(self, sql: str) -> None:
        cls = classify(sql)
        self.counts.statements[cls] += 1
        if cls == "data":
            self.counts.texts[" ".join(sql.split())[:160]] += 1


class CountingProxy:
    """A loopback TCP proxy to PostgreSQL that counts the statements clients send."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.counts = Counts()
        self.server: asyncio.Server | None = None
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    def reset(self) -> None:
        self.counts = Counts()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(*self.upstream), 10
            )
        except (OSError, TimeoutError):
            writer.close()
            self._tasks.discard(task)
            return
        session = _Session(self.counts)

        async def client_to_server() -> None:
            with contextlib.suppress(OSError):
                while data := await reader.read(65536):
                    session.counts = self.counts  # follow resets
                    session.feed(data)
                    up_writer.write(data)
                    await up_writer.drain()

        async def server_to_client() -> None:
            with contextlib.suppress(OSError):
                while data := await up_reader.read(65536):
                    writer.write(data)
                    await writer.drain()

        try:
            pumps = [
                asyncio.create_task(client_to_server()),
                asyncio.create_task(server_to_client()),
            ]
            _, pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            for p in pending:
                p.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            for w in (writer, up_writer):
                with contextlib.suppress(Exception):
                    w.close()
            self._tasks.discard(task)
