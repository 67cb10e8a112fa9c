"""Subscriptions over real WebSockets against a real server process, on both backends."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from simgql.db.engine import Database
from simgql.domain.model import PurchaseOrderStatus, Role
from tests.client import LEGACY_WS, TRANSPORT_WS, Actor, GraphQLClient, WsClient
from tests.conftest import SECRET
from tests.factories import AGENT, gid, make_po, make_tenant, sims
from tests.server import ServerProcess, running_server

S = PurchaseOrderStatus

ONE_PO = """
subscription($id: ID!, $after: String) {
  purchaseOrderStatusChanged(id: $id, after: $after) {
    cursor fromStatus toStatus actor note occurredAt salesOrderStatus
    purchaseOrder { id status lines { sims { iccid } } }
  }
}
"""
ALL_POS = """
subscription($accountId: ID, $statuses: [PurchaseOrderStatus!], $after: String) {
  purchaseOrderEvents(accountId: $accountId, statuses: $statuses, after: $after) {
    cursor fromStatus toStatus salesOrderStatus purchaseOrder { id account { code } }
  }
}
"""


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(
        tmp_path_factory.mktemp("server"),
        database_url=database_url,
        jwt_secret=SECRET,
        ws_keep_alive_seconds="0.5",
    ) as proc:
        yield proc


@pytest.fixture
async def remote(server: ServerProcess) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http:
        yield GraphQLClient(http, secret=SECRET)


async def act(remote: GraphQLClient, actor: Actor, mutation: str, po_id: str, **extra: Any) -> None:
    fields = ", ".join(f"{k}: {v}" for k, v in {"id": f'"{po_id}"', **extra}.items())
    result = await remote.run(
        actor, f"mutation {{ {mutation}(input: {{{fields}}}) {{ purchaseOrder {{ status }} }} }}"
    )
    result.ok()


async def accept_and_provision(remote: GraphQLClient, po_id: str) -> None:
    await act(remote, AGENT, "acceptPurchaseOrder", po_id)
    await act(remote, AGENT, "startPurchaseOrderProvisioning", po_id, note='"go"')


async def next_change(ws: WsClient, op_id: str, field: str) -> dict[str, Any]:
    """The next status change of a PO itself, passing over its sales orders' changes."""
    while True:
        payload = await ws.next_payload(op_id)
        event: dict[str, Any] = payload["data"][field]
        if event["salesOrderStatus"] is None:
            return event


def transitions(events: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
    return [(e["fromStatus"], e["toStatus"]) for e in events]


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_subscriber_receives_every_transition_in_commit_order(
    server: ServerProcess, remote: GraphQLClient, db: Database, protocol: str
) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant, S.SUBMITTED)
    async with WsClient(server.ws_url, protocol=protocol) as ws:
        ack = await ws.init(remote.token(tenant.viewer))
        assert ack["type"] == "connection_ack"
        await ws.subscribe("1", ONE_PO, {"id": gid(po)})
        await asyncio.sleep(0.3)  # let the subscription register before changing the PO
        await accept_and_provision(remote, gid(po))
        got = [await next_change(ws, "1", "purchaseOrderStatusChanged") for _ in range(2)]
    assert transitions(got) == [("SUBMITTED", "ACCEPTED"), ("ACCEPTED", "PROVISIONING")]
    assert got[0]["actor"] == AGENT.sub
    assert got[1]["note"] == "go"
    assert got[1]["purchaseOrder"]["status"] == "PROVISIONING"


async def test_resume_after_cursor_replays_missed_events_without_gap_or_repeat(
    server: ServerProcess, remote: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant, S.SUBMITTED)
    async with WsClient(server.ws_url) as ws:
        await ws.init(remote.token(AGENT))
        await ws.subscribe("a", ONE_PO, {"id": gid(po)})
        await asyncio.sleep(0.3)
        await act(remote, AGENT, "acceptPurchaseOrder", gid(po))
        first = await next_change(ws, "a", "purchaseOrderStatusChanged")
    # Disconnected: two transitions happen meanwhile.
    await act(remote, AGENT, "startPurchaseOrderProvisioning", gid(po))
    await act_assign_and_ready(remote, db, po)
    async with WsClient(server.ws_url) as ws:
        await ws.init(remote.token(AGENT))
        await ws.subscribe("b", ONE_PO, {"id": gid(po), "after": first["cursor"]})
        replayed = [await next_change(ws, "b", "purchaseOrderStatusChanged") for _ in range(2)]
        await act(
            remote, AGENT, "shipPurchaseOrder", gid(po), carrier='"DHL"', trackingNumber='"1Z"'
        )
        live = await next_change(ws, "b", "purchaseOrderStatusChanged")
    assert transitions(replayed) == [("ACCEPTED", "PROVISIONING"), ("PROVISIONING", "READY")]
    assert transitions([live]) == [("READY", "SHIPPED")]
    assert len({first["cursor"], *(e["cursor"] for e in replayed), live["cursor"]}) == 4


