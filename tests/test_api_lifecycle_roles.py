"""The purchase-order lifecycle over HTTP: who may do what, in which status, and what it shows.

The first tests walk the lifecycle the way people use it. The last one is generated: every
status x role x action, with the expectation derived from `simgql.domain.lifecycle.LIFECYCLE`
(which tests/test_domain_lifecycle.py pins to SPEC section 3).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from simgql.db.engine import Database
from simgql.domain.lifecycle import LIFECYCLE
from simgql.domain.model import PurchaseOrderAction, PurchaseOrderStatus, Role
from tests.client import Actor, GraphQLClient, Result
from tests.factories import (
    ADDRESS_INPUT,
    ADMIN,
    AGENT,
    PATH,
    Tenant,
    gid,
    make_po,
    make_tenant,
    sims,
)

A = PurchaseOrderAction
S = PurchaseOrderStatus
R = Role

WAREHOUSE = Actor(R.WAREHOUSE, "wh-bot-1", warehouse="WH-HAM")

ENTITLEMENTS = "simBillingStatus pricePlan serviceProfile roamingProfile apnGroup"
PO_FIELDS = f"""
  id number status version availableActions rejectionReason createdBy requestedShipDate
  shipping {{ carrier trackingNumber }}
  effectiveEntitlements {{ {ENTITLEMENTS} }}
  statusHistory {{ fromStatus toStatus actor note }}
  lines {{
    id quantity assignedSimCount
    sims {{ iccid imsi msisdn entitlements {{ {ENTITLEMENTS} }} }}
  }}
"""
READ = f"query($id: ID!) {{ purchaseOrder(id: $id) {{ {PO_FIELDS} }} }}"
CREATE = f"""
mutation($input: CreatePurchaseOrderInput!) {{
  createPurchaseOrder(input: $input) {{ purchaseOrder {{ {PO_FIELDS} }} }}
}}
"""
SET_OVERRIDES = """
mutation($on: Boolean!) {
  setConfiguration(input: {allowAccountDefaultOverride: $on}) {
    configuration { allowAccountDefaultOverride }
  }
}
"""

# The mutation of each action and the GraphQL type of its one `input` argument.
MUTATIONS: dict[A, tuple[str, str]] = {
    A.UPDATE: ("updatePurchaseOrder", "UpdatePurchaseOrderInput"),
    A.SUBMIT: ("submitPurchaseOrder", "TransitionInput"),
    A.CANCEL: ("cancelPurchaseOrder", "OptionalReasonInput"),
    A.ACCEPT: ("acceptPurchaseOrder", "TransitionInput"),
    A.REJECT: ("rejectPurchaseOrder", "ReasonInput"),
    A.REOPEN: ("reopenPurchaseOrder", "TransitionInput"),
    A.START_PROVISIONING: ("startPurchaseOrderProvisioning", "TransitionInput"),
    A.ASSIGN_SIMS: ("assignPurchaseOrderSims", "AssignPurchaseOrderSimsInput"),
    A.MARK_READY: ("markPurchaseOrderReady", "TransitionInput"),
    A.SHIP: ("shipPurchaseOrder", "ShipPurchaseOrderInput"),
    A.CONFIRM_RECEIPT: ("confirmPurchaseOrderReceipt", "TransitionInput"),
}

# The buttons each kind of user sees, per status (SPEC section 3, written out literally).
# PROVISIONING is shown for a PO whose SIMs are not all assigned yet.
BUTTONS: dict[S, dict[str, list[str]]] = {
    S.DRAFT: {"purchaser": ["UPDATE", "SUBMIT", "CANCEL"], "sp": ["UPDATE", "SUBMIT", "CANCEL"]},
    S.SUBMITTED: {"purchaser": ["CANCEL"], "sp": ["CANCEL", "ACCEPT", "REJECT"]},
    S.ACCEPTED: {"purchaser": [], "sp": ["CANCEL", "START_PROVISIONING"]},
    S.REJECTED: {"purchaser": ["CANCEL", "REOPEN"], "sp": ["CANCEL", "REOPEN"]},
    S.PROVISIONING: {"purchaser": [], "sp": ["CANCEL", "ASSIGN_SIMS"]},
    S.READY: {"purchaser": [], "sp": ["SHIP"]},
    S.SHIPPED: {"purchaser": ["CONFIRM_RECEIPT"], "sp": []},
    S.CLOSED: {"purchaser": [], "sp": []},
    S.CANCELLED: {"purchaser": [], "sp": []},
}
SP_BUTTONS_FULLY_ASSIGNED = ["ASSIGN_SIMS", "MARK_READY"]
SIMS_VISIBLE_TO_ENTERPRISE = {S.READY, S.SHIPPED, S.CLOSED}


def mutation(action: A, selection: str = PO_FIELDS) -> str:
    name, input_type = MUTATIONS[action]
    return (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) "
        f"{{ purchaseOrder {{ {selection} }} }} }}"
    )


def sim_inputs(count: int) -> list[dict[str, str]]:
    return [{"iccid": s.iccid, "imsi": s.imsi, "msisdn": s.msisdn} for s in sims(count)]


def action_input(action: A, po_id: str, line_id: str) -> dict[str, Any]:
    """A valid `input` for the action's mutation, so that only who/when decides the outcome."""
    base: dict[str, Any] = {"id": po_id}
    if action is A.UPDATE:
        base["requestedShipDate"] = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    elif action is A.REJECT:
        base["reason"] = "product discontinued"
    elif action is A.CANCEL:
        base["reason"] = "no longer needed"
    elif action is A.ASSIGN_SIMS:
        base["assignments"] = [{"lineId": line_id, "sims": sim_inputs(1)}]
    elif action is A.SHIP:
        base["carrier"] = "DHL"
        base["trackingNumber"] = "JD014600003828"
    return base


