"""GraphQL input types and their conversion into the plain values the services take."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from simgql.api.ids import parse_id
from simgql.db.config import (
    ALLOW_OVERRIDE,
    FRAUD_CHECK_REQUIRED,
    FRAUD_DENY_ADDRESS_FRAGMENTS,
    FRAUD_DENY_NAMES,
)
from simgql.domain import model
from simgql.services.admin import AccountDetails, ProductDetails
from simgql.services.purchase_orders import LineAssignment, LineInput, OrderDetails


@strawberry.input
class PurchaseOrderLineInput:
    product_id: strawberry.ID
    quantity: int


@strawberry.input
class ShippingAddressInput:
    recipient: str
    street: list[str]
    city: str
    postal_code: str
    country: str
    company: str | None = None
    region: str | None = None
    phone: str | None = None

    def to_domain(self) -> model.ShippingAddress:
        return model.ShippingAddress(
            recipient=self.recipient,
            street=tuple(self.street),
            city=self.city,
            postal_code=self.postal_code,
            country=self.country.upper(),
            company=self.company,
            region=self.region,
            phone=self.phone,
        )


@strawberry.input(description="Override of account defaults; each field is optional.")
class EntitlementsInput:
    sim_billing_status: model.SimBillingStatus | None = None
    price_plan: str | None = None
    service_profile: str | None = None
    roaming_profile: str | None = None
    apn_group: str | None = None

    def to_domain(self) -> model.Entitlements:
        return model.Entitlements(
            sim_billing_status=self.sim_billing_status,
            price_plan=self.price_plan,
            service_profile=self.service_profile,
            roaming_profile=self.roaming_profile,
            apn_group=self.apn_group,
        )


def _lines(lines: list[PurchaseOrderLineInput] | None) -> list[LineInput] | None:
    if lines is None:
        return None
    out = []
    for line in lines:
        parsed = parse_id(line.product_id)
        pk = parsed[1] if parsed is not None and parsed[0] == "Product" else None
        out.append(LineInput(pk, line.quantity))
    return out


@strawberry.input
class CreatePurchaseOrderInput:
    lines: list[PurchaseOrderLineInput]
    account_id: strawberry.ID | None = strawberry.field(
        default=None, description="Defaults to the viewer's account for enterprise roles."
    )
    shipping_address: ShippingAddressInput | None = None
    requested_ship_date: dt.date | None = None
    overrides: EntitlementsInput | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="The same key from the same user returns the first PO."
    )

    def details(self) -> OrderDetails:
        return OrderDetails(
            lines=_lines(self.lines),
            shipping_address=self.shipping_address.to_domain() if self.shipping_address else None,
            requested_ship_date=self.requested_ship_date,
            overrides=self.overrides.to_domain() if self.overrides else None,
        )


@strawberry.input
class UpdatePurchaseOrderInput:
    id: strawberry.ID
    expected_version: int | None = None
    lines: list[PurchaseOrderLineInput] | None = strawberry.field(
        default=None, description="When given, replaces every line."
    )
    shipping_address: ShippingAddressInput | None = None
    requested_ship_date: dt.date | None = None
    overrides: EntitlementsInput | None = None

    def details(self) -> OrderDetails:
        return OrderDetails(
            lines=_lines(self.lines),
            shipping_address=self.shipping_address.to_domain() if self.shipping_address else None,
            requested_ship_date=self.requested_ship_date,
            overrides=self.overrides.to_domain() if self.overrides else None,
        )


@strawberry.input
class TransitionInput:
    id: strawberry.ID
    expected_version: int | None = None
    note: str | None = None


@strawberry.input
class ReasonInput:
    id: strawberry.ID
    reason: str
    expected_version: int | None = None


@strawberry.input
class OptionalReasonInput:
    id: strawberry.ID
    expected_version: int | None = None
    reason: str | None = None


@strawberry.input
class ShipPurchaseOrderInput:
    id: strawberry.ID
    carrier: str
    tracking_number: str
    expected_version: int | None = None
    shipped_at: dt.datetime | None = None


@strawberry.input
class SimInput:
    iccid: str
    imsi: str
    msisdn: str


@strawberry.input
class LineSimsInput:
    line_id: strawberry.ID
    sims: list[SimInput]


@strawberry.input
class AssignPurchaseOrderSimsInput:
    id: strawberry.ID
    assignments: list[LineSimsInput]
    expected_version: int | None = None

    def to_domain(self) -> list[LineAssignment]:
        out = []
        for a in self.assignments:
            parsed = parse_id(a.line_id)
            pk = parsed[1] if parsed is not None and parsed[0] == "PurchaseOrderLine" else None
            out.append(
                LineAssignment(pk, [model.SimIdentity(s.iccid, s.imsi, s.msisdn) for s in a.sims])
            )
        return out


@strawberry.input
class PurchaseOrderFilter:
    account_id: strawberry.ID | None = None
    status: list[model.PurchaseOrderStatus] | None = None
    number: int | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None


@strawberry.enum(description="Sort order of purchase orders.")
class PurchaseOrderOrderBy(Enum):
    CREATED_AT_DESC = "CREATED_AT_DESC"
    CREATED_AT_ASC = "CREATED_AT_ASC"


@strawberry.input
class ProductFilter:
    kind: model.ProductKind | None = None
    active: bool | None = None
    code: str | None = None


@strawberry.input
class AccountFilter:
    code: str | None = None
    status: model.AccountStatus | None = None


def _product_details(i: CreateProductInput | UpdateProductInput) -> ProductDetails:
    return ProductDetails(
        code=i.code,
        name=i.name,
        description=i.description,
        kind=i.kind,
        form_factor=i.form_factor,
        features=i.features,
        branding=i.branding,
        unit_price=i.unit_price,
        currency=i.currency,
        active=i.active,
    )


def _account_details(i: CreateAccountInput | UpdateAccountInput) -> AccountDetails:
    return AccountDetails(
        code=i.code,
        name=i.name,
        status=i.status,
        defaults=i.defaults.to_domain() if i.defaults else None,
    )


@strawberry.input
class CreateProductInput:
    code: str
    name: str
    kind: model.ProductKind
    form_factor: model.FormFactor
    unit_price: str = strawberry.field(description='Decimal amount, e.g. "2.50".')
    currency: str
    description: str | None = None
    features: list[str] | None = None
    branding: str | None = None
    active: bool | None = None

    def details(self) -> ProductDetails:
        return _product_details(self)


@strawberry.input
class UpdateProductInput:
    id: strawberry.ID
    code: str | None = None
    name: str | None = None
    kind: model.ProductKind | None = None
    form_factor: model.FormFactor | None = None
    unit_price: str | None = None
    currency: str | None = None
    description: str | None = None
    features: list[str] | None = None
    branding: str | None = None
    active: bool | None = None

    def details(self) -> ProductDetails:
        return _product_details(self)


@strawberry.input
class CreateAccountInput:
    code: str
    name: str
    status: model.AccountStatus | None = None
    defaults: EntitlementsInput | None = None

    def details(self) -> AccountDetails:
        return _account_details(self)


@strawberry.input
class UpdateAccountInput:
    id: strawberry.ID
    code: str | None = None
    name: str | None = None
    status: model.AccountStatus | None = None
    defaults: EntitlementsInput | None = None

    def details(self) -> AccountDetails:
        return _account_details(self)


@strawberry.input
class AssignProductInput:
    account_id: strawberry.ID
    product_id: strawberry.ID
    min_quantity: int | None = None
    max_quantity: int | None = None


@strawberry.input
class UnassignProductInput:
    account_id: strawberry.ID
    product_id: strawberry.ID


@strawberry.input(description="Replaces the account's allowed values of one kind.")
class SetAccountCatalogueInput:
    account_id: strawberry.ID
    kind: model.CatalogueKind
    codes: list[str]


@strawberry.input
class SetConfigurationInput:
    allow_account_default_override: bool | None = strawberry.field(
        default=None, description="The configuration item po.allowAccountDefaultOverride."
    )
    sales_order_fraud_check_required: bool | None = strawberry.field(
        default=None, description="salesOrder.fraudCheckRequired"
    )
    sales_order_fraud_deny_names: list[str] | None = strawberry.field(
        default=None, description="salesOrder.fraudDenyNames (case-insensitive, whole names)"
    )
    sales_order_fraud_deny_address_fragments: list[str] | None = strawberry.field(
        default=None,
        description="salesOrder.fraudDenyAddressFragments (case-insensitive substrings)",
    )

    def items(self) -> dict[str, object]:
        """The configuration items this input sets, by key."""
        given = {
            ALLOW_OVERRIDE: self.allow_account_default_override,
            FRAUD_CHECK_REQUIRED: self.sales_order_fraud_check_required,
            FRAUD_DENY_NAMES: self.sales_order_fraud_deny_names,
            FRAUD_DENY_ADDRESS_FRAGMENTS: self.sales_order_fraud_deny_address_fragments,
        }
        return {k: v for k, v in given.items() if v is not None}
