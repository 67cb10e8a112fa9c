"""Bad input of every kind: the right error code, the field named, and nothing changed.

Every response is also checked for leaked internals (stack traces, Python file paths).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest

from simgql.api.ids import encode_id
from simgql.app import create_app
from simgql.db.engine import Database
from simgql.domain.model import PurchaseOrderStatus, Role
from simgql.settings import Settings
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
LONG = "x" * 10_000
TOMORROW = (dt.date.today() + dt.timedelta(days=1)).isoformat()
YESTERDAY = (dt.date.today() - dt.timedelta(days=2)).isoformat()

_LEAKS = re.compile(r"Traceback|File \"|\w+\.py\b|site-packages|/simgql/")

# ---------------------------------------------------------------------------------------------
# Operations
# ---------------------------------------------------------------------------------------------

PO_FIELDS = "id status version"
CREATE = (
    "mutation($input: CreatePurchaseOrderInput!) {"
    f" createPurchaseOrder(input: $input) {{ purchaseOrder {{ {PO_FIELDS} }} }} }}"
)
UPDATE = (
    "mutation($input: UpdatePurchaseOrderInput!) {"
    f" updatePurchaseOrder(input: $input) {{ purchaseOrder {{ {PO_FIELDS} }} }} }}"
)
SUBMIT = (
    "mutation($input: TransitionInput!) {"
    f" submitPurchaseOrder(input: $input) {{ purchaseOrder {{ {PO_FIELDS} }} }} }}"
)
REJECT = (
    "mutation($input: ReasonInput!) {"
    f" rejectPurchaseOrder(input: $input) {{ purchaseOrder {{ {PO_FIELDS} }} }} }}"
)
CANCEL = (
    "mutation($input: OptionalReasonInput!) {"
    f" cancelPurchaseOrder(input: $input) {{ purchaseOrder {{ {PO_FIELDS} }} }} }}"
)
ASSIGN = (
    "mutation($input: AssignPurchaseOrderSimsInput!) {"
    f" assignPurchaseOrderSims(input: $input) {{ purchaseOrder {{ {PO_FIELDS} }} }} }}"
)
SHIP = (
    "mutation($input: ShipPurchaseOrderInput!) {"
    f" shipPurchaseOrder(input: $input) {{ purchaseOrder {{ {PO_FIELDS} }} }} }}"
)
UPDATE_PRODUCT = """
mutation($input: UpdateProductInput!) { updateProduct(input: $input) { product { id active } } }
"""
UNASSIGN_PRODUCT = """
mutation($input: UnassignProductInput!) { unassignProduct(input: $input) { account { id } } }
"""
SET_CONFIG = """
mutation($allow: Boolean!) {
  setConfiguration(input: {allowAccountDefaultOverride: $allow}) {
    configuration { allowAccountDefaultOverride }
  }
}
"""
READ_CONFIG = "{ configuration { allowAccountDefaultOverride } }"
ME = "{ me { sub role account { code } } }"

STATE = """
query($account: ID!) {
  purchaseOrders(first: 100, filter: {accountId: $account}) {
    totalCount
    edges { node {
      id status version number rejectionReason requestedShipDate
      lines { quantity assignedSimCount product { id } }
      shippingAddress { recipient street city country }
      overrides { simBillingStatus pricePlan serviceProfile roamingProfile apnGroup }
      statusHistory { fromStatus toStatus }
    } }
  }
}
"""
LINES = """
query($id: ID!) {
  purchaseOrder(id: $id) {
    version lines { id quantity assignedSimCount sims { iccid imsi msisdn } }
  }
}
"""


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _assert_no_leak(text: str) -> None:
    match = _LEAKS.search(text)
    assert match is None, f"response leaks internals ({match.group(0)!r}): {text[:2000]}"


async def _run(
    api: GraphQLClient,
    actor: Actor | None,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
) -> Result:
    result = await api.run(actor, query, variables, token=token)
    assert result.status < 500, result.body
    _assert_no_leak(json.dumps(result.body))
    return result


def _assert_bad_input(result: Result, *fields: str) -> None:
    """One BAD_USER_INPUT error whose `extensions.fields` names every one of `fields`."""
    assert result.code == "BAD_USER_INPUT", result.body
    named = result.fields()
    for field in fields:
        assert field in named, (field, result.body)
    for entry in result.errors[0]["extensions"]["fields"]:
        assert entry["message"], result.body
    assert not (result.data or {}).get(_root(result)), result.body


def _root(result: Result) -> str:
    path = result.errors[0].get("path") if result.errors else None
    return str(path[0]) if path else ""


def _assert_bad_input_naming(result: Result, fragment: str) -> None:
    """BAD_USER_INPUT from the GraphQL layer (document or variables): the offender is named."""
    assert result.errors, result.body
    assert set(result.codes) == {"BAD_USER_INPUT"}, result.body
    assert result.data is None, result.body
    mentioned = [
        f"{f['field']} {f['message']}"
        for e in result.errors
        for f in e.get("extensions", {}).get("fields", [])
    ]
    assert mentioned, result.body
    assert any(fragment in m for m in mentioned), (fragment, result.body)


async def _state(api: GraphQLClient, tenant: Tenant) -> dict[str, Any]:
    """Everything about the tenant's POs, read as a service-provider agent."""
    return (await _run(api, AGENT, STATE, {"account": tenant.gid})).ok()["purchaseOrders"]


async def _lines(api: GraphQLClient, po_gid: str) -> dict[str, Any]:
    return (await _run(api, AGENT, LINES, {"id": po_gid})).ok()["purchaseOrder"]


def _line(tenant: Tenant, quantity: int = 2, product: int = 0) -> dict[str, Any]:
    return {"productId": tenant.product_gid(product), "quantity": quantity}


def _order(tenant: Tenant, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "lines": [_line(tenant)],
        "shippingAddress": dict(ADDRESS_INPUT),
        "requestedShipDate": TOMORROW,
    }
    base.update(changes)
    return base


def _address(**changes: Any) -> dict[str, Any]:
    return {**ADDRESS_INPUT, **changes}


