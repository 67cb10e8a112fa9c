"""/metrics in Prometheus text format, and /healthz and /readyz, on a real server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from simgql.db.engine import Database
from simgql.domain.model import PurchaseOrderStatus
from tests.client import GraphQLClient
from tests.conftest import SECRET
from tests.factories import AGENT, gid, make_po, make_tenant
from tests.server import ServerProcess, running_server


@pytest.fixture(scope="module")
def server(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(
        tmp_path_factory.mktemp("metrics"), database_url=postgres_url, jwt_secret=SECRET
    ) as proc:
        yield proc


@pytest.fixture
async def pg(postgres_url: str) -> Iterator[Database]:  # type: ignore[misc]
    database = Database(postgres_url)
    yield database
    await database.dispose()


async def test_operations_are_counted_by_name_type_and_outcome(
    server: ServerProcess, pg: Database
) -> None:
    tenant = await make_tenant(pg)
    po = await make_po(pg, tenant, PurchaseOrderStatus.SUBMITTED)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http:
        api = GraphQLClient(http, secret=SECRET)
        await api.run(AGENT, "query DashboardPage { purchaseOrders(first: 5) { totalCount } }")
        await api.run(
            AGENT,
            f'mutation AcceptIt {{ acceptPurchaseOrder(input: {{id: "{gid(po)}"}}) {{ purchaseOrder {{ status }} }} }}',
        )
        await api.run(
            AGENT,
            f'mutation AcceptIt {{ acceptPurchaseOrder(input: {{id: "{gid(po)}"}}) {{ purchaseOrder {{ status }} }} }}',
        )
        text = (await http.get("/metrics")).text
    assert (
        'simgql_operations_total{operation="DashboardPage",outcome="ok",type="query"} 1.0' in text
    )
    assert 'simgql_operations_total{operation="AcceptIt",outcome="ok",type="mutation"} 1.0' in text
    assert 'operation="AcceptIt",outcome="INVALID_TRANSITION",type="mutation"} 1.0' in text
    assert 'simgql_operation_seconds_bucket{le="0.005",type="query"}' in text
    assert server.metric("simgql_events_published_total") >= 1
    for gauge in (
        "simgql_subscriptions",
        "simgql_broker_connected",
        "simgql_db_connections_in_use",
        "simgql_sales_orders_waiting",
        "simgql_event_log_position",
    ):
        assert server.metric(gauge) >= 0


async def test_health_and_readiness(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http:
        assert (await http.get("/healthz")).text == "ok"
        ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"database": "ok", "broker": "ok"}


async def test_open_websockets_are_counted_and_uncounted(server: ServerProcess) -> None:
    from tests.client import WsClient

    before = server.metric("simgql_websocket_connections")
    async with WsClient(server.ws_url) as one, WsClient(server.ws_url) as two:
        await one.init(GraphQLClient(httpx.AsyncClient(), secret=SECRET).token(AGENT))
        await two.init(GraphQLClient(httpx.AsyncClient(), secret=SECRET).token(AGENT))
        during = server.metric("simgql_websocket_connections")
    for _ in range(50):
        if server.metric("simgql_websocket_connections") == before:
            break
        await asyncio.sleep(0.05)
    assert during == before + 2
    assert server.metric("simgql_websocket_connections") == before
    # The scrape itself is not a GraphQL request: nothing in flight between requests.
    assert server.metric("simgql_http_requests_in_flight") == 0
