"""Fulfilment through warehouse sales orders over HTTP, on SQLite and PostgreSQL.

Warehouses and stock, the stock check at provisioning, the sales order request job (run
in-process with `run_once`), the fraud check, warehouse dispatch and error reports, retries,
the PO's history and the visibility of sales orders per tenant and per warehouse.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from simgql.api.ids import encode_id, parse_id
from simgql.db.engine import Database
from simgql.db.models import Charge
from simgql.domain.model import PurchaseOrderStatus, Role
from simgql.fulfilment.job import run_once
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

ENTITLEMENTS = "simBillingStatus pricePlan serviceProfile roamingProfile apnGroup"
SO_FIELDS = """
  id status error createdAt updatedAt
  warehouse { id code }
  lines { quantity purchaseOrderLineId product { id code } }
  purchaseOrder { id status }
  deliveryAddress { recipient company street city postalCode country }
  fraudCheck { status reason }
  dispatch { carrier trackingNumber dispatchedAt }
"""
PO_FIELDS = f"""
  id status version number
  lines {{
    id quantity assignedSimCount product {{ id code }}
    sims {{ iccid imsi msisdn product {{ code }} entitlements {{ {ENTITLEMENTS} }} }}
  }}
  effectiveEntitlements {{ {ENTITLEMENTS} }}
  statusHistory {{ fromStatus toStatus actor note salesOrderStatus salesOrder {{ id }} }}
  salesOrders {{ {SO_FIELDS} }}
"""
READ_PO = f"query($id: ID!) {{ purchaseOrder(id: $id) {{ {PO_FIELDS} }} }}"
CREATE_PO = """
mutation($input: CreatePurchaseOrderInput!) {
  createPurchaseOrder(input: $input) { purchaseOrder { id } }
}
"""
TRANSITION = """
mutation($id: ID!) {{ {name}(input: {{id: $id}}) {{ purchaseOrder {{ id status version }} }} }}
"""
CANCEL = """
mutation($id: ID!) {
  cancelPurchaseOrder(input: {id: $id, reason: "customer withdrew"}) {
    purchaseOrder { id status version }
  }
}
"""
ASSIGN = """
mutation($input: AssignPurchaseOrderSimsInput!) {
  assignPurchaseOrderSims(input: $input) { purchaseOrder { id status } }
}
"""
CREATE_WAREHOUSE = """
mutation($input: CreateWarehouseInput!) {
  createWarehouse(input: $input) { warehouse { id code name } }
}
"""
SET_STOCK = """
mutation($input: SetStockInput!) { setStock(input: $input) { warehouse { id code } } }
"""
STOCK = """
query($w: ID) {
  stock(warehouseId: $w) {
    warehouse { code } product { id code } onHand reserved available
  }
}
"""
WAREHOUSES = "{ warehouses { id code name } }"
PLAN = """
query($id: ID!) {
  fulfilmentPlan(purchaseOrderId: $id) {
    feasible
    shipments { warehouse { code } product { code } quantity }
    shortfall { productCode requested available }
  }
}
"""
SALES_ORDERS = """
query($filter: SalesOrderFilter, $first: Int) {
  salesOrders(filter: $filter, first: $first) {
    totalCount edges { node { id status warehouse { code } purchaseOrder { id } } }
  }
}
"""
SALES_ORDER = f"query($id: ID!) {{ salesOrder(id: $id) {{ {SO_FIELDS} }} }}"
DISPATCH = f"""
mutation($input: RecordSalesOrderDispatchInput!) {{
  recordSalesOrderDispatch(input: $input) {{ salesOrder {{ {SO_FIELDS} }} }}
}}
"""
REPORT_ERROR = f"""
mutation($input: RecordSalesOrderErrorInput!) {{
  recordSalesOrderError(input: $input) {{ salesOrder {{ {SO_FIELDS} }} }}
}}
"""
RETRY = f"""
mutation($input: RetrySalesOrderInput!) {{
  retrySalesOrder(input: $input) {{ salesOrder {{ {SO_FIELDS} }} }}
}}
"""
CONFIG_FIELDS = (
    "salesOrderFraudCheckRequired salesOrderFraudDenyNames salesOrderFraudDenyAddressFragments"
)
READ_CONFIG = f"{{ configuration {{ {CONFIG_FIELDS} }} }}"
SET_CONFIG = f"""
mutation($input: SetConfigurationInput!) {{
  setConfiguration(input: $input) {{ configuration {{ {CONFIG_FIELDS} }} }}
}}
"""


# --- helpers -----------------------------------------------------------------------------------


def warehouse_actor(code: str) -> Actor:
    return Actor(Role.WAREHOUSE, f"wms@{code}", warehouse=code)


def warehouse_gid(warehouse_id: uuid.UUID) -> str:
    return encode_id("Warehouse", warehouse_id)


def pk(global_id: str) -> uuid.UUID:
    parsed = parse_id(global_id)
    assert parsed is not None, global_id
    return parsed[1]


async def transition(api: GraphQLClient, actor: Actor, name: str, po_id: str) -> Result:
    return await api.run(actor, TRANSITION.format(name=name), {"id": po_id})


async def accepted_po(
    api: GraphQLClient,
    tenant: Tenant,
    lines: list[tuple[int, int]],
    *,
    overrides: dict[str, str] | None = None,
    **address: Any,
) -> str:
    """A PO of the tenant, raised by its purchaser and accepted by an agent: its ID.

    `lines` are (product index, quantity); `address` changes the shipping address.
    """
    po_input: dict[str, Any] = {
        "lines": [{"productId": tenant.product_gid(i), "quantity": q} for i, q in lines],
        "shippingAddress": {**ADDRESS_INPUT, **address},
    }
    if overrides:
        po_input["overrides"] = overrides
    created = await api.run(tenant.purchaser, CREATE_PO, {"input": po_input})
    po_id: str = created.ok()["createPurchaseOrder"]["purchaseOrder"]["id"]
    (await transition(api, tenant.purchaser, "submitPurchaseOrder", po_id)).ok()
    (await transition(api, AGENT, "acceptPurchaseOrder", po_id)).ok()
    return po_id


async def provisioned_po(
    api: GraphQLClient, tenant: Tenant, lines: list[tuple[int, int]], **kw: Any
) -> dict[str, Any]:
    """An accepted PO whose provisioning started: the PO as the agent reads it."""
    po_id = await accepted_po(api, tenant, lines, **kw)
    started = await transition(api, AGENT, "startPurchaseOrderProvisioning", po_id)
    assert (
        started.ok()["startPurchaseOrderProvisioning"]["purchaseOrder"]["status"] == "PROVISIONING"
    )
    return await read_po(api, AGENT, po_id)


async def read_po(api: GraphQLClient, actor: Actor, po_id: str) -> dict[str, Any]:
    po: dict[str, Any] = (await api.run(actor, READ_PO, {"id": po_id})).ok()["purchaseOrder"]
    return po


async def read_so(api: GraphQLClient, actor: Actor, so_id: str) -> dict[str, Any] | None:
    so: dict[str, Any] | None = (await api.run(actor, SALES_ORDER, {"id": so_id})).ok()[
        "salesOrder"
    ]
    return so


async def stock_of(api: GraphQLClient, warehouse_id: str) -> dict[str, tuple[int, int, int]]:
    """(on hand, reserved, available) per product code in one warehouse."""
    rows = (await api.run(AGENT, STOCK, {"w": warehouse_id})).ok()["stock"]
    return {r["product"]["code"]: (r["onHand"], r["reserved"], r["available"]) for r in rows}


async def new_warehouse(api: GraphQLClient, stock: dict[str, int] | None = None) -> dict[str, Any]:
    """A warehouse created by the admin, holding `stock` (product ID -> units on hand)."""
    code = unique("WH-")
    result = await api.run(
        ADMIN, CREATE_WAREHOUSE, {"input": {"code": code, "name": f"Warehouse {code}"}}
    )
    warehouse: dict[str, Any] = result.ok()["createWarehouse"]["warehouse"]
    for product_id, units in (stock or {}).items():
        (
            await api.run(
                ADMIN,
                SET_STOCK,
                {
                    "input": {
                        "warehouseId": warehouse["id"],
                        "productId": product_id,
                        "onHand": units,
                    }
                },
            )
        ).ok()
    return warehouse


def sim_items(so: dict[str, Any], *, by: str = "productCode") -> list[dict[str, str]]:
    """Fresh identities for exactly what the sales order ships."""
    items = []
    for line in so["lines"]:
        product = line["product"]["code"] if by == "productCode" else line["product"]["id"]
        for s in sims(line["quantity"]):
            items.append({by: product, "iccid": s.iccid, "imsi": s.imsi, "msisdn": s.msisdn})
    return items


async def dispatch(
    api: GraphQLClient,
    so: dict[str, Any],
    items: list[dict[str, str]] | None = None,
    *,
    actor: Actor | None = None,
    **extra: Any,
) -> Result:
    payload = {
        "salesOrderId": so["id"],
        "items": sim_items(so) if items is None else items,
        "carrier": "DHL",
        "trackingNumber": unique("JD"),
        **extra,
    }
    return await api.run(
        actor or warehouse_actor(so["warehouse"]["code"]), DISPATCH, {"input": payload}
    )


async def report_error(
    api: GraphQLClient, so: dict[str, Any], reason: str, *, actor: Actor | None = None
) -> Result:
    return await api.run(
        actor or warehouse_actor(so["warehouse"]["code"]),
        REPORT_ERROR,
        {"input": {"salesOrderId": so["id"], "reason": reason}},
    )


async def retry(api: GraphQLClient, so_id: str, actor: Actor = AGENT) -> Result:
    return await api.run(actor, RETRY, {"input": {"salesOrderId": so_id}})


def so_history(po: dict[str, Any], so_id: str) -> list[tuple[str, str]]:
    """(salesOrderStatus, actor) of the PO's history entries about one sales order."""
    return [
        (h["salesOrderStatus"], h["actor"])
        for h in po["statusHistory"]
        if h["salesOrder"] and h["salesOrder"]["id"] == so_id
    ]


