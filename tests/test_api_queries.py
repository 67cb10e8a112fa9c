"""The read side of the API: lists and their pages, filters, ordering, `node`, `me`, SQL cost.

Every test works on tenants of its own, so counts do not depend on what else the session's
shared database holds.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from simgql.api.ids import encode_id
from simgql.db.engine import Database
from simgql.domain.model import PurchaseOrderStatus, Role
from tests.client import Actor, GraphQLClient
from tests.factories import AGENT, Tenant, gid, make_po, make_tenant

S = PurchaseOrderStatus
WAREHOUSE = Actor(Role.WAREHOUSE, "wh-system", warehouse="WH-HAM")

PO_PAGE = """
query($first: Int, $after: String, $filter: PurchaseOrderFilter,
      $orderBy: PurchaseOrderOrderBy! = CREATED_AT_DESC) {
  purchaseOrders(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id number status createdAt account { code } } }
  }
}
"""


def _nodes(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["node"] for e in connection["edges"]]


def _ids(connection: dict[str, Any]) -> list[str]:
    return [n["id"] for n in _nodes(connection)]


async def _po_page(api: GraphQLClient, actor: Actor, **variables: Any) -> dict[str, Any]:
    data = (await api.run(actor, PO_PAGE, variables)).ok()
    connection: dict[str, Any] = data["purchaseOrders"]
    return connection


async def _tenant_with_pos(
    db: Database, statuses: list[PurchaseOrderStatus]
) -> tuple[Tenant, list[str]]:
    """A fresh tenant and the global IDs of its POs, in the order they were created."""
    tenant = await make_tenant(db)
    return tenant, [gid(await make_po(db, tenant, s)) for s in statuses]


async def _walk(
    api: GraphQLClient, actor: Actor, *, first: int, **variables: Any
) -> list[dict[str, Any]]:
    """Every page of `purchaseOrders`, following `endCursor` until `hasNextPage` is false."""
    pages: list[dict[str, Any]] = []
    seen: set[str] = set()
    after = None
    while True:
        page = await _po_page(api, actor, first=first, after=after, **variables)
        repeated = seen.intersection(_ids(page))
        assert not repeated, f"page {len(pages) + 1} after {after!r} repeats {repeated}"
        seen.update(_ids(page))
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]
        assert after is not None, page


# --- pagination ------------------------------------------------------------------------------


async def test_walking_pages_visits_every_po_once_in_order(
    api: GraphQLClient, db: Database
) -> None:
    statuses = [S.DRAFT, S.SUBMITTED, S.ACCEPTED, S.REJECTED, S.CANCELLED, S.DRAFT, S.SUBMITTED]
    tenant, created = await _tenant_with_pos(db, statuses)

    pages = await _walk(api, tenant.viewer, first=3)

    assert [len(p["edges"]) for p in pages] == [3, 3, 1]
    assert [p["totalCount"] for p in pages] == [7, 7, 7]
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [True, True, False]
    assert pages[0]["pageInfo"]["hasPreviousPage"] is False
    for page in pages:
        cursors = [e["cursor"] for e in page["edges"]]
        assert page["pageInfo"]["startCursor"] == cursors[0]
        assert page["pageInfo"]["endCursor"] == cursors[-1]
    walked = [i for p in pages for i in _ids(p)]
    assert walked == list(reversed(created))  # newest first by default, no gaps, no repeats


async def test_exact_multiple_of_page_size_ends_with_no_next_page(
    api: GraphQLClient, db: Database
) -> None:
    tenant, created = await _tenant_with_pos(db, [S.DRAFT] * 4)

    pages = await _walk(api, AGENT, first=2, filter={"accountId": tenant.gid})

    walked = [i for p in pages for i in _ids(p)]
    assert sorted(walked) == sorted(created)
    assert len(walked) == len(set(walked))
    assert pages[-1]["pageInfo"]["hasNextPage"] is False
    if len(pages) == 3:  # a server may answer one empty page after the last full one
        assert pages[-1]["edges"] == []
        assert pages[-1]["pageInfo"]["startCursor"] is None
    else:
        assert len(pages) == 2


async def test_first_zero_gives_the_count_without_edges(api: GraphQLClient, db: Database) -> None:
    tenant, _ = await _tenant_with_pos(db, [S.DRAFT, S.SUBMITTED])

    page = await _po_page(api, tenant.viewer, first=0)

    assert page["edges"] == []
    assert page["totalCount"] == 2
    assert page["pageInfo"]["hasNextPage"] is True


async def test_without_first_a_page_has_twenty_pos(api: GraphQLClient, db: Database) -> None:
    tenant, created = await _tenant_with_pos(db, [S.DRAFT] * 21)

    page = await _po_page(api, tenant.viewer)

    assert len(page["edges"]) == 20
    assert page["totalCount"] == 21
    assert page["pageInfo"]["hasNextPage"] is True
    assert _ids(page) == list(reversed(created))[:20]


@pytest.mark.parametrize("first", [101, 1000, -1])
async def test_page_size_outside_0_to_100_is_bad_user_input(api: GraphQLClient, first: int) -> None:
    for query in (
        "query($first: Int) { purchaseOrders(first: $first) { totalCount } }",
        "query($first: Int) { products(first: $first) { totalCount } }",
        "query($first: Int) { accounts(first: $first) { totalCount } }",
    ):
        result = await api.run(AGENT, query, {"first": first})
        assert result.status == 200, result.body
        assert result.code == "BAD_USER_INPUT", result.body
        assert result.fields() == ["first"]
        assert result.data is None


async def test_first_100_is_allowed(api: GraphQLClient, db: Database) -> None:
    tenant, created = await _tenant_with_pos(db, [S.DRAFT])

    page = await _po_page(api, tenant.viewer, first=100)

    assert _ids(page) == created


def _cursor_of(*values: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "after",
    [
        "not-a-cursor",
        _cursor_of(),
        _cursor_of("x"),
        _cursor_of("yesterday", str(uuid.UUID(int=7))),
        _cursor_of("2024-01-01T00:00:00+00:00", "not-a-uuid"),
        encode_id("Account", uuid.UUID(int=7)),
    ],
    ids=["garbage", "empty", "one-value", "words-for-a-time", "bad-uuid", "a-global-id"],
)
async def test_a_cursor_that_is_not_from_this_list_is_bad_user_input(
    api: GraphQLClient, after: str
) -> None:
    result = await api.run(AGENT, PO_PAGE, {"first": 5, "after": after})

    assert result.status == 200
    assert result.code == "BAD_USER_INPUT", result.body
    assert result.fields() == ["after"]


# --- filters and ordering --------------------------------------------------------------------


async def test_order_by_created_at_ascending_and_descending(
    api: GraphQLClient, db: Database
) -> None:
    tenant, created = await _tenant_with_pos(db, [S.DRAFT, S.SUBMITTED, S.DRAFT, S.ACCEPTED])

    ascending = await _po_page(api, tenant.viewer, first=10, orderBy="CREATED_AT_ASC")
    descending = await _po_page(api, tenant.viewer, first=10, orderBy="CREATED_AT_DESC")
    default = await _po_page(api, tenant.viewer, first=10)

    assert _ids(ascending) == created
    assert _ids(descending) == list(reversed(created))
    assert _ids(default) == _ids(descending)
    times = [dt.datetime.fromisoformat(n["createdAt"]) for n in _nodes(ascending)]
    assert times == sorted(times)
    assert all(t.tzinfo is not None for t in times)


async def test_ascending_pages_walk_in_creation_order(api: GraphQLClient, db: Database) -> None:
    tenant, created = await _tenant_with_pos(db, [S.DRAFT] * 5)

    pages = await _walk(api, tenant.viewer, first=2, orderBy="CREATED_AT_ASC")

    assert [i for p in pages for i in _ids(p)] == created


async def test_filter_by_account_for_service_provider(api: GraphQLClient, db: Database) -> None:
    tenant, created = await _tenant_with_pos(db, [S.DRAFT, S.SUBMITTED, S.ACCEPTED])
    other, other_created = await _tenant_with_pos(db, [S.DRAFT, S.SUBMITTED])

    mine = await _po_page(api, AGENT, first=100, filter={"accountId": tenant.gid})
    theirs = await _po_page(api, AGENT, first=100, filter={"accountId": other.gid})

    assert sorted(_ids(mine)) == sorted(created)
    assert mine["totalCount"] == 3
    assert {n["account"]["code"] for n in _nodes(mine)} == {tenant.code}
    assert sorted(_ids(theirs)) == sorted(other_created)
    assert theirs["totalCount"] == 2


async def test_enterprise_filter_on_another_account_finds_nothing(
    api: GraphQLClient, db: Database
) -> None:
    tenant, _ = await _tenant_with_pos(db, [S.DRAFT])
    other, _ = await _tenant_with_pos(db, [S.DRAFT, S.SUBMITTED])

    page = await _po_page(api, tenant.purchaser, first=10, filter={"accountId": other.gid})
    own = await _po_page(api, tenant.purchaser, first=10, filter={"accountId": tenant.gid})

    assert page["edges"] == []
    assert page["totalCount"] == 0
    assert page["pageInfo"]["hasNextPage"] is False
    assert own["totalCount"] == 1


async def test_filter_by_status_list(api: GraphQLClient, db: Database) -> None:
    statuses = [S.DRAFT, S.SUBMITTED, S.ACCEPTED, S.REJECTED, S.CANCELLED, S.SUBMITTED]
    tenant, created = await _tenant_with_pos(db, statuses)
    by_status = dict(zip(created, statuses, strict=True))

    for wanted in ([S.SUBMITTED], [S.DRAFT, S.ACCEPTED], [S.REJECTED, S.CANCELLED, S.SUBMITTED]):
        page = await _po_page(
            api, tenant.viewer, first=100, filter={"status": [s.value for s in wanted]}
        )
        expected = [i for i in reversed(created) if by_status[i] in wanted]
        assert _ids(page) == expected
        assert page["totalCount"] == len(expected)
        assert {n["status"] for n in _nodes(page)} == {s.value for s in wanted}

    none = await _po_page(api, tenant.viewer, first=100, filter={"status": ["CLOSED"]})
    assert none["totalCount"] == 0
    assert none["edges"] == []


async def test_filter_by_number(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)
    accepted = await make_po(db, tenant, S.ACCEPTED)
    await make_po(db, tenant, S.ACCEPTED)
    await make_po(db, tenant, S.DRAFT)
    assert accepted.number is not None

    page = await _po_page(api, tenant.viewer, first=10, filter={"number": accepted.number})
    agent_page = await _po_page(api, AGENT, first=10, filter={"number": accepted.number})

    assert _ids(page) == [gid(accepted)]
    assert _nodes(page)[0]["number"] == accepted.number
    assert page["totalCount"] == 1
    assert _ids(agent_page) == [gid(accepted)]


async def test_filter_by_number_of_another_tenant_finds_nothing(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    other = await make_tenant(db)
    theirs = await make_po(db, other, S.ACCEPTED)

    page = await _po_page(api, tenant.viewer, first=10, filter={"number": theirs.number})

    assert page["totalCount"] == 0
    assert page["edges"] == []


async def test_filter_by_creation_time_window(api: GraphQLClient, db: Database) -> None:
    tenant, created = await _tenant_with_pos(db, [S.DRAFT] * 5)
    listed = _nodes(await _po_page(api, tenant.viewer, first=10, orderBy="CREATED_AT_ASC"))
    assert [n["id"] for n in listed] == created
    times = [dt.datetime.fromisoformat(n["createdAt"]) for n in listed]
    assert all(a < b for a, b in itertools.pairwise(times)), times

    def between(i: int) -> str:
        """A moment strictly between the creation of PO i and PO i+1."""
        return (times[i] + (times[i + 1] - times[i]) / 2).isoformat()

    after = await _po_page(api, tenant.viewer, first=10, filter={"createdAfter": between(1)})
    before = await _po_page(api, tenant.viewer, first=10, filter={"createdBefore": between(1)})
    window = await _po_page(
        api,
        tenant.viewer,
        first=10,
        filter={"createdAfter": between(0), "createdBefore": between(3)},
        orderBy="CREATED_AT_ASC",
    )
    empty = await _po_page(
        api,
        tenant.viewer,
        first=10,
        filter={"createdAfter": between(3), "createdBefore": between(0)},
    )

    assert sorted(_ids(after)) == sorted(created[2:])
    assert after["totalCount"] == 3
    assert sorted(_ids(before)) == sorted(created[:2])
    assert before["totalCount"] == 2
    assert _ids(window) == created[1:4]
    assert window["totalCount"] == 3
    assert empty["totalCount"] == 0


async def test_creation_time_filter_honours_the_offset(api: GraphQLClient, db: Database) -> None:
    tenant, created = await _tenant_with_pos(db, [S.DRAFT, S.DRAFT])
    listed = _nodes(await _po_page(api, tenant.viewer, first=10, orderBy="CREATED_AT_ASC"))
    first_at = dt.datetime.fromisoformat(listed[0]["createdAt"])
    second_at = dt.datetime.fromisoformat(listed[1]["createdAt"])
    middle = first_at + (second_at - first_at) / 2
    in_new_york = middle.astimezone(dt.timezone(dt.timedelta(hours=-5)))

    page = await _po_page(
        api, tenant.viewer, first=10, filter={"createdAfter": in_new_york.isoformat()}
    )

    assert _ids(page) == [created[1]]


async def test_filters_combine(api: GraphQLClient, db: Database) -> None:
    tenant, created = await _tenant_with_pos(db, [S.SUBMITTED, S.DRAFT, S.SUBMITTED])
    listed = _nodes(await _po_page(api, tenant.viewer, first=10, orderBy="CREATED_AT_ASC"))
    created_at = [dt.datetime.fromisoformat(n["createdAt"]) for n in listed]
    middle = created_at[0] + (created_at[1] - created_at[0]) / 2

    page = await _po_page(
        api,
        AGENT,
        first=10,
        filter={
            "accountId": tenant.gid,
            "status": ["SUBMITTED"],
            "createdAfter": middle.isoformat(),
        },
    )

    assert _ids(page) == [created[2]]
    assert page["totalCount"] == 1


async def test_pages_of_a_filtered_list_count_only_matches(
    api: GraphQLClient, db: Database
) -> None:
    statuses = [S.SUBMITTED, S.DRAFT] * 4
    tenant, created = await _tenant_with_pos(db, statuses)
    submitted = [i for i, s in zip(created, statuses, strict=True) if s is S.SUBMITTED]

    pages = await _walk(
        api, tenant.viewer, first=3, filter={"status": ["SUBMITTED"]}, orderBy="CREATED_AT_ASC"
    )

    assert [i for p in pages for i in _ids(p)] == submitted
    assert {p["totalCount"] for p in pages} == {4}


# --- node, me, products, accounts ------------------------------------------------------------

NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Account { code }
    ... on Product { code }
    ... on PurchaseOrder { status account { code } }
    ... on Sim { iccid }
  }
}
"""
SIMS_OF_PO = """
query($id: ID!) { purchaseOrder(id: $id) { lines { sims { id iccid } } } }
"""


