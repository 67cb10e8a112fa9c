"""WebSocket hygiene: token expiry, limits, init timeout, and slow subscribers."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator

import pytest

from simgql.db.engine import Database
from simgql.domain.model import PurchaseOrderStatus
from simgql.events.hub import EventFilter, EventHub, SubscriberOverflow
from tests.client import GraphQLClient, WsClient
from tests.conftest import SECRET
from tests.factories import AGENT, make_po, make_tenant
from tests.server import ServerProcess, running_server

EVENTS = "subscription { purchaseOrderEvents { cursor toStatus } }"


@pytest.fixture(scope="module")
def strict_server(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    with running_server(
        tmp_path_factory.mktemp("strict"),
        database_url=postgres_url,
        jwt_secret=SECRET,
        max_subscriptions_per_connection="2",
        ws_connection_init_timeout_seconds="0.5",
    ) as server:
        yield server


@pytest.fixture
def tokens() -> GraphQLClient:
    return GraphQLClient(None, secret=SECRET)  # type: ignore[arg-type]  # only mints tokens


async def test_subscription_ends_with_unauthenticated_when_the_token_expires(
    strict_server: ServerProcess, tokens: GraphQLClient
) -> None:
    async with WsClient(strict_server.ws_url) as ws:
        await ws.init(tokens.token(AGENT, ttl=dt.timedelta(seconds=5)))
        await ws.subscribe("1", EVENTS)
        # Events of other tests' orders may come first (the database is shared).
        ended = await ws.next_payload("1", within=20)
        while not ended.get("errors"):
            ended = await ws.next_payload("1", within=20)
    assert ended["errors"][0].get("extensions", {}).get("code") == "UNAUTHENTICATED", ended


async def test_subscriptions_per_connection_are_capped(
    strict_server: ServerProcess, tokens: GraphQLClient
) -> None:
    async with WsClient(strict_server.ws_url) as ws:
        await ws.init(tokens.token(AGENT))
        await ws.subscribe("1", EVENTS)
        await ws.subscribe("2", EVENTS)
        await ws.subscribe("3", EVENTS)
        refused = await ws.next_payload("3")
    assert "limit" in refused["errors"][0]["message"].lower()


async def test_connection_without_init_is_closed_after_the_timeout(
    strict_server: ServerProcess,
) -> None:
    async with WsClient(strict_server.ws_url) as ws:
        assert await ws.close_code(within=10) == 4408


@pytest.fixture
async def pg_db(postgres_url: str) -> AsyncIterator[Database]:
    database = Database(postgres_url)
    yield database
    await database.dispose()


async def test_slow_subscriber_is_dropped_and_can_resume_without_loss(pg_db: Database) -> None:
    hub = EventHub(pg_db, "memory://", queue_size=3, poll_interval=300)
    await hub.start()
    try:
        tenant = await make_tenant(pg_db)
        flt = EventFilter(account_id=tenant.account_id)

        async def read_all(count: int) -> list[int]:
            stream = hub.stream(flt, after=None)
            try:
                return [(await anext(stream)).id for _ in range(count)]
            finally:
                await stream.aclose()

        fast = asyncio.create_task(read_all(5))
        slow = hub.stream(flt, after=None)
        slow_first = asyncio.create_task(anext(slow))
        await asyncio.sleep(0.2)  # both registered
        for _ in range(5):  # one event at a time; the slow reader reads none of them
            await make_po(pg_db, tenant, PurchaseOrderStatus.DRAFT)
            hub.wake()
            await asyncio.sleep(0.2)
        everything = await fast
        delivered = [(await slow_first).id] + [(await anext(slow)).id for _ in range(3)]
        with pytest.raises(SubscriberOverflow) as overflow:
            await anext(slow)
        assert delivered == everything[:4]
        assert overflow.value.last_delivered == delivered[-1]
        # Resuming from the last delivered cursor replays exactly what was missed.
        resumed = hub.stream(flt, after=overflow.value.last_delivered)
        assert [(await anext(resumed)).id] == everything[4:]
        await resumed.aclose()
        await slow.aclose()
        assert hub.subscriber_count == 0
    finally:
        await hub.stop()
