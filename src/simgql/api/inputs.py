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


@strawberry.input(description="One line of a purchase order.")
class PurchaseOrderLineInput:
    product_id: strawberry.ID = strawberry.field(
        description="The global ID of an active product assigned to the PO's account."
    )
    quantity: int = strawberry.field(
        description="How many SIMs: 1 to 100000 and within the assignment's bounds."
    )


@strawberry.input(
    description="Where to deliver the SIMs; text fields hold at most 200 characters each."
)
class ShippingAddressInput:
    recipient: str = strawberry.field(description="The person who receives the parcel.")
    street: list[str] = strawberry.field(
        description="One to three street lines; the first must not be empty."
    )
    city: str = strawberry.field(description="The city.")
    postal_code: str = strawberry.field(description="The postal code.")
    country: str = strawberry.field(
        description="An ISO 3166-1 alpha-2 code, e.g. DE (lower case is accepted)."
    )
    company: str | None = strawberry.field(default=None, description="The company, if any.")
    region: str | None = strawberry.field(default=None, description="The region or state, if any.")
    phone: str | None = strawberry.field(
        default=None,
        description="A contact phone number: digits, optionally `+`, spaces, `-`, parentheses.",
    )

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


@strawberry.input(
    description="Account defaults, or a PO's overrides of them; each field is optional."
)
class EntitlementsInput:
    sim_billing_status: model.SimBillingStatus | None = strawberry.field(
        default=None, description="The billing status new SIMs start in; null: not set."
    )
    price_plan: str | None = strawberry.field(
        default=None,
        description="A price plan code (in overrides, from the catalogue); null: not set.",
    )
    service_profile: str | None = strawberry.field(
        default=None,
        description="A service profile code (in overrides, from the catalogue); null: not set.",
    )
    roaming_profile: str | None = strawberry.field(
        default=None,
        description="A roaming profile code (in overrides, from the catalogue); null: not set.",
    )
    apn_group: str | None = strawberry.field(
        default=None,
        description="An APN group code (in overrides, from the catalogue); null: not set.",
    )

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


@strawberry.input(description="A new purchase order; a draft may still lack its shipping address.")
class CreatePurchaseOrderInput:
    lines: list[PurchaseOrderLineInput] = strawberry.field(
        description="One to 100 lines, each product at most once, all in one currency."
    )
    account_id: strawberry.ID | None = strawberry.field(
        default=None, description="Defaults to the viewer's account for enterprise roles."
    )
    shipping_address: ShippingAddressInput | None = strawberry.field(
        default=None, description="Where to deliver; required by submit."
    )
    requested_ship_date: dt.date | None = strawberry.field(
        default=None, description="The day to ship; not before today (UTC)."
    )
    overrides: EntitlementsInput | None = strawberry.field(
        default=None,
        description="Replaces account defaults for this PO's SIMs, if "
        "po.allowAccountDefaultOverride is on.",
    )
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


@strawberry.input(description="Changes to a DRAFT purchase order; fields not given stay.")
class UpdatePurchaseOrderInput:
    id: strawberry.ID = strawberry.field(description="The purchase order's global ID.")
    expected_version: int | None = strawberry.field(
        default=None, description="When given and not the PO's `version`: CONFLICT."
    )
    lines: list[PurchaseOrderLineInput] | None = strawberry.field(
        default=None, description="When given, replaces every line."
    )
    shipping_address: ShippingAddressInput | None = strawberry.field(
        default=None, description="When given, replaces the shipping address."
    )
    requested_ship_date: dt.date | None = strawberry.field(
        default=None, description="When given, replaces the requested ship date."
    )
    overrides: EntitlementsInput | None = strawberry.field(
        default=None, description="When given, replaces every override."
    )

    def details(self) -> OrderDetails:
        return OrderDetails(
            lines=_lines(self.lines),
            shipping_address=self.shipping_address.to_domain() if self.shipping_address else None,
            requested_ship_date=self.requested_ship_date,
            overrides=self.overrides.to_domain() if self.overrides else None,
        )


@strawberry.input(description="A status change of one purchase order.")
class TransitionInput:
    id: strawberry.ID = strawberry.field(description="The purchase order's global ID.")
    expected_version: int | None = strawberry.field(
        default=None, description="When given and not the PO's `version`: CONFLICT."
    )
    note: str | None = strawberry.field(
        default=None, description="Kept in the status history; at most 2000 characters."
    )


@strawberry.input(description="A status change of one purchase order that needs a reason.")
class ReasonInput:
    id: strawberry.ID = strawberry.field(description="The purchase order's global ID.")
    reason: str = strawberry.field(
        description="Why: shown as `rejectionReason` and in the history; 1 to 2000 characters."
    )
    expected_version: int | None = strawberry.field(
        default=None, description="When given and not the PO's `version`: CONFLICT."
    )