async def _sim_of(api: GraphQLClient, po_gid: str) -> dict[str, Any]:
    po = (await api.run(AGENT, SIMS_OF_PO, {"id": po_gid})).ok()["purchaseOrder"]
    sims = [s for line in po["lines"] for s in line["sims"]]
    assert sims
    sim: dict[str, Any] = sims[0]
    return sim


async def _node(api: GraphQLClient, actor: Actor, node_id: str) -> dict[str, Any] | None:
    node: dict[str, Any] | None = (await api.run(actor, NODE, {"id": node_id})).ok()["node"]
    return node


async def test_node_resolves_every_type(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant, S.READY)
    sim = await _sim_of(api, gid(po))

    for actor in (tenant.viewer, tenant.purchaser, AGENT):
        account = await _node(api, actor, tenant.gid)
        product = await _node(api, actor, tenant.product_gid())
        order = await _node(api, actor, gid(po))
        found_sim = await _node(api, actor, sim["id"])
        assert account == {"__typename": "Account", "id": tenant.gid, "code": tenant.code}
        assert product is not None
        assert product["__typename"] == "Product"
        assert product["id"] == tenant.product_gid()
        assert order == {
            "__typename": "PurchaseOrder",
            "id": gid(po),
            "status": "READY",
            "account": {"code": tenant.code},
        }
        assert found_sim == {"__typename": "Sim", "id": sim["id"], "iccid": sim["iccid"]}