def so_in(po: dict[str, Any], warehouse_code: str) -> dict[str, Any]:
    (so,) = [s for s in po["salesOrders"] if s["warehouse"]["code"] == warehouse_code]
    return so


@asynccontextmanager
async def fraud_check(
    api: GraphQLClient, *, names: list[str], fragments: list[str]
) -> AsyncIterator[None]:
    """The fraud check on with these deny lists; the previous configuration restored after."""
    before = (await api.run(AGENT, READ_CONFIG)).ok()["configuration"]
    await set_fraud_config(api, required=True, names=names, fragments=fragments)
    try:
        yield
    finally:
        restored = await set_fraud_config(
            api,
            required=before["salesOrderFraudCheckRequired"],
            names=before["salesOrderFraudDenyNames"],
            fragments=before["salesOrderFraudDenyAddressFragments"],
        )
        assert restored == before


async def set_fraud_config(
    api: GraphQLClient, *, required: bool, names: list[str], fragments: list[str]
) -> dict[str, Any]:
    result = await api.run(
        ADMIN,
        SET_CONFIG,
        {
            "input": {
                "salesOrderFraudCheckRequired": required,
                "salesOrderFraudDenyNames": names,
                "salesOrderFraudDenyAddressFragments": fragments,
            }
        },
    )
    config: dict[str, Any] = result.ok()["setConfiguration"]["configuration"]
    return config


# --- warehouses and stock ----------------------------------------------------------------------


