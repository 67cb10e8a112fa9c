"""Concurrent requests against one server: transitions are atomic, numbers unique, keys idempotent.

The requests really run at the same time: `asyncio.gather` over the ASGI client, and the
application's connection pool gives each request its own database connection (on SQLite the
writers are serialised by the database lock; every assertion must hold there as well).
"""

from __future__ import annotations

import asyncio
from typing import Any

from simgql.db.engine import Database
from simgql.domain.model import PurchaseOrderStatus, Role
from tests.client import Actor, GraphQLClient, Result
from tests.factories import ADDRESS_INPUT, AGENT, Tenant, gid, make_po, make_tenant

AGENT_A = Actor(Role.SP_AGENT, "agent-alice")
AGENT_B = Actor(Role.SP_AGENT, "agent-bob")

PO_FIELDS = "id status number version statusHistory { fromStatus toStatus actor }"

ACCEPT = f"""
mutation($id: ID!, $expectedVersion: Int) {{
  acceptPurchaseOrder(input: {{id: $id, expectedVersion: $expectedVersion}}) {{
    purchaseOrder {{ {PO_FIELDS} }}
  }}
}}
"""
CANCEL = f"""
mutation($id: ID!) {{
  cancelPurchaseOrder(input: {{id: $id, reason: "changed our mind"}}) {{
    purchaseOrder {{ {PO_FIELDS} }}
  }}
}}
"""
READ_PO = f"query($id: ID!) {{ purchaseOrder(id: $id) {{ {PO_FIELDS} }} }}"
CREATE = """
mutation($input: CreatePurchaseOrderInput!) {
  createPurchaseOrder(input: $input) { purchaseOrder { id status createdBy } }
}
"""
COUNT_TENANT_POS = "{ purchaseOrders(first: 100) { totalCount edges { node { id } } } }"


async def _read_po(api: GraphQLClient, po_id: str) -> dict[str, Any]:
    po = (await api.run(AGENT, READ_PO, {"id": po_id})).ok()["purchaseOrder"]
    assert po is not None
    return po


def _succeeded(results: list[Result]) -> list[Result]:
    return [r for r in results if not r.errors]


def _failed(results: list[Result]) -> list[Result]:
    return [r for r in results if r.errors]


def _transitions_out_of(po: dict[str, Any], status: str) -> list[dict[str, Any]]:
    return [h for h in po["statusHistory"] if h["fromStatus"] == status]


def _create_input(tenant: Tenant, key: str | None) -> dict[str, Any]:
    return {
        "input": {
            "lines": [{"productId": tenant.product_gid(), "quantity": 3}],
            "shippingAddress": ADDRESS_INPUT,
            "idempotencyKey": key,
        }
    }


