"""Tenant isolation: another account's data is answered exactly like data that does not exist.

Tenant A's purchaser and viewer probe tenant B's purchase orders, account, products and SIMs
through every query and every purchase-order mutation. Each answer is compared with the answer
for a freshly made random ID: they must be identical (no status, count or error may differ),
and B's data must be unchanged afterwards. Also: who may use the admin mutations, and that a
warehouse system cannot read purchase orders.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from simgql.api.ids import encode_id
from simgql.db.engine import Database
from simgql.db.models import PurchaseOrder
from simgql.domain.model import PurchaseOrderStatus, Role
from tests.client import Actor, GraphQLClient, Result
from tests.factories import (
    ADDRESS_INPUT,
    ADMIN,
    AGENT,
    Tenant,
    gid,
    make_po,
    make_tenant,
    sims,
    unique,
)

S = PurchaseOrderStatus
ALL_STATUSES = list(S)
ENTERPRISE = ["purchaser", "viewer"]
_LEAKS = re.compile(r"Traceback|File \"|\w+\.py\b|site-packages")

PO_FIELDS = """
  id number status version rejectionReason createdBy createdAt
  account { id code name }
  lines { id quantity assignedSimCount product { id code } unitPrice { amount currency }
          sims { id iccid imsi msisdn } }
  shippingAddress { recipient city country }
  total { amount currency }
  shipping { carrier trackingNumber }
  statusHistory { fromStatus toStatus actor note }
  availableActions
"""

STATE = """
query($id: ID!) {
  purchaseOrder(id: $id) {
    id status version number rejectionReason
    lines { quantity assignedSimCount sims { iccid } }
    shippingAddress { recipient street city country }
    overrides { pricePlan }
    shipping { carrier trackingNumber }
    statusHistory { fromStatus toStatus actor note }
  }
}
"""
ACCOUNT_STATE = """
query($id: ID!) {
  account(id: $id) {
    id code name status
    defaults { simBillingStatus pricePlan serviceProfile roamingProfile apnGroup }
    catalogue { pricePlans serviceProfiles roamingProfiles apnGroups }
    productAssignments { minQuantity maxQuantity product { id code active } }
  }
  purchaseOrders(first: 100, filter: {accountId: $id}) {
    totalCount edges { node { id status version } }
  }
}
"""


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _random(type_name: str) -> str:
    return encode_id(type_name, uuid.uuid4())


def _actor(tenant: Tenant, who: str) -> Actor:
    return tenant.purchaser if who == "purchaser" else tenant.viewer


async def _run(
    api: GraphQLClient, actor: Actor, query: str, variables: dict[str, Any] | None = None
) -> Result:
    result = await api.run(actor, query, variables)
    assert result.status < 500, result.body
    text = json.dumps(result.body)
    assert _LEAKS.search(text) is None, text
    return result


def _same_answer(theirs: Result, missing: Result) -> None:
    """Another tenant's object and a random ID get exactly the same response."""
    assert theirs.status == missing.status, (theirs.body, missing.body)
    assert theirs.body == missing.body, (theirs.body, missing.body)


async def _po_state(api: GraphQLClient, po_gid: str) -> dict[str, Any]:
    return (await _run(api, AGENT, STATE, {"id": po_gid})).ok()["purchaseOrder"]


async def _account_state(api: GraphQLClient, tenant: Tenant) -> dict[str, Any]:
    return (await _run(api, ADMIN, ACCOUNT_STATE, {"id": tenant.gid})).ok()


@dataclass
class World:
    a: Tenant
    b: Tenant
    a_po: PurchaseOrder
    b_pos: dict[PurchaseOrderStatus, PurchaseOrder]


async def _world(db: Database, statuses: list[PurchaseOrderStatus] = ALL_STATUSES) -> World:
    a = await make_tenant(db)
    b = await make_tenant(db)
    a_po = await make_po(db, a)
    b_pos = {s: await make_po(db, b, s) for s in statuses}
    return World(a, b, a_po, b_pos)


