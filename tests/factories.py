"""Test data built through the application's own actions, with unique codes per call."""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from simgql.api.ids import encode_id
from simgql.db.engine import Database
from simgql.db.models import (
    Account,
    CatalogueEntry,
    Product,
    ProductAssignment,
    PurchaseOrder,
    Stock,
    Warehouse,
)
from simgql.db.purchase_orders import lines_by_po_ids
from simgql.domain.model import (
    CatalogueKind,
    PurchaseOrderStatus,
    Role,
    ShippingAddress,
    SimIdentity,
    Viewer,
)
from simgql.domain.validation import luhn_check_digit
from simgql.services import purchase_orders as actions
from simgql.services.purchase_orders import LineAssignment, LineInput, OrderDetails
from tests.client import Actor

_sim_serial = itertools.count(secrets.randbelow(10**6) * 1000)

AGENT = Actor(Role.SP_AGENT, "agent-007")
ADMIN = Actor(Role.SP_ADMIN, "admin-1")
SYSTEM_AGENT = Viewer("factory-agent", Role.SP_AGENT)

CATALOGUE = {
    CatalogueKind.PRICE_PLAN: ["PP-S", "PP-M"],
    CatalogueKind.SERVICE_PROFILE: ["SP-DATA"],
    CatalogueKind.ROAMING_PROFILE: ["RP-EU", "RP-WORLD"],
    CatalogueKind.APN_GROUP: ["APN-1"],
}


def unique(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4).upper()}"


@dataclass
class Tenant:
    """An enterprise account with its products, and the people who act for it."""

    account_id: uuid.UUID
    code: str
    product_ids: list[uuid.UUID]
    warehouse_id: uuid.UUID
    warehouse_code: str
    purchaser: Actor = field(init=False)
    viewer: Actor = field(init=False)

    def __post_init__(self) -> None:
        self.purchaser = Actor(Role.ENTERPRISE_PURCHASER, f"buyer@{self.code}", self.code)
        self.viewer = Actor(Role.ENTERPRISE_VIEWER, f"viewer@{self.code}", self.code)

    @property
    def gid(self) -> str:
        return encode_id("Account", self.account_id)

    def product_gid(self, i: int = 0) -> str:
        return encode_id("Product", self.product_ids[i])

    def as_viewer(self, actor: Actor) -> Viewer:
        return Viewer(actor.sub, actor.role, self.account_id, self.code)


def address(**changes: object) -> ShippingAddress:
    base = {
        "recipient": "Jane Doe",
        "street": ("Hafenstrasse 1",),
        "city": "Hamburg",
        "postal_code": "20457",
        "country": "DE",
        "company": "Acme",
        "region": None,
        "phone": "+49 40 123456",
    }
    base.update(changes)
    return ShippingAddress(**base)  # type: ignore[arg-type]


ADDRESS_INPUT = {
    "recipient": "Jane Doe",
    "street": ["Hafenstrasse 1"],
    "city": "Hamburg",
    "postalCode": "20457",
    "country": "DE",
}


async def make_tenant(
    db: Database,
    *,
    products: int = 2,
    unit_price: str = "1.50",
    status: str = "ACTIVE",
    min_quantity: int | None = None,
    max_quantity: int | None = None,
    stock: int = 10_000,
) -> Tenant:
    code = unique("T")
    async with db.write() as session:
        account = Account(
            code=code,
            name=f"Tenant {code}",
            status=status,
            default_sim_billing_status="TEST_READY",
            default_price_plan="PP-S",
            default_service_profile="SP-DATA",
            default_roaming_profile="RP-EU",
            default_apn_group="APN-1",
        )
        session.add(account)
        await session.flush()
        for kind, codes in CATALOGUE.items():
            for c in codes:
                session.add(CatalogueEntry(account_id=account.id, kind=kind, code=c))
        warehouse = Warehouse(code=unique("W"), name=f"Warehouse of {code}")
        session.add(warehouse)
        await session.flush()
        ids = []
        for i in range(products):
            product = Product(
                code=unique(f"P{i}-"),
                name=f"Product {i}",
                kind="SIM_CARD",
                form_factor="TRIPLE_CUT",
                features=[],
                unit_price=Decimal(unit_price),
                currency="EUR",
                active=True,
            )
            session.add(product)
            await session.flush()
            session.add(
                ProductAssignment(
                    account_id=account.id,
                    product_id=product.id,
                    min_quantity=min_quantity,
                    max_quantity=max_quantity,
                )
            )
            session.add(
                Stock(warehouse_id=warehouse.id, product_id=product.id, on_hand=stock, reserved=0)
            )
            ids.append(product.id)
    return Tenant(account.id, code, ids, warehouse.id, warehouse.code)


