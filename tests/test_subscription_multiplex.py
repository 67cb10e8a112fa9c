"""Subscription multiplexing, seen from real sockets on a real server, on both backends.

Subscribers with the same document, variables and visibility share one execution per event
(`simgql_subscription_executions` counts executions); callers who differ in role, account
or variables never receive a result computed for somebody else.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from simgql.db.engine import Database
from simgql.domain.model import PurchaseOrderStatus, Role
from tests.client import Actor, GraphQLClient, WsClient
from tests.conftest import SECRET
from tests.factories import AGENT, gid, make_po, make_tenant
from tests.server import ServerProcess, running_server

S = PurchaseOrderStatus
EXECUTIONS = "simgql_subscription_executions_total"

DASHBOARD = """
subscription Dashboard($statuses: [PurchaseOrderStatus!]) {
  purchaseOrderEvents(statuses: $statuses) {
    cursor fromStatus toStatus
    purchaseOrder { id status account { code } availableActions lines { quantity } }
  }
}
"""
ONE_PO = """
subscription($id: ID!) {
  purchaseOrderStatusChanged(id: $id) { toStatus purchaseOrder { id availableActions } }
}
"""


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(
        tmp_path_factory.mktemp("server"), database_url=database_url, jwt_secret=SECRET
    ) as proc:
        yield proc


@pytest.fixture
async def remote(server: ServerProcess) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http:
        yield GraphQLClient(http, secret=SECRET)


@contextlib.asynccontextmanager
async def subscribed(
    server: ServerProcess,
    remote: GraphQLClient,
    subscriptions: list[tuple[Actor, str, dict[str, Any]]],
) -> AsyncIterator[list[WsClient]]:
    """One socket per subscription, each live (its start has run) before the block runs."""
    async with contextlib.AsyncExitStack() as stack:
        sockets = []
        before = server.metric("simgql_subscriptions")
        for actor, query, variables in subscriptions:
            ws = await stack.enter_async_context(WsClient(server.ws_url))
            assert (await ws.init(remote.token(actor)))["type"] == "connection_ack"
            await ws.subscribe("s", query, variables)
            sockets.append(ws)
        for _ in range(100):
            if server.metric("simgql_subscriptions") >= before + len(subscriptions):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # counted on arrival; let every start query finish
        yield sockets


async def accept(remote: GraphQLClient, po_id: str) -> None:
    result = await remote.run(
        AGENT,
        "mutation($id: ID!) { acceptPurchaseOrder(input: {id: $id}) { purchaseOrder { id } } }",
        {"id": po_id},
    )
    result.ok()


async def test_identical_subscriptions_share_one_execution_per_event(
    server: ServerProcess, remote: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant, S.SUBMITTED)
    # Twelve people of one account, each with a token of their own, same dashboard.
    viewers = [
        Actor(Role.ENTERPRISE_VIEWER, f"viewer{i}@{tenant.code}", tenant.code) for i in range(12)
    ]
    async with subscribed(server, remote, [(v, DASHBOARD, {}) for v in viewers]) as sockets:
        before = server.metric(EXECUTIONS)
        await accept(remote, gid(po))
        payloads = [await ws.next_payload("s") for ws in sockets]
        executed = server.metric(EXECUTIONS) - before

    first = payloads[0]["data"]["purchaseOrderEvents"]
    assert first["purchaseOrder"]["id"] == gid(po)
    assert first["toStatus"] == "ACCEPTED"
    assert all(p == payloads[0] for p in payloads)
    assert executed == 1


async def test_roles_accounts_and_variables_each_get_their_own_execution(
    server: ServerProcess, remote: GraphQLClient, db: Database
) -> None:
    mine, theirs = await make_tenant(db), await make_tenant(db)
    my_po = await make_po(db, mine, S.SUBMITTED)
    their_po = await make_po(db, theirs, S.SUBMITTED)
    subscriptions: list[tuple[Actor, str, dict[str, Any]]] = [
        (mine.viewer, DASHBOARD, {}),
        (mine.purchaser, DASHBOARD, {}),
        (AGENT, DASHBOARD, {}),
        (theirs.viewer, DASHBOARD, {}),
        (AGENT, DASHBOARD, {"statuses": ["ACCEPTED"]}),
    ]
    async with subscribed(server, remote, subscriptions) as sockets:
        before = server.metric(EXECUTIONS)
        await accept(remote, gid(my_po))
        mine_viewer, mine_buyer, agent, agent_filtered = [
            (await sockets[i].next_payload("s"))["data"]["purchaseOrderEvents"]
            for i in (0, 1, 2, 4)
        ]
        executed = server.metric(EXECUTIONS) - before
        await accept(remote, gid(their_po))
        theirs_viewer = (await sockets[3].next_payload("s"))["data"]["purchaseOrderEvents"]

    # What each role may do with an ACCEPTED PO, as the policy says, not as another got it.
    expected = {}
    for actor in (mine.viewer, mine.purchaser, AGENT):
        read = await remote.run(
            actor,
            "query($id: ID!) { purchaseOrder(id: $id) { availableActions } }",
            {"id": gid(my_po)},
        )
        expected[actor.role] = read.ok()["purchaseOrder"]["availableActions"]
    assert mine_viewer["purchaseOrder"]["availableActions"] == expected[Role.ENTERPRISE_VIEWER]
    assert mine_buyer["purchaseOrder"]["availableActions"] == expected[Role.ENTERPRISE_PURCHASER]
    assert agent["purchaseOrder"]["availableActions"] == expected[Role.SP_AGENT]
    assert expected[Role.SP_AGENT] != expected[Role.ENTERPRISE_VIEWER]
    assert agent_filtered == agent
    # The other tenant's viewer never saw this event; its first is its own PO.
    assert theirs_viewer["purchaseOrder"]["id"] == gid(their_po)
    assert theirs_viewer["purchaseOrder"]["account"]["code"] == theirs.code
    # viewer, purchaser, agent, agent with other variables: four visibilities, four runs.
    assert executed == 4


async def test_a_subscriber_leaving_mid_event_does_not_cost_the_others_it(
    server: ServerProcess, remote: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant, S.SUBMITTED)
    # Three visibilities, so three executions that share the event's loaders.
    actors = [tenant.viewer, tenant.purchaser, AGENT] * 2
    subs = [(actor, ONE_PO, {"id": gid(po)}) for actor in actors]
    async with subscribed(server, remote, subs) as sockets:
        await accept(remote, gid(po))
        await sockets[0].ws.close()  # gone while the event is being executed or sent
        payloads = [await ws.next_payload("s") for ws in sockets[1:]]
    assert {p["data"]["purchaseOrderStatusChanged"]["toStatus"] for p in payloads} == {"ACCEPTED"}
    assert len(payloads) == 5