async def test_node_of_another_tenant_is_null(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant, S.READY)
    sim = await _sim_of(api, gid(po))
    stranger = (await make_tenant(db)).purchaser

    for node_id in (tenant.gid, tenant.product_gid(), gid(po), sim["id"]):
        result = await api.run(stranger, NODE, {"id": node_id})
        assert result.ok() == {"node": None}


async def test_node_of_a_sim_before_ready_is_hidden_from_the_enterprise(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant, S.PROVISIONING, assign=True)
    sim = await _sim_of(api, gid(po))

    assert await _node(api, tenant.purchaser, sim["id"]) is None
    assert await _node(api, AGENT, sim["id"]) == {
        "__typename": "Sim",
        "id": sim["id"],
        "iccid": sim["iccid"],
    }


async def test_node_of_an_unknown_object_is_null(api: GraphQLClient) -> None:
    unknown = encode_id("PurchaseOrder", uuid.uuid4())

    assert await _node(api, AGENT, unknown) is None


async def test_node_with_a_malformed_id_is_bad_user_input(api: GraphQLClient) -> None:
    result = await api.run(AGENT, NODE, {"id": "definitely not an id"})

    assert result.status == 200
    assert result.code == "BAD_USER_INPUT"
    assert result.fields() == ["id"]


