"""GraphQL object types; each wraps a database row and resolves its fields through loaders."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Generic, TypeVar, cast

import strawberry

from simgql.api.context import Info
from simgql.api.ids import encode_id
from simgql.api.loaders import loaded, now_or_later
from simgql.db import accounts as account_repo
from simgql.db import models
from simgql.db import purchase_orders as po_repo
from simgql.db.purchase_orders import address_of, overrides_of
from simgql.domain import model
from simgql.domain.fulfilment import SalesOrderStatus
from simgql.domain.model import SimBillingStatus
from simgql.domain.policy import available_actions, can_see_account, can_see_sims
from simgql.services.purchase_orders import facts_of

CENT = Decimal("0.01")


@strawberry.interface(description="An object with a global, opaque ID.")
class Node:
    id: strawberry.ID = strawberry.field(
        description="The opaque global ID; `node(id:)` fetches the object by it."
    )


@strawberry.type(description="An exact amount of money: a decimal string and an ISO 4217 code.")
class Money:
    amount: str = strawberry.field(
        description='A decimal string with at least two decimals, e.g. "12.50" or "0.0125".'
    )
    currency: str = strawberry.field(description="An ISO 4217 currency code, e.g. EUR.")

    @classmethod
    def of(cls, amount: Decimal, currency: str) -> Money:
        # At least two decimals ("12.50"), more only where the price has them ("0.0125").
        exact = amount.normalize()
        exponent = exact.as_tuple().exponent
        shown = exact if isinstance(exponent, int) and exponent < -2 else exact.quantize(CENT)
        return cls(amount=format(shown, "f"), currency=currency)


@strawberry.type(description="The settings a new SIM starts with.")
class Entitlements:
    sim_billing_status: SimBillingStatus | None = strawberry.field(
        description="The billing status the SIM starts in; null when not set."
    )
    price_plan: str | None = strawberry.field(description="The price plan code; null when not set.")
    service_profile: str | None = strawberry.field(
        description="The service profile code; null when not set."
    )
    roaming_profile: str | None = strawberry.field(
        description="The roaming profile code; null when not set."
    )
    apn_group: str | None = strawberry.field(description="The APN group code; null when not set.")

    @classmethod
    def of(cls, e: model.Entitlements) -> Entitlements:
        return cls(
            sim_billing_status=e.sim_billing_status,
            price_plan=e.price_plan,
            service_profile=e.service_profile,
            roaming_profile=e.roaming_profile,
            apn_group=e.apn_group,
        )


@strawberry.type(description="The values an account may choose when it overrides its defaults.")
class Catalogue:
    price_plans: list[str] = strawberry.field(
        description="The price plan codes an override may choose."
    )
    service_profiles: list[str] = strawberry.field(
        description="The service profile codes an override may choose."
    )
    roaming_profiles: list[str] = strawberry.field(
        description="The roaming profile codes an override may choose."
    )
    apn_groups: list[str] = strawberry.field(
        description="The APN group codes an override may choose."
    )


@strawberry.type(
    description="A SIM Sales Product; enterprise roles see those assigned to their account."
)
class Product(Node):
    row: strawberry.Private[models.Product]
    code: str = strawberry.field(description="The unique SKU.")
    name: str = strawberry.field(description="The display name.")
    description: str = strawberry.field(description="A longer description; empty when none.")
    kind: model.ProductKind = strawberry.field(description="Card or chip.")
    form_factor: model.FormFactor = strawberry.field(description="The physical format.")
    features: list[str] = strawberry.field(
        description="Hardware and software feature codes, e.g. `industrial-temperature`."
    )
    branding: str | None = strawberry.field(description="The branding of the SIM, if any.")
    active: bool = strawberry.field(
        description="Only active products can be added to orders and submitted."
    )

    @strawberry.field(description="The current price of one SIM.")
    def unit_price(self) -> Money:
        return Money.of(self.row.unit_price, self.row.currency)

    @classmethod
    def of(cls, row: models.Product) -> Product:
        return cls(
            row=row,
            id=strawberry.ID(encode_id("Product", row.id)),
            code=row.code,
            name=row.name,
            description=row.description,
            kind=model.ProductKind(row.kind),
            form_factor=model.FormFactor(row.form_factor),
            features=list(row.features or []),
            branding=row.branding,
            active=row.active,
        )


@strawberry.type(description="A product offered to an account, with optional quantity bounds.")
class ProductAssignment:
    row: strawberry.Private[models.ProductAssignment]
    min_quantity: int | None = strawberry.field(
        description="The least quantity a PO line may order; null: no bound beyond 1."
    )
    max_quantity: int | None = strawberry.field(
        description="The most a PO line may order; null: no bound beyond 100000."
    )

    @strawberry.field(description="The product offered.")
    async def product(self, info: Info) -> Product:
        row = await info.context.loaders.product.load(self.row.product_id)
        assert row is not None
        return Product.of(row)


@strawberry.type(
    description="An enterprise customer of the service provider; enterprise roles see only "
    "their own."
)
class Account(Node):
    row: strawberry.Private[models.Account]
    code: str = strawberry.field(
        description="The unique, human-readable code, e.g. ACME; enterprise tokens name it."
    )
    name: str = strawberry.field(description="The display name.")
    status: model.AccountStatus = strawberry.field(description="Whether the account may order.")

    @strawberry.field(description="The entitlements new SIMs get unless a PO overrides them.")
    def defaults(self) -> Entitlements:
        return Entitlements.of(account_repo.account_defaults(self.row))

    @strawberry.field(description="The values a purchase order may override the defaults with.")
    async def catalogue(self, info: Info) -> Catalogue:
        entries = await info.context.loaders.catalogue.load(self.row.id)

        def codes(kind: model.CatalogueKind) -> list[str]:
            return [e.code for e in entries if e.kind == kind]

        return Catalogue(
            price_plans=codes(model.CatalogueKind.PRICE_PLAN),
            service_profiles=codes(model.CatalogueKind.SERVICE_PROFILE),
            roaming_profiles=codes(model.CatalogueKind.ROAMING_PROFILE),
            apn_groups=codes(model.CatalogueKind.APN_GROUP),
        )

    @strawberry.field(description="The products offered to this account.")
    async def product_assignments(self, info: Info) -> list[ProductAssignment]:
        rows = await info.context.loaders.assignments.load(self.row.id)
        return [
            ProductAssignment(row=r, min_quantity=r.min_quantity, max_quantity=r.max_quantity)
            for r in rows
        ]

    @classmethod
    def of(cls, row: models.Account) -> Account:
        return cls(
            row=row,
            id=strawberry.ID(encode_id("Account", row.id)),
            code=row.code,
            name=row.name,
            status=model.AccountStatus(row.status),
        )


@strawberry.type(description="A SIM: its identities and the entitlements it was given.")
class Sim(Node):
    row: strawberry.Private[models.Sim]
    iccid: str = strawberry.field(
        description="The ICCID: 19 or 20 digits, the last a Luhn check digit; unique."
    )
    imsi: str = strawberry.field(description="The IMSI: exactly 15 digits; unique.")
    msisdn: str = strawberry.field(
        description="The MSISDN: 8 to 15 E.164 digits, without `+` or leading zero; unique."
    )

    @strawberry.field(description="The PO's effective entitlements when the SIM was assigned.")
    def entitlements(self) -> Entitlements:
        r = self.row
        return Entitlements(
            sim_billing_status=SimBillingStatus(r.sim_billing_status)
            if r.sim_billing_status
            else None,
            price_plan=r.price_plan,
            service_profile=r.service_profile,
            roaming_profile=r.roaming_profile,
            apn_group=r.apn_group,
        )

    @strawberry.field(description="The product this SIM is one of.")
    async def product(self, info: Info) -> Product:
        row = await info.context.loaders.product.load(self.row.product_id)
        assert row is not None
        return Product.of(row)

    @classmethod
    def of(cls, row: models.Sim) -> Sim:
        return cls(
            row=row,
            id=strawberry.ID(encode_id("Sim", row.id)),
            iccid=row.iccid,
            imsi=row.imsi,
            msisdn=row.msisdn,
        )


async def _line_price(info: Info, line: models.PurchaseOrderLine) -> tuple[Decimal, str]:
    """The submitted snapshot of a line's unit price, or the product's price before submit."""
    if line.unit_price is not None and line.currency is not None:
        return line.unit_price, line.currency
    product = await info.context.loaders.product.load(line.product_id)
    assert product is not None
    return product.unit_price, product.currency


def _line_price_now(info: Info, line: models.PurchaseOrderLine) -> tuple[Decimal, str] | None:
    """`_line_price` when no read is needed (snapshot taken, or the product loaded)."""
    if line.unit_price is not None and line.currency is not None:
        return line.unit_price, line.currency
    product = loaded(info.context.loaders.product.load(line.product_id))
    return (product.unit_price, product.currency) if product is not None else None


async def _money_later(info: Info, line: models.PurchaseOrderLine) -> Money:
    return Money.of(*await _line_price(info, line))


def _total(rows: list[models.PurchaseOrderLine], prices: list[tuple[Decimal, str]]) -> Money | None:
    """The sum of the lines; None without lines or when their currencies differ."""
    if not rows:
        return None
    currencies = {currency for _, currency in prices}
    if len(currencies) != 1:
        return None
    amount = sum((p * r.quantity for (p, _), r in zip(prices, rows, strict=True)), Decimal(0))
    return Money.of(amount, currencies.pop())


def _product(row: models.Product | None) -> Product:
    assert row is not None
    return Product.of(row)


def _account(row: models.Account | None) -> Account:
    assert row is not None
    return Account.of(row)


def _sims(rows: list[models.Sim]) -> list[Sim]:
    return [Sim.of(s) for s in rows]


@strawberry.type(description="One product and quantity of a purchase order.")
class PurchaseOrderLine:
    row: strawberry.Private[models.PurchaseOrderLine]
    po_status: strawberry.Private[str]
    id: strawberry.ID = strawberry.field(
        description="The line's global ID, as `assignPurchaseOrderSims` takes it."
    )
    quantity: int = strawberry.field(description="How many SIMs of the product are ordered.")

    @strawberry.field(description="The product ordered.")
    def product(self, info: Info) -> Product:
        return now_or_later(info.context.loaders.product.load(self.row.product_id), _product)

    @strawberry.field(description="The price per SIM: fixed at submit, the current price before.")
    def unit_price(self, info: Info) -> Money:
        price = _line_price_now(info, self.row)
        if price is not None:
            return Money.of(*price)
        return cast(Money, _money_later(info, self.row))

    @strawberry.field(description="How many SIMs the line has so far; visible to every role.")
    def assigned_sim_count(self, info: Info) -> int:
        return now_or_later(info.context.loaders.sim_count.load(self.row.id), int)

    @strawberry.field(description="Visible to the enterprise account from READY on.")
    def sims(self, info: Info) -> list[Sim]:
        if not can_see_sims(info.context.viewer, model.PurchaseOrderStatus(self.po_status)):
            return []
        return now_or_later(info.context.loaders.sims.load(self.row.id), _sims)


@strawberry.type(description="Where a purchase order's SIMs are delivered.")
class ShippingAddress:
    recipient: str = strawberry.field(description="The person who receives the parcel.")
    company: str | None = strawberry.field(description="The company, if any.")
    street: list[str] = strawberry.field(description="One to three street lines.")
    city: str = strawberry.field(description="The city.")
    postal_code: str = strawberry.field(description="The postal code.")
    region: str | None = strawberry.field(description="The region or state, if any.")
    country: str = strawberry.field(
        description="An ISO 3166-1 alpha-2 country code in upper case, e.g. DE."
    )
    phone: str | None = strawberry.field(description="A contact phone number, if any.")


def _address(po: models.PurchaseOrder) -> ShippingAddress | None:
    a = address_of(po)
    if a is None:
        return None
    return ShippingAddress(
        recipient=a.recipient,
        company=a.company,
        street=list(a.street),
        city=a.city,
        postal_code=a.postal_code,
        region=a.region,
        country=a.country,
        phone=a.phone,
    )


@strawberry.type(description="How a shipped purchase order travels.")
class Shipping:
    carrier: str = strawberry.field(description="The carrier.")
    tracking_number: str = strawberry.field(description="The carrier's tracking number.")
    shipped_at: dt.datetime = strawberry.field(description="When it was shipped.")


@strawberry.type(
    description="One entry of a PO's history: a status change of the PO or of a sales order."
)
class StatusChange:
    row: strawberry.Private[models.StatusEvent]
    from_status: model.PurchaseOrderStatus | None = strawberry.field(
        description="The PO's status before the change; null for its creation."
    )
    to_status: model.PurchaseOrderStatus = strawberry.field(
        description="The PO's status after the change."
    )
    actor: str = strawberry.field(
        description="Who made the change: the token's `sub`, or `system`."
    )
    note: str | None = strawberry.field(
        description="The note or reason given with the change, if any."
    )
    occurred_at: dt.datetime = strawberry.field(description="When the change was made.")
    sales_order_status: SalesOrderStatus | None = strawberry.field(
        description="Set when the entry is a sales order's status change (the PO's stays)."
    )

    @strawberry.field(description="The sales order this entry is about, if any.")
    async def sales_order(self, info: Info) -> SalesOrder | None:
        if self.row.sales_order_id is None:
            return None
        row = await info.context.loaders.sales_order.load(self.row.sales_order_id)
        return SalesOrder.of(row) if row else None

    @classmethod
    def of(cls, e: models.StatusEvent) -> StatusChange:
        return cls(
            row=e,
            from_status=model.PurchaseOrderStatus(e.from_status) if e.from_status else None,
            to_status=model.PurchaseOrderStatus(e.to_status),
            actor=e.actor,
            note=e.note,
            occurred_at=e.occurred_at,
            sales_order_status=SalesOrderStatus(e.sales_order_status)
            if e.sales_order_status
            else None,
        )


@strawberry.type(description="An enterprise account's order for SIMs (PO), from draft to closed.")
class PurchaseOrder(Node):
    row: strawberry.Private[models.PurchaseOrder]
    number: int | None = strawberry.field(
        description="Null until the service provider accepts the PO; never reused."
    )
    status: model.PurchaseOrderStatus = strawberry.field(
        description="Where the PO is in its lifecycle."
    )
    version: int = strawberry.field(
        description="Starts at 1 and grows with every change; send it as `expectedVersion`."
    )
    requested_ship_date: dt.date | None = strawberry.field(
        description="The day the purchaser would like it shipped, if any."
    )
    rejection_reason: str | None = strawberry.field(
        description="The reason of the last rejection; null when never rejected."
    )
    created_by: str = strawberry.field(description="The `sub` of the user who created it.")
    created_at: dt.datetime = strawberry.field(description="When it was created.")
    updated_at: dt.datetime = strawberry.field(description="When it last changed.")

    @classmethod
    def of(cls, row: models.PurchaseOrder) -> PurchaseOrder:
        return cls(
            row=row,
            id=strawberry.ID(encode_id("PurchaseOrder", row.id)),
            number=row.number,
            status=model.PurchaseOrderStatus(row.status),
            version=row.version,
            requested_ship_date=row.requested_ship_date,
            rejection_reason=row.rejection_reason,
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field(description="The enterprise account that orders.")
    def account(self, info: Info) -> Account:
        return now_or_later(info.context.loaders.account.load(self.row.account_id), _account)

    @strawberry.field(description="The products and quantities ordered, in the order given.")
    def lines(self, info: Info) -> list[PurchaseOrderLine]:
        status = self.row.status

        def wrap(rows: list[models.PurchaseOrderLine]) -> list[PurchaseOrderLine]:
            return [
                PurchaseOrderLine(
                    row=r,
                    po_status=status,
                    id=strawberry.ID(encode_id("PurchaseOrderLine", r.id)),
                    quantity=r.quantity,
                )
                for r in rows
            ]

        return now_or_later(info.context.loaders.lines.load(self.row.id), wrap)

    @strawberry.field(description="Where to deliver; null until given (required to submit).")
    def shipping_address(self) -> ShippingAddress | None:
        return _address(self.row)

    @strawberry.field(description="The account defaults this PO overrides (unset fields: none).")
    def overrides(self) -> Entitlements:
        return Entitlements.of(overrides_of(self.row))

    @strawberry.field(description="The override where given, else the account default.")
    async def effective_entitlements(self, info: Info) -> Entitlements:
        account = await info.context.loaders.account.load(self.row.account_id)
        assert account is not None
        return Entitlements.of(overrides_of(self.row).over(account_repo.account_defaults(account)))

    @strawberry.field(
        description="The sum of the lines; null without lines or when their currencies differ."
    )
    def total(self, info: Info) -> Money | None:
        rows = loaded(info.context.loaders.lines.load(self.row.id))
        if rows is not None:
            prices = [_line_price_now(info, r) for r in rows]
            if all(p is not None for p in prices):
                return _total(rows, cast(list[tuple[Decimal, str]], prices))
        return cast(Money | None, self._total_later(info))

    async def _total_later(self, info: Info) -> Money | None:
        rows = await info.context.loaders.lines.load(self.row.id)
        return _total(rows, [await _line_price(info, r) for r in rows])

    @strawberry.field(description="Carrier and tracking number; null until shipped.")
    def shipping(self) -> Shipping | None:
        r = self.row
        if r.carrier is None or r.tracking_number is None or r.shipped_at is None:
            return None
        return Shipping(
            carrier=r.carrier, tracking_number=r.tracking_number, shipped_at=r.shipped_at
        )

    @strawberry.field(
        description="Every status change, oldest first: the PO's own and its sales orders'."
    )
    def status_history(self, info: Info) -> list[StatusChange]:
        return now_or_later(info.context.loaders.history.load(self.row.id), _changes)

    @strawberry.field(description="The warehouse sales orders that fulfil this PO.")
    def sales_orders(self, info: Info) -> list[SalesOrder]:
        return now_or_later(info.context.loaders.sales_orders.load(self.row.id), _sales_orders)

    @strawberry.field(description="What the current viewer may do with this PO now.")
    async def available_actions(self, info: Info) -> list[model.PurchaseOrderAction]:
        account = await info.context.loaders.account.load(self.row.account_id)
        assert account is not None
        assignment = po_repo.Assignment()
        if self.row.status == model.PurchaseOrderStatus.PROVISIONING:
            assignment = await info.context.loaders.assignment.load(self.row.id)
        return available_actions(
            info.context.viewer, facts_of(self.row, account, assignment=assignment)
        )


@strawberry.type(description="Who the bearer token speaks for.")
class Me:
    sub: str = strawberry.field(description="The token's `sub` claim: the user's ID.")
    role: model.Role = strawberry.field(description="The token's `role` claim.")
    warehouse: str | None = strawberry.field(
        description="The warehouse code of a WAREHOUSE token; null for other roles."
    )
    account_row: strawberry.Private[models.Account | None]

    @strawberry.field(description="The account of an enterprise token; null for other roles.")
    def account(self) -> Account | None:
        return Account.of(self.account_row) if self.account_row else None


@strawberry.type(description="A warehouse that holds stock and ships sales orders.")
class Warehouse(Node):
    row: strawberry.Private[models.Warehouse]
    code: str = strawberry.field(description="The unique code; warehouse tokens name it.")
    name: str = strawberry.field(description="The display name.")

    @classmethod
    def of(cls, row: models.Warehouse) -> Warehouse:
        return cls(
            row=row, id=strawberry.ID(encode_id("Warehouse", row.id)), code=row.code, name=row.name
        )


@strawberry.type(description="What one sales order ships of one PO line.")
class SalesOrderLine:
    row: strawberry.Private[models.SalesOrderLine]
    quantity: int = strawberry.field(description="How many SIMs of the product it ships.")

    @strawberry.field(description="The product shipped.")
    async def product(self, info: Info) -> Product:
        row = await info.context.loaders.product.load(self.row.product_id)
        assert row is not None
        return Product.of(row)

    @strawberry.field(description="The PO line this ships.")
    def purchase_order_line_id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("PurchaseOrderLine", self.row.purchase_order_line_id))


@strawberry.type(description="The outcome of the check of a sales order's delivery address.")
class FraudCheckResult:
    status: str = strawberry.field(description="PASSED, FAILED or NOT_REQUIRED.")
    reason: str | None = strawberry.field(description="Why the check failed; null otherwise.")


@strawberry.type(description="What the warehouse reported when it dispatched a sales order.")
class Dispatch:
    carrier: str = strawberry.field(description="The carrier.")
    tracking_number: str = strawberry.field(description="The carrier's tracking number.")
    dispatched_at: dt.datetime = strawberry.field(description="When it was dispatched.")


@strawberry.type(description="A warehouse's part of fulfilling a PO.")
class SalesOrder(Node):
    row: strawberry.Private[models.SalesOrder]
    status: SalesOrderStatus = strawberry.field(description="Where the order is in its life.")
    error: str | None = strawberry.field(description="Why the order is in ERROR.")
    created_at: dt.datetime = strawberry.field(description="When provisioning created it.")
    updated_at: dt.datetime = strawberry.field(description="When its status last changed.")

    @classmethod
    def of(cls, row: models.SalesOrder) -> SalesOrder:
        return cls(
            row=row,
            id=strawberry.ID(encode_id("SalesOrder", row.id)),
            status=SalesOrderStatus(row.status),
            error=row.error_reason,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field(description="The warehouse that ships it.")
    async def warehouse(self, info: Info) -> Warehouse:
        row = await info.context.loaders.warehouse.load(self.row.warehouse_id)
        assert row is not None
        return Warehouse.of(row)

    @strawberry.field(description="What it ships, per purchase order line.")
    async def lines(self, info: Info) -> list[SalesOrderLine]:
        rows = await info.context.loaders.sales_order_lines.load(self.row.id)
        return [SalesOrderLine(row=r, quantity=r.quantity) for r in rows]

    @strawberry.field(description="The PO, when the viewer may see it (warehouses may not).")
    async def purchase_order(self, info: Info) -> PurchaseOrder | None:
        if not can_see_account(info.context.viewer, self.row.account_id):
            return None
        row = await info.context.loaders.purchase_order.load(self.row.purchase_order_id)
        return PurchaseOrder.of(row) if row else None

    @strawberry.field(description="Where the warehouse ships this order to.")
    async def delivery_address(self, info: Info) -> ShippingAddress | None:
        row = await info.context.loaders.purchase_order.load(self.row.purchase_order_id)
        return _address(row) if row else None

    @strawberry.field(description="The delivery check's outcome; null until the job has run.")
    def fraud_check(self) -> FraudCheckResult | None:
        if self.row.fraud_check is None:
            return None
        return FraudCheckResult(status=self.row.fraud_check, reason=self.row.fraud_reason)

    @strawberry.field(description="Carrier, tracking number and time; null until dispatched.")
    def dispatch(self) -> Dispatch | None:
        r = self.row
        if r.carrier is None or r.tracking_number is None or r.dispatched_at is None:
            return None
        return Dispatch(
            carrier=r.carrier, tracking_number=r.tracking_number, dispatched_at=r.dispatched_at
        )


N = TypeVar("N")

First = Annotated[
    int | None,
    strawberry.argument(description="How many items to return: 0 to 100, 20 when not given."),
]
After = Annotated[
    str | None,
    strawberry.argument(
        description="A `cursor` from this list (same filter and order): start right after it."
    ),
]


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="More items follow: ask again with `after: endCursor`."
    )
    has_previous_page: bool = strawberry.field(
        description="True when the page was asked for with `after` (items precede it)."
    )
    start_cursor: str | None = strawberry.field(
        description="The cursor of the first edge; null when the page is empty."
    )
    end_cursor: str | None = strawberry.field(
        description="The cursor of the last edge; null when the page is empty."
    )


@strawberry.type(description="One item of a list, with its cursor.")
class Edge(Generic[N]):
    cursor: str = strawberry.field(
        description="An opaque position; pass it as `after` to continue after this item."
    )
    node: N = strawberry.field(description="The item.")


@strawberry.type(
    description="One page of a list (Relay connection); pages follow each other by cursor."
)
class Connection(Generic[N]):
    edges: list[Edge[N]] = strawberry.field(description="The items of the page, in order.")
    page_info: PageInfo = strawberry.field(description="Cursors and whether more items follow.")
    total_count: int = strawberry.field(
        description="How many items the whole list has for this viewer and filter."
    )


def connection(
    nodes: list[N], cursors: list[str], *, total: int, has_next: bool, has_previous: bool
) -> Connection[N]:
    return Connection(
        edges=[Edge(cursor=c, node=n) for n, c in zip(nodes, cursors, strict=True)],
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        ),
        total_count=total,
    )


def _changes(rows: list[models.StatusEvent]) -> list[StatusChange]:
    return [StatusChange.of(e) for e in rows]


def _sales_orders(rows: list[models.SalesOrder]) -> list[SalesOrder]:
    return [SalesOrder.of(r) for r in rows]