async def act(
    api: GraphQLClient,
    actor: Actor,
    action: A,
    po_id: str,
    *,
    line_id: str = "",
    selection: str = PO_FIELDS,
    **fields: Any,
) -> Result:
    payload = action_input(action, po_id, line_id)
    payload.update(fields)
    return await api.run(actor, mutation(action, selection), {"input": payload})


def payload_po(result: Result, action: A) -> dict[str, Any]:
    po: dict[str, Any] = result.ok()[MUTATIONS[action][0]]["purchaseOrder"]
    return po


async def read(api: GraphQLClient, actor: Actor, po_id: str) -> dict[str, Any] | None:
    po: dict[str, Any] | None = (await api.run(actor, READ, {"id": po_id})).ok()["purchaseOrder"]
    return po


async def read_as_agent(api: GraphQLClient, po_id: str) -> dict[str, Any]:
    po = await read(api, AGENT, po_id)
    assert po is not None
    return po


def history(po: dict[str, Any]) -> list[tuple[str | None, str, str, str | None]]:
    """The status changes of a PO (rows that move it to another status)."""
    return [
        (h["fromStatus"], h["toStatus"], h["actor"], h["note"])
        for h in po["statusHistory"]
        if h["fromStatus"] != h["toStatus"]
    ]


def sim_iccids(po: dict[str, Any]) -> set[str]:
    return {s["iccid"] for line in po["lines"] for s in line["sims"]}


def snapshot(po: dict[str, Any]) -> dict[str, Any]:
    """What any change to a PO would alter."""
    return {
        "status": po["status"],
        "version": po["version"],
        "number": po["number"],
        "history": len(po["statusHistory"]),
        "sims": sum(line["assignedSimCount"] for line in po["lines"]),
        "requestedShipDate": po["requestedShipDate"],
        "rejectionReason": po["rejectionReason"],
        "shipping": po["shipping"],
    }


async def check_everyone_sees(
    api: GraphQLClient,
    tenant: Tenant,
    po_id: str,
    *,
    status: S,
    version: int,
    iccids: frozenset[str] | set[str] = frozenset(),
    fully_assigned: bool = False,
) -> dict[str, Any]:
    """Status, version, buttons and SIMs as the viewer, purchaser, agent and admin see them."""
    sp_buttons = BUTTONS[status]["sp"]
    if status is S.PROVISIONING and fully_assigned:
        sp_buttons = SP_BUTTONS_FULLY_ASSIGNED
    elif status is S.PROVISIONING and iccids:
        sp_buttons = ["ASSIGN_SIMS"]  # some SIMs went out: no cancelling any more
    enterprise_sees_sims = status in SIMS_VISIBLE_TO_ENTERPRISE
    expected = {
        "viewer": (tenant.viewer, [], enterprise_sees_sims),
        "purchaser": (tenant.purchaser, BUTTONS[status]["purchaser"], enterprise_sees_sims),
        "agent": (AGENT, sp_buttons, True),
        "admin": (ADMIN, sp_buttons, True),
    }
    seen: dict[str, dict[str, Any]] = {}
    for who, (actor, buttons, sees_sims) in expected.items():
        po = await read(api, actor, po_id)
        assert po is not None, who
        assert (who, po["status"], po["version"]) == (who, status, version)
        assert (who, po["availableActions"]) == (who, buttons)
        assert (who, sim_iccids(po)) == (who, iccids if sees_sims else set())
        seen[who] = po
    return seen["agent"]


