"""The database handle: engines and session factories for reads and for units of work."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, NullPool, PoolProxiedConnection

from simgql.settings import normalise_database_url


def _sqlite_pragmas(engine: AsyncEngine, *, immediate: bool) -> None:
    """WAL, foreign keys and a busy timeout; write transactions take the lock up front."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=15000")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _skip_closed_connections(engine: AsyncEngine) -> None:
    """A pooled connection whose socket the server closed is replaced when checked out.

    This is what `pool_pre_ping` is for, at no cost: the ping is a round trip per checkout
    (three with asyncpg outside a transaction), while a connection the server dropped
    (restart, crash, idle timeout) is already known closed to the driver. A connection lost
    without the socket closing fails its statement, and SQLAlchemy then invalidates it and
    every pooled connection older than it.
    """

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(
        dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        driver = getattr(dbapi_conn, "driver_connection", None)
        if driver is not None and driver.is_closed():
            raise sa_exc.DisconnectionError("the server closed this connection")


class Database:
    """Owns the engines. `read()` gives a session for queries, `write()` a unit of work."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = normalise_database_url(url)
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        if self.dialect == "sqlite":
            # Two engines on one file: readers never block behind BEGIN IMMEDIATE.
            self.engine = create_async_engine(self.url, echo=echo, poolclass=NullPool)
            self.write_engine = create_async_engine(self.url, echo=echo, poolclass=NullPool)
            _sqlite_pragmas(self.engine, immediate=False)
            _sqlite_pragmas(self.write_engine, immediate=True)
        else:
            # Up to twice `pool_size` connections, opened on demand and then kept: with
            # overflow connections instead, every few requests under load one was closed
            # at check-in and another opened (connect, TLS attempt, a backend forked).
            self.write_engine = create_async_engine(
                self.url, echo=echo, pool_size=2 * pool_size, max_overflow=0
            )
            _skip_closed_connections(self.write_engine)
            # Reads share the pool, without a transaction: a read is one statement, which
            # sees the rows committed when it starts, BEGIN or not.
            self.engine = self.write_engine.execution_options(isolation_level="AUTOCOMMIT")
        self._read = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write = async_sessionmaker(self.write_engine, expire_on_commit=False)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._read() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A transaction that commits when the block ends normally and rolls back otherwise."""
        async with self._write() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.engine.pool is not self.write_engine.pool:
            await self.engine.dispose()


class OutageLog:
    """Logs "database unavailable" once per interval, not once per failed request.

    A few seconds of outage under load fail thousands of requests; one line a second with a
    count says the same, and keeps the log readable and its volume bounded.
    """

    def __init__(self, logger: logging.Logger, interval: float = 1.0) -> None:
        self.logger = logger
        self.interval = interval
        self._last = -interval
        self._suppressed = 0

    def report(self, what: str, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._last < self.interval:
            self._suppressed += 1
            return
        more = f" (and {self._suppressed} more since the last report)" if self._suppressed else ""
        self.logger.warning("database unavailable: %s: %s%s", what, exc, more)
        self._last, self._suppressed = now, 0


outages = OutageLog(logging.getLogger("simgql.db"))


def is_unavailable(exc: BaseException) -> bool:
    """Whether an error means the database could not be reached (not a bug, not the client).

    Connection refused or reset, a connection the server dropped (restart, failover), or no
    connection from the pool in time; looked for along the exception's causes.
    """
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, OSError | ConnectionError | sa_exc.TimeoutError):
            return True
        if isinstance(seen, sa_exc.DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, _ASYNCPG_CONNECTION_ERRORS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _asyncpg_connection_errors() -> tuple[type[BaseException], ...]:
    try:
        import asyncpg  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return ()
    return (
        asyncpg.exceptions.ConnectionDoesNotExistError,
        asyncpg.exceptions.CannotConnectNowError,
        asyncpg.exceptions.AdminShutdownError,
        asyncpg.exceptions.CrashShutdownError,
        asyncpg.exceptions.PostgresConnectionError,
    )


_ASYNCPG_CONNECTION_ERRORS = _asyncpg_connection_errors()


def log_failure(what: str, exc: BaseException) -> None:
    """A background task's failure: one throttled line for an outage, a traceback for a bug."""
    if is_unavailable(exc):
        outages.report(what, exc)
    else:
        logging.getLogger("simgql").error("%s failed", what, exc_info=exc)