def sims(count: int) -> list[SimIdentity]:
    """Valid SIM identities, unique across the test session."""
    out = []
    for _ in range(count):
        n = next(_sim_serial)
        payload = f"8949{n:014d}"
        out.append(
            SimIdentity(payload + luhn_check_digit(payload), f"26201{n:010d}", f"4917{n:010d}")
        )
    return out


PATH = [
    PurchaseOrderStatus.DRAFT,
    PurchaseOrderStatus.SUBMITTED,
    PurchaseOrderStatus.ACCEPTED,
    PurchaseOrderStatus.PROVISIONING,
    PurchaseOrderStatus.READY,
    PurchaseOrderStatus.SHIPPED,
    PurchaseOrderStatus.CLOSED,
]


async def make_po(
    db: Database,
    tenant: Tenant,
    status: PurchaseOrderStatus = PurchaseOrderStatus.DRAFT,
    *,
    quantity: int = 2,
    assign: bool | None = None,
) -> PurchaseOrder:
    """A PO of the tenant driven through the real actions up to `status`.

    In PROVISIONING, SIMs are assigned when `assign` is true (default: not assigned).
    """
    buyer = tenant.as_viewer(tenant.purchaser)
    po = (
        await actions.create_purchase_order(
            db,
            viewer=buyer,
            account_id=None,
            details=OrderDetails(
                [LineInput(tenant.product_ids[0], quantity)],
                address(),
                dt.date.today() + dt.timedelta(days=7),
            ),
        )
    ).purchase_order
    kw = {"po_id": po.id, "expected_version": None}
    if status is PurchaseOrderStatus.DRAFT:
        return po
    if status is PurchaseOrderStatus.CANCELLED:
        return (
            await actions.cancel_purchase_order(db, viewer=buyer, reason="test", **kw)
        ).purchase_order
    po = (await actions.submit_purchase_order(db, viewer=buyer, note=None, **kw)).purchase_order
    if status is PurchaseOrderStatus.SUBMITTED:
        return po
    if status is PurchaseOrderStatus.REJECTED:
        return (
            await actions.reject_purchase_order(db, viewer=SYSTEM_AGENT, reason="no", **kw)
        ).purchase_order
    po = (
        await actions.accept_purchase_order(db, viewer=SYSTEM_AGENT, note=None, **kw)
    ).purchase_order
    if status is PurchaseOrderStatus.ACCEPTED:
        return po
    po = (await actions.start_provisioning(db, viewer=SYSTEM_AGENT, note=None, **kw)).purchase_order
    if status is PurchaseOrderStatus.PROVISIONING and not assign:
        return po
    async with db.read() as session:
        line = (await lines_by_po_ids(session, ids=[po.id]))[po.id][0]
    po = (
        await actions.assign_sims(
            db, viewer=SYSTEM_AGENT, assignments=[LineAssignment(line.id, sims(quantity))], **kw
        )
    ).purchase_order
    if status is PurchaseOrderStatus.PROVISIONING:
        return po
    po = (await actions.mark_ready(db, viewer=SYSTEM_AGENT, note=None, **kw)).purchase_order
    if status is PurchaseOrderStatus.READY:
        return po
    po = (
        await actions.ship_purchase_order(
            db, viewer=SYSTEM_AGENT, carrier="DHL", tracking_number="123", shipped_at=None, **kw
        )
    ).purchase_order
    if status is PurchaseOrderStatus.SHIPPED:
        return po
    return (await actions.confirm_receipt(db, viewer=buyer, note=None, **kw)).purchase_order


def gid(po: PurchaseOrder) -> str:
    return encode_id("PurchaseOrder", po.id)
