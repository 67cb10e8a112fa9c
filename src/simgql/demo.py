"""Demo data: two enterprise accounts, their catalogues, products and POs in several statuses."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import func, select

from simgql.db.engine import Database
from simgql.db.fulfilment import lines_by_sales_order_ids, sales_orders_of, warehouses_by_ids
from simgql.db.models import (
    Account,
    CatalogueEntry,
    Product,
    ProductAssignment,
    Stock,
    Warehouse,
)
from simgql.domain.model import (
    CatalogueKind,
    Role,
    ShippingAddress,
    SimIdentity,
    Viewer,
)
from simgql.domain.validation import luhn_check_digit
from simgql.fulfilment.actions import ReportedItem, record_dispatch
from simgql.fulfilment.job import run_once
from simgql.services import purchase_orders as actions
from simgql.services.purchase_orders import LineInput, OrderDetails

PRODUCTS = [
    ("SIM-2FF-STD", "Standard SIM card 2FF", "SIM_CARD", "MINI_2FF", [], "Provider", "1.20"),
    ("SIM-TRI-STD", "Triple-cut SIM card", "SIM_CARD", "TRIPLE_CUT", [], "Provider", "1.50"),
    (
        "SIM-4FF-IND",
        "Industrial nano SIM",
        "SIM_CARD",
        "NANO_4FF",
        ["industrial-temperature"],
        "Provider",
        "3.90",
    ),
    (
        "SIM-TRI-MIMSI",
        "Triple-cut multi-IMSI SIM",
        "SIM_CARD",
        "TRIPLE_CUT",
        ["multi-imsi"],
        "White label",
        "4.25",
    ),
    (
        "CHIP-MFF2-IND",
        "MFF2 chip, industrial",
        "SIM_CHIP",
        "MFF2",
        ["industrial-temperature", "multi-imsi"],
        "Provider",
        "5.10",
    ),
    (
        "CHIP-EUICC",
        "eUICC chip",
        "SIM_CHIP",
        "EUICC",
        ["euicc", "remote-provisioning"],
        "Provider",
        "7.80",
    ),
]

ACCOUNTS = {
    "ACME": (
        "Acme Logistics GmbH",
        ["PP-IOT-S", "PP-IOT-M", "PP-IOT-L"],
        ["SP-DATA", "SP-DATA-SMS"],
        ["RP-EU", "RP-WORLD"],
        ["APN-ACME", "APN-ACME-PRIV"],
    ),
    "GLOBEX": (
        "Globex Utilities Ltd",
        ["PP-METER"],
        ["SP-DATA"],
        ["RP-HOME", "RP-EU"],
        ["APN-GLOBEX"],
    ),
}


# Two warehouses; eUICC chips are short (3 in all), so a larger order shows INSUFFICIENT_STOCK.
WAREHOUSES = [
    (
        "WH-HAM",
        "Hamburg fulfilment centre",
        {
            "SIM-2FF-STD": 5000,
            "SIM-TRI-STD": 5000,
            "SIM-4FF-IND": 800,
            "SIM-TRI-MIMSI": 300,
            "CHIP-MFF2-IND": 2,
            "CHIP-EUICC": 0,
        },
    ),
    (
        "WH-LON",
        "London logistics hub",
        {
            "SIM-2FF-STD": 2000,
            "SIM-TRI-STD": 1000,
            "SIM-4FF-IND": 0,
            "SIM-TRI-MIMSI": 100,
            "CHIP-MFF2-IND": 400,
            "CHIP-EUICC": 3,
        },
    ),
]


def demo_sims(count: int, *, start: int) -> list[SimIdentity]:
    """Valid, unique demo identities (ICCIDs carry a correct Luhn digit)."""
    out = []
    for n in range(start, start + count):
        payload = f"894900000000{n:06d}"
        out.append(
            SimIdentity(payload + luhn_check_digit(payload), f"26201{n:010d}", f"4915{n:09d}")
        )
    return out


async def seed_demo(db: Database) -> bool:
    """Create the demo data unless accounts exist; True when it seeded."""
    async with db.write() as session:
        if (await session.execute(select(func.count()).select_from(Account))).scalar_one():
            return False
        products = {}
        for code, name, kind, ff, features, branding, price in PRODUCTS:
            products[code] = Product(
                code=code,
                name=name,
                kind=kind,
                form_factor=ff,
                features=features,
                branding=branding,
                unit_price=Decimal(price),
                currency="EUR",
                description=f"{name} ({ff}).",
            )
            session.add(products[code])
        accounts = {}
        for code, (name, plans, services, roaming, apns) in ACCOUNTS.items():
            account = Account(
                code=code,
                name=name,
                status="ACTIVE",
                default_sim_billing_status="TEST_READY",
                default_price_plan=plans[0],
                default_service_profile=services[0],
                default_roaming_profile=roaming[0],
                default_apn_group=apns[0],
            )
            session.add(account)
            await session.flush()
            accounts[code] = account
            for kind, codes in (
                (CatalogueKind.PRICE_PLAN, plans),
                (CatalogueKind.SERVICE_PROFILE, services),
                (CatalogueKind.ROAMING_PROFILE, roaming),
                (CatalogueKind.APN_GROUP, apns),
            ):
                for c in codes:
                    session.add(CatalogueEntry(account_id=account.id, kind=kind, code=c))
        await session.flush()
        for spec in PRODUCTS[:5]:
            session.add(
                ProductAssignment(account_id=accounts["ACME"].id, product_id=products[spec[0]].id)
            )
        for code in ("SIM-2FF-STD", "CHIP-MFF2-IND", "CHIP-EUICC"):
            session.add(
                ProductAssignment(
                    account_id=accounts["GLOBEX"].id,
                    product_id=products[code].id,
                    min_quantity=10 if code == "CHIP-MFF2-IND" else None,
                )
            )
        for code, name, holdings in WAREHOUSES:
            warehouse = Warehouse(code=code, name=name)
            session.add(warehouse)
            await session.flush()
            for product_code, on_hand in holdings.items():
                session.add(
                    Stock(
                        warehouse_id=warehouse.id,
                        product_id=products[product_code].id,
                        on_hand=on_hand,
                    )
                )
        ids = {c: (a.id, {p: products[p].id for p in products}) for c, a in accounts.items()}
    await _seed_orders(db, ids)
    return True


async def _seed_orders(
    db: Database, ids: dict[str, tuple[uuid.UUID, dict[str, uuid.UUID]]]
) -> None:
    agent = Viewer("agent.smith", Role.SP_AGENT)
    address = {
        "ACME": ShippingAddress(
            "Jane Doe", ("Hafenstrasse 1",), "Hamburg", "20457", "DE", company="Acme Logistics GmbH"
        ),
        "GLOBEX": ShippingAddress("Hank Scorpio", ("1 Cypress Creek",), "London", "EC1A 1BB", "GB"),
    }
    ship = dt.date.today() + dt.timedelta(days=14)
    plan = [
        ("ACME", "SIM-TRI-STD", 50, "DRAFT"),
        ("ACME", "SIM-4FF-IND", 20, "SUBMITTED"),
        ("ACME", "CHIP-MFF2-IND", 3, "PROVISIONING"),
        ("ACME", "SIM-2FF-STD", 2, "SHIPPED"),
        ("GLOBEX", "CHIP-EUICC", 5, "SUBMITTED"),
        ("GLOBEX", "SIM-2FF-STD", 100, "REJECTED"),
        ("GLOBEX", "CHIP-MFF2-IND", 10, "READY"),
    ]
    next_sim = 1
    for account_code, product_code, qty, target in plan:
        account_id, product_ids = ids[account_code]
        buyer = Viewer(f"buyer@{account_code.lower()}", Role.ENTERPRISE_PURCHASER, account_id)
        po = (
            await actions.create_purchase_order(
                db,
                viewer=buyer,
                account_id=None,
                details=OrderDetails(
                    [LineInput(product_ids[product_code], qty)], address[account_code], ship
                ),
            )
        ).purchase_order
        if target == "DRAFT":
            continue
        await actions.submit_purchase_order(
            db, viewer=buyer, po_id=po.id, expected_version=None, note=None
        )
        if target == "SUBMITTED":
            continue
        if target == "REJECTED":
            await actions.reject_purchase_order(
                db,
                viewer=agent,
                po_id=po.id,
                expected_version=None,
                reason="Quantity above the agreed framework; please split the order.",
            )
            continue
        await actions.accept_purchase_order(
            db, viewer=agent, po_id=po.id, expected_version=None, note=None
        )
        await actions.start_provisioning(
            db, viewer=agent, po_id=po.id, expected_version=None, note=None
        )
        if target == "PROVISIONING":
            continue  # its sales orders wait for the request job, which runs on `serve`
        # The warehouse path: generate the sales orders, then each warehouse dispatches.
        await run_once(db)
        async with db.read() as session:
            orders = await sales_orders_of(session, purchase_order_id=po.id)
            warehouses = await warehouses_by_ids(session, ids=[o.warehouse_id for o in orders])
            lines = await lines_by_sales_order_ids(session, ids=[o.id for o in orders])
        for order in orders:
            warehouse = Viewer(
                "wms@" + warehouses[order.warehouse_id].code.lower(),
                Role.WAREHOUSE,
                warehouse_code=warehouses[order.warehouse_id].code,
            )
            items = []
            for line in lines[order.id]:
                for sim in demo_sims(line.quantity, start=next_sim):
                    items.append(ReportedItem(line.product_id, None, sim))
                next_sim += line.quantity
            await record_dispatch(
                db,
                viewer=warehouse,
                sales_order_id=order.id,
                items=items,
                carrier="DHL",
                tracking_number=f"JD0146{next_sim:014d}",
                dispatched_at=None,
            )
        if target == "SHIPPED":
            await actions.ship_purchase_order(
                db,
                viewer=agent,
                po_id=po.id,
                expected_version=None,
                carrier="DHL",
                tracking_number="JD014600006281230021",
                shipped_at=None,
            )