@strawberry.input(description="A status change of one purchase order, with an optional reason.")
class OptionalReasonInput:
    id: strawberry.ID = strawberry.field(description="The purchase order's global ID.")
    expected_version: int | None = strawberry.field(
        default=None, description="When given and not the PO's `version`: CONFLICT."
    )
    reason: str | None = strawberry.field(
        default=None, description="Why; kept in the status history; at most 2000 characters."
    )


@strawberry.input(description="The shipment of a READY purchase order.")
class ShipPurchaseOrderInput:
    id: strawberry.ID = strawberry.field(description="The purchase order's global ID.")
    carrier: str = strawberry.field(description="The carrier; at most 200 characters.")
    tracking_number: str = strawberry.field(
        description="The carrier's tracking number; at most 200 characters."
    )
    expected_version: int | None = strawberry.field(
        default=None, description="When given and not the PO's `version`: CONFLICT."
    )
    shipped_at: dt.datetime | None = strawberry.field(
        default=None,
        description="When it shipped, with a time zone offset, not in the future; default now.",
    )


@strawberry.input(description="The identities of one SIM; each is unique in the whole system.")
class SimInput:
    iccid: str = strawberry.field(
        description="The ICCID: 19 or 20 digits, the last a Luhn check digit."
    )
    imsi: str = strawberry.field(description="The IMSI: exactly 15 digits.")
    msisdn: str = strawberry.field(
        description="The MSISDN: 8 to 15 E.164 digits, without `+` or leading zero."
    )


@strawberry.input(description="SIMs for one line of a purchase order.")
class LineSimsInput:
    line_id: strawberry.ID = strawberry.field(
        description="The global ID of a line of this purchase order."
    )
    sims: list[SimInput] = strawberry.field(
        description="The SIMs to add; a line never gets more than its quantity."
    )


@strawberry.input(description="SIMs to attach to the lines of a PROVISIONING purchase order.")
class AssignPurchaseOrderSimsInput:
    id: strawberry.ID = strawberry.field(description="The purchase order's global ID.")
    assignments: list[LineSimsInput] = strawberry.field(
        description="The SIMs per line; at least one SIM in all."
    )
    expected_version: int | None = strawberry.field(
        default=None, description="When given and not the PO's `version`: CONFLICT."
    )

    def to_domain(self) -> list[LineAssignment]:
        out = []
        for a in self.assignments:
            parsed = parse_id(a.line_id)
            pk = parsed[1] if parsed is not None and parsed[0] == "PurchaseOrderLine" else None
            out.append(
                LineAssignment(pk, [model.SimIdentity(s.iccid, s.imsi, s.msisdn) for s in a.sims])
            )
        return out


@strawberry.input(description="Narrows `purchaseOrders`; every field given must match.")
class PurchaseOrderFilter:
    account_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this account's POs (another tenant's: none)."
    )
    status: list[model.PurchaseOrderStatus] | None = strawberry.field(
        default=None, description="Only POs in one of these statuses."
    )
    number: int | None = strawberry.field(default=None, description="Only the PO with this number.")
    created_after: dt.datetime | None = strawberry.field(
        default=None, description="Only POs created after this instant; needs an offset."
    )
    created_before: dt.datetime | None = strawberry.field(
        default=None, description="Only POs created before this instant; needs an offset."
    )


@strawberry.enum(description="Sort order of purchase orders.")
class PurchaseOrderOrderBy(Enum):
    CREATED_AT_DESC = strawberry.enum_value("CREATED_AT_DESC", description="Newest first.")
    CREATED_AT_ASC = strawberry.enum_value("CREATED_AT_ASC", description="Oldest first.")


@strawberry.input(description="Narrows `products`; every field given must match.")
class ProductFilter:
    kind: model.ProductKind | None = strawberry.field(
        default=None, description="Only products of this kind."
    )
    active: bool | None = strawberry.field(
        default=None, description="Only active (true) or only inactive (false) products."
    )
    code: str | None = strawberry.field(
        default=None, description="Only the product with exactly this code."
    )


@strawberry.input(description="Narrows `accounts`; every field given must match.")
class AccountFilter:
    code: str | None = strawberry.field(
        default=None, description="Only the account with exactly this code."
    )
    status: model.AccountStatus | None = strawberry.field(
        default=None, description="Only accounts with this status."
    )


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