# ---------------------------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ALL_STATUSES)
@pytest.mark.parametrize("who", ENTERPRISE)
async def test_enterprise_user_cannot_see_other_tenants_po(
    api: GraphQLClient, db: Database, who: str, status: PurchaseOrderStatus
) -> None:
    a = await make_tenant(db)
    b = await make_tenant(db)
    po = await make_po(db, b, status)
    actor = _actor(a, who)
    query = f"query($id: ID!) {{ purchaseOrder(id: $id) {{ {PO_FIELDS} }} }}"

    theirs = await _run(api, actor, query, {"id": gid(po)})
    missing = await _run(api, actor, query, {"id": _random("PurchaseOrder")})

    assert theirs.ok() == {"purchaseOrder": None}
    _same_answer(theirs, missing)


@pytest.mark.parametrize("status", ALL_STATUSES)
@pytest.mark.parametrize("who", ENTERPRISE)
async def test_enterprise_user_cannot_fetch_other_tenants_po_as_node(
    api: GraphQLClient, db: Database, who: str, status: PurchaseOrderStatus
) -> None:
    a = await make_tenant(db)
    b = await make_tenant(db)
    po = await make_po(db, b, status)
    actor = _actor(a, who)
    query = f"query($id: ID!) {{ node(id: $id) {{ id ... on PurchaseOrder {{ {PO_FIELDS} }} }} }}"

    theirs = await _run(api, actor, query, {"id": gid(po)})
    missing = await _run(api, actor, query, {"id": _random("PurchaseOrder")})

    assert theirs.ok() == {"node": None}
    _same_answer(theirs, missing)


@pytest.mark.parametrize("who", ENTERPRISE)
async def test_enterprise_user_cannot_fetch_other_tenants_account_product_or_sim_as_node(
    api: GraphQLClient, db: Database, who: str
) -> None:
    a = await make_tenant(db)
    b = await make_tenant(db)
    ready = await make_po(db, b, S.READY)
    sim_id = (
        await _run(
            api,
            AGENT,
            "query($id: ID!) { purchaseOrder(id: $id) { lines { sims { id } } } }",
            {"id": gid(ready)},
        )
    ).ok()["purchaseOrder"]["lines"][0]["sims"][0]["id"]
    actor = _actor(a, who)
    query = """
    query($id: ID!) {
      node(id: $id) {
        id
        ... on Account { code name }
        ... on Product { code name }
        ... on Sim { iccid imsi msisdn }
      }
    }
    """

    for type_name, theirs_id in (
        ("Account", b.gid),
        ("Product", b.product_gid()),
        ("Sim", sim_id),
    ):
        theirs = await _run(api, actor, query, {"id": theirs_id})
        missing = await _run(api, actor, query, {"id": _random(type_name)})
        assert theirs.ok() == {"node": None}, type_name
        _same_answer(theirs, missing)