def _random_gid(type_name: str) -> str:
    return encode_id(type_name, uuid.uuid4())


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _sim(
    iccid: str | None = None, imsi: str | None = None, msisdn: str | None = None
) -> dict[str, Any]:
    fresh = sims(1)[0]
    return {
        "iccid": fresh.iccid if iccid is None else iccid,
        "imsi": fresh.imsi if imsi is None else imsi,
        "msisdn": fresh.msisdn if msisdn is None else msisdn,
    }


def _bad_luhn() -> str:
    valid = sims(1)[0].iccid
    return valid[:-1] + str((int(valid[-1]) + 1) % 10)


@pytest.fixture
async def http(db: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sees what a real HTTP client sees: an app crash becomes a 500 response."""
    app = create_app(settings, db=db)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://simgql.test") as client:
        yield client


# ---------------------------------------------------------------------------------------------
# createPurchaseOrder: every field of the order
# ---------------------------------------------------------------------------------------------

Build = Callable[[Tenant, Tenant], dict[str, Any]]

CREATE_CASES: list[Any] = [
    pytest.param(lambda t, o: _order(t, lines=[]), ["lines"], id="empty-lines"),
    pytest.param(lambda t, o: _order(t, lines=[_line(t, 0)]), ["lines.0.quantity"], id="zero"),
    pytest.param(lambda t, o: _order(t, lines=[_line(t, -5)]), ["lines.0.quantity"], id="negative"),
    pytest.param(
        lambda t, o: _order(t, lines=[_line(t, 100_001)]), ["lines.0.quantity"], id="over-100000"
    ),
    pytest.param(
        lambda t, o: _order(t, lines=[_line(t, 3), _line(t, 0, product=1)]),
        ["lines.1.quantity"],
        id="zero-on-second-line",
    ),
    pytest.param(
        lambda t, o: _order(t, lines=[{"productId": _random_gid("Product"), "quantity": 1}]),
        ["lines.0.productId"],
        id="unknown-product",
    ),
    pytest.param(
        lambda t, o: _order(t, lines=[{"productId": t.gid, "quantity": 1}]),
        ["lines.0.productId"],
        id="product-id-of-an-account",
    ),
    pytest.param(
        lambda t, o: _order(t, lines=[{"productId": "not-an-id!!", "quantity": 1}]),
        ["lines.0.productId"],
        id="malformed-product-id",
    ),
    pytest.param(
        lambda t, o: _order(t, lines=[{"productId": "", "quantity": 1}]),
        ["lines.0.productId"],
        id="empty-product-id",
    ),
    pytest.param(
        lambda t, o: _order(t, lines=[{"productId": _b64("Product:42"), "quantity": 1}]),
        ["lines.0.productId"],
        id="product-id-without-uuid",
    ),
    pytest.param(
        lambda t, o: _order(t, lines=[{"productId": o.product_gid(), "quantity": 1}]),
        ["lines.0.productId"],
        id="product-not-assigned-to-account",
    ),
    pytest.param(
        lambda t, o: _order(t, lines=[_line(t, 1), _line(t, 2)]),
        ["lines.1.productId"],
        id="same-product-twice",
    ),
    pytest.param(
        lambda t, o: _order(t, lines=[_line(t, 1)] * 101),
        ["lines"],
        id="101-lines",
    ),
    pytest.param(
        lambda t, o: _order(t, shippingAddress=_address(country="XX")),
        ["shippingAddress.country"],
        id="unknown-country",
    ),
    pytest.param(
        lambda t, o: _order(t, shippingAddress=_address(country="Germany")),
        ["shippingAddress.country"],
        id="country-name-not-code",
    ),
    pytest.param(
        lambda t, o: _order(t, shippingAddress=_address(country="DEU")),
        ["shippingAddress.country"],
        id="alpha-3-country",
    ),
    pytest.param(
        lambda t, o: _order(t, requestedShipDate=YESTERDAY),
        ["requestedShipDate"],
        id="ship-date-in-past",
    ),
    pytest.param(
        lambda t, o: _order(t, shippingAddress=_address(recipient=LONG)),
        ["shippingAddress.recipient"],
        id="10000-char-recipient",
    ),
    pytest.param(
        lambda t, o: _order(t, shippingAddress=_address(recipient="   ")),
        ["shippingAddress.recipient"],
        id="blank-recipient",
    ),
    pytest.param(
        lambda t, o: _order(t, shippingAddress=_address(recipient="Jane\x00Doe")),
        ["shippingAddress.recipient"],
        id="nul-in-recipient",
    ),
    pytest.param(
        lambda t, o: _order(t, shippingAddress=_address(city="")),
        ["shippingAddress.city"],
        id="empty-city",
    ),
    pytest.param(
        lambda t, o: _order(t, shippingAddress=_address(company=LONG)),
        ["shippingAddress.company"],
        id="10000-char-company",
    ),
    pytest.param(
        lambda t, o: _order(t, shippingAddress=_address(street=[])),
        ["shippingAddress.street"],
        id="no-street-line",
    ),
    pytest.param(
        lambda t, o: _order(t, shippingAddress=_address(street=["a", "b", "c", "d"])),
        ["shippingAddress.street"],
        id="four-street-lines",
    ),
    pytest.param(
        lambda t, o: _order(t, shippingAddress=_address(street=[LONG])),
        ["shippingAddress.street.0"],
        id="10000-char-street",
    ),
    pytest.param(
        lambda t, o: _order(t, shippingAddress=_address(phone="call me maybe")),
        ["shippingAddress.phone"],
        id="bad-phone",
    ),
    pytest.param(
        lambda t, o: _order(t, overrides={"pricePlan": "PP-XXL"}),
        ["overrides.pricePlan"],
        id="price-plan-not-in-catalogue",
    ),
    pytest.param(
        lambda t, o: _order(t, overrides={"roamingProfile": "RP-MARS", "apnGroup": "APN-9"}),
        ["overrides.roamingProfile", "overrides.apnGroup"],
        id="profiles-not-in-catalogue",
    ),
    pytest.param(
        lambda t, o: _order(t, overrides={"serviceProfile": LONG}),
        ["overrides.serviceProfile"],
        id="10000-char-override",
    ),
    pytest.param(
        lambda t, o: _order(t, idempotencyKey=LONG),
        ["idempotencyKey"],
        id="10000-char-idempotency-key",
    ),
    pytest.param(
        lambda t, o: _order(t, accountId="garbage"),
        ["accountId"],
        id="malformed-account-id",
    ),
    pytest.param(
        lambda t, o: _order(t, accountId=t.product_gid()),
        ["accountId"],
        id="account-id-of-a-product",
    ),
    pytest.param(
        lambda t, o: _order(
            t,
            lines=[_line(t, 0)],
            shippingAddress=_address(country="XX"),
            requestedShipDate=YESTERDAY,
        ),
        ["lines.0.quantity"],
        id="several-problems",
    ),
]


@pytest.mark.parametrize(("build", "fields"), CREATE_CASES)
async def test_create_with_bad_input_is_refused_and_creates_nothing(
    api: GraphQLClient, db: Database, build: Build, fields: list[str]
) -> None:
    tenant = await make_tenant(db)
    other = await make_tenant(db)
    before = await _state(api, tenant)

    result = await _run(api, tenant.purchaser, CREATE, {"input": build(tenant, other)})

    _assert_bad_input(result, *fields)
    assert await _state(api, tenant) == before
    assert before["totalCount"] == 0


async def test_create_reports_every_problem_at_once(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)
    order = _order(
        tenant,
        lines=[_line(tenant, 5), _line(tenant, 1, product=1), _line(tenant, 1)],
        shippingAddress=_address(country="XX", recipient=LONG),
        requestedShipDate=YESTERDAY,
        overrides={"pricePlan": "PP-XXL"},
    )

    result = await _run(api, tenant.purchaser, CREATE, {"input": order})

    _assert_bad_input(
        result,
        "lines.2.productId",
        "shippingAddress.country",
        "shippingAddress.recipient",
        "requestedShipDate",
        "overrides.pricePlan",
    )
    assert (await _state(api, tenant))["totalCount"] == 0


async def test_agent_must_name_the_account_when_creating(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)

    result = await _run(api, AGENT, CREATE, {"input": _order(tenant)})

    _assert_bad_input(result, "accountId")
    assert (await _state(api, tenant))["totalCount"] == 0


async def test_suspended_account_cannot_create(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db, status="SUSPENDED")

    result = await _run(api, tenant.purchaser, CREATE, {"input": _order(tenant)})

    _assert_bad_input(result, "accountId")
    assert (await _state(api, tenant))["totalCount"] == 0


async def test_quantity_outside_assignment_bounds_is_refused(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db, min_quantity=10, max_quantity=20)

    too_few = await _run(api, tenant.purchaser, CREATE, {"input": _order(tenant)})
    too_many = await _run(
        api, tenant.purchaser, CREATE, {"input": _order(tenant, lines=[_line(tenant, 21)])}
    )

    _assert_bad_input(too_few, "lines.0.quantity")
    _assert_bad_input(too_many, "lines.0.quantity")
    assert (await _state(api, tenant))["totalCount"] == 0


async def test_inactive_product_cannot_be_ordered(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)
    (
        await _run(
            api, ADMIN, UPDATE_PRODUCT, {"input": {"id": tenant.product_gid(), "active": False}}
        )
    ).ok()

    result = await _run(api, tenant.purchaser, CREATE, {"input": _order(tenant)})

    _assert_bad_input(result, "lines.0.productId")
    assert (await _state(api, tenant))["totalCount"] == 0


# ---------------------------------------------------------------------------------------------
# GraphQL-level input errors: wrong variable types, unknown enum values, missing fields
# ---------------------------------------------------------------------------------------------

COERCION_CASES: list[Any] = [
    pytest.param(
        lambda t: _order(t, lines=[{"productId": t.product_gid(), "quantity": "three"}]),
        "quantity",
        id="string-for-int",
    ),
    pytest.param(
        lambda t: _order(t, lines=[{"productId": t.product_gid(), "quantity": 2.5}]),
        "quantity",
        id="float-for-int",
    ),
    pytest.param(
        lambda t: _order(t, lines=[{"productId": t.product_gid(), "quantity": 2**31}]),
        "quantity",
        id="int-beyond-32-bits",
    ),
    pytest.param(
        lambda t: _order(t, lines=[{"productId": t.product_gid(), "quantity": None}]),
        "quantity",
        id="null-for-required-int",
    ),
    pytest.param(
        lambda t: _order(t, overrides={"simBillingStatus": "BOGUS"}),
        "simBillingStatus",
        id="unknown-enum-value",
    ),
    pytest.param(
        lambda t: _order(t, overrides={"simBillingStatus": "test_ready"}),
        "simBillingStatus",
        id="enum-value-in-wrong-case",
    ),
    pytest.param(
        lambda t: _order(t, requestedShipDate="next tuesday"),
        "requestedShipDate",
        id="not-a-date",
    ),
    pytest.param(
        lambda t: _order(t, shippingAddress=_address(recipient=True)),
        "recipient",
        id="boolean-for-string",
    ),
    pytest.param(
        lambda t: {k: v for k, v in _order(t).items() if k != "lines"},
        "lines",
        id="missing-lines",
    ),
    pytest.param(
        lambda t: _order(t, lines=[{"quantity": 1}]),
        "productId",
        id="missing-product-id",
    ),
    pytest.param(
        lambda t: _order(
            t, shippingAddress={k: v for k, v in ADDRESS_INPUT.items() if k != "city"}
        ),
        "city",
        id="missing-city",
    ),
    pytest.param(
        lambda t: _order(t, shippingAddress={**ADDRESS_INPUT, "planet": "Mars"}),
        "planet",
        id="unknown-input-field",
    ),
]


@pytest.mark.parametrize(("build", "fragment"), COERCION_CASES)
async def test_wrongly_typed_variables_are_bad_user_input(
    api: GraphQLClient, db: Database, build: Callable[[Tenant], dict[str, Any]], fragment: str
) -> None:
    tenant = await make_tenant(db)

    result = await _run(api, tenant.purchaser, CREATE, {"input": build(tenant)})

    _assert_bad_input_naming(result, fragment)
    assert (await _state(api, tenant))["totalCount"] == 0


async def test_missing_input_argument_is_bad_user_input(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)

    null_input = await _run(api, tenant.purchaser, CREATE, {"input": None})
    no_variables = await _run(api, tenant.purchaser, CREATE)

    _assert_bad_input_naming(null_input, "input")
    _assert_bad_input_naming(no_variables, "input")
    assert (await _state(api, tenant))["totalCount"] == 0


async def test_unknown_enum_in_query_arguments_is_bad_user_input(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    query = """
    query($status: [PurchaseOrderStatus!], $order: PurchaseOrderOrderBy!) {
      purchaseOrders(filter: {status: $status}, orderBy: $order) { totalCount }
    }
    """

    bad_status = await _run(
        api, tenant.viewer, query, {"status": ["LOST"], "order": "CREATED_AT_DESC"}
    )
    bad_order = await _run(api, tenant.viewer, query, {"status": None, "order": "SIDEWAYS"})
    inline = await _run(api, tenant.viewer, "{ purchaseOrders(orderBy: SIDEWAYS) { totalCount } }")

    _assert_bad_input_naming(bad_status, "LOST")
    _assert_bad_input_naming(bad_order, "SIDEWAYS")
    _assert_bad_input_naming(inline, "SIDEWAYS")


async def test_syntax_errors_and_unknown_fields_are_bad_user_input(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)

    syntax = await _run(api, tenant.viewer, "{ purchaseOrders(first: 1) { totalCount ")
    unknown = await _run(api, tenant.viewer, "{ purchaseOrders { secretField } }")

    _assert_bad_input_naming(syntax, "Syntax Error")
    _assert_bad_input_naming(unknown, "secretField")


# ---------------------------------------------------------------------------------------------
# updatePurchaseOrder and submitPurchaseOrder
# ---------------------------------------------------------------------------------------------

UPDATE_CASES: list[Any] = [
    pytest.param(lambda t: {"lines": []}, ["lines"], id="empty-lines"),
    pytest.param(lambda t: {"lines": [_line(t, 0)]}, ["lines.0.quantity"], id="zero"),
    pytest.param(lambda t: {"lines": [_line(t, -1)]}, ["lines.0.quantity"], id="negative"),
    pytest.param(lambda t: {"lines": [_line(t, 100_001)]}, ["lines.0.quantity"], id="over-100000"),
    pytest.param(
        lambda t: {"lines": [{"productId": _random_gid("Product"), "quantity": 1}]},
        ["lines.0.productId"],
        id="unknown-product",
    ),
    pytest.param(
        lambda t: {"shippingAddress": _address(country="ZZ")},
        ["shippingAddress.country"],
        id="unknown-country",
    ),
    pytest.param(
        lambda t: {"shippingAddress": _address(recipient=LONG)},
        ["shippingAddress.recipient"],
        id="10000-char-recipient",
    ),
    pytest.param(lambda t: {"requestedShipDate": YESTERDAY}, ["requestedShipDate"], id="past-date"),
    pytest.param(
        lambda t: {"overrides": {"apnGroup": "APN-NOPE"}},
        ["overrides.apnGroup"],
        id="override-not-in-catalogue",
    ),
]


@pytest.mark.parametrize(("build", "fields"), UPDATE_CASES)
async def test_update_with_bad_input_leaves_the_draft_as_it_was(
    api: GraphQLClient,
    db: Database,
    build: Callable[[Tenant], dict[str, Any]],
    fields: list[str],
) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant)
    before = await _state(api, tenant)

    result = await _run(api, tenant.purchaser, UPDATE, {"input": {"id": gid(po), **build(tenant)}})

    _assert_bad_input(result, *fields)
    assert await _state(api, tenant) == before


@pytest.mark.parametrize(
    "bad_id",
    [
        pytest.param("garbage", id="garbage"),
        pytest.param("", id="empty"),
        pytest.param(_b64("PurchaseOrder:not-a-uuid"), id="no-uuid"),
        pytest.param(_b64("Nonsense"), id="no-type"),
        pytest.param("%%%%", id="not-base64"),
    ],
)
async def test_malformed_purchase_order_ids_are_bad_user_input(
    api: GraphQLClient, db: Database, bad_id: str
) -> None:
    tenant = await make_tenant(db)
    await make_po(db, tenant)
    before = await _state(api, tenant)

    submit = await _run(api, tenant.purchaser, SUBMIT, {"input": {"id": bad_id}})
    update = await _run(
        api, tenant.purchaser, UPDATE, {"input": {"id": bad_id, "lines": [_line(tenant, 1)]}}
    )
    read = await _run(
        api, tenant.purchaser, "query($id: ID!) { purchaseOrder(id: $id) { id } }", {"id": bad_id}
    )
    node = await _run(
        api, tenant.purchaser, "query($id: ID!) { node(id: $id) { id } }", {"id": bad_id}
    )

    _assert_bad_input(submit, "id")
    _assert_bad_input(update, "id")
    _assert_bad_input(read, "id")
    _assert_bad_input(node, "id")
    assert await _state(api, tenant) == before


async def test_transition_with_an_id_of_another_type_is_bad_user_input(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    await make_po(db, tenant)
    before = await _state(api, tenant)

    result = await _run(api, tenant.purchaser, SUBMIT, {"input": {"id": tenant.product_gid()}})

    _assert_bad_input(result, "id")
    assert await _state(api, tenant) == before


async def test_submit_without_shipping_address_stays_draft(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    order = {"lines": [_line(tenant)], "requestedShipDate": TOMORROW}
    created = (await _run(api, tenant.purchaser, CREATE, {"input": order})).ok()
    po = created["createPurchaseOrder"]["purchaseOrder"]
    before = await _state(api, tenant)

    result = await _run(api, tenant.purchaser, SUBMIT, {"input": {"id": po["id"]}})

    _assert_bad_input(result, "shippingAddress")
    after = await _state(api, tenant)
    assert after == before
    assert after["edges"][0]["node"]["status"] == "DRAFT"
    assert after["edges"][0]["node"]["version"] == 1


async def test_submit_of_a_product_made_inactive_is_refused(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant)
    (
        await _run(
            api, ADMIN, UPDATE_PRODUCT, {"input": {"id": tenant.product_gid(), "active": False}}
        )
    ).ok()
    before = await _state(api, tenant)

    result = await _run(api, tenant.purchaser, SUBMIT, {"input": {"id": gid(po)}})

    _assert_bad_input(result, "lines.0.productId")
    assert await _state(api, tenant) == before


async def test_submit_of_a_product_no_longer_assigned_is_refused(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant)
    unassign = {"accountId": tenant.gid, "productId": tenant.product_gid()}
    (await _run(api, ADMIN, UNASSIGN_PRODUCT, {"input": unassign})).ok()
    before = await _state(api, tenant)

    result = await _run(api, tenant.purchaser, SUBMIT, {"input": {"id": gid(po)}})

    _assert_bad_input(result, "lines.0.productId")
    assert await _state(api, tenant) == before


async def test_too_long_note_on_submit_is_refused(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant)
    before = await _state(api, tenant)

    result = await _run(api, tenant.purchaser, SUBMIT, {"input": {"id": gid(po), "note": LONG}})

    _assert_bad_input(result, "note")
    assert await _state(api, tenant) == before


# ---------------------------------------------------------------------------------------------
# Overrides switched off by configuration
# ---------------------------------------------------------------------------------------------


async def test_overrides_are_refused_while_switched_off(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)
    with_override = await make_po(db, tenant)
    override = {"pricePlan": "PP-M"}
    (
        await _run(
            api,
            tenant.purchaser,
            UPDATE,
            {"input": {"id": gid(with_override), "overrides": override}},
        )
    ).ok()
    plain = await make_po(db, tenant)
    original = (await _run(api, ADMIN, READ_CONFIG)).ok()["configuration"]
    try:
        switched = (await _run(api, ADMIN, SET_CONFIG, {"allow": False})).ok()
        assert switched["setConfiguration"]["configuration"] == {
            "allowAccountDefaultOverride": False
        }
        before = await _state(api, tenant)

        create = await _run(
            api, tenant.purchaser, CREATE, {"input": _order(tenant, overrides=override)}
        )
        update = await _run(
            api, tenant.purchaser, UPDATE, {"input": {"id": gid(plain), "overrides": override}}
        )
        submit = await _run(api, tenant.purchaser, SUBMIT, {"input": {"id": gid(with_override)}})
        as_agent = await _run(
            api,
            AGENT,
            CREATE,
            {
                "input": _order(
                    tenant, accountId=tenant.gid, overrides={"simBillingStatus": "ACTIVATED"}
                )
            },
        )

        for result in (create, update, submit, as_agent):
            _assert_bad_input(result, "overrides")
        assert await _state(api, tenant) == before
    finally:
        restored = await _run(
            api, ADMIN, SET_CONFIG, {"allow": original["allowAccountDefaultOverride"]}
        )
        assert restored.ok()["setConfiguration"]["configuration"] == original


# ---------------------------------------------------------------------------------------------
# Rejection reasons, cancellation reasons, shipping details
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reason",
    [pytest.param("", id="empty"), pytest.param("   ", id="blank"), pytest.param(LONG, id="10000")],
)
async def test_reject_needs_a_sensible_reason(
    api: GraphQLClient, db: Database, reason: str
) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant, S.SUBMITTED)
    before = await _state(api, tenant)

    result = await _run(api, AGENT, REJECT, {"input": {"id": gid(po), "reason": reason}})

    _assert_bad_input(result, "reason")
    assert await _state(api, tenant) == before
    assert before["edges"][0]["node"]["status"] == "SUBMITTED"


async def test_reject_without_reason_is_bad_user_input(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant, S.SUBMITTED)
    before = await _state(api, tenant)

    via_variables = await _run(api, AGENT, REJECT, {"input": {"id": gid(po)}})
    null_reason = await _run(api, AGENT, REJECT, {"input": {"id": gid(po), "reason": None}})
    inline = await _run(
        api,
        AGENT,
        'mutation { rejectPurchaseOrder(input: {id: "' + gid(po) + '"}) { purchaseOrder { id } } }',
    )

    _assert_bad_input_naming(via_variables, "reason")
    _assert_bad_input_naming(null_reason, "reason")
    _assert_bad_input_naming(inline, "reason")
    assert await _state(api, tenant) == before


async def test_too_long_cancellation_reason_is_refused(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant, S.SUBMITTED)
    before = await _state(api, tenant)

    result = await _run(api, tenant.purchaser, CANCEL, {"input": {"id": gid(po), "reason": LONG}})

    _assert_bad_input(result, "reason")
    assert await _state(api, tenant) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"carrier": ""}, "carrier", id="empty-carrier"),
        pytest.param({"trackingNumber": LONG}, "trackingNumber", id="10000-char-tracking"),
        pytest.param({"shippedAt": "2999-01-01T00:00:00+00:00"}, "shippedAt", id="future"),
        pytest.param({"shippedAt": "2024-01-01T00:00:00"}, "shippedAt", id="no-time-zone"),
    ],
)
async def test_ship_with_bad_details_is_refused(
    api: GraphQLClient, db: Database, changes: dict[str, Any], field: str
) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant, S.READY)
    before = await _state(api, tenant)
    shipment = {"id": gid(po), "carrier": "DHL", "trackingNumber": "JD0001", **changes}

    result = await _run(api, AGENT, SHIP, {"input": shipment})

    _assert_bad_input(result, field)
    assert await _state(api, tenant) == before


# ---------------------------------------------------------------------------------------------
# SIM assignment
# ---------------------------------------------------------------------------------------------

SimCase = Callable[[str], list[dict[str, Any]]]


SIM_CASES: list[Any] = [
    pytest.param(
        lambda line: [{"lineId": line, "sims": [_sim(iccid=_bad_luhn())]}],
        ["assignments.0.sims.0.iccid"],
        id="iccid-bad-luhn",
    ),
    pytest.param(
        lambda line: [{"lineId": line, "sims": [_sim(iccid="894900000000000000")]}],
        ["assignments.0.sims.0.iccid"],
        id="iccid-18-digits",
    ),
    pytest.param(
        lambda line: [{"lineId": line, "sims": [_sim(iccid="8949000000000000000000")]}],
        ["assignments.0.sims.0.iccid"],
        id="iccid-22-digits",
    ),
    pytest.param(
        lambda line: [{"lineId": line, "sims": [_sim(iccid="89490000000000000ABC")]}],
        ["assignments.0.sims.0.iccid"],
        id="iccid-letters",
    ),
    pytest.param(
        lambda line: [{"lineId": line, "sims": [_sim(iccid="")]}],
        ["assignments.0.sims.0.iccid"],
        id="iccid-empty",
    ),
    pytest.param(
        lambda line: [{"lineId": line, "sims": [_sim(imsi="26201123456789")]}],
        ["assignments.0.sims.0.imsi"],
        id="imsi-14-digits",
    ),
    pytest.param(
        lambda line: [{"lineId": line, "sims": [_sim(imsi="2620112345678901")]}],
        ["assignments.0.sims.0.imsi"],
        id="imsi-16-digits",
    ),
    pytest.param(
        lambda line: [{"lineId": line, "sims": [_sim(imsi="26201ABCDEFGHIJ")]}],
        ["assignments.0.sims.0.imsi"],
        id="imsi-letters",
    ),
    pytest.param(
        lambda line: [{"lineId": line, "sims": [_sim(msisdn="+491701234567")]}],
        ["assignments.0.sims.0.msisdn"],
        id="msisdn-with-plus",
    ),
    pytest.param(
        lambda line: [{"lineId": line, "sims": [_sim(msisdn="01701234567")]}],
        ["assignments.0.sims.0.msisdn"],
        id="msisdn-leading-zero",
    ),
    pytest.param(
        lambda line: [{"lineId": line, "sims": [_sim(msisdn="4917012345678901")]}],
        ["assignments.0.sims.0.msisdn"],
        id="msisdn-16-digits",
    ),
    pytest.param(
        lambda line: [{"lineId": line, "sims": [_sim(msisdn="4917 0123")]}],
        ["assignments.0.sims.0.msisdn"],
        id="msisdn-with-space",
    ),
    pytest.param(
        lambda line: [{"lineId": line, "sims": []}],
        ["assignments"],
        id="no-sims",
    ),
    pytest.param(
        lambda line: [{"lineId": line, "sims": [_sim(), _sim(), _sim()]}],
        ["assignments.0.sims"],
        id="more-than-ordered",
    ),
    pytest.param(
        lambda line: [
            {"lineId": line, "sims": [_sim()]},
            {"lineId": line, "sims": [_sim(), _sim()]},
        ],
        ["assignments.1.sims"],
        id="more-than-ordered-over-two-assignments",
    ),
    pytest.param(
        lambda line: [{"lineId": _random_gid("PurchaseOrderLine"), "sims": [_sim()]}],
        ["assignments.0.lineId"],
        id="unknown-line",
    ),
    pytest.param(
        lambda line: [{"lineId": "garbage", "sims": [_sim()]}],
        ["assignments.0.lineId"],
        id="malformed-line-id",
    ),
]


async def _provisioning(api: GraphQLClient, db: Database) -> tuple[Tenant, str, str]:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant, S.PROVISIONING, quantity=2)
    line = (await _lines(api, gid(po)))["lines"][0]["id"]
    return tenant, gid(po), line


@pytest.mark.parametrize(("build", "fields"), SIM_CASES)
async def test_assigning_bad_sims_is_refused_and_assigns_nothing(
    api: GraphQLClient, db: Database, build: SimCase, fields: list[str]
) -> None:
    tenant, po, line = await _provisioning(api, db)
    before = await _state(api, tenant)

    result = await _run(api, AGENT, ASSIGN, {"input": {"id": po, "assignments": build(line)}})

    _assert_bad_input(result, *fields)
    assert await _state(api, tenant) == before
    assert before["edges"][0]["node"]["lines"][0]["assignedSimCount"] == 0


async def test_duplicate_iccid_within_one_request_is_refused(
    api: GraphQLClient, db: Database
) -> None:
    tenant, po, line = await _provisioning(api, db)
    first = _sim()
    twin = _sim(iccid=first["iccid"])
    before = await _state(api, tenant)

    result = await _run(
        api,
        AGENT,
        ASSIGN,
        {"input": {"id": po, "assignments": [{"lineId": line, "sims": [first, twin]}]}},
    )

    _assert_bad_input(result, "assignments.0.sims.1.iccid")
    assert await _state(api, tenant) == before
    # Nothing was half-applied: the first, valid SIM is still free to assign.
    retry = await _run(
        api,
        AGENT,
        ASSIGN,
        {"input": {"id": po, "assignments": [{"lineId": line, "sims": [first]}]}},
    )
    assert retry.ok()["assignPurchaseOrderSims"]["purchaseOrder"]["version"] == (
        before["edges"][0]["node"]["version"] + 1
    )


@pytest.mark.parametrize("kind", ["imsi", "msisdn"])
async def test_duplicate_imsi_or_msisdn_within_one_request_is_refused(
    api: GraphQLClient, db: Database, kind: str
) -> None:
    tenant, po, line = await _provisioning(api, db)
    first = _sim()
    twin = _sim(**{kind: first[kind]})
    before = await _state(api, tenant)

    result = await _run(
        api,
        AGENT,
        ASSIGN,
        {"input": {"id": po, "assignments": [{"lineId": line, "sims": [first, twin]}]}},
    )

    _assert_bad_input(result, f"assignments.0.sims.1.{kind}")
    assert await _state(api, tenant) == before


@pytest.mark.parametrize("kind", ["iccid", "imsi", "msisdn"])
async def test_identifier_used_by_another_po_is_refused(
    api: GraphQLClient, db: Database, kind: str
) -> None:
    other_tenant = await make_tenant(db)
    other = await make_po(db, other_tenant, S.PROVISIONING, quantity=1, assign=True)
    taken = (await _lines(api, gid(other)))["lines"][0]["sims"][0]
    tenant, po, line = await _provisioning(api, db)
    fresh = _sim()
    reused = _sim(**{kind: taken[kind]})
    before = await _state(api, tenant)
    other_before = await _state(api, other_tenant)

    result = await _run(
        api,
        AGENT,
        ASSIGN,
        {"input": {"id": po, "assignments": [{"lineId": line, "sims": [fresh, reused]}]}},
    )

    _assert_bad_input(result, f"assignments.0.sims.1.{kind}")
    assert await _state(api, tenant) == before
    assert await _state(api, other_tenant) == other_before


async def test_line_of_another_po_cannot_receive_sims(api: GraphQLClient, db: Database) -> None:
    tenant, po, _line_id = await _provisioning(api, db)
    _other_tenant, _other_po, other_line = await _provisioning(api, db)
    before = await _state(api, tenant)

    result = await _run(
        api,
        AGENT,
        ASSIGN,
        {"input": {"id": po, "assignments": [{"lineId": other_line, "sims": [_sim()]}]}},
    )

    _assert_bad_input(result, "assignments.0.lineId")
    assert await _state(api, tenant) == before


# ---------------------------------------------------------------------------------------------
# Pagination arguments
# ---------------------------------------------------------------------------------------------

LISTS = ["purchaseOrders", "products", "accounts"]


@pytest.mark.parametrize("field", LISTS)
@pytest.mark.parametrize("first", [101, -1, 1_000_000])
async def test_page_size_outside_0_to_100_is_refused(
    api: GraphQLClient, db: Database, field: str, first: int
) -> None:
    tenant = await make_tenant(db)

    for actor in (tenant.viewer, AGENT):
        result = await _run(
            api, actor, f"query($n: Int) {{ {field}(first: $n) {{ totalCount }} }}", {"n": first}
        )
        _assert_bad_input(result, "first")


@pytest.mark.parametrize("field", LISTS)
async def test_page_size_of_100_is_accepted(api: GraphQLClient, db: Database, field: str) -> None:
    tenant = await make_tenant(db)
    await make_po(db, tenant)

    result = await _run(api, tenant.viewer, f"{{ {field}(first: 100) {{ totalCount }} }}")

    assert result.ok()[field]["totalCount"] >= 1


BAD_CURSORS = [
    pytest.param("garbage", id="garbage"),
    pytest.param("!!!!", id="not-base64"),
    pytest.param(_b64("not json"), id="not-json"),
    pytest.param(_b64('{"a": 1}'), id="json-object"),
    pytest.param(_b64("[1, 2, 3, 4]"), id="wrong-length"),
    pytest.param(_b64('["2024-01-01T00:00:00", "x"]'), id="naive-time-and-bad-uuid"),
    pytest.param(_b64("[null, null]"), id="nulls"),
    pytest.param(_b64("[" * 5000 + "]" * 5000), id="deeply-nested"),
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
@pytest.mark.parametrize("field", LISTS)
async def test_invalid_after_cursor_is_refused(
    api: GraphQLClient, db: Database, field: str, cursor: str
) -> None:
    tenant = await make_tenant(db)

    result = await _run(
        api,
        tenant.viewer,
        f"query($after: String) {{ {field}(first: 5, after: $after) {{ totalCount }} }}",
        {"after": cursor},
    )

    _assert_bad_input(result, "after")


async def test_cursor_of_another_list_is_refused(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)
    await make_po(db, tenant)
    products = (await _run(api, tenant.viewer, "{ products(first: 1) { edges { cursor } } }")).ok()
    cursor = products["products"]["edges"][0]["cursor"]

    result = await _run(
        api,
        tenant.viewer,
        "query($after: String) { purchaseOrders(after: $after) { totalCount } }",
        {"after": cursor},
    )

    _assert_bad_input(result, "after")


# ---------------------------------------------------------------------------------------------
# The HTTP layer: malformed requests never reach a 500, and never show internals
# ---------------------------------------------------------------------------------------------

JSON = {"content-type": "application/json"}

RAW_BODIES = [
    pytest.param(b"{not json", JSON, id="malformed-json"),
    pytest.param(b'{"query": "{ me { sub } }"', JSON, id="truncated-json"),
    pytest.param(b"", JSON, id="empty-body"),
    pytest.param(b"null", JSON, id="json-null"),
    pytest.param(b'"{ me { sub } }"', JSON, id="json-string"),
    pytest.param(b"42", JSON, id="json-number"),
    pytest.param(b"[]", JSON, id="empty-batch"),
    pytest.param(b'[{"query": "{ me { sub } }"}]', JSON, id="batch"),
    pytest.param(b"{}", JSON, id="no-query"),
    pytest.param(b'{"query": ""}', JSON, id="empty-query"),
    pytest.param(b'{"query": null}', JSON, id="null-query"),
    pytest.param(b'{"query": 42}', JSON, id="query-not-a-string"),
    pytest.param(b'{"query": "{ me { sub } }", "variables": [1]}', JSON, id="variables-list"),
    pytest.param(b'{"query": "{ me { sub } }", "variables": "x"}', JSON, id="variables-string"),
    pytest.param(b'{"query": "\xff\xfe"}', JSON, id="invalid-utf8"),
    pytest.param(b"\x00\x01\x02\x03", JSON, id="binary"),
    pytest.param(b"{ me { sub } }", {"content-type": "text/plain"}, id="text-plain"),
    pytest.param(b"{ me { sub } }", {}, id="no-content-type"),
]


@pytest.mark.parametrize(("content", "headers"), RAW_BODIES)
async def test_malformed_request_body_is_a_json_4xx_with_a_code(
    http: httpx.AsyncClient,
    api: GraphQLClient,
    db: Database,
    content: bytes,
    headers: dict[str, str],
) -> None:
    tenant = await make_tenant(db)
    auth = {"authorization": f"Bearer {api.token(tenant.viewer)}"}

    response = await http.post("/graphql", content=content, headers={**headers, **auth})

    _assert_no_leak(response.text)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    assert "data" not in body or body["data"] is None


async def test_get_with_a_mutation_is_refused_and_changes_nothing(
    http: httpx.AsyncClient, api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    params = {"query": CREATE, "variables": json.dumps({"input": _order(tenant)})}
    headers = {
        "authorization": f"Bearer {api.token(tenant.purchaser)}",
        "accept": "application/json",
    }

    response = await http.get("/graphql", params=params, headers=headers)

    _assert_no_leak(response.text)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.json()["errors"][0]["extensions"]["code"], response.text
    assert (await _state(api, tenant))["totalCount"] == 0


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({}, id="no-query"),
        pytest.param({"query": ""}, id="empty-query"),
        pytest.param({"query": "{ me { sub } }", "variables": "{not json"}, id="bad-variables"),
    ],
)
async def test_get_without_a_usable_query_is_a_json_4xx(
    http: httpx.AsyncClient, api: GraphQLClient, db: Database, params: dict[str, str]
) -> None:
    tenant = await make_tenant(db)
    headers = {"authorization": f"Bearer {api.token(tenant.viewer)}", "accept": "application/json"}

    response = await http.get("/graphql", params=params, headers=headers)

    _assert_no_leak(response.text)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.json()["errors"][0]["extensions"]["code"], response.text


async def test_get_with_a_query_still_works(
    http: httpx.AsyncClient, api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    headers = {"authorization": f"Bearer {api.token(tenant.viewer)}", "accept": "application/json"}

    response = await http.get("/graphql", params={"query": ME}, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["data"]["me"]["account"]["code"] == tenant.code


async def test_server_answers_normally_after_a_barrage_of_bad_requests(
    http: httpx.AsyncClient, api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    auth = {"authorization": f"Bearer {api.token(tenant.viewer)}"}
    for param in RAW_BODIES:
        content, headers = param.values
        await http.post("/graphql", content=content, headers={**headers, **auth})

    result = await _run(api, tenant.viewer, ME)

    assert result.ok()["me"]["account"]["code"] == tenant.code


# ---------------------------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------------------------


def _b64json(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")))


def _claims(**changes: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {
        "sub": "mallory",
        "role": "SP_ADMIN",
        "iat": int(now.timestamp()),
        "exp": int((now + dt.timedelta(hours=1)).timestamp()),
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _unsigned(claims: dict[str, Any], alg: str = "none") -> str:
    return f"{_b64json({'alg': alg, 'typ': 'JWT'})}.{_b64json(claims)}."


TokenFactory = Callable[[GraphQLClient, Tenant], str | None]

BAD_TOKENS: list[Any] = [
    pytest.param(lambda api, t: None, id="no-token"),
    pytest.param(lambda api, t: "garbage", id="garbage"),
    pytest.param(lambda api, t: "a.b.c", id="three-garbage-parts"),
    pytest.param(lambda api, t: api.token(t.purchaser, ttl=-dt.timedelta(minutes=5)), id="expired"),
    pytest.param(lambda api, t: api.token(ADMIN, ttl=-dt.timedelta(seconds=1)), id="expired-admin"),
    pytest.param(
        lambda api, t: jwt.encode(
            _claims(), "another-secret-that-is-long-enough-0123456789", algorithm="HS256"
        ),
        id="other-secret",
    ),
    pytest.param(lambda api, t: _unsigned(_claims()), id="alg-none"),
    pytest.param(lambda api, t: _unsigned(_claims(), alg="None"), id="alg-None"),
    pytest.param(lambda api, t: _unsigned(_claims(), alg="HS256"), id="hs256-without-signature"),
    pytest.param(
        lambda api, t: api.token(t.purchaser).rsplit(".", 1)[0] + "." + _b64("forged-signature"),
        id="forged-signature",
    ),
    pytest.param(
        lambda api, t: (
            lambda parts: f"{parts[0]}.{_b64json(_claims(role='SP_ADMIN'))}.{parts[2]}"
        )(api.token(t.viewer).split(".")),
        id="payload-swapped",
    ),
    pytest.param(
        lambda api, t: jwt.encode(
            _claims(role="ENTERPRISE_PURCHASER", account="NO-SUCH-ACCOUNT"),
            api.secret,
            algorithm="HS256",
        ),
        id="unknown-account",
    ),
    pytest.param(
        lambda api, t: jwt.encode(_claims(role="ENTERPRISE_VIEWER"), api.secret, algorithm="HS256"),
        id="enterprise-without-account",
    ),
    pytest.param(
        lambda api, t: jwt.encode(_claims(role="ROOT"), api.secret, algorithm="HS256"),
        id="unknown-role",
    ),
    pytest.param(
        lambda api, t: jwt.encode(_claims(role="sp_admin"), api.secret, algorithm="HS256"),
        id="role-in-wrong-case",
    ),
    pytest.param(
        lambda api, t: jwt.encode(_claims(exp=None), api.secret, algorithm="HS256"),
        id="no-expiry",
    ),
    pytest.param(
        lambda api, t: jwt.encode(_claims(sub=None), api.secret, algorithm="HS256"),
        id="no-subject",
    ),
    pytest.param(
        lambda api, t: jwt.encode(_claims(role=None), api.secret, algorithm="HS256"),
        id="no-role",
    ),
]


@pytest.mark.parametrize("make_token", BAD_TOKENS)
async def test_bad_token_is_unauthenticated_and_changes_nothing(
    api: GraphQLClient, db: Database, make_token: TokenFactory
) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant, S.SUBMITTED)
    token = make_token(api, tenant)
    before = await _state(api, tenant)

    me = await _run(api, None, ME, token=token)
    read = await _run(
        api,
        None,
        "query($id: ID!) { purchaseOrder(id: $id) { id status } }",
        {"id": gid(po)},
        token=token,
    )
    create = await _run(
        api, None, CREATE, {"input": _order(tenant, accountId=tenant.gid)}, token=token
    )
    accept = await _run(
        api,
        None,
        "mutation($id: ID!) { acceptPurchaseOrder(input: {id: $id}) { purchaseOrder { id } } }",
        {"id": gid(po)},
        token=token,
    )

    for result in (me, read, create, accept):
        assert result.code == "UNAUTHENTICATED", result.body
        assert not any((result.data or {}).values()), result.body
    assert await _state(api, tenant) == before


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Basic dXNlcjpwYXNz", id="basic"),
        pytest.param("Bearer", id="bearer-without-token"),
        pytest.param("Bearer    ", id="bearer-blank"),
        pytest.param("Token abc", id="other-scheme"),
    ],
)
async def test_malformed_authorization_header_is_unauthenticated(
    http: httpx.AsyncClient, header: str
) -> None:
    response = await http.post("/graphql", json={"query": ME}, headers={"authorization": header})

    _assert_no_leak(response.text)
    assert response.status_code < 500, response.text
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"], body
    assert not body.get("data"), body


async def test_valid_token_of_each_role_is_accepted(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)
    actors = [
        tenant.viewer,
        tenant.purchaser,
        AGENT,
        ADMIN,
        Actor(Role.WAREHOUSE, "wh-bot", warehouse="WH-" + unique("")),
    ]

    for actor in actors:
        me = (await _run(api, actor, ME)).ok()["me"]
        assert me["role"] == actor.role.value
        assert me["sub"] == actor.sub