ME = "{ me { sub role warehouse account { id code } } }"


async def test_me_tells_who_the_token_speaks_for(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)

    purchaser = (await api.run(tenant.purchaser, ME)).ok()["me"]
    viewer = (await api.run(tenant.viewer, ME)).ok()["me"]
    agent = (await api.run(AGENT, ME)).ok()["me"]
    warehouse = (await api.run(WAREHOUSE, ME)).ok()["me"]

    assert purchaser == {
        "sub": tenant.purchaser.sub,
        "role": "ENTERPRISE_PURCHASER",
        "warehouse": None,
        "account": {"id": tenant.gid, "code": tenant.code},
    }
    assert viewer["role"] == "ENTERPRISE_VIEWER"
    assert viewer["account"] == {"id": tenant.gid, "code": tenant.code}
    assert agent == {"sub": AGENT.sub, "role": "SP_AGENT", "warehouse": None, "account": None}
    assert warehouse == {
        "sub": "wh-system",
        "role": "WAREHOUSE",
        "warehouse": "WH-HAM",
        "account": None,
    }


async def test_me_without_a_token_is_unauthenticated(api: GraphQLClient) -> None:
    result = await api.run(None, ME)

    assert result.status == 200
    assert result.code == "UNAUTHENTICATED"


PRODUCTS = """
query($first: Int, $after: String, $filter: ProductFilter) {
  products(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id code active unitPrice { amount currency } } }
  }
}
"""
ACCOUNTS = """
query($first: Int, $after: String, $filter: AccountFilter) {
  accounts(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id code status } }
  }
}
"""