# --- the whole lifecycle ------------------------------------------------------------------


async def test_whole_lifecycle_from_draft_to_closed(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)
    buyer = tenant.purchaser
    assert (await api.run(ADMIN, SET_OVERRIDES, {"on": True})).ok()

    created = await api.run(
        buyer,
        CREATE,
        {
            "input": {
                "lines": [{"productId": tenant.product_gid(), "quantity": 2}],
                "shippingAddress": ADDRESS_INPUT,
                "overrides": {"pricePlan": "PP-M", "roamingProfile": "RP-WORLD"},
            }
        },
    )
    po = created.ok()["createPurchaseOrder"]["purchaseOrder"]
    po_id = po["id"]
    line_id = po["lines"][0]["id"]
    assert po["createdBy"] == buyer.sub
    assert po["number"] is None
    effective = {
        "simBillingStatus": "TEST_READY",
        "pricePlan": "PP-M",
        "serviceProfile": "SP-DATA",
        "roamingProfile": "RP-WORLD",
        "apnGroup": "APN-1",
    }
    assert po["effectiveEntitlements"] == effective
    await check_everyone_sees(api, tenant, po_id, status=S.DRAFT, version=1)

    submitted = await act(api, buyer, A.SUBMIT, po_id, note="urgent, please")
    assert payload_po(submitted, A.SUBMIT)["status"] == "SUBMITTED"
    await check_everyone_sees(api, tenant, po_id, status=S.SUBMITTED, version=2)
    assert (await read_as_agent(api, po_id))["number"] is None

    accepted = payload_po(await act(api, AGENT, A.ACCEPT, po_id), A.ACCEPT)
    assert accepted["status"] == "ACCEPTED"
    number = accepted["number"]
    assert isinstance(number, int)
    assert number > 0
    await check_everyone_sees(api, tenant, po_id, status=S.ACCEPTED, version=3)

    started = await act(api, ADMIN, A.START_PROVISIONING, po_id)
    assert payload_po(started, A.START_PROVISIONING)["status"] == "PROVISIONING"
    await check_everyone_sees(api, tenant, po_id, status=S.PROVISIONING, version=4)

    first, second = sim_inputs(1), sim_inputs(1)
    assigned = await act(
        api, AGENT, A.ASSIGN_SIMS, po_id, assignments=[{"lineId": line_id, "sims": first}]
    )
    assert payload_po(assigned, A.ASSIGN_SIMS)["lines"][0]["assignedSimCount"] == 1
    iccids = {first[0]["iccid"]}
    await check_everyone_sees(api, tenant, po_id, status=S.PROVISIONING, version=5, iccids=iccids)
    not_yet = await act(api, AGENT, A.MARK_READY, po_id)
    assert not_yet.code == "INVALID_TRANSITION"
    assert not_yet.errors[0]["extensions"]["status"] == "PROVISIONING"

    assigned = await act(
        api, AGENT, A.ASSIGN_SIMS, po_id, assignments=[{"lineId": line_id, "sims": second}]
    )
    assert payload_po(assigned, A.ASSIGN_SIMS)["lines"][0]["assignedSimCount"] == 2
    iccids.add(second[0]["iccid"])
    await check_everyone_sees(
        api, tenant, po_id, status=S.PROVISIONING, version=6, iccids=iccids, fully_assigned=True
    )

    ready = await act(api, ADMIN, A.MARK_READY, po_id, note="all SIMs in")
    assert payload_po(ready, A.MARK_READY)["status"] == "READY"
    as_agent = await check_everyone_sees(
        api, tenant, po_id, status=S.READY, version=7, iccids=iccids
    )
    as_viewer = await read(api, tenant.viewer, po_id)
    assert as_viewer is not None
    by_iccid = {s["iccid"]: s for s in as_viewer["lines"][0]["sims"]}
    for given in (*first, *second):
        assert by_iccid[given["iccid"]]["imsi"] == given["imsi"]
        assert by_iccid[given["iccid"]]["msisdn"] == given["msisdn"]
        assert by_iccid[given["iccid"]]["entitlements"] == effective
    assert as_agent["effectiveEntitlements"] == effective

    shipped = await act(
        api, AGENT, A.SHIP, po_id, carrier="UPS", trackingNumber="1Z999AA10123456784"
    )
    assert payload_po(shipped, A.SHIP)["shipping"] == {
        "carrier": "UPS",
        "trackingNumber": "1Z999AA10123456784",
    }
    await check_everyone_sees(api, tenant, po_id, status=S.SHIPPED, version=8, iccids=iccids)

    closed = await act(api, buyer, A.CONFIRM_RECEIPT, po_id, note="arrived intact")
    assert payload_po(closed, A.CONFIRM_RECEIPT)["status"] == "CLOSED"
    final = await check_everyone_sees(api, tenant, po_id, status=S.CLOSED, version=9, iccids=iccids)

    assert final["number"] == number
    rows = history(final)
    assert [(f, t, who) for f, t, who, _ in rows] == [
        (None, "DRAFT", buyer.sub),
        ("DRAFT", "SUBMITTED", buyer.sub),
        ("SUBMITTED", "ACCEPTED", AGENT.sub),
        ("ACCEPTED", "PROVISIONING", ADMIN.sub),
        ("PROVISIONING", "READY", ADMIN.sub),
        ("READY", "SHIPPED", AGENT.sub),
        ("SHIPPED", "CLOSED", buyer.sub),
    ]
    notes = {t: note for _, t, _, note in rows}
    assert notes["SUBMITTED"] == "urgent, please"
    assert notes["READY"] == "all SIMs in"
    assert notes["CLOSED"] == "arrived intact"


