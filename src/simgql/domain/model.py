"""Vocabulary of the domain: statuses, roles, actions and the plain values the rules work on."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class Role(StrEnum):
    ENTERPRISE_VIEWER = "ENTERPRISE_VIEWER"
    ENTERPRISE_PURCHASER = "ENTERPRISE_PURCHASER"
    SP_AGENT = "SP_AGENT"
    SP_ADMIN = "SP_ADMIN"
    WAREHOUSE = "WAREHOUSE"


ENTERPRISE_ROLES = frozenset({Role.ENTERPRISE_VIEWER, Role.ENTERPRISE_PURCHASER})
SP_ROLES = frozenset({Role.SP_AGENT, Role.SP_ADMIN})


class PurchaseOrderStatus(StrEnum):
    DRAFT = "DRAFT"
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    PROVISIONING = "PROVISIONING"
    READY = "READY"
    SHIPPED = "SHIPPED"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"


# From READY on, the enterprise account may see the SIM identities of its order.
SIM_VISIBLE_STATUSES = frozenset(
    {PurchaseOrderStatus.READY, PurchaseOrderStatus.SHIPPED, PurchaseOrderStatus.CLOSED}
)


class PurchaseOrderAction(StrEnum):
    UPDATE = "UPDATE"
    SUBMIT = "SUBMIT"
    CANCEL = "CANCEL"
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    REOPEN = "REOPEN"
    START_PROVISIONING = "START_PROVISIONING"
    ASSIGN_SIMS = "ASSIGN_SIMS"
    MARK_READY = "MARK_READY"
    SHIP = "SHIP"
    CONFIRM_RECEIPT = "CONFIRM_RECEIPT"


class AccountStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"


class ProductKind(StrEnum):
    SIM_CARD = "SIM_CARD"
    SIM_CHIP = "SIM_CHIP"


class FormFactor(StrEnum):
    MINI_2FF = "MINI_2FF"
    MICRO_3FF = "MICRO_3FF"
    NANO_4FF = "NANO_4FF"
    TRIPLE_CUT = "TRIPLE_CUT"
    MFF2 = "MFF2"
    EUICC = "EUICC"


class SimBillingStatus(StrEnum):
    TEST_READY = "TEST_READY"
    INVENTORY = "INVENTORY"
    ACTIVATION_READY = "ACTIVATION_READY"
    ACTIVATED = "ACTIVATED"
    DEACTIVATED = "DEACTIVATED"


class CatalogueKind(StrEnum):
    """The entitlement lists an account's catalogue holds (the values an override may pick)."""

    PRICE_PLAN = "PRICE_PLAN"
    SERVICE_PROFILE = "SERVICE_PROFILE"
    ROAMING_PROFILE = "ROAMING_PROFILE"
    APN_GROUP = "APN_GROUP"


SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class Viewer:
    """Who is asking: the verified claims of a bearer token, with the account resolved."""

    sub: str
    role: Role
    account_id: uuid.UUID | None = None
    account_code: str | None = None
    warehouse_code: str | None = None

    @property
    def is_enterprise(self) -> bool:
        return self.role in ENTERPRISE_ROLES

    @property
    def is_service_provider(self) -> bool:
        return self.role in SP_ROLES


@dataclass(frozen=True)
class Entitlements:
    """The five settings a new SIM starts with; each may be missing in an override set."""

    sim_billing_status: SimBillingStatus | None = None
    price_plan: str | None = None
    service_profile: str | None = None
    roaming_profile: str | None = None
    apn_group: str | None = None

    def is_empty(self) -> bool:
        return all(v is None for v in self.as_dict().values())

    def as_dict(self) -> dict[str, str | None]:
        return {
            "simBillingStatus": self.sim_billing_status,
            "pricePlan": self.price_plan,
            "serviceProfile": self.service_profile,
            "roamingProfile": self.roaming_profile,
            "apnGroup": self.apn_group,
        }

    def over(self, defaults: Entitlements) -> Entitlements:
        """These values where given, else the defaults."""
        return Entitlements(
            sim_billing_status=self.sim_billing_status or defaults.sim_billing_status,
            price_plan=self.price_plan or defaults.price_plan,
            service_profile=self.service_profile or defaults.service_profile,
            roaming_profile=self.roaming_profile or defaults.roaming_profile,
            apn_group=self.apn_group or defaults.apn_group,
        )


@dataclass(frozen=True)
class ShippingAddress:
    recipient: str
    street: tuple[str, ...]
    city: str
    postal_code: str
    country: str
    company: str | None = None
    region: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class OfferedProduct:
    """What submit needs to know of a product as offered to one account."""

    product_id: uuid.UUID
    code: str
    active: bool
    assigned: bool
    unit_price: Decimal
    currency: str
    min_quantity: int | None = None
    max_quantity: int | None = None


@dataclass(frozen=True)
class OrderLine:
    product: OfferedProduct | None  # None: the product does not exist (or is not visible)
    quantity: int


@dataclass(frozen=True)
class SimIdentity:
    iccid: str
    imsi: str
    msisdn: str


@dataclass(frozen=True)
class Catalogue:
    """An account's allowed override values, by kind."""

    entries: dict[CatalogueKind, frozenset[str]] = field(default_factory=dict)

    def allows(self, kind: CatalogueKind, code: str) -> bool:
        return code in self.entries.get(kind, frozenset())


@dataclass(frozen=True)
class PurchaseOrderFacts:
    """The facts about one PO that decide which transitions are possible now."""

    status: PurchaseOrderStatus
    account_id: uuid.UUID
    version: int = 1
    account_active: bool = True
    fully_assigned: bool = False
    sims_assigned: bool = False


def today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