async def act_assign_and_ready(remote: GraphQLClient, db: Database, po: Any) -> None:
    lines = await remote.run(
        AGENT,
        "query($id: ID!) { purchaseOrder(id: $id) { lines { id quantity } } }",
        {"id": gid(po)},
    )
    line = lines.ok()["purchaseOrder"]["lines"][0]
    assignment = [{"lineId": line["id"], "sims": [s.__dict__ for s in sims(line["quantity"])]}]
    result = await remote.run(
        AGENT,
        "mutation($input: AssignPurchaseOrderSimsInput!) { assignPurchaseOrderSims(input: $input) { purchaseOrder { status } } }",
        {"input": {"id": gid(po), "assignments": assignment}},
    )
    result.ok()
    await act(remote, AGENT, "markPurchaseOrderReady", gid(po))


async def test_enterprise_subscriber_sees_only_its_own_account(
    server: ServerProcess, remote: GraphQLClient, db: Database
) -> None:
    mine, theirs = await make_tenant(db), await make_tenant(db)
    my_po = await make_po(db, mine, S.SUBMITTED)
    their_po = await make_po(db, theirs, S.SUBMITTED)
    async with WsClient(server.ws_url) as ws:
        await ws.init(remote.token(mine.viewer))
        await ws.subscribe("all", ALL_POS)
        await ws.subscribe("theirs", ONE_PO, {"id": gid(their_po)})
        refused = await ws.next_payload("theirs")
        await ws.subscribe("acct", ALL_POS, {"accountId": theirs.gid})
        refused_account = await ws.next_payload("acct")
        await asyncio.sleep(0.3)
        await act(remote, AGENT, "acceptPurchaseOrder", gid(their_po))
        await act(remote, AGENT, "acceptPurchaseOrder", gid(my_po))
        event = await next_change(ws, "all", "purchaseOrderEvents")
    assert refused["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert refused_account["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert event["purchaseOrder"]["account"]["code"] == mine.code
    assert event["purchaseOrder"]["id"] == gid(my_po)


async def test_status_filter_narrows_the_stream(
    server: ServerProcess, remote: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant, S.SUBMITTED)
    async with WsClient(server.ws_url) as ws:
        await ws.init(remote.token(AGENT))
        await ws.subscribe("p", ALL_POS, {"accountId": tenant.gid, "statuses": ["PROVISIONING"]})
        await asyncio.sleep(0.3)
        await accept_and_provision(remote, gid(po))
        event = await next_change(ws, "p", "purchaseOrderEvents")
    assert (event["fromStatus"], event["toStatus"]) == ("ACCEPTED", "PROVISIONING")


async def test_sims_in_events_follow_the_ready_rule(
    server: ServerProcess, remote: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant, S.PROVISIONING, assign=True)
    async with WsClient(server.ws_url) as ws:
        await ws.init(remote.token(tenant.viewer))
        await ws.subscribe("s", ONE_PO, {"id": gid(po), "after": None})
        await asyncio.sleep(0.3)
        await act(remote, AGENT, "markPurchaseOrderReady", gid(po))
        ready = await next_change(ws, "s", "purchaseOrderStatusChanged")
    assert len(ready["purchaseOrder"]["lines"][0]["sims"]) == 2


async def test_replayed_events_before_ready_hide_sims_from_enterprise(
    server: ServerProcess, remote: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant, S.SUBMITTED)
    async with WsClient(server.ws_url) as ws:
        await ws.init(remote.token(tenant.viewer))
        await ws.subscribe("s", ONE_PO, {"id": gid(po)})
        await asyncio.sleep(0.3)
        await accept_and_provision(remote, gid(po))
        await act_assign_and_ready_partial(remote, po)
        event = await next_change(ws, "s", "purchaseOrderStatusChanged")
    assert event["purchaseOrder"]["lines"][0]["sims"] == []


async def act_assign_and_ready_partial(remote: GraphQLClient, po: Any) -> None:
    lines = await remote.run(
        AGENT, "query($id: ID!) { purchaseOrder(id: $id) { lines { id } } }", {"id": gid(po)}
    )
    line = lines.ok()["purchaseOrder"]["lines"][0]
    result = await remote.run(
        AGENT,
        "mutation($input: AssignPurchaseOrderSimsInput!) { assignPurchaseOrderSims(input: $input) { purchaseOrder { status } } }",
        {
            "input": {
                "id": gid(po),
                "assignments": [{"lineId": line["id"], "sims": [sims(1)[0].__dict__]}],
            }
        },
    )
    result.ok()


async def test_unknown_cursor_is_bad_user_input(
    server: ServerProcess, remote: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant)
    async with WsClient(server.ws_url) as ws:
        await ws.init(remote.token(AGENT))
        await ws.subscribe("x", ONE_PO, {"id": gid(po), "after": "not-a-cursor"})
        bad = await ws.next_payload("x")
        await ws.subscribe("y", ALL_POS, {"after": "ZXZlbnQ6OTk5OTk5OTk5"})  # event:999999999
        missing = await ws.next_payload("y")
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert missing["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_other_tenants_cursor_is_unknown(
    server: ServerProcess, remote: GraphQLClient, db: Database
) -> None:
    mine, theirs = await make_tenant(db), await make_tenant(db)
    their_po = await make_po(db, theirs, S.SUBMITTED)
    async with WsClient(server.ws_url) as ws:
        await ws.init(remote.token(AGENT))
        await ws.subscribe("t", ONE_PO, {"id": gid(their_po), "after": None})
        await asyncio.sleep(0.3)
        await act(remote, AGENT, "acceptPurchaseOrder", gid(their_po))
        their_cursor = (await next_change(ws, "t", "purchaseOrderStatusChanged"))["cursor"]
    async with WsClient(server.ws_url) as ws:
        await ws.init(remote.token(mine.viewer))
        await ws.subscribe("m", ALL_POS, {"after": their_cursor})
        refused = await ws.next_payload("m")
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    "token",
    ["none", "garbage", "expired", "wrong-secret"],
)
async def test_bad_tokens_close_the_socket_with_4403(
    server: ServerProcess, remote: GraphQLClient, token: str
) -> None:
    tokens = {
        "none": None,
        "garbage": "not.a.jwt",
        "expired": remote.token(AGENT, ttl=dt.timedelta(seconds=-5)),
        "wrong-secret": GraphQLClient(
            remote.http, secret="another-secret-that-is-long-enough-for-hs256"
        ).token(AGENT),
    }
    async with WsClient(server.ws_url) as ws:
        payload = {"authorization": f"Bearer {tokens[token]}"} if tokens[token] else {}
        await ws.send({"type": "connection_init", "payload": payload})
        assert await ws.close_code() == 4403