async def test_enterprise_sees_exactly_its_assigned_products(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db, products=3, unit_price="2.40")
    await make_tenant(db, products=2)  # products of someone else

    first = (await api.run(tenant.viewer, PRODUCTS, {"first": 2})).ok()["products"]
    rest = (
        await api.run(
            tenant.viewer, PRODUCTS, {"first": 2, "after": first["pageInfo"]["endCursor"]}
        )
    ).ok()["products"]

    assert first["totalCount"] == 3
    assert rest["totalCount"] == 3
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert rest["pageInfo"]["hasNextPage"] is False
    listed = _ids(first) + _ids(rest)
    assert sorted(listed) == sorted(tenant.product_gid(i) for i in range(3))
    codes = [n["code"] for n in _nodes(first) + _nodes(rest)]
    assert codes == sorted(codes)
    assert {n["unitPrice"]["amount"] for n in _nodes(first)} == {"2.40"}


async def test_service_provider_lists_and_filters_all_products(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db, products=1)
    other = await make_tenant(db, products=1)

    every = await _all_products(api)
    one = (
        await api.run(AGENT, PRODUCTS, {"first": 10, "filter": {"code": _code(every, other)}})
    ).ok()["products"]

    assert {tenant.product_gid(), other.product_gid()} <= set(_ids(every))
    assert every["totalCount"] >= 2
    assert _ids(one) == [other.product_gid()]
    assert one["totalCount"] == 1


async def _all_products(api: GraphQLClient) -> dict[str, Any]:
    """Every product an agent can list, walked page by page (the database is shared)."""
    edges: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await api.run(AGENT, PRODUCTS, {"first": 100, "after": after})).ok()["products"]
        edges += page["edges"]
        if not page["pageInfo"]["hasNextPage"]:
            return {**page, "edges": edges}
        after = page["pageInfo"]["endCursor"]


def _code(connection: dict[str, Any], tenant: Tenant) -> str:
    for node in _nodes(connection):
        if node["id"] == tenant.product_gid():
            code: str = node["code"]
            return code
    raise AssertionError("product not listed")