@strawberry.input(description="A new SIM Sales Product.")
class CreateProductInput:
    code: str = strawberry.field(
        description="The unique SKU: 1 to 64 letters, digits, `_`, `.` or `-`."
    )
    name: str = strawberry.field(description="The display name; 1 to 200 characters.")
    kind: model.ProductKind = strawberry.field(description="Card or chip.")
    form_factor: model.FormFactor = strawberry.field(description="The physical format.")
    unit_price: str = strawberry.field(
        description='Decimal amount, e.g. "2.50": not negative, at most 4 decimals.'
    )
    currency: str = strawberry.field(description="An ISO 4217 code in upper case, e.g. EUR.")
    description: str | None = strawberry.field(
        default=None, description="A longer description; at most 4000 characters."
    )
    features: list[str] | None = strawberry.field(
        default=None, description="Feature codes, each 1 to 64 letters, digits, `_`, `.`, `-`."
    )
    branding: str | None = strawberry.field(
        default=None, description="The branding; at most 200 characters."
    )
    active: bool | None = strawberry.field(
        default=None, description="Whether it may be ordered; true when not given."
    )

    def details(self) -> ProductDetails:
        return _product_details(self)


@strawberry.input(
    description="Changes to a product; fields not given stay. Rules as in `CreateProductInput`."
)
class UpdateProductInput:
    id: strawberry.ID = strawberry.field(description="The product's global ID.")
    code: str | None = strawberry.field(default=None, description="A new unique SKU.")
    name: str | None = strawberry.field(default=None, description="A new display name.")
    kind: model.ProductKind | None = strawberry.field(default=None, description="A new kind.")
    form_factor: model.FormFactor | None = strawberry.field(
        default=None, description="A new physical format."
    )
    unit_price: str | None = strawberry.field(
        default=None, description="A new price; submitted POs keep the price they had."
    )
    currency: str | None = strawberry.field(
        default=None, description="A new ISO 4217 currency code."
    )
    description: str | None = strawberry.field(default=None, description="A new description.")
    features: list[str] | None = strawberry.field(
        default=None, description="Replaces every feature code."
    )
    branding: str | None = strawberry.field(default=None, description="A new branding.")
    active: bool | None = strawberry.field(
        default=None, description="false: no longer orderable; true: orderable again."
    )

    def details(self) -> ProductDetails:
        return _product_details(self)


@strawberry.input(description="A new enterprise account.")
class CreateAccountInput:
    code: str = strawberry.field(
        description="The unique code, e.g. ACME: 1 to 32 letters, digits, `_`, `.` or `-`."
    )
    name: str = strawberry.field(description="The display name; 1 to 200 characters.")
    status: model.AccountStatus | None = strawberry.field(
        default=None, description="ACTIVE when not given."
    )
    defaults: EntitlementsInput | None = strawberry.field(
        default=None, description="The entitlements new SIMs get unless a PO overrides them."
    )

    def details(self) -> AccountDetails:
        return _account_details(self)


@strawberry.input(description="Changes to an account; fields not given stay.")
class UpdateAccountInput:
    id: strawberry.ID = strawberry.field(description="The account's global ID.")
    code: str | None = strawberry.field(
        default=None, description="A new unique code; tokens naming the old one stop working."
    )
    name: str | None = strawberry.field(default=None, description="A new display name.")
    status: model.AccountStatus | None = strawberry.field(
        default=None,
        description="SUSPENDED stops creating, changing and submitting POs; ACTIVE resumes.",
    )
    defaults: EntitlementsInput | None = strawberry.field(
        default=None, description="Replaces every default; fields not given become unset."
    )

    def details(self) -> AccountDetails:
        return _account_details(self)


@strawberry.input(
    description="Offers a product to an account, or changes the bounds of an existing offer."
)
class AssignProductInput:
    account_id: strawberry.ID = strawberry.field(description="The account's global ID.")
    product_id: strawberry.ID = strawberry.field(description="The product's global ID.")
    min_quantity: int | None = strawberry.field(
        default=None, description="The least a PO line may order, 1 to 100000; null: no bound."
    )
    max_quantity: int | None = strawberry.field(
        default=None,
        description="The most a PO line may order, 1 to 100000, not below minQuantity; "
        "null: no bound.",
    )


@strawberry.input(description="Withdraws a product from an account.")
class UnassignProductInput:
    account_id: strawberry.ID = strawberry.field(description="The account's global ID.")
    product_id: strawberry.ID = strawberry.field(description="The product's global ID.")


@strawberry.input(description="Replaces the account's allowed values of one kind.")
class SetAccountCatalogueInput:
    account_id: strawberry.ID = strawberry.field(description="The account's global ID.")
    kind: model.CatalogueKind = strawberry.field(description="Which list to replace.")
    codes: list[str] = strawberry.field(
        description="The new list; each 1 to 64 letters, digits, `_`, `.` or `-`; [] empties it."
    )


@strawberry.input(description="Configuration items to change, all or none; items not given stay.")
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