async def test_legacy_protocol_reports_connection_error_for_bad_token(
    server: ServerProcess,
) -> None:
    async with WsClient(server.ws_url, protocol=LEGACY_WS) as ws:
        await ws.send({"type": "connection_init", "payload": {"authorization": "Bearer nope"}})
        message = await ws.receive()
        assert message["type"] == "connection_error"


async def test_subscribing_before_init_closes_with_4401(server: ServerProcess) -> None:
    async with WsClient(server.ws_url) as ws:
        await ws.subscribe("1", ALL_POS)
        assert await ws.close_code() == 4401


async def test_warehouse_role_cannot_subscribe_to_purchase_orders(
    server: ServerProcess, remote: GraphQLClient
) -> None:
    async with WsClient(server.ws_url) as ws:
        await ws.init(remote.token(Actor(Role.WAREHOUSE, "wh", warehouse="WH1")))
        await ws.subscribe("w", ALL_POS)
        refused = await ws.next_payload("w")
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_token_in_upgrade_header_is_accepted(
    server: ServerProcess, remote: GraphQLClient
) -> None:
    import websockets

    async with websockets.connect(
        server.ws_url,
        subprotocols=[TRANSPORT_WS],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Bearer {remote.token(AGENT)}"},
    ) as ws:
        await ws.send('{"type": "connection_init", "payload": {}}')
        assert '"connection_ack"' in str(await asyncio.wait_for(ws.recv(), 10))


async def test_transport_protocol_server_pings(
    server: ServerProcess, remote: GraphQLClient
) -> None:
    import json

    async with WsClient(server.ws_url) as ws:
        await ws.init(remote.token(AGENT))
        message = json.loads(await asyncio.wait_for(ws.ws.recv(), 5))
    assert message["type"] == "ping"


async def test_legacy_protocol_sends_keep_alives(
    server: ServerProcess, remote: GraphQLClient
) -> None:
    import json

    async with WsClient(server.ws_url, protocol=LEGACY_WS) as ws:
        await ws.init(remote.token(AGENT))
        kinds = [json.loads(await asyncio.wait_for(ws.ws.recv(), 5))["type"] for _ in range(2)]
    assert "ka" in kinds


@pytest.mark.parametrize(
    "accept", ["text/event-stream", 'multipart/mixed;subscriptionSpec="1.0", application/json']
)
async def test_subscription_over_plain_http_streams(
    server: ServerProcess, remote: GraphQLClient, db: Database, accept: str
) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant, S.SUBMITTED)
    body = {"query": ONE_PO, "variables": {"id": gid(po)}}
    headers = {"Authorization": f"Bearer {remote.token(tenant.viewer)}", "Accept": accept}
    received = ""
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream("POST", server.http_url, json=body, headers=headers) as response,
    ):
        assert response.status_code == 200
        await asyncio.sleep(0.3)
        await act(remote, AGENT, "acceptPurchaseOrder", gid(po))
        async for chunk in response.aiter_text():
            received += chunk
            if '"toStatus":"ACCEPTED"' in received:
                break
    assert '"fromStatus":"SUBMITTED"' in received


async def test_subscription_over_plain_json_http_is_bad_input(
    server: ServerProcess, remote: GraphQLClient
) -> None:
    result = await remote.run(AGENT, "subscription { purchaseOrderEvents { cursor } }")
    assert result.code == "BAD_USER_INPUT"
    assert "WebSocket" in result.errors[0]["message"]