async def test_numbers_are_assigned_on_accept_and_distinct(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    other = await make_tenant(db)
    pos = [
        await make_po(db, tenant, S.SUBMITTED),
        await make_po(db, tenant, S.SUBMITTED),
        await make_po(db, other, S.SUBMITTED),
    ]
    numbers = []
    for po in pos:
        assert (await read_as_agent(api, gid(po)))["number"] is None
        accepted = payload_po(await act(api, AGENT, A.ACCEPT, gid(po)), A.ACCEPT)
        numbers.append(accepted["number"])
    assert all(isinstance(n, int) and n > 0 for n in numbers)
    assert len(set(numbers)) == len(numbers)
    # The number stays with the PO through the rest of its life.
    po_id = gid(pos[0])
    await act(api, AGENT, A.START_PROVISIONING, po_id)
    assert (await read_as_agent(api, po_id))["number"] == numbers[0]


async def test_rejected_order_can_be_reopened_and_resubmitted(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po_id = gid(await make_po(db, tenant, S.SUBMITTED))

    reason = "P0 is discontinued, please order P1 instead"
    rejected = payload_po(await act(api, AGENT, A.REJECT, po_id, reason=reason), A.REJECT)
    assert (rejected["status"], rejected["version"], rejected["number"]) == ("REJECTED", 3, None)
    assert rejected["rejectionReason"] == reason
    assert history(rejected)[-1] == ("SUBMITTED", "REJECTED", AGENT.sub, reason)
    await check_everyone_sees(api, tenant, po_id, status=S.REJECTED, version=3)
    as_buyer = await read(api, tenant.purchaser, po_id)
    assert as_buyer is not None
    assert as_buyer["rejectionReason"] == reason

    reopened = await act(api, tenant.purchaser, A.REOPEN, po_id, note="switched to P1")
    assert payload_po(reopened, A.REOPEN)["status"] == "DRAFT"
    await check_everyone_sees(api, tenant, po_id, status=S.DRAFT, version=4)

    updated = await act(
        api,
        tenant.purchaser,
        A.UPDATE,
        po_id,
        lines=[{"productId": tenant.product_gid(1), "quantity": 3}],
    )
    assert payload_po(updated, A.UPDATE)["lines"][0]["quantity"] == 3

    resubmitted = await act(api, tenant.purchaser, A.SUBMIT, po_id)
    assert payload_po(resubmitted, A.SUBMIT)["status"] == "SUBMITTED"
    accepted = payload_po(await act(api, AGENT, A.ACCEPT, po_id), A.ACCEPT)
    assert (accepted["status"], accepted["version"]) == ("ACCEPTED", 7)
    assert accepted["number"] is not None
    assert [(f, t, who) for f, t, who, _ in history(accepted)] == [
        (None, "DRAFT", tenant.purchaser.sub),
        ("DRAFT", "SUBMITTED", tenant.purchaser.sub),
        ("SUBMITTED", "REJECTED", AGENT.sub),
        ("REJECTED", "DRAFT", tenant.purchaser.sub),
        ("DRAFT", "SUBMITTED", tenant.purchaser.sub),
        ("SUBMITTED", "ACCEPTED", AGENT.sub),
    ]
    assert history(accepted)[3][3] == "switched to P1"


async def test_service_provider_may_reopen_a_rejected_order(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po_id = gid(await make_po(db, tenant, S.REJECTED))
    reopened = payload_po(await act(api, ADMIN, A.REOPEN, po_id), A.REOPEN)
    assert (reopened["status"], reopened["version"]) == ("DRAFT", 4)
    assert history(reopened)[-1][:3] == ("REJECTED", "DRAFT", ADMIN.sub)


@pytest.mark.parametrize("reason", ["", "   ", "\x00"], ids=["empty", "blank", "control-char"])
async def test_reject_needs_a_reason(api: GraphQLClient, db: Database, reason: str) -> None:
    tenant = await make_tenant(db)
    po_id = gid(await make_po(db, tenant, S.SUBMITTED))
    before = snapshot(await read_as_agent(api, po_id))

    result = await act(api, AGENT, A.REJECT, po_id, reason=reason)
    assert result.code == "BAD_USER_INPUT"
    assert result.fields() == ["reason"]
    assert snapshot(await read_as_agent(api, po_id)) == before


@pytest.mark.parametrize("how", ["in-variables", "inline"])
async def test_reject_without_a_reason_argument_is_refused(
    api: GraphQLClient, db: Database, how: str
) -> None:
    tenant = await make_tenant(db)
    po_id = gid(await make_po(db, tenant, S.SUBMITTED))
    before = snapshot(await read_as_agent(api, po_id))

    if how == "inline":
        doc = f'mutation {{ rejectPurchaseOrder(input: {{id: "{po_id}"}}) {{ purchaseOrder {{ id }} }} }}'
        result = await api.run(AGENT, doc)
    else:
        result = await api.run(AGENT, mutation(A.REJECT), {"input": {"id": po_id}})
    assert result.status in (200, 400)  # GraphQL-over-HTTP allows either for a bad request
    assert result.code == "BAD_USER_INPUT"
    assert snapshot(await read_as_agent(api, po_id)) == before


CANCELLERS = [
    pytest.param(status, kind, id=f"{kind}-cancels-{status}")
    for status, kinds in (
        (S.DRAFT, ["purchaser", "agent"]),
        (S.SUBMITTED, ["purchaser", "admin"]),
        (S.REJECTED, ["purchaser", "agent"]),
        (S.ACCEPTED, ["agent", "admin"]),
    )
    for kind in kinds
]


@pytest.mark.parametrize(("status", "kind"), CANCELLERS)
async def test_cancel_paths(api: GraphQLClient, db: Database, status: S, kind: str) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant, status)
    po_id = gid(po)
    actor = {"purchaser": tenant.purchaser, "agent": AGENT, "admin": ADMIN}[kind]
    before = await read_as_agent(api, po_id)

    cancelled = payload_po(await act(api, actor, A.CANCEL, po_id, reason="budget cut"), A.CANCEL)
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["version"] == before["version"] + 1
    assert cancelled["number"] == before["number"]
    assert history(cancelled)[-1] == (status.value, "CANCELLED", actor.sub, "budget cut")
    await check_everyone_sees(api, tenant, po_id, status=S.CANCELLED, version=before["version"] + 1)


async def test_cancel_reason_is_optional(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)
    po_id = gid(await make_po(db, tenant, S.DRAFT))
    result = await api.run(tenant.purchaser, mutation(A.CANCEL), {"input": {"id": po_id}})
    cancelled = payload_po(result, A.CANCEL)
    assert cancelled["status"] == "CANCELLED"
    assert history(cancelled)[-1] == ("DRAFT", "CANCELLED", tenant.purchaser.sub, None)


async def test_purchaser_cannot_cancel_an_accepted_order(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)
    po_id = gid(await make_po(db, tenant, S.ACCEPTED))
    before = snapshot(await read_as_agent(api, po_id))
    result = await act(api, tenant.purchaser, A.CANCEL, po_id)
    assert result.code == "INVALID_TRANSITION"
    assert result.errors[0]["extensions"]["status"] == "ACCEPTED"
    assert snapshot(await read_as_agent(api, po_id)) == before


@pytest.mark.parametrize("status", [S.PROVISIONING, S.READY, S.SHIPPED, S.CLOSED], ids=str)
async def test_nobody_can_cancel_once_sims_are_assigned(
    api: GraphQLClient, db: Database, status: S
) -> None:
    tenant = await make_tenant(db)
    po_id = gid(await make_po(db, tenant, status, assign=True))
    before = snapshot(await read_as_agent(api, po_id))
    for actor in (tenant.purchaser, AGENT, ADMIN):
        result = await act(api, actor, A.CANCEL, po_id)
        assert result.code == "INVALID_TRANSITION", actor
        assert result.errors[0]["extensions"]["status"] == status.value
    assert snapshot(await read_as_agent(api, po_id)) == before


async def test_purchaser_cannot_accept_own_order(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)
    po_id = gid(await make_po(db, tenant, S.SUBMITTED))
    before = snapshot(await read_as_agent(api, po_id))
    result = await act(api, tenant.purchaser, A.ACCEPT, po_id)
    assert result.code == "FORBIDDEN"
    assert snapshot(await read_as_agent(api, po_id)) == before


async def test_viewer_cannot_submit_a_draft(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)
    po_id = gid(await make_po(db, tenant, S.DRAFT))
    result = await act(api, tenant.viewer, A.SUBMIT, po_id)
    assert result.code == "FORBIDDEN"
    assert (await read_as_agent(api, po_id))["status"] == "DRAFT"


async def test_agent_cannot_confirm_receipt_for_the_customer(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po_id = gid(await make_po(db, tenant, S.SHIPPED))
    result = await act(api, AGENT, A.CONFIRM_RECEIPT, po_id)
    assert result.code == "FORBIDDEN"
    assert (await read_as_agent(api, po_id))["status"] == "SHIPPED"


async def test_stale_expected_version_is_a_conflict(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)
    po_id = gid(await make_po(db, tenant, S.SUBMITTED))
    before = snapshot(await read_as_agent(api, po_id))
    assert before["version"] == 2

    stale = await act(api, AGENT, A.ACCEPT, po_id, expectedVersion=1)
    assert stale.code == "CONFLICT"
    assert snapshot(await read_as_agent(api, po_id)) == before

    current = payload_po(await act(api, AGENT, A.ACCEPT, po_id, expectedVersion=2), A.ACCEPT)
    assert (current["status"], current["version"]) == ("ACCEPTED", 3)

    again = await act(api, ADMIN, A.ACCEPT, po_id, expectedVersion=2)
    assert again.code == "CONFLICT"
    late = await act(api, ADMIN, A.ACCEPT, po_id)
    assert late.code == "INVALID_TRANSITION"
    assert late.errors[0]["extensions"]["status"] == "ACCEPTED"


async def test_mark_ready_needs_every_sim_assigned(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)
    po_id = gid(await make_po(db, tenant, S.PROVISIONING, quantity=3))
    line_id = (await read_as_agent(api, po_id))["lines"][0]["id"]

    for count, expected_buttons in ((0, ["CANCEL", "ASSIGN_SIMS"]), (2, ["ASSIGN_SIMS"])):
        if count:
            await act(
                api,
                AGENT,
                A.ASSIGN_SIMS,
                po_id,
                line_id=line_id,
                assignments=[{"lineId": line_id, "sims": sim_inputs(count)}],
            )
        po = await read_as_agent(api, po_id)
        assert po["availableActions"] == expected_buttons
        refused = await act(api, AGENT, A.MARK_READY, po_id)
        assert refused.code == "INVALID_TRANSITION"
        assert refused.errors[0]["extensions"]["status"] == "PROVISIONING"
        assert snapshot(await read_as_agent(api, po_id)) == snapshot(po)

    await act(api, AGENT, A.ASSIGN_SIMS, po_id, line_id=line_id)
    po = await read_as_agent(api, po_id)
    assert po["availableActions"] == SP_BUTTONS_FULLY_ASSIGNED
    ready = payload_po(await act(api, AGENT, A.MARK_READY, po_id), A.MARK_READY)
    assert ready["status"] == "READY"


@pytest.mark.parametrize("status", [S.PROVISIONING, S.READY, S.SHIPPED, S.CLOSED], ids=str)
async def test_enterprise_sees_sims_only_from_ready_on(
    api: GraphQLClient, db: Database, status: S
) -> None:
    tenant = await make_tenant(db)
    po_id = gid(await make_po(db, tenant, status, quantity=2, assign=True))
    as_agent = await read_as_agent(api, po_id)
    iccids = sim_iccids(as_agent)
    assert len(iccids) == 2
    as_admin = await read(api, ADMIN, po_id)
    assert as_admin is not None
    assert sim_iccids(as_admin) == iccids
    for actor in (tenant.viewer, tenant.purchaser):
        po = await read(api, actor, po_id)
        assert po is not None
        expected = iccids if status in SIMS_VISIBLE_TO_ENTERPRISE else set()
        assert sim_iccids(po) == expected, actor.role
    sims_seen = [s for line in as_agent["lines"] for s in line["sims"]]
    assert all(s["entitlements"] == as_agent["effectiveEntitlements"] for s in sims_seen)


OWNER_STATUS = {
    A.UPDATE: S.DRAFT,
    A.SUBMIT: S.DRAFT,
    A.CANCEL: S.SUBMITTED,
    A.ACCEPT: S.SUBMITTED,
    A.REJECT: S.SUBMITTED,
    A.REOPEN: S.REJECTED,
    A.START_PROVISIONING: S.ACCEPTED,
    A.ASSIGN_SIMS: S.PROVISIONING,
    A.MARK_READY: S.PROVISIONING,
    A.SHIP: S.READY,
    A.CONFIRM_RECEIPT: S.SHIPPED,
}


@pytest.mark.parametrize("action", list(A), ids=str)
async def test_another_tenants_order_is_not_found_for_every_action(
    api: GraphQLClient, db: Database, action: A
) -> None:
    owner = await make_tenant(db)
    outsider = await make_tenant(db)
    status = OWNER_STATUS[action]
    po_id = gid(await make_po(db, owner, status, assign=action is A.MARK_READY))
    line_id = (await read_as_agent(api, po_id))["lines"][0]["id"]
    before = snapshot(await read_as_agent(api, po_id))
    for actor in (outsider.purchaser, outsider.viewer):
        assert await read(api, actor, po_id) is None
        result = await act(api, actor, action, po_id, line_id=line_id)
        assert result.code == "NOT_FOUND", actor.role
        assert status.value not in result.errors[0]["message"]
    assert snapshot(await read_as_agent(api, po_id)) == before


# --- generated: every status x role x action ----------------------------------------------

GEN_STATUSES = [*PATH, S.REJECTED, S.CANCELLED]
GEN_ROLES = [R.ENTERPRISE_VIEWER, R.ENTERPRISE_PURCHASER, R.SP_AGENT, R.SP_ADMIN, R.WAREHOUSE]


def table_says(action: A, role: R, status: S) -> tuple[str, S | None]:
    """("allowed", to) | ("FORBIDDEN", None) | ("INVALID_TRANSITION", None), from LIFECYCLE."""
    rows = [t for t in LIFECYCLE if t.action is action and role in t.roles]
    if not rows:
        return "FORBIDDEN", None
    for t in rows:
        if status in t.from_statuses:
            return "allowed", t.to_status
    return "INVALID_TRANSITION", None


GENERATED = [
    pytest.param(status, role, id=f"{role}-in-{status}")
    for status in GEN_STATUSES
    for role in GEN_ROLES
]


# Just what any change would alter: the 495 combinations per backend stay quick.
STATE_FIELDS = """
  id status version number requestedShipDate rejectionReason
  shipping { carrier trackingNumber }
  statusHistory { fromStatus toStatus }
  lines { id assignedSimCount }
"""
READ_STATE = f"query($id: ID!) {{ purchaseOrder(id: $id) {{ {STATE_FIELDS} }} }}"


async def _state(api: GraphQLClient, po_id: str) -> dict[str, Any]:
    po = (await api.run(AGENT, READ_STATE, {"id": po_id})).ok()["purchaseOrder"]
    assert po is not None
    state: dict[str, Any] = {k: v for k, v in po.items() if k not in ("id", "lines")}
    state["statusHistory"] = len(po["statusHistory"])
    state["transitions"] = sum(h["fromStatus"] != h["toStatus"] for h in po["statusHistory"])
    state["assignedSims"] = sum(line["assignedSimCount"] for line in po["lines"])
    state["line_id"] = po["lines"][0]["id"]
    return state


@dataclass
class _Fixture:
    tenant: Tenant
    po_id: str
    state: dict[str, Any]


# POs that forbidden attempts leave alone are shared per database and status.
_shared: dict[tuple[str, S], _Fixture] = {}
_tenants: dict[str, Tenant] = {}


async def _fixture(
    api: GraphQLClient, db: Database, status: S, *, fresh: bool, assign: bool
) -> _Fixture:
    if db.url not in _tenants:
        _tenants[db.url] = await make_tenant(db)
    tenant = _tenants[db.url]
    key = (db.url, status)
    if fresh or key not in _shared:
        po_id = gid(await make_po(db, tenant, status, assign=assign))
        fixture = _Fixture(tenant, po_id, await _state(api, po_id))
        if fresh:
            return fixture
        _shared[key] = fixture
    return _shared[key]


def _actor(role: R, tenant: Tenant) -> Actor:
    return {
        R.ENTERPRISE_VIEWER: tenant.viewer,
        R.ENTERPRISE_PURCHASER: tenant.purchaser,
        R.SP_AGENT: AGENT,
        R.SP_ADMIN: ADMIN,
        R.WAREHOUSE: WAREHOUSE,
    }[role]


def _refusal(result: Result, action: A) -> str:
    """How a refused mutation answered: its code, with the status for INVALID_TRANSITION."""
    assert result.status == 200, result.body
    if not result.errors:
        return "succeeded"
    assert result.data is None or result.data.get(MUTATIONS[action][0]) is None
    code = result.code
    if code == "INVALID_TRANSITION":
        return f"{code}({result.errors[0]['extensions'].get('status')})"
    return code


@pytest.mark.parametrize(("status", "role"), GENERATED)
async def test_every_action_of_every_role_in_every_status(
    api: GraphQLClient, db: Database, status: S, role: R
) -> None:
    """Each action the table allows succeeds (on a fresh PO); every other one is refused with
    the code the table implies and leaves the PO exactly as it was."""
    shared = await _fixture(api, db, status, fresh=False, assign=False)
    assert shared.state["status"] == status.value
    actual: dict[str, str] = {}
    expected: dict[str, str] = {}
    for action in A:
        verdict, to_status = table_says(action, role, status)
        if verdict == "allowed":
            assert to_status is not None
            fx = await _fixture(api, db, status, fresh=True, assign=action is A.MARK_READY)
            before = fx.state
            moved = int(to_status.value != status.value)
            expected[str(action)] = f"-> {to_status} v{before['version'] + 1} history+{moved}"
            result = await act(
                api,
                _actor(role, fx.tenant),
                action,
                fx.po_id,
                line_id=before["line_id"],
                selection=STATE_FIELDS,
            )
            if result.errors:
                actual[str(action)] = _refusal(result, action)
                continue
            after = await _state(api, fx.po_id)
            answered = payload_po(result, action)
            assert (answered["status"], answered["version"]) == (after["status"], after["version"])
            grew = after["transitions"] - before["transitions"]
            actual[str(action)] = f"-> {after['status']} v{after['version']} history+{grew}"
        else:
            expected[str(action)] = verdict if verdict == "FORBIDDEN" else f"{verdict}({status})"
            result = await act(
                api,
                _actor(role, shared.tenant),
                action,
                shared.po_id,
                line_id=shared.state["line_id"],
                selection=STATE_FIELDS,
            )
            actual[str(action)] = _refusal(result, action)

    after = await _state(api, shared.po_id)
    if after != shared.state:
        _shared.pop((db.url, status), None)  # a wrongly changed PO must not spoil other cases
    assert actual == expected
    assert after == shared.state, "a refused action changed the purchase order"