async def test_two_agents_accepting_the_same_po_at_once_only_one_succeeds(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    pos = [gid(await make_po(db, tenant, PurchaseOrderStatus.SUBMITTED)) for _ in range(5)]

    results = await asyncio.gather(
        *(api.run(agent, ACCEPT, {"id": po}) for po in pos for agent in (AGENT_A, AGENT_B))
    )

    for i, po_id in enumerate(pos):
        pair = list(results[2 * i : 2 * i + 2])
        assert all(r.status == 200 for r in pair), [r.body for r in pair]
        winners, losers = _succeeded(pair), _failed(pair)
        assert len(winners) == 1, [r.body for r in pair]
        assert len(losers) == 1, [r.body for r in pair]
        assert losers[0].code == "INVALID_TRANSITION"
        assert losers[0].errors[0]["extensions"]["status"] == "ACCEPTED"
        assert losers[0].data is None or losers[0].data.get("acceptPurchaseOrder") is None

        won = winners[0].ok()["acceptPurchaseOrder"]["purchaseOrder"]
        stored = await _read_po(api, po_id)
        assert stored["status"] == "ACCEPTED"
        assert stored["number"] == won["number"]
        assert stored["number"] > 0
        assert stored["version"] == 3
        accepted = _transitions_out_of(stored, "SUBMITTED")
        assert len(accepted) == 1
        assert accepted[0]["toStatus"] == "ACCEPTED"
        assert accepted[0]["actor"] == ("agent-alice" if pair[0] is winners[0] else "agent-bob")


async def test_two_agents_accepting_with_the_same_expected_version_one_gets_conflict(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    pos = [await make_po(db, tenant, PurchaseOrderStatus.SUBMITTED) for _ in range(5)]

    results = await asyncio.gather(
        *(
            api.run(agent, ACCEPT, {"id": gid(po), "expectedVersion": po.version})
            for po in pos
            for agent in (AGENT_A, AGENT_B)
        )
    )

    for i, po in enumerate(pos):
        pair = list(results[2 * i : 2 * i + 2])
        assert len(_succeeded(pair)) == 1, [r.body for r in pair]
        [loser] = _failed(pair)
        assert loser.code == "CONFLICT"
        stored = await _read_po(api, gid(po))
        assert stored["status"] == "ACCEPTED"
        assert stored["version"] == po.version + 1
        assert len(_transitions_out_of(stored, "SUBMITTED")) == 1


async def test_concurrent_accepts_of_different_pos_get_distinct_numbers(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    pos = [gid(await make_po(db, tenant, PurchaseOrderStatus.SUBMITTED)) for _ in range(10)]

    results = await asyncio.gather(
        *(api.run(AGENT_A if i % 2 else AGENT_B, ACCEPT, {"id": po}) for i, po in enumerate(pos))
    )

    numbers = [r.ok()["acceptPurchaseOrder"]["purchaseOrder"]["number"] for r in results]
    assert all(isinstance(n, int) and n > 0 for n in numbers), numbers
    assert len(set(numbers)) == len(pos), numbers
    stored = [await _read_po(api, po) for po in pos]
    assert [p["number"] for p in stored] == numbers
    assert {p["status"] for p in stored} == {"ACCEPTED"}


async def test_concurrent_cancel_and_accept_exactly_one_wins(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    pos = [gid(await make_po(db, tenant, PurchaseOrderStatus.SUBMITTED)) for _ in range(5)]

    results = await asyncio.gather(
        *(
            request
            for po in pos
            for request in (
                api.run(tenant.purchaser, CANCEL, {"id": po}),
                api.run(AGENT_A, ACCEPT, {"id": po}),
            )
        )
    )

    for i, po_id in enumerate(pos):
        cancel, accept = results[2 * i], results[2 * i + 1]
        assert len(_succeeded([cancel, accept])) == 1, (cancel.body, accept.body)
        stored = await _read_po(api, po_id)
        out_of_submitted = _transitions_out_of(stored, "SUBMITTED")
        assert len(out_of_submitted) == 1, stored["statusHistory"]
        if cancel.errors:
            assert cancel.code == "INVALID_TRANSITION"
            assert cancel.errors[0]["extensions"]["status"] == "ACCEPTED"
            assert stored["status"] == "ACCEPTED"
            assert stored["number"] is not None
            assert out_of_submitted[0]["toStatus"] == "ACCEPTED"
        else:
            assert accept.code == "INVALID_TRANSITION"
            assert accept.errors[0]["extensions"]["status"] == "CANCELLED"
            assert stored["status"] == "CANCELLED"
            assert stored["number"] is None
            assert out_of_submitted[0]["toStatus"] == "CANCELLED"
        assert stored["version"] == 3
        assert len(stored["statusHistory"]) == 3


async def test_stale_expected_version_is_a_conflict_and_changes_nothing(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po_id = gid(await make_po(db, tenant, PurchaseOrderStatus.SUBMITTED))
    before = await _read_po(api, po_id)
    assert before["version"] == 2

    stale = await api.run(AGENT, ACCEPT, {"id": po_id, "expectedVersion": 1})

    assert stale.status == 200
    assert stale.code == "CONFLICT"
    assert await _read_po(api, po_id) == before

    ahead = await api.run(AGENT, ACCEPT, {"id": po_id, "expectedVersion": 3})
    assert ahead.code == "CONFLICT"
    assert await _read_po(api, po_id) == before

    current = await api.run(AGENT, ACCEPT, {"id": po_id, "expectedVersion": 2})
    assert current.ok()["acceptPurchaseOrder"]["purchaseOrder"]["status"] == "ACCEPTED"


async def test_same_idempotency_key_from_same_user_returns_the_first_po(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    variables = _create_input(tenant, "order-2024-0001")

    first = (await api.run(tenant.purchaser, CREATE, variables)).ok()
    again = (await api.run(tenant.purchaser, CREATE, variables)).ok()

    assert (
        again["createPurchaseOrder"]["purchaseOrder"]["id"]
        == (first["createPurchaseOrder"]["purchaseOrder"]["id"])
    )
    listed = (await api.run(tenant.viewer, COUNT_TENANT_POS)).ok()["purchaseOrders"]
    assert listed["totalCount"] == 1


async def test_concurrent_creates_with_the_same_idempotency_key_make_one_po(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    variables = _create_input(tenant, "burst-key")

    results = await asyncio.gather(
        *(api.run(tenant.purchaser, CREATE, variables) for _ in range(5))
    )

    ids = {r.ok()["createPurchaseOrder"]["purchaseOrder"]["id"] for r in results}
    assert len(ids) == 1, [r.body for r in results]
    listed = (await api.run(tenant.viewer, COUNT_TENANT_POS)).ok()["purchaseOrders"]
    assert listed["totalCount"] == 1
    assert [e["node"]["id"] for e in listed["edges"]] == list(ids)


async def test_same_idempotency_key_from_another_user_creates_another_po(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    colleague = Actor(Role.ENTERPRISE_PURCHASER, f"colleague@{tenant.code}", tenant.code)
    variables = _create_input(tenant, "shared-key")

    mine = (await api.run(tenant.purchaser, CREATE, variables)).ok()
    theirs = (await api.run(colleague, CREATE, variables)).ok()
    on_behalf = (
        await api.run(AGENT, CREATE, {"input": {**variables["input"], "accountId": tenant.gid}})
    ).ok()

    ids = {
        mine["createPurchaseOrder"]["purchaseOrder"]["id"],
        theirs["createPurchaseOrder"]["purchaseOrder"]["id"],
        on_behalf["createPurchaseOrder"]["purchaseOrder"]["id"],
    }
    assert len(ids) == 3
    assert theirs["createPurchaseOrder"]["purchaseOrder"]["createdBy"] == colleague.sub
    listed = (await api.run(tenant.viewer, COUNT_TENANT_POS)).ok()["purchaseOrders"]
    assert listed["totalCount"] == 3