@pytest.mark.parametrize("who", ENTERPRISE)
async def test_purchase_order_list_shows_only_own_account(
    api: GraphQLClient, db: Database, who: str
) -> None:
    world = await _world(db)
    actor = _actor(world.a, who)
    query = """
    query($status: [PurchaseOrderStatus!]) {
      purchaseOrders(first: 100, filter: {status: $status}) {
        totalCount
        edges { node { id account { code } } }
        pageInfo { hasNextPage }
      }
    }
    """

    everything = (await _run(api, actor, query)).ok()["purchaseOrders"]
    by_status = (await _run(api, actor, query, {"status": [s.value for s in ALL_STATUSES]})).ok()[
        "purchaseOrders"
    ]

    for page in (everything, by_status):
        assert page["totalCount"] == 1
        assert [e["node"]["id"] for e in page["edges"]] == [gid(world.a_po)]
        assert page["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("who", ENTERPRISE)
async def test_filtering_by_other_tenants_account_looks_like_an_unknown_account(
    api: GraphQLClient, db: Database, who: str
) -> None:
    world = await _world(db, [S.DRAFT, S.SUBMITTED, S.ACCEPTED, S.READY, S.CANCELLED])
    actor = _actor(world.a, who)
    query = """
    query($account: ID, $status: [PurchaseOrderStatus!]) {
      purchaseOrders(first: 10, filter: {accountId: $account, status: $status}) {
        totalCount
        edges { cursor node { id } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }
    """

    for status in (None, [S.SUBMITTED.value], [s.value for s in ALL_STATUSES]):
        theirs = await _run(api, actor, query, {"account": world.b.gid, "status": status})
        missing = await _run(api, actor, query, {"account": _random("Account"), "status": status})
        assert theirs.ok()["purchaseOrders"]["totalCount"] == 0
        assert theirs.ok()["purchaseOrders"]["edges"] == []
        _same_answer(theirs, missing)


@pytest.mark.parametrize("who", ENTERPRISE)
async def test_filtering_by_other_tenants_po_number_finds_nothing(
    api: GraphQLClient, db: Database, who: str
) -> None:
    world = await _world(db, [S.ACCEPTED])
    number = (await _po_state(api, gid(world.b_pos[S.ACCEPTED])))["number"]
    assert number is not None
    actor = _actor(world.a, who)
    query = """
    query($number: Int) {
      purchaseOrders(filter: {number: $number}) { totalCount edges { node { id } } }
    }
    """

    theirs = await _run(api, actor, query, {"number": number})
    missing = await _run(api, actor, query, {"number": 2_000_000_000})

    assert theirs.ok()["purchaseOrders"] == {"totalCount": 0, "edges": []}
    _same_answer(theirs, missing)


@pytest.mark.parametrize("who", ENTERPRISE)
async def test_enterprise_user_cannot_see_other_tenants_account(
    api: GraphQLClient, db: Database, who: str
) -> None:
    a = await make_tenant(db)
    b = await make_tenant(db)
    actor = _actor(a, who)
    query = """
    query($id: ID!) {
      account(id: $id) { id code name status catalogue { pricePlans }
                         productAssignments { product { code } } }
    }
    """

    theirs = await _run(api, actor, query, {"id": b.gid})
    missing = await _run(api, actor, query, {"id": _random("Account")})

    assert theirs.ok() == {"account": None}
    _same_answer(theirs, missing)


@pytest.mark.parametrize("who", ENTERPRISE)
async def test_account_list_shows_only_own_account(
    api: GraphQLClient, db: Database, who: str
) -> None:
    a = await make_tenant(db)
    b = await make_tenant(db)
    actor = _actor(a, who)
    query = """
    query($code: String) {
      accounts(first: 100, filter: {code: $code}) { totalCount edges { node { id code } } }
    }
    """

    everything = (await _run(api, actor, query)).ok()["accounts"]
    theirs = await _run(api, actor, query, {"code": b.code})
    missing = await _run(api, actor, query, {"code": unique("NOPE")})

    assert everything["totalCount"] == 1
    assert [e["node"]["code"] for e in everything["edges"]] == [a.code]
    assert theirs.ok()["accounts"] == {"totalCount": 0, "edges": []}
    _same_answer(theirs, missing)


@pytest.mark.parametrize("who", ENTERPRISE)
async def test_enterprise_user_cannot_see_products_assigned_only_to_other_tenant(
    api: GraphQLClient, db: Database, who: str
) -> None:
    a = await make_tenant(db)
    b = await make_tenant(db)
    actor = _actor(a, who)
    one = "query($id: ID!) { product(id: $id) { id code name unitPrice { amount } } }"
    listing = """
    query($code: String) {
      products(first: 100, filter: {code: $code}) { totalCount edges { node { id code } } }
    }
    """
    b_code = (await _run(api, ADMIN, one, {"id": b.product_gid()})).ok()["product"]["code"]

    theirs = await _run(api, actor, one, {"id": b.product_gid()})
    missing = await _run(api, actor, one, {"id": _random("Product")})
    everything = (await _run(api, actor, listing)).ok()["products"]
    by_code = await _run(api, actor, listing, {"code": b_code})
    by_unknown_code = await _run(api, actor, listing, {"code": unique("NOPE")})

    assert theirs.ok() == {"product": None}
    _same_answer(theirs, missing)
    assert everything["totalCount"] == len(a.product_ids)
    assert sorted(e["node"]["id"] for e in everything["edges"]) == sorted(
        a.product_gid(i) for i in range(len(a.product_ids))
    )
    assert by_code.ok()["products"] == {"totalCount": 0, "edges": []}
    _same_answer(by_code, by_unknown_code)


@pytest.mark.parametrize("who", ENTERPRISE)
async def test_me_names_only_own_account(api: GraphQLClient, db: Database, who: str) -> None:
    a = await make_tenant(db)
    await make_tenant(db)
    actor = _actor(a, who)

    me = (
        await _run(
            api,
            actor,
            "{ me { sub role account { id code productAssignments { product { id } } } } }",
        )
    ).ok()["me"]

    assert me["sub"] == actor.sub
    assert me["role"] == actor.role.value
    assert me["account"]["id"] == a.gid
    assert me["account"]["code"] == a.code
    assert sorted(x["product"]["id"] for x in me["account"]["productAssignments"]) == sorted(
        a.product_gid(i) for i in range(len(a.product_ids))
    )


# ---------------------------------------------------------------------------------------------
# Purchase-order mutations
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """A mutation, the status of B's PO in which it would otherwise succeed, and its input."""

    mutation: str
    input_type: str
    status: PurchaseOrderStatus
    extra: Callable[[dict[str, Any]], dict[str, Any]]
    assigned: bool = False


def _no_extra(_state: dict[str, Any]) -> dict[str, Any]:
    return {}


def _assign_extra(state: dict[str, Any]) -> dict[str, Any]:
    line = state["line_id"]
    fresh = [{"iccid": s.iccid, "imsi": s.imsi, "msisdn": s.msisdn} for s in sims(1)]
    return {"assignments": [{"lineId": line, "sims": fresh}]}


PROBES = [
    Probe(
        "updatePurchaseOrder",
        "UpdatePurchaseOrderInput",
        S.DRAFT,
        lambda st: {"shippingAddress": {**ADDRESS_INPUT, "recipient": "Mallory"}},
    ),
    Probe("submitPurchaseOrder", "TransitionInput", S.DRAFT, _no_extra),
    Probe("acceptPurchaseOrder", "TransitionInput", S.SUBMITTED, _no_extra),
    Probe("rejectPurchaseOrder", "ReasonInput", S.SUBMITTED, lambda st: {"reason": "nope"}),
    Probe("reopenPurchaseOrder", "TransitionInput", S.REJECTED, _no_extra),
    Probe("cancelPurchaseOrder", "OptionalReasonInput", S.SUBMITTED, lambda st: {"reason": "x"}),
    Probe("cancelPurchaseOrder", "OptionalReasonInput", S.DRAFT, _no_extra),
    Probe("startPurchaseOrderProvisioning", "TransitionInput", S.ACCEPTED, _no_extra),
    Probe("assignPurchaseOrderSims", "AssignPurchaseOrderSimsInput", S.PROVISIONING, _assign_extra),
    Probe("markPurchaseOrderReady", "TransitionInput", S.PROVISIONING, _no_extra, assigned=True),
    Probe(
        "shipPurchaseOrder",
        "ShipPurchaseOrderInput",
        S.READY,
        lambda st: {"carrier": "DHL", "trackingNumber": "MALLORY-1"},
    ),
    Probe("confirmPurchaseOrderReceipt", "TransitionInput", S.SHIPPED, _no_extra),
]


def _probe_id(probe: Probe) -> str:
    return f"{probe.mutation}-from-{probe.status.value}"


@pytest.mark.parametrize("version", ["no-version", "right-version", "wrong-version"])
@pytest.mark.parametrize("who", ENTERPRISE)
@pytest.mark.parametrize("probe", PROBES, ids=_probe_id)
async def test_enterprise_user_cannot_change_other_tenants_po(
    api: GraphQLClient, db: Database, probe: Probe, who: str, version: str
) -> None:
    a = await make_tenant(db)
    b = await make_tenant(db)
    po = await make_po(db, b, probe.status, assign=probe.assigned)
    before = await _po_state(api, gid(po))
    lines = (
        await _run(
            api,
            AGENT,
            "query($id: ID!) { purchaseOrder(id: $id) { lines { id } } }",
            {"id": gid(po)},
        )
    ).ok()["purchaseOrder"]["lines"]
    extra = probe.extra({"line_id": lines[0]["id"]})
    if version == "right-version":
        extra["expectedVersion"] = before["version"]
    elif version == "wrong-version":
        extra["expectedVersion"] = before["version"] + 7
    query = (
        f"mutation($input: {probe.input_type}!) {{ {probe.mutation}(input: $input) "
        "{ purchaseOrder { id status version } } }"
    )
    actor = _actor(a, who)

    theirs = await _run(api, actor, query, {"input": {"id": gid(po), **extra}})
    missing = await _run(api, actor, query, {"input": {"id": _random("PurchaseOrder"), **extra}})

    assert theirs.code == "NOT_FOUND", theirs.body
    assert theirs.data is None
    _same_answer(theirs, missing)
    assert await _po_state(api, gid(po)) == before


@pytest.mark.parametrize("who", ENTERPRISE)
async def test_enterprise_user_cannot_create_po_for_other_tenant(
    api: GraphQLClient, db: Database, who: str
) -> None:
    a = await make_tenant(db)
    b = await make_tenant(db)
    await make_po(db, b)
    before = await _account_state(api, b)
    query = """
    mutation($input: CreatePurchaseOrderInput!) {
      createPurchaseOrder(input: $input) { purchaseOrder { id status account { code } } }
    }
    """
    actor = _actor(a, who)

    def order(account: str) -> dict[str, Any]:
        return {
            "input": {
                "accountId": account,
                "lines": [{"productId": b.product_gid(), "quantity": 2}],
                "shippingAddress": ADDRESS_INPUT,
            }
        }

    theirs = await _run(api, actor, query, order(b.gid))
    missing = await _run(api, actor, query, order(_random("Account")))

    # A viewer may never create, so FORBIDDEN for every account would leak nothing either;
    # what matters is that B's account is answered exactly like an account that does not exist.
    expected = {"NOT_FOUND"} if who == "purchaser" else {"NOT_FOUND", "FORBIDDEN"}
    assert theirs.code in expected, theirs.body
    _same_answer(theirs, missing)
    assert await _account_state(api, b) == before


async def test_ordering_other_tenants_product_looks_like_an_unknown_product(
    api: GraphQLClient, db: Database
) -> None:
    a = await make_tenant(db)
    b = await make_tenant(db)
    query = """
    mutation($input: CreatePurchaseOrderInput!) {
      createPurchaseOrder(input: $input) { purchaseOrder { id } }
    }
    """

    def order(product: str) -> dict[str, Any]:
        return {
            "input": {
                "lines": [{"productId": product, "quantity": 2}],
                "shippingAddress": ADDRESS_INPUT,
            }
        }

    theirs = await _run(api, a.purchaser, query, order(b.product_gid()))
    missing = await _run(api, a.purchaser, query, order(_random("Product")))

    assert theirs.code == "BAD_USER_INPUT", theirs.body
    assert theirs.fields() == ["lines.0.productId"]
    _same_answer(theirs, missing)


@pytest.mark.parametrize("who", ENTERPRISE)
async def test_other_tenants_data_is_unchanged_after_a_round_of_probing(
    api: GraphQLClient, db: Database, who: str
) -> None:
    world = await _world(db)
    before = {s: await _po_state(api, gid(po)) for s, po in world.b_pos.items()}
    account_before = await _account_state(api, world.b)
    actor = _actor(world.a, who)
    mutations = {p.mutation: p.input_type for p in PROBES}

    for po in world.b_pos.values():
        for mutation, input_type in mutations.items():
            extra: dict[str, Any] = {}
            if input_type == "ReasonInput":
                extra = {"reason": "probe"}
            elif input_type == "ShipPurchaseOrderInput":
                extra = {"carrier": "X", "trackingNumber": "Y"}
            elif input_type == "AssignPurchaseOrderSimsInput":
                extra = {"assignments": [{"lineId": _random("PurchaseOrderLine"), "sims": []}]}
            query = (
                f"mutation($input: {input_type}!) {{ {mutation}(input: $input) "
                "{ purchaseOrder { id } } }"
            )
            result = await _run(api, actor, query, {"input": {"id": gid(po), **extra}})
            assert result.errors, result.body
            assert result.codes[0] in {"NOT_FOUND", "BAD_USER_INPUT"}, result.body

    assert {s: await _po_state(api, gid(po)) for s, po in world.b_pos.items()} == before
    assert await _account_state(api, world.b) == account_before


# ---------------------------------------------------------------------------------------------
# Admin mutations
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdminCase:
    name: str
    query: str
    variables: Callable[[Tenant, Tenant, str], dict[str, Any]]


ADMIN_CASES = [
    AdminCase(
        "createProduct",
        """mutation($input: CreateProductInput!) {
             createProduct(input: $input) { product { code } } }""",
        lambda a, b, code: {
            "input": {
                "code": code,
                "name": "Rogue SIM",
                "kind": "SIM_CARD",
                "formFactor": "NANO_4FF",
                "unitPrice": "0.01",
                "currency": "EUR",
            }
        },
    ),
    AdminCase(
        "createAccount",
        """mutation($input: CreateAccountInput!) {
             createAccount(input: $input) { account { code } } }""",
        lambda a, b, code: {"input": {"code": code, "name": "Rogue account"}},
    ),
    AdminCase(
        "updateAccount",
        """mutation($input: UpdateAccountInput!) {
             updateAccount(input: $input) { account { name } } }""",
        lambda a, b, code: {"input": {"id": a.gid, "name": f"Renamed {code}"}},
    ),
    AdminCase(
        "assignProduct",
        """mutation($input: AssignProductInput!) {
             assignProduct(input: $input) {
               account { productAssignments { product { id } } } } }""",
        lambda a, b, code: {"input": {"accountId": a.gid, "productId": b.product_gid()}},
    ),
    AdminCase(
        "setAccountCatalogue",
        """mutation($input: SetAccountCatalogueInput!) {
             setAccountCatalogue(input: $input) { account { catalogue { pricePlans } } } }""",
        lambda a, b, code: {"input": {"accountId": a.gid, "kind": "PRICE_PLAN", "codes": [code]}},
    ),
]
READ_CONFIG = "{ configuration { allowAccountDefaultOverride } }"
SET_CONFIG = """
mutation($allow: Boolean) {
  setConfiguration(input: {allowAccountDefaultOverride: $allow}) {
    configuration { allowAccountDefaultOverride }
  }
}
"""


async def _admin_view(api: GraphQLClient, a: Tenant, code: str) -> dict[str, Any]:
    """What an admin sees of everything the admin mutations could have changed."""
    query = """
    query($account: ID!, $code: String) {
      account(id: $account) {
        name catalogue { pricePlans } productAssignments { product { id } }
      }
      products(filter: {code: $code}) { totalCount }
      accounts(filter: {code: $code}) { totalCount }
      configuration { allowAccountDefaultOverride }
    }
    """
    return (await _run(api, ADMIN, query, {"account": a.gid, "code": code})).ok()


NON_ADMINS = ["purchaser", "viewer", "agent"]


def _non_admin(tenant: Tenant, who: str) -> Actor:
    return AGENT if who == "agent" else _actor(tenant, who)


@pytest.mark.parametrize("case", ADMIN_CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("who", NON_ADMINS)
async def test_only_sp_admin_may_use_admin_mutations(
    api: GraphQLClient, db: Database, case: AdminCase, who: str
) -> None:
    a = await make_tenant(db)
    b = await make_tenant(db)
    code = unique("ADM")
    before = await _admin_view(api, a, code)

    result = await _run(api, _non_admin(a, who), case.query, case.variables(a, b, code))

    assert result.code == "FORBIDDEN", result.body
    assert result.data is None
    assert await _admin_view(api, a, code) == before


@pytest.mark.parametrize("who", NON_ADMINS)
async def test_only_sp_admin_may_change_configuration(
    api: GraphQLClient, db: Database, who: str
) -> None:
    a = await make_tenant(db)
    original = (await _run(api, ADMIN, READ_CONFIG)).ok()["configuration"]
    flipped = not original["allowAccountDefaultOverride"]
    try:
        change = await _run(api, _non_admin(a, who), SET_CONFIG, {"allow": flipped})
        read_only = await _run(api, _non_admin(a, who), SET_CONFIG, {"allow": None})

        assert change.code == "FORBIDDEN", change.body
        assert read_only.code == "FORBIDDEN", read_only.body
        assert (await _run(api, ADMIN, READ_CONFIG)).ok()["configuration"] == original
    finally:
        await _run(api, ADMIN, SET_CONFIG, {"allow": original["allowAccountDefaultOverride"]})


@pytest.mark.parametrize("case", ADMIN_CASES, ids=lambda c: c.name)
async def test_sp_admin_may_use_admin_mutations(
    api: GraphQLClient, db: Database, case: AdminCase
) -> None:
    a = await make_tenant(db)
    b = await make_tenant(db)
    code = unique("ADM")
    before = await _admin_view(api, a, code)

    result = await _run(api, ADMIN, case.query, case.variables(a, b, code))

    assert result.ok()
    after = await _admin_view(api, a, code)
    assert after != before
    if case.name == "createProduct":
        assert after["products"]["totalCount"] == 1
    elif case.name == "createAccount":
        assert after["accounts"]["totalCount"] == 1
    elif case.name == "updateAccount":
        assert after["account"]["name"] == f"Renamed {code}"
    elif case.name == "assignProduct":
        assigned = [x["product"]["id"] for x in after["account"]["productAssignments"]]
        assert b.product_gid() in assigned
    else:
        assert after["account"]["catalogue"]["pricePlans"] == [code]


async def test_sp_admin_may_change_configuration(api: GraphQLClient) -> None:
    original = (await _run(api, ADMIN, READ_CONFIG)).ok()["configuration"]
    flipped = not original["allowAccountDefaultOverride"]
    try:
        changed = (await _run(api, ADMIN, SET_CONFIG, {"allow": flipped})).ok()
        assert changed["setConfiguration"]["configuration"] == {
            "allowAccountDefaultOverride": flipped
        }
        assert (await _run(api, AGENT, READ_CONFIG)).ok()["configuration"] == {
            "allowAccountDefaultOverride": flipped
        }
    finally:
        restored = await _run(
            api, ADMIN, SET_CONFIG, {"allow": original["allowAccountDefaultOverride"]}
        )
        assert restored.ok()["setConfiguration"]["configuration"] == original


# ---------------------------------------------------------------------------------------------
# Warehouse systems
# ---------------------------------------------------------------------------------------------

WAREHOUSE = Actor(Role.WAREHOUSE, "wh-system", warehouse="WH-NORTH")


async def test_warehouse_cannot_list_purchase_orders(api: GraphQLClient, db: Database) -> None:
    world = await _world(db, [S.SUBMITTED, S.READY])

    result = await _run(
        api, WAREHOUSE, "{ purchaseOrders(first: 100) { totalCount edges { node { id } } } }"
    )
    filtered = await _run(
        api,
        WAREHOUSE,
        "query($a: ID) { purchaseOrders(filter: {accountId: $a}) { totalCount } }",
        {"a": world.b.gid},
    )

    assert result.code == "FORBIDDEN", result.body
    assert result.data is None
    assert filtered.code == "FORBIDDEN", filtered.body
    assert filtered.data is None


@pytest.mark.parametrize("status", [S.SUBMITTED, S.READY])
async def test_warehouse_cannot_read_a_purchase_order(
    api: GraphQLClient, db: Database, status: PurchaseOrderStatus
) -> None:
    b = await make_tenant(db)
    po = await make_po(db, b, status)

    for query in (
        "query($id: ID!) { purchaseOrder(id: $id) { id status lines { sims { iccid } } } }",
        "query($id: ID!) { node(id: $id) { id ... on PurchaseOrder { status } } }",
    ):
        result = await _run(api, WAREHOUSE, query, {"id": gid(po)})
        values = [v for v in (result.data or {}).values() if v is not None]
        assert values == [], result.body
        assert set(result.codes) <= {"FORBIDDEN"}, result.body


async def test_warehouse_cannot_change_a_purchase_order(api: GraphQLClient, db: Database) -> None:
    b = await make_tenant(db)
    po = await make_po(db, b, S.SUBMITTED)
    before = await _po_state(api, gid(po))

    result = await _run(
        api,
        WAREHOUSE,
        "mutation($id: ID!) { acceptPurchaseOrder(input: {id: $id}) { purchaseOrder { id } } }",
        {"id": gid(po)},
    )

    assert result.code in {"FORBIDDEN", "NOT_FOUND"}, result.body
    assert result.data is None
    assert await _po_state(api, gid(po)) == before