async def test_admin_creates_a_warehouse_and_sets_its_stock(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    code = unique("WH-")

    created = await api.run(
        ADMIN, CREATE_WAREHOUSE, {"input": {"code": code, "name": "Hamburg North"}}
    )
    warehouse = created.ok()["createWarehouse"]["warehouse"]
    assert warehouse["code"] == code
    assert warehouse["name"] == "Hamburg North"
    listed = (await api.run(AGENT, WAREHOUSES)).ok()["warehouses"]
    assert warehouse in listed
    assert await stock_of(api, warehouse["id"]) == {}

    for units in (250, 40):
        result = await api.run(
            ADMIN,
            SET_STOCK,
            {
                "input": {
                    "warehouseId": warehouse["id"],
                    "productId": tenant.product_gid(0),
                    "onHand": units,
                }
            },
        )
        assert result.ok()["setStock"]["warehouse"]["code"] == code

    product_code = (await read_product_codes(api, tenant))[0]
    assert await stock_of(api, warehouse["id"]) == {product_code: (40, 0, 40)}


async def read_product_codes(api: GraphQLClient, tenant: Tenant) -> list[str]:
    codes = []
    for i in range(len(tenant.product_ids)):
        query = "query($id: ID!) { product(id: $id) { code } }"
        codes.append(
            (await api.run(AGENT, query, {"id": tenant.product_gid(i)})).ok()["product"]["code"]
        )
    return codes


async def test_only_the_admin_manages_warehouses_and_stock(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    wid = warehouse_gid(tenant.warehouse_id)
    before = await stock_of(api, wid)
    others = [
        AGENT,
        tenant.purchaser,
        tenant.viewer,
        warehouse_actor(tenant.warehouse_code),
    ]
    for actor in others:
        code = unique("WH-")
        created = await api.run(actor, CREATE_WAREHOUSE, {"input": {"code": code, "name": "X"}})
        assert created.code == "FORBIDDEN", actor
        assert created.data is None
        stocked = await api.run(
            actor,
            SET_STOCK,
            {"input": {"warehouseId": wid, "productId": tenant.product_gid(0), "onHand": 1}},
        )
        assert stocked.code == "FORBIDDEN", actor
        listed = [w["code"] for w in (await api.run(AGENT, WAREHOUSES)).ok()["warehouses"]]
        assert code not in listed
    assert await stock_of(api, wid) == before


async def test_bad_warehouse_and_stock_input_names_the_field_and_changes_nothing(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    wid = warehouse_gid(tenant.warehouse_id)

    duplicate = await api.run(
        ADMIN, CREATE_WAREHOUSE, {"input": {"code": tenant.warehouse_code, "name": "Again"}}
    )
    assert duplicate.code == "BAD_USER_INPUT"
    assert duplicate.fields() == ["code"]

    for code, name, fields in [
        ("has space", "Name", ["code"]),
        ("W" * 33, "Name", ["code"]),
        (unique("WH-"), "   ", ["name"]),
        ("", "", ["code", "name"]),
    ]:
        result = await api.run(ADMIN, CREATE_WAREHOUSE, {"input": {"code": code, "name": name}})
        assert result.code == "BAD_USER_INPUT", (code, name)
        assert sorted(result.fields()) == fields

    def stock_input(**changes: Any) -> dict[str, Any]:
        return {
            "input": {
                "warehouseId": wid,
                "productId": tenant.product_gid(0),
                "onHand": 5,
                **changes,
            }
        }

    negative = await api.run(ADMIN, SET_STOCK, stock_input(onHand=-1))
    assert negative.code == "BAD_USER_INPUT"
    assert negative.fields() == ["onHand"]
    not_an_id = await api.run(ADMIN, SET_STOCK, stock_input(warehouseId="nonsense"))
    assert not_an_id.code == "BAD_USER_INPUT"
    assert not_an_id.fields() == ["warehouseId"]
    wrong_kind = await api.run(ADMIN, SET_STOCK, stock_input(productId=wid))
    assert wrong_kind.code == "BAD_USER_INPUT"
    assert wrong_kind.fields() == ["productId"]
    unknown = await api.run(ADMIN, SET_STOCK, stock_input(warehouseId=warehouse_gid(uuid.uuid4())))
    assert unknown.code == "NOT_FOUND"

    # Never below what is reserved for sales orders.
    await provisioned_po(api, tenant, [(0, 7)])
    below = await api.run(ADMIN, SET_STOCK, stock_input(onHand=6))
    assert below.code == "BAD_USER_INPUT"
    assert below.fields() == ["onHand"]
    code = (await read_product_codes(api, tenant))[0]
    assert (await stock_of(api, wid))[code] == (10_000, 7, 9_993)


async def test_warehouse_sees_only_itself_and_enterprise_users_see_no_warehouses(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)

    own = (await api.run(warehouse_actor(tenant.warehouse_code), WAREHOUSES)).ok()["warehouses"]
    assert [w["code"] for w in own] == [tenant.warehouse_code]
    assert (await api.run(tenant.purchaser, WAREHOUSES)).code == "FORBIDDEN"
    stock = await api.run(tenant.purchaser, STOCK, {"w": warehouse_gid(tenant.warehouse_id)})
    assert stock.code == "FORBIDDEN"


# --- stock check and allocation ----------------------------------------------------------------


async def test_fulfilment_plan_previews_a_split_over_warehouses_without_changing_anything(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db, stock=30)
    p0, p1 = await read_product_codes(api, tenant)
    extra = await new_warehouse(api, {tenant.product_gid(0): 50})
    po_id = await accepted_po(api, tenant, [(0, 70), (1, 10)])
    home = warehouse_gid(tenant.warehouse_id)
    stock_before = (await stock_of(api, home), await stock_of(api, extra["id"]))
    po_before = await read_po(api, AGENT, po_id)

    plan = (await api.run(AGENT, PLAN, {"id": po_id})).ok()["fulfilmentPlan"]

    assert plan["feasible"] is True
    assert plan["shortfall"] == []
    shipments = {
        (s["warehouse"]["code"], s["product"]["code"]): s["quantity"] for s in plan["shipments"]
    }
    assert shipments == {
        (extra["code"], p0): 50,
        (tenant.warehouse_code, p0): 20,
        (tenant.warehouse_code, p1): 10,
    }
    assert (await stock_of(api, home), await stock_of(api, extra["id"])) == stock_before
    assert await read_po(api, AGENT, po_id) == po_before

    # Provisioning then allocates exactly as previewed.
    started = await transition(api, AGENT, "startPurchaseOrderProvisioning", po_id)
    started.ok()
    po = await read_po(api, AGENT, po_id)
    assert {
        (so["warehouse"]["code"], line["product"]["code"]): line["quantity"]
        for so in po["salesOrders"]
        for line in so["lines"]
    } == shipments


async def test_fulfilment_plan_shows_the_shortfall_and_is_for_service_provider_roles_only(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db, stock=5)
    other = await make_tenant(db)
    p0, _ = await read_product_codes(api, tenant)
    po_id = await accepted_po(api, tenant, [(0, 8), (1, 5)])

    plan = (await api.run(ADMIN, PLAN, {"id": po_id})).ok()["fulfilmentPlan"]

    assert plan == {
        "feasible": False,
        "shipments": [],
        "shortfall": [{"productCode": p0, "requested": 8, "available": 5}],
    }
    assert (await api.run(tenant.purchaser, PLAN, {"id": po_id})).code == "FORBIDDEN"
    assert (await api.run(other.purchaser, PLAN, {"id": po_id})).code == "NOT_FOUND"


async def test_provisioning_with_enough_stock_creates_a_sales_order_and_reserves_the_stock(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db, stock=100)
    p0, p1 = await read_product_codes(api, tenant)
    home = warehouse_gid(tenant.warehouse_id)
    po_id = await accepted_po(api, tenant, [(0, 3), (1, 2)])
    version = (await read_po(api, AGENT, po_id))["version"]

    started = await transition(api, AGENT, "startPurchaseOrderProvisioning", po_id)

    assert started.ok()["startPurchaseOrderProvisioning"]["purchaseOrder"]["version"] == version + 1
    po = await read_po(api, AGENT, po_id)
    assert po["status"] == "PROVISIONING"
    (so,) = po["salesOrders"]
    assert so["status"] == "AWAITING_GENERATION"
    assert so["warehouse"]["code"] == tenant.warehouse_code
    assert so["purchaseOrder"] == {"id": po_id, "status": "PROVISIONING"}
    assert so["error"] is None
    assert so["dispatch"] is None
    assert so["deliveryAddress"]["recipient"] == ADDRESS_INPUT["recipient"]
    line_ids = {line["product"]["code"]: line["id"] for line in po["lines"]}
    assert sorted(
        (x["product"]["code"], x["quantity"], x["purchaseOrderLineId"]) for x in so["lines"]
    ) == sorted([(p0, 3, line_ids[p0]), (p1, 2, line_ids[p1])])
    assert await stock_of(api, home) == {p0: (100, 3, 97), p1: (100, 2, 98)}
    assert so_history(po, so["id"]) == [("AWAITING_GENERATION", AGENT.sub)]
    (entry,) = [h for h in po["statusHistory"] if h["salesOrder"]]
    assert (entry["fromStatus"], entry["toStatus"]) == ("PROVISIONING", "PROVISIONING")


async def test_short_stock_is_insufficient_stock_with_the_shortfall_and_changes_nothing(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db, stock=5)
    p0, p1 = await read_product_codes(api, tenant)
    home = warehouse_gid(tenant.warehouse_id)
    po_id = await accepted_po(api, tenant, [(0, 8), (1, 2)])
    before = await read_po(api, AGENT, po_id)
    stock_before = await stock_of(api, home)

    result = await transition(api, AGENT, "startPurchaseOrderProvisioning", po_id)

    assert result.code == "INSUFFICIENT_STOCK"
    assert result.data is None
    assert result.errors[0]["extensions"]["shortfall"] == [
        {"productCode": p0, "requested": 8, "available": 5}
    ]
    after = await read_po(api, AGENT, po_id)
    assert after == before
    assert after["status"] == "ACCEPTED"
    assert after["salesOrders"] == []
    assert await stock_of(api, home) == stock_before == {p0: (5, 0, 5), p1: (5, 0, 5)}
    listed = await api.run(AGENT, SALES_ORDERS, {"filter": {"purchaseOrderId": po_id}})
    assert listed.ok()["salesOrders"]["totalCount"] == 0
    assert p1 not in result.errors[0]["message"]


async def test_stock_reserved_for_one_po_is_not_available_to_the_next(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db, stock=5)
    p0, _ = await read_product_codes(api, tenant)
    await provisioned_po(api, tenant, [(0, 4)])
    second = await accepted_po(api, tenant, [(0, 2)])

    plan = (await api.run(AGENT, PLAN, {"id": second})).ok()["fulfilmentPlan"]
    result = await transition(api, AGENT, "startPurchaseOrderProvisioning", second)

    assert plan["shortfall"] == [{"productCode": p0, "requested": 2, "available": 1}]
    assert result.code == "INSUFFICIENT_STOCK"
    assert result.errors[0]["extensions"]["shortfall"] == plan["shortfall"]
    assert (await read_po(api, AGENT, second))["status"] == "ACCEPTED"


async def test_partial_stock_across_two_warehouses_makes_two_sales_orders_the_job_generates(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db, stock=30)
    p0, _ = await read_product_codes(api, tenant)
    extra = await new_warehouse(api, {tenant.product_gid(0): 50})
    home = warehouse_gid(tenant.warehouse_id)

    po = await provisioned_po(api, tenant, [(0, 70)])

    assert len(po["salesOrders"]) == 2
    at_extra, at_home = so_in(po, extra["code"]), so_in(po, tenant.warehouse_code)
    assert [(x["product"]["code"], x["quantity"]) for x in at_extra["lines"]] == [(p0, 50)]
    assert [(x["product"]["code"], x["quantity"]) for x in at_home["lines"]] == [(p0, 20)]
    assert {so["status"] for so in po["salesOrders"]} == {"AWAITING_GENERATION"}
    assert (await stock_of(api, extra["id"]))[p0] == (50, 50, 0)
    assert (await stock_of(api, home))[p0] == (30, 20, 10)

    assert await run_once(db) >= 2

    po = await read_po(api, AGENT, po["id"])
    assert po["status"] == "PROVISIONING"
    for so in po["salesOrders"]:
        assert so["status"] == "AWAITING_DISPATCH"
        assert so["fraudCheck"] == {"status": "NOT_REQUIRED", "reason": None}
        assert so_history(po, so["id"]) == [
            ("AWAITING_GENERATION", AGENT.sub),
            ("AWAITING_DISPATCH", "system"),
        ]
    # Generation changes no stock: it stays reserved until dispatch.
    assert (await stock_of(api, home))[p0] == (30, 20, 10)


async def test_the_job_generates_an_order_once_and_moves_the_po_version(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po = await provisioned_po(api, tenant, [(0, 2)])
    (so,) = po["salesOrders"]

    await run_once(db)
    generated = await read_po(api, AGENT, po["id"])
    await run_once(db)
    again = await read_po(api, AGENT, po["id"])

    assert generated["version"] == po["version"] + 1
    assert generated["salesOrders"][0]["status"] == "AWAITING_DISPATCH"
    assert again == generated
    assert so_history(again, so["id"]) == [
        ("AWAITING_GENERATION", AGENT.sub),
        ("AWAITING_DISPATCH", "system"),
    ]


async def test_two_pos_racing_for_the_last_units_never_oversell_the_stock(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db, stock=5)
    p0, _ = await read_product_codes(api, tenant)
    first = await accepted_po(api, tenant, [(0, 4)])
    second = await accepted_po(api, tenant, [(0, 4)])

    results = await asyncio.gather(
        transition(api, AGENT, "startPurchaseOrderProvisioning", first),
        transition(api, AGENT, "startPurchaseOrderProvisioning", second),
    )

    assert sorted(r.codes[0] if r.errors else "OK" for r in results) == [
        "INSUFFICIENT_STOCK",
        "OK",
    ]
    (refused,) = [r for r in results if r.errors]
    assert refused.errors[0]["extensions"]["shortfall"] == [
        {"productCode": p0, "requested": 4, "available": 1}
    ]
    statuses = sorted([(await read_po(api, AGENT, i))["status"] for i in (first, second)])
    assert statuses == ["ACCEPTED", "PROVISIONING"]
    assert (await stock_of(api, warehouse_gid(tenant.warehouse_id)))[p0] == (5, 4, 1)


# --- fraud check -------------------------------------------------------------------------------


async def test_fraud_check_failure_puts_the_order_in_error_with_the_reason(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    name = f"Mallory {unique('X')}"
    fragment = unique("Dark Alley ")
    async with fraud_check(api, names=[name], fragments=[fragment.lower()]):
        by_name = await provisioned_po(api, tenant, [(0, 1)], recipient=name.upper())
        by_company = await provisioned_po(api, tenant, [(0, 1)], company=f"  {name.lower()}")
        by_address = await provisioned_po(api, tenant, [(0, 1)], street=[f"12 {fragment}"])
        clean = await provisioned_po(api, tenant, [(1, 1)])

        await run_once(db)

        for refused, needle in [
            (by_name, name.upper()),
            (by_company, name.lower()),
            (by_address, fragment.lower()),
        ]:
            po = await read_po(api, AGENT, refused["id"])
            (so,) = po["salesOrders"]
            assert so["status"] == "ERROR"
            assert needle in so["error"]
            assert so["fraudCheck"]["status"] == "FAILED"
            assert needle in so["fraudCheck"]["reason"]
            (*_, last) = so_history(po, so["id"])
            assert last == ("ERROR", "system")
            assert any(needle in (h["note"] or "") for h in po["statusHistory"])
        passed = (await read_po(api, AGENT, clean["id"]))["salesOrders"][0]
        assert passed["status"] == "AWAITING_DISPATCH"
        assert passed["fraudCheck"] == {"status": "PASSED", "reason": None}


async def test_agent_retries_a_refused_order_after_the_deny_list_is_fixed(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    other = await make_tenant(db)
    name = f"Eve {unique('X')}"
    async with fraud_check(api, names=[name], fragments=[]):
        po = await provisioned_po(api, tenant, [(0, 2)], recipient=name)
        (so,) = po["salesOrders"]
        await run_once(db)
        assert (await read_so(api, AGENT, so["id"]) or {})["status"] == "ERROR"

        # Nobody but the service provider may retry; another tenant learns nothing.
        for actor, code in [
            (tenant.purchaser, "FORBIDDEN"),
            (warehouse_actor(tenant.warehouse_code), "FORBIDDEN"),
            (other.purchaser, "NOT_FOUND"),
        ]:
            assert (await retry(api, so["id"], actor)).code == code, actor
        # While the name is still denied, a retry fails the check again.
        retried = (await retry(api, so["id"])).ok()["retrySalesOrder"]["salesOrder"]
        assert retried["status"] == "AWAITING_GENERATION"
        assert retried["error"] is None
        assert retried["fraudCheck"] is None
        await run_once(db)
        assert (await read_so(api, AGENT, so["id"]) or {})["status"] == "ERROR"

        await set_fraud_config(api, required=True, names=[], fragments=[])
        (await retry(api, so["id"], ADMIN)).ok()
        await run_once(db)

    po = await read_po(api, AGENT, po["id"])
    assert po["salesOrders"][0]["status"] == "AWAITING_DISPATCH"
    assert po["salesOrders"][0]["fraudCheck"] == {"status": "PASSED", "reason": None}
    assert so_history(po, so["id"]) == [
        ("AWAITING_GENERATION", AGENT.sub),
        ("ERROR", "system"),
        ("AWAITING_GENERATION", AGENT.sub),
        ("ERROR", "system"),
        ("AWAITING_GENERATION", ADMIN.sub),
        ("AWAITING_DISPATCH", "system"),
    ]


async def test_only_an_order_in_error_can_be_retried(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db)
    po = await provisioned_po(api, tenant, [(0, 1)])
    (so,) = po["salesOrders"]

    waiting = await retry(api, so["id"])
    await run_once(db)
    generated = await retry(api, so["id"])

    assert waiting.code == "INVALID_TRANSITION"
    assert waiting.errors[0]["extensions"]["status"] == "AWAITING_GENERATION"
    assert generated.code == "INVALID_TRANSITION"
    assert generated.errors[0]["extensions"]["status"] == "AWAITING_DISPATCH"
    assert (await read_po(api, AGENT, po["id"]))["version"] == po["version"] + 1


# --- warehouse dispatch ------------------------------------------------------------------------


async def generated_po(
    api: GraphQLClient, db: Database, tenant: Tenant, lines: list[tuple[int, int]], **kw: Any
) -> dict[str, Any]:
    po = await provisioned_po(api, tenant, lines, **kw)
    await run_once(db)
    po = await read_po(api, AGENT, po["id"])
    assert {so["status"] for so in po["salesOrders"]} == {"AWAITING_DISPATCH"}
    return po


async def test_dispatch_completes_the_order_and_the_po_becomes_ready_by_itself(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db, stock=50, unit_price="2.25")
    p0, p1 = await read_product_codes(api, tenant)
    home = warehouse_gid(tenant.warehouse_id)
    po = await generated_po(
        api,
        db,
        tenant,
        [(0, 3), (1, 1)],
        overrides={"pricePlan": "PP-M", "roamingProfile": "RP-WORLD"},
    )
    (so,) = po["salesOrders"]
    items = sim_items(so)
    items[-1] = {  # products may be named by ID as well as by code
        "productId": tenant.product_gid(1)
        if items[-1]["productCode"] == p1
        else tenant.product_gid(0),
        **{k: v for k, v in items[-1].items() if k != "productCode"},
    }

    result = await dispatch(
        api, so, items, trackingNumber="JD0001", dispatchedAt="2030-01-02T03:04:05+01:00"
    )

    done = result.ok()["recordSalesOrderDispatch"]["salesOrder"]
    assert done["status"] == "COMPLETE"
    assert done["dispatch"]["carrier"] == "DHL"
    assert done["dispatch"]["trackingNumber"] == "JD0001"
    assert done["dispatch"]["dispatchedAt"].startswith("2030-01-02T02:04:05")
    assert done["purchaseOrder"] is None  # a warehouse does not read the PO

    po = await read_po(api, AGENT, po["id"])
    assert po["status"] == "READY"
    last = po["statusHistory"][-1]
    assert (last["fromStatus"], last["toStatus"], last["actor"]) == (
        "PROVISIONING",
        "READY",
        "system",
    )
    assert last["salesOrderStatus"] is None
    assert so_history(po, so["id"])[-1] == ("COMPLETE", f"wms@{tenant.warehouse_code}")
    expected = {
        "simBillingStatus": "TEST_READY",
        "pricePlan": "PP-M",
        "serviceProfile": "SP-DATA",
        "roamingProfile": "RP-WORLD",
        "apnGroup": "APN-1",
    }
    assert po["effectiveEntitlements"] == expected
    reported = {(i["iccid"], i["imsi"], i["msisdn"]) for i in items}
    assigned = {
        (s["iccid"], s["imsi"], s["msisdn"]): (s["product"]["code"], s["entitlements"])
        for line in po["lines"]
        for s in line["sims"]
    }
    assert set(assigned) == reported
    assert all(ent == expected for _, ent in assigned.values())
    assert sorted(code for code, _ in assigned.values()) == [p0, p0, p0, p1]
    assert {line["product"]["code"]: line["assignedSimCount"] for line in po["lines"]} == {
        p0: 3,
        p1: 1,
    }
    # Stock consumed: on hand and reserved both go down.
    assert await stock_of(api, home) == {p0: (47, 0, 47), p1: (49, 0, 49)}
    # One charge per dispatched line: price snapshot times quantity.
    async with db.read() as session:
        charges = (
            (await session.execute(select(Charge).where(Charge.sales_order_id == pk(so["id"]))))
            .scalars()
            .all()
        )
    assert sorted((c.quantity, c.unit_price, c.amount, c.currency) for c in charges) == [
        (1, Decimal("2.25"), Decimal("2.25"), "EUR"),
        (3, Decimal("2.25"), Decimal("6.75"), "EUR"),
    ]
    assert {c.account_id for c in charges} == {tenant.account_id}


async def test_enterprise_sees_the_dispatched_sims_only_once_the_po_is_ready(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db, stock=2)
    extra = await new_warehouse(api, {tenant.product_gid(0): 3})
    po = await generated_po(api, db, tenant, [(0, 5)])
    first, second = so_in(po, extra["code"]), so_in(po, tenant.warehouse_code)

    (await dispatch(api, first)).ok()

    halfway = await read_po(api, tenant.viewer, po["id"])
    assert halfway["status"] == "PROVISIONING"
    assert halfway["lines"][0]["assignedSimCount"] == 3
    assert halfway["lines"][0]["sims"] == []
    assert len((await read_po(api, AGENT, po["id"]))["lines"][0]["sims"]) == 3
    assert [h["toStatus"] for h in halfway["statusHistory"]].count("READY") == 0

    items = sim_items(second)
    (await dispatch(api, second, items)).ok()

    ready = await read_po(api, tenant.viewer, po["id"])
    assert ready["status"] == "READY"
    assert len(ready["lines"][0]["sims"]) == 5
    assert {(i["iccid"], i["imsi"], i["msisdn"]) for i in items} <= {
        (s["iccid"], s["imsi"], s["msisdn"]) for s in ready["lines"][0]["sims"]
    }


async def test_dispatch_with_the_wrong_counts_is_refused_and_changes_nothing(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db, stock=20)
    p0, p1 = await read_product_codes(api, tenant)
    home = warehouse_gid(tenant.warehouse_id)
    po = await generated_po(api, db, tenant, [(0, 2), (1, 1)])
    (so,) = po["salesOrders"]
    right = sim_items(so)
    stock_before = await stock_of(api, home)
    of_p0 = [i for i in right if i["productCode"] == p0]
    of_p1 = [i for i in right if i["productCode"] == p1]
    (spare,) = sim_items({"lines": [{"product": {"code": p0}, "quantity": 1}]})

    for items, fields in [
        (of_p0, ["items"]),  # nothing of p1
        ([*right, spare], ["items"]),  # one too many of p0
        ([of_p0[0], of_p1[0]], ["items"]),  # one too few of p0
        ([*of_p0, {**of_p1[0], "productCode": "NO-SUCH-PRODUCT"}], ["items", "items.2.product"]),
    ]:
        result = await dispatch(api, so, items)
        assert result.code == "BAD_USER_INPUT", items
        assert sorted(result.fields()) == fields

    empty_carrier = await dispatch(api, so, right, carrier=" ")
    assert empty_carrier.code == "BAD_USER_INPUT"
    assert empty_carrier.fields() == ["carrier"]
    naive = await dispatch(api, so, right, dispatchedAt="2030-01-02T03:04:05")
    assert naive.code == "BAD_USER_INPUT"

    after = await read_po(api, AGENT, po["id"])
    assert after == po
    assert after["salesOrders"][0]["status"] == "AWAITING_DISPATCH"
    assert all(line["assignedSimCount"] == 0 for line in after["lines"])
    assert await stock_of(api, home) == stock_before


async def test_dispatch_with_malformed_or_duplicate_identities_names_each_item(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po = await generated_po(api, db, tenant, [(0, 3)])
    (so,) = po["salesOrders"]
    items = sim_items(so)
    iccid = items[0]["iccid"]
    items[0] = {**items[0], "iccid": iccid[:-1] + str((int(iccid[-1]) + 1) % 10)}
    items[1] = {**items[1], "imsi": "1234"}
    items[2] = {**items[2], "msisdn": items[1]["msisdn"]}

    result = await dispatch(api, so, items)

    assert result.code == "BAD_USER_INPUT"
    assert sorted(result.fields()) == ["items.0.iccid", "items.1.imsi", "items.2.msisdn"]
    assert (await read_po(api, AGENT, po["id"])) == po


async def test_dispatch_with_identities_already_in_use_is_refused(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    first = await generated_po(api, db, tenant, [(0, 2)])
    second = await generated_po(api, db, tenant, [(0, 2)])
    used = sim_items(first["salesOrders"][0])
    (await dispatch(api, first["salesOrders"][0], used)).ok()
    fresh = sim_items(second["salesOrders"][0])

    reused = [
        {**fresh[0], "iccid": used[0]["iccid"]},
        {**fresh[1], "imsi": used[1]["imsi"], "msisdn": used[0]["msisdn"]},
    ]
    result = await dispatch(api, second["salesOrders"][0], reused)

    assert result.code == "BAD_USER_INPUT"
    assert sorted(result.fields()) == ["items.0.iccid", "items.1.imsi", "items.1.msisdn"]
    assert all("in use" in f["message"] for f in result.errors[0]["extensions"]["fields"])
    assert (await read_po(api, AGENT, second["id"])) == second
    (await dispatch(api, second["salesOrders"][0], fresh)).ok()
    assert (await read_po(api, AGENT, second["id"]))["status"] == "READY"


async def test_dispatch_is_only_for_a_generated_order_and_only_once(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po = await provisioned_po(api, tenant, [(0, 1)])
    (so,) = po["salesOrders"]

    early = await dispatch(api, so)
    assert early.code == "INVALID_TRANSITION"
    assert early.errors[0]["extensions"]["status"] == "AWAITING_GENERATION"

    await run_once(db)
    (await dispatch(api, so)).ok()
    ready = await read_po(api, AGENT, po["id"])
    twice = await dispatch(api, so)
    assert twice.code == "INVALID_TRANSITION"
    assert twice.errors[0]["extensions"]["status"] == "COMPLETE"
    late_error = await report_error(api, so, "lost in transit")
    assert late_error.code == "INVALID_TRANSITION"
    assert await read_po(api, AGENT, po["id"]) == ready


async def test_two_dispatch_reports_for_one_order_at_once_complete_it_exactly_once(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po = await generated_po(api, db, tenant, [(0, 2)])
    (so,) = po["salesOrders"]

    results = await asyncio.gather(dispatch(api, so), dispatch(api, so))

    assert sorted(r.codes[0] if r.errors else "OK" for r in results) == [
        "INVALID_TRANSITION",
        "OK",
    ]
    after = await read_po(api, AGENT, po["id"])
    assert after["status"] == "READY"
    assert after["lines"][0]["assignedSimCount"] == 2
    assert [s for s, _ in so_history(after, so["id"])].count("COMPLETE") == 1
    assert [h["toStatus"] for h in after["statusHistory"]].count("READY") == 1


async def test_a_dispatch_racing_a_cancel_leaves_one_consistent_outcome(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db, stock=10)
    p0, _ = await read_product_codes(api, tenant)
    home = warehouse_gid(tenant.warehouse_id)
    po = await generated_po(api, db, tenant, [(0, 2)])
    (so,) = po["salesOrders"]

    dispatched, cancelled = await asyncio.gather(
        dispatch(api, so), api.run(AGENT, CANCEL, {"id": po["id"]})
    )

    assert [bool(dispatched.errors), bool(cancelled.errors)].count(True) == 1
    after = await read_po(api, AGENT, po["id"])
    if cancelled.errors:
        assert cancelled.code == "INVALID_TRANSITION"
        assert after["status"] == "READY"
        assert after["salesOrders"][0]["status"] == "COMPLETE"
        assert (await stock_of(api, home))[p0] == (8, 0, 8)
    else:
        assert dispatched.code == "INVALID_TRANSITION"
        assert after["status"] == "CANCELLED"
        assert after["salesOrders"][0]["status"] == "CANCELLED"
        assert after["lines"][0]["assignedSimCount"] == 0
        assert (await stock_of(api, home))[p0] == (10, 0, 10)


async def test_a_warehouse_cannot_see_or_report_on_another_warehouses_order(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po = await generated_po(api, db, tenant, [(0, 1)])
    (so,) = po["salesOrders"]
    stranger = warehouse_actor((await new_warehouse(api))["code"])

    assert (await dispatch(api, so, actor=stranger)).code == "NOT_FOUND"
    assert (await report_error(api, so, "not ours", actor=stranger)).code == "NOT_FOUND"
    assert await read_so(api, stranger, so["id"]) is None
    unknown = {**so, "id": encode_id("SalesOrder", uuid.uuid4())}
    assert (await dispatch(api, unknown)).code == "NOT_FOUND"
    assert (await read_po(api, AGENT, po["id"])) == po
    own = await read_so(api, warehouse_actor(tenant.warehouse_code), so["id"])
    assert own is not None
    assert own["status"] == "AWAITING_DISPATCH"
    assert own["purchaseOrder"] is None
    assert own["deliveryAddress"]["city"] == ADDRESS_INPUT["city"]


async def test_only_a_warehouse_may_report_dispatch_or_errors(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po = await generated_po(api, db, tenant, [(0, 1)])
    (so,) = po["salesOrders"]

    for actor in [tenant.purchaser, tenant.viewer, AGENT, ADMIN]:
        assert (await dispatch(api, so, actor=actor)).code == "FORBIDDEN", actor
        assert (await report_error(api, so, "x", actor=actor)).code == "FORBIDDEN", actor
    assert (await read_po(api, AGENT, po["id"])) == po


async def test_warehouse_error_report_puts_the_order_in_error_with_the_reason(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    generated = await generated_po(api, db, tenant, [(0, 1)])
    waiting = await provisioned_po(api, tenant, [(1, 1)])

    empty = await report_error(api, generated["salesOrders"][0], "  ")
    assert empty.code == "BAD_USER_INPUT"
    assert empty.fields() == ["reason"]
    assert (await read_po(api, AGENT, generated["id"])) == generated

    for po in (generated, waiting):
        (so,) = po["salesOrders"]
        result = await report_error(api, so, "out of NANO trays")
        failed = result.ok()["recordSalesOrderError"]["salesOrder"]
        assert failed["status"] == "ERROR"
        assert failed["error"] == "out of NANO trays"
        after = await read_po(api, AGENT, po["id"])
        assert after["status"] == "PROVISIONING"
        assert after["version"] == po["version"] + 1
        assert so_history(after, so["id"])[-1] == ("ERROR", f"wms@{tenant.warehouse_code}")
        assert "out of NANO trays" in (after["statusHistory"][-1]["note"] or "")

    # The job does not pick an order in ERROR up again by itself.
    await run_once(db)
    assert (await read_so(api, AGENT, waiting["salesOrders"][0]["id"]) or {})["status"] == "ERROR"


async def test_every_sales_order_change_is_a_history_entry_of_its_po(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    wms = f"wms@{tenant.warehouse_code}"
    po = await provisioned_po(api, tenant, [(0, 2)])
    (so,) = po["salesOrders"]
    versions = [po["version"]]

    await run_once(db)
    versions.append((await read_po(api, AGENT, po["id"]))["version"])
    (await report_error(api, so, "label printer down")).ok()
    versions.append((await read_po(api, AGENT, po["id"]))["version"])
    (await retry(api, so["id"])).ok()
    versions.append((await read_po(api, AGENT, po["id"]))["version"])
    await run_once(db)
    versions.append((await read_po(api, AGENT, po["id"]))["version"])
    (await dispatch(api, so)).ok()

    final = await read_po(api, tenant.purchaser, po["id"])
    assert so_history(final, so["id"]) == [
        ("AWAITING_GENERATION", AGENT.sub),
        ("AWAITING_DISPATCH", "system"),
        ("ERROR", wms),
        ("AWAITING_GENERATION", AGENT.sub),
        ("AWAITING_DISPATCH", "system"),
        ("COMPLETE", wms),
    ]
    for entry in final["statusHistory"]:
        if entry["salesOrder"] is not None:
            assert (entry["fromStatus"], entry["toStatus"]) == ("PROVISIONING", "PROVISIONING")
    assert [
        (h["fromStatus"], h["toStatus"]) for h in final["statusHistory"] if not h["salesOrder"]
    ] == [
        (None, "DRAFT"),
        ("DRAFT", "SUBMITTED"),
        ("SUBMITTED", "ACCEPTED"),
        ("ACCEPTED", "PROVISIONING"),
        ("PROVISIONING", "READY"),
    ]
    # Each change moved the version by one; the dispatch and READY by one each.
    assert versions == list(range(versions[0], versions[0] + 5))
    assert final["version"] == versions[-1] + 2


# --- listing and visibility --------------------------------------------------------------------


async def test_sales_orders_filter_by_warehouse_status_and_purchase_order(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db, stock=10)
    extra = await new_warehouse(api, {tenant.product_gid(0): 8})
    split = await provisioned_po(api, tenant, [(0, 15)])
    single = await provisioned_po(api, tenant, [(1, 3)])
    home = warehouse_gid(tenant.warehouse_id)

    async def ids(actor: Actor = AGENT, **flt: Any) -> set[str]:
        result = (await api.run(actor, SALES_ORDERS, {"filter": flt, "first": 100})).ok()
        found = {e["node"]["id"] for e in result["salesOrders"]["edges"]}
        assert result["salesOrders"]["totalCount"] == len(found)
        return found

    split_ids = {so["id"] for so in split["salesOrders"]}
    at_extra = so_in(split, extra["code"])["id"]
    at_home = so_in(split, tenant.warehouse_code)["id"]
    (single_id,) = [so["id"] for so in single["salesOrders"]]

    assert await ids(purchaseOrderId=split["id"]) == split_ids
    assert await ids(purchaseOrderId=single["id"]) == {single_id}
    assert await ids(warehouseId=extra["id"]) == {at_extra}
    assert await ids(warehouseId=home) == {at_home, single_id}
    assert await ids(warehouseId=home, purchaseOrderId=split["id"]) == {at_home}
    assert await ids(warehouseId=home, status=["AWAITING_GENERATION"]) == {at_home, single_id}

    await run_once(db)
    (
        await report_error(
            api, {"id": single_id, "warehouse": {"code": tenant.warehouse_code}}, "no"
        )
    ).ok()

    assert await ids(warehouseId=home, status=["AWAITING_GENERATION"]) == set()
    assert await ids(warehouseId=home, status=["AWAITING_DISPATCH"]) == {at_home}
    assert await ids(warehouseId=home, status=["ERROR", "AWAITING_DISPATCH"]) == {
        at_home,
        single_id,
    }
    # The tenant's purchaser sees its own sales orders, the same way.
    assert await ids(tenant.purchaser, purchaseOrderId=split["id"]) == split_ids

    bad = await api.run(AGENT, SALES_ORDERS, {"filter": {"warehouseId": split["id"]}})
    assert bad.code == "BAD_USER_INPUT"
    assert bad.fields() == ["filter.warehouseId"]


async def test_another_tenants_sales_orders_are_invisible(api: GraphQLClient, db: Database) -> None:
    mine = await make_tenant(db)
    theirs = await make_tenant(db)
    po = await provisioned_po(api, theirs, [(0, 1)])
    (so,) = po["salesOrders"]

    for actor in (mine.purchaser, mine.viewer):
        listed = await api.run(actor, SALES_ORDERS, {"filter": {"purchaseOrderId": po["id"]}})
        assert listed.ok()["salesOrders"] == {"totalCount": 0, "edges": []}
        everything = await api.run(actor, SALES_ORDERS, {"first": 100})
        assert so["id"] not in {e["node"]["id"] for e in everything.ok()["salesOrders"]["edges"]}
        assert await read_so(api, actor, so["id"]) is None
    assert (await retry(api, so["id"], mine.purchaser)).code == "NOT_FOUND"
    # Their own users do see it.
    assert (await read_so(api, theirs.viewer, so["id"]) or {})["id"] == so["id"]


async def test_a_warehouse_lists_only_its_own_sales_orders(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db, stock=4)
    extra = await new_warehouse(api, {tenant.product_gid(0): 4})
    po = await provisioned_po(api, tenant, [(0, 6)])
    at_extra = so_in(po, extra["code"])
    at_home = so_in(po, tenant.warehouse_code)
    wms = warehouse_actor(extra["code"])

    listed = (await api.run(wms, SALES_ORDERS, {"first": 100})).ok()["salesOrders"]
    assert listed["totalCount"] == 1
    (edge,) = listed["edges"]
    assert edge["node"]["id"] == at_extra["id"]
    assert edge["node"]["purchaseOrder"] is None
    by_po = await api.run(wms, SALES_ORDERS, {"filter": {"purchaseOrderId": po["id"]}})
    assert [e["node"]["id"] for e in by_po.ok()["salesOrders"]["edges"]] == [at_extra["id"]]
    other_wh = await api.run(
        wms, SALES_ORDERS, {"filter": {"warehouseId": warehouse_gid(tenant.warehouse_id)}}
    )
    assert other_wh.ok()["salesOrders"]["totalCount"] == 0
    assert await read_so(api, wms, at_home["id"]) is None
    assert (await api.run(wms, READ_PO, {"id": po["id"]})).data in (None, {"purchaseOrder": None})


# --- cancelling and finishing by hand ----------------------------------------------------------


async def test_cancelling_in_provisioning_cancels_the_sales_orders_and_releases_the_stock(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db, stock=10)
    p0, _ = await read_product_codes(api, tenant)
    extra = await new_warehouse(api, {tenant.product_gid(0): 9})
    home = warehouse_gid(tenant.warehouse_id)
    po = await generated_po(api, db, tenant, [(0, 14)])
    at_home = so_in(po, tenant.warehouse_code)
    (await report_error(api, at_home, "damaged stock")).ok()
    assert (await stock_of(api, home))[p0] == (10, 10, 0)
    assert (await stock_of(api, extra["id"]))[p0] == (9, 4, 5)

    refused = await api.run(tenant.purchaser, CANCEL, {"id": po["id"]})
    assert refused.code == "INVALID_TRANSITION"
    assert (await read_po(api, AGENT, po["id"]))["status"] == "PROVISIONING"

    cancelled = await api.run(AGENT, CANCEL, {"id": po["id"]})

    assert cancelled.ok()["cancelPurchaseOrder"]["purchaseOrder"]["status"] == "CANCELLED"
    after = await read_po(api, AGENT, po["id"])
    assert {so["status"] for so in after["salesOrders"]} == {"CANCELLED"}
    for so in after["salesOrders"]:
        assert so_history(after, so["id"])[-1] == ("CANCELLED", AGENT.sub)
    assert (await stock_of(api, home))[p0] == (10, 0, 10)
    assert (await stock_of(api, extra["id"]))[p0] == (9, 0, 9)
    late = await dispatch(api, so_in(after, extra["code"]))
    assert late.code == "INVALID_TRANSITION"
    assert late.errors[0]["extensions"]["status"] == "CANCELLED"
    assert (await retry(api, at_home["id"])).code == "INVALID_TRANSITION"


async def test_a_po_with_dispatched_sims_can_no_longer_be_cancelled(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db, stock=3)
    p0, _ = await read_product_codes(api, tenant)
    extra = await new_warehouse(api, {tenant.product_gid(0): 4})
    po = await generated_po(api, db, tenant, [(0, 5)])
    (await dispatch(api, so_in(po, extra["code"]))).ok()
    before = await read_po(api, AGENT, po["id"])

    result = await api.run(AGENT, CANCEL, {"id": po["id"]})

    assert result.code == "INVALID_TRANSITION"
    assert await read_po(api, AGENT, po["id"]) == before
    assert (await stock_of(api, warehouse_gid(tenant.warehouse_id)))[p0] == (3, 1, 2)
    assert (await stock_of(api, extra["id"]))[p0] == (0, 0, 0)


async def test_marking_ready_by_hand_withdraws_the_open_sales_orders_and_releases_stock(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db, stock=10)
    p0, _ = await read_product_codes(api, tenant)
    home = warehouse_gid(tenant.warehouse_id)
    po = await provisioned_po(api, tenant, [(0, 2)])
    (so,) = po["salesOrders"]
    line_id = po["lines"][0]["id"]
    by_hand = [{"iccid": s.iccid, "imsi": s.imsi, "msisdn": s.msisdn} for s in sims(2)]
    assign_input = {"id": po["id"], "assignments": [{"lineId": line_id, "sims": by_hand}]}
    (await api.run(AGENT, ASSIGN, {"input": assign_input})).ok()

    (await transition(api, AGENT, "markPurchaseOrderReady", po["id"])).ok()

    after = await read_po(api, AGENT, po["id"])
    assert after["status"] == "READY"
    assert after["salesOrders"][0]["status"] == "CANCELLED"
    assert so_history(after, so["id"])[-1] == ("CANCELLED", AGENT.sub)
    assert (await stock_of(api, home))[p0] == (10, 0, 10)
    assert (await dispatch(api, so)).code == "INVALID_TRANSITION"


async def test_factory_pos_in_provisioning_have_their_sales_order(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po = await make_po(db, tenant, S.PROVISIONING, quantity=4)

    read = await read_po(api, AGENT, gid(po))

    (so,) = read["salesOrders"]
    assert so["warehouse"]["code"] == tenant.warehouse_code
    assert [x["quantity"] for x in so["lines"]] == [4]
