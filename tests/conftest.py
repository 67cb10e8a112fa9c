"""Fixtures: a migrated database per backend (SQLite and PostgreSQL), the app, the client."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from simgql.app import create_app
from simgql.db.engine import Database
from simgql.db.migrate import upgrade
from simgql.settings import Settings
from tests.client import GraphQLClient

SECRET = "test-secret-" + secrets.token_hex(16)
POSTGRES_ADMIN_URL = os.environ.get(
    "SIMGQL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI") == "true"


def unavailable(what: str, why: object) -> None:
    """Outside CI a missing service skips its tests; in CI it fails them."""
    message = f"{what} is not reachable ({why})"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


async def _create_postgres_database() -> str:
    name = f"simgql_test_{secrets.token_hex(6)}"
    try:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable("PostgreSQL", exc)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)


async def _drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A freshly migrated PostgreSQL database of this test session (set up in its own loop)."""
    url = asyncio.run(_create_postgres_database())
    try:
        asyncio.run(upgrade(url))
        yield url
    finally:
        asyncio.run(_drop_postgres_database(url))


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A freshly migrated database of each backend, shared by the session's tests."""
    if request.param == "postgres":
        yield request.getfixturevalue("postgres_url")
        return
    path = tmp_path_factory.mktemp("db") / "simgql.db"
    url = f"sqlite+aiosqlite:///{path}"
    asyncio.run(upgrade(url))
    yield url


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # The shared app serves thousands of test requests as a handful of users: rate limiting
    # has its own tests (test_rate_limit.py).
    return Settings(database_url=database_url, jwt_secret=SECRET, rate_limit_enabled=False)


@pytest.fixture(scope="session")
async def api(db: Database, settings: Settings) -> AsyncIterator[GraphQLClient]:
    app = create_app(settings, db=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://simgql.test") as http:
        yield GraphQLClient(http, secret=SECRET)


@pytest.fixture
def backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"
