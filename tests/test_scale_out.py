"""Several server processes on one PostgreSQL, a real broker between them, and its failure."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from simgql.db.engine import Database
from simgql.domain.model import PurchaseOrderStatus
from tests.client import GraphQLClient, WsClient
from tests.conftest import SECRET, unavailable
from tests.factories import AGENT, gid, make_po, make_tenant
from tests.server import ServerProcess, free_port, running_server

S = PurchaseOrderStatus
REDIS_URL = "redis://127.0.0.1:6379/0"

EVENTS = """
subscription($accountId: ID) {
  purchaseOrderEvents(accountId: $accountId) { cursor fromStatus toStatus salesOrderStatus purchaseOrder { id } }
}
"""
# Delivery in these tests must come through the broker: the fallback poll is turned off.
NO_POLL = {"event_poll_seconds": "300", "broker_heartbeat_seconds": "0.5"}


@pytest.fixture(scope="module")
def pg_db_url(postgres_url: str) -> str:
    return postgres_url


@pytest.fixture
async def pg_db(pg_db_url: str) -> AsyncIterator[Database]:
    database = Database(pg_db_url)
    yield database
    await database.dispose()


def require_redis() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)


def broadcast_urls(pg_url: str) -> dict[str, str]:
    return {"redis": REDIS_URL, "postgres": pg_url.replace("postgresql+asyncpg://", "postgres://")}


async def client_for(server: ServerProcess) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10)


async def transition(http: httpx.AsyncClient, mutation: str, po_id: str) -> None:
    api = GraphQLClient(http, secret=SECRET)
    result = await api.run(
        AGENT,
        f'mutation {{ {mutation}(input: {{id: "{po_id}"}}) {{ purchaseOrder {{ status }} }} }}',
    )
    result.ok()


async def drive_pos_through(http: httpx.AsyncClient, po_ids: list[str]) -> None:
    for po_id in po_ids:
        await transition(http, "acceptPurchaseOrder", po_id)
    for po_id in po_ids:
        await transition(http, "startPurchaseOrderProvisioning", po_id)


async def collect(ws: WsClient, op_id: str, count: int, within: float = 20) -> list[dict[str, Any]]:
    """The next `count` status changes of POs themselves (sales-order changes passed over)."""
    got: list[dict[str, Any]] = []
    while len(got) < count:
        event = (await ws.next_payload(op_id, within))["data"]["purchaseOrderEvents"]
        if event["salesOrderStatus"] is None:
            got.append(event)
    return got


@pytest.mark.parametrize("broker", ["redis", "postgres"])
async def test_events_cross_server_processes_in_order(
    pg_db_url: str, pg_db: Database, tmp_path: Path, broker: str
) -> None:
    if broker == "redis":
        require_redis()
    url = broadcast_urls(pg_db_url)[broker]
    tenant = await make_tenant(pg_db)
    pos = [await make_po(pg_db, tenant, S.SUBMITTED) for _ in range(4)]
    common = {"database_url": pg_db_url, "jwt_secret": SECRET, "broadcast_url": url, **NO_POLL}
    with running_server(tmp_path, **common) as a, running_server(tmp_path, **common) as b:
        async with WsClient(a.ws_url) as ws, await client_for(b) as http_b:
            await ws.init(GraphQLClient(http_b, secret=SECRET).token(AGENT))
            await ws.subscribe("e", EVENTS, {"accountId": tenant.gid})
            await asyncio.sleep(0.5)
            await drive_pos_through(http_b, [gid(p) for p in pos])
            got = await collect(ws, "e", 8)
    expected = [(gid(p), "SUBMITTED", "ACCEPTED") for p in pos] + [
        (gid(p), "ACCEPTED", "PROVISIONING") for p in pos
    ]
    assert [(e["purchaseOrder"]["id"], e["fromStatus"], e["toStatus"]) for e in got] == expected
    cursors = [e["cursor"] for e in got]
    assert len(set(cursors)) == len(cursors)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[int, Any]]:
    """A Redis server of this test only, so it can be stopped and started again."""
    port = free_port()

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=port, socket_timeout=1).ping()
                return proc
            except redis.RedisError:
                time.sleep(0.05)
        proc.kill()
        raise RuntimeError("private redis-server did not start")

    state = {"proc": start()}

    def restart(stop_only: bool = False) -> None:
        state["proc"].terminate()
        state["proc"].wait(10)
        if not stop_only:
            state["proc"] = start()

    try:
        yield port, restart
    finally:
        state["proc"].terminate()
        state["proc"].wait(10)


async def test_lost_broker_is_detected_and_missed_events_arrive_after_it_returns(
    pg_db_url: str, pg_db: Database, tmp_path: Path, private_redis: tuple[int, Any]
) -> None:
    port, restart = private_redis
    tenant = await make_tenant(pg_db)
    pos = [await make_po(pg_db, tenant, S.SUBMITTED) for _ in range(3)]
    common = {
        "database_url": pg_db_url,
        "jwt_secret": SECRET,
        "broadcast_url": f"redis://127.0.0.1:{port}/0",
        **NO_POLL,
    }
    with running_server(tmp_path, **common) as a, running_server(tmp_path, **common) as b:
        async with WsClient(a.ws_url) as ws, await client_for(b) as http_b:
            await ws.init(GraphQLClient(http_b, secret=SECRET).token(AGENT))
            await ws.subscribe("e", EVENTS, {"accountId": tenant.gid})
            await asyncio.sleep(0.5)
            await transition(http_b, "acceptPurchaseOrder", gid(pos[0]))
            before = await collect(ws, "e", 1)

            restart(stop_only=True)
            await transition(http_b, "acceptPurchaseOrder", gid(pos[1]))  # broker is down
            restart()  # same port, empty server: both processes must reconnect by themselves
            during = await collect(ws, "e", 1, within=30)

            await transition(http_b, "acceptPurchaseOrder", gid(pos[2]))
            after = await collect(ws, "e", 1, within=30)
        assert a.metric("simgql_broker_reconnects") >= 1
        assert a.metric("simgql_broker_connected") == 1
    assert [e["purchaseOrder"]["id"] for e in before + during + after] == [gid(p) for p in pos]


async def test_dropped_connections_leave_no_subscriptions_behind(
    pg_db_url: str, tmp_path: Path
) -> None:
    with running_server(tmp_path, database_url=pg_db_url, jwt_secret=SECRET) as server:
        async with await client_for(server) as http:
            token = GraphQLClient(http, secret=SECRET).token(AGENT)
        clients = [WsClient(server.ws_url) for _ in range(25)]
        for c in clients:
            await c.__aenter__()
            await c.init(token)
            await c.subscribe("1", EVENTS)
            await c.subscribe("2", EVENTS)
        await wait_for_metric(server, "simgql_subscriptions", 50)
        for c in clients[:10]:
            await c.stop("1")
        await wait_for_metric(server, "simgql_subscriptions", 40)
        for c in clients:
            c.ws.transport.abort() if hasattr(c.ws, "transport") else await c.ws.close()
        await wait_for_metric(server, "simgql_subscriptions", 0)


async def wait_for_metric(
    server: ServerProcess, name: str, value: float, within: float = 15
) -> None:
    deadline = time.monotonic() + within
    seen = None
    while time.monotonic() < deadline:
        seen = await asyncio.to_thread(server.metric, name)
        if seen == value:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} stayed at {seen}, expected {value}")
