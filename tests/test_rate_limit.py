"""Rate limiting per user by query cost, in one process and shared through Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
import redis

from simgql.api.rate_limit import MemoryBuckets, RedisBuckets
from simgql.app import create_app
from simgql.db.engine import Database
from simgql.domain.model import Role
from simgql.settings import Settings
from tests.client import Actor, GraphQLClient
from tests.conftest import SECRET, unavailable

PAGE = "{ purchaseOrders(first: 100) { edges { node { id lines { id } } } } }"
REDIS_URL = "redis://127.0.0.1:6379/0"


async def test_memory_bucket_grants_until_empty_then_names_the_wait() -> None:
    buckets = MemoryBuckets(rate=10, burst=100)
    assert await buckets.take("alice", 60) is None
    wait = await buckets.take("alice", 60)
    assert wait is not None
    assert 1.0 <= wait <= 2.1  # 20 units short at 10 units per second
    assert await buckets.take("bob", 60) is None  # buckets are per user


@pytest.fixture
async def limited(database_url: str, db: Database) -> AsyncIterator[GraphQLClient]:
    settings = Settings(
        database_url=database_url,
        jwt_secret=SECRET,
        rate_limit_per_second=1,
        rate_limit_burst=5_000,
    )
    app = create_app(settings, db=db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://simgql.test"
    ) as http:
        yield GraphQLClient(http, secret=SECRET)


async def test_expensive_queries_run_out_of_budget_with_429_and_retry_after(
    limited: GraphQLClient,
) -> None:
    agent = Actor(Role.SP_AGENT, f"agent-{secrets.token_hex(4)}")
    first = await limited.run(agent, PAGE)
    assert first.errors == []
    results = [await limited.run(agent, PAGE) for _ in range(3)]
    refused = [r for r in results if r.errors]
    assert refused, "the budget of 5000 cost units should not cover four pages of 100"
    error = refused[0].errors[0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] >= 1
    assert refused[0].status == 429
    raw = await limited.http.post(
        "/graphql",
        json={"query": PAGE},
        headers={"Authorization": f"Bearer {limited.token(agent)}"},
    )
    assert int(raw.headers["retry-after"]) >= 1
    # Another user is not affected.
    other = Actor(Role.SP_AGENT, f"agent-{secrets.token_hex(4)}")
    assert (await limited.run(other, PAGE)).errors == []


async def test_cheap_queries_pass_where_expensive_ones_are_refused(limited: GraphQLClient) -> None:
    agent = Actor(Role.SP_AGENT, f"agent-{secrets.token_hex(4)}")
    while not (await limited.run(agent, PAGE)).errors:
        pass
    assert (await limited.run(agent, "{ me { sub } }")).errors == []


async def test_redis_buckets_are_shared_between_processes() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    prefix = f"simgql:test:{secrets.token_hex(4)}:"
    one = RedisBuckets(REDIS_URL, rate=1, burst=100, prefix=prefix)
    two = RedisBuckets(REDIS_URL, rate=1, burst=100, prefix=prefix)
    try:
        assert await one.take("carol", 80) is None
        wait = await two.take("carol", 80)
        assert wait is not None
        assert wait > 50
    finally:
        await one.close()
        await two.close()


async def test_unreachable_redis_lets_requests_through() -> None:
    lost = RedisBuckets("redis://127.0.0.1:1/0", rate=1, burst=1)
    try:
        assert await lost.take("dave", 1000) is None
    finally:
        await lost.close()