async def test_service_provider_pages_through_all_products_without_repeats(
    api: GraphQLClient, db: Database
) -> None:
    await make_tenant(db, products=3)
    seen: list[str] = []
    after = None
    total = None
    while True:
        page = (await api.run(AGENT, PRODUCTS, {"first": 7, "after": after})).ok()["products"]
        total = page["totalCount"]
        seen += _ids(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert len(seen) == len(set(seen))
    assert len(seen) == total


async def test_enterprise_sees_only_its_own_account(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)
    other = await make_tenant(db)

    own = (await api.run(tenant.purchaser, ACCOUNTS, {"first": 100})).ok()["accounts"]
    filtered = (await api.run(tenant.purchaser, ACCOUNTS, {"filter": {"code": other.code}})).ok()[
        "accounts"
    ]

    assert own["totalCount"] == 1
    assert _nodes(own) == [{"id": tenant.gid, "code": tenant.code, "status": "ACTIVE"}]
    assert filtered["totalCount"] == 0
    assert filtered["edges"] == []


async def test_service_provider_lists_and_filters_accounts(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    suspended = await make_tenant(db, status="SUSPENDED")

    by_code = (await api.run(AGENT, ACCOUNTS, {"filter": {"code": tenant.code}})).ok()["accounts"]
    by_status = (
        await api.run(AGENT, ACCOUNTS, {"first": 100, "filter": {"status": "SUSPENDED"}})
    ).ok()["accounts"]
    pages: list[str] = []
    after = None
    while True:
        page = (await api.run(AGENT, ACCOUNTS, {"first": 5, "after": after})).ok()["accounts"]
        pages += _ids(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert _nodes(by_code) == [{"id": tenant.gid, "code": tenant.code, "status": "ACTIVE"}]
    assert by_code["totalCount"] == 1
    assert suspended.gid in _ids(by_status)
    assert {n["status"] for n in _nodes(by_status)} == {"SUSPENDED"}
    assert {tenant.gid, suspended.gid} <= set(pages)
    assert len(pages) == len(set(pages))


# --- SQL statements per page -----------------------------------------------------------------

FULL_PAGE = """
query($first: Int!, $account: ID!) {
  purchaseOrders(first: $first, filter: {accountId: $account}) {
    totalCount
    edges { node {
      id number status version
      account { code defaults { pricePlan } }
      lines {
        quantity assignedSimCount unitPrice { amount }
        product { code unitPrice { amount } }
        sims { iccid product { code } }
      }
      statusHistory { fromStatus toStatus actor }
      availableActions
      total { amount currency }
      effectiveEntitlements { pricePlan }
    } }
  }
}
"""

# Both kinds of PO a page may need extra reads for, alternating, so that any two neighbours
# exercise every loader: a PROVISIONING PO with SIMs (assignment state, SIMs, price snapshot)
# and a DRAFT (prices still read from the product).
MIX = [S.PROVISIONING, S.DRAFT]


@contextmanager
def _counting_statements(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, _params: Any, _ctx: Any, _many: bool
    ) -> None:
        statements.append(statement)

    engines: list[Engine] = [db.engine.sync_engine]
    if db.write_engine is not db.engine:
        engines.append(db.write_engine.sync_engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


async def test_a_page_of_pos_costs_the_same_sql_statements_whatever_its_size(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    for i in range(20):
        status = MIX[i % len(MIX)]
        await make_po(db, tenant, status, assign=status is S.PROVISIONING)
    counts = {}
    for size in (2, 20):
        with _counting_statements(db) as statements:
            result = await api.run(AGENT, FULL_PAGE, {"first": size, "account": tenant.gid})
        page = result.ok()["purchaseOrders"]
        assert page["totalCount"] == 20
        assert len(page["edges"]) == size
        assert {e["node"]["status"] for e in page["edges"]} == {"PROVISIONING", "DRAFT"}
        for edge in page["edges"]:
            node = edge["node"]
            assert node["lines"][0]["product"]["code"]
            assert node["statusHistory"][0]["fromStatus"] is None
            assert node["total"] == {"amount": "3.00", "currency": "EUR"}
            if node["status"] == "PROVISIONING":
                assert len(node["lines"][0]["sims"]) == 2
                assert "MARK_READY" in node["availableActions"]
            else:
                assert node["availableActions"] == ["UPDATE", "SUBMIT", "CANCEL"]
        counts[size] = len(statements)

    assert counts[2] == counts[20], counts
