"""Service-provider administration: products, accounts, assignments, catalogues, configuration."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from simgql.db import accounts as account_repo
from simgql.db.config import (
    ALLOW_OVERRIDE,
    FRAUD_CHECK_REQUIRED,
    FRAUD_DENY_ADDRESS_FRAGMENTS,
    FRAUD_DENY_NAMES,
    set_config,
)
from simgql.db.engine import Database
from simgql.db.models import Account, CatalogueEntry, Product, ProductAssignment
from simgql.domain.errors import BadUserInput, FieldError, NotFound, raise_if_any
from simgql.domain.model import (
    AccountStatus,
    CatalogueKind,
    Entitlements,
    FormFactor,
    ProductKind,
    Role,
    Viewer,
)
from simgql.domain.policy import ensure_role
from simgql.domain.validation import MAX_QUANTITY, catalogue_code_problem, text_problem

ADMIN = frozenset({Role.SP_ADMIN})
_CURRENCY = re.compile(r"[A-Z]{3}")
CONFIG_KEYS: dict[str, type] = {
    ALLOW_OVERRIDE: bool,
    FRAUD_CHECK_REQUIRED: bool,
    FRAUD_DENY_NAMES: list,
    FRAUD_DENY_ADDRESS_FRAGMENTS: list,
}


@dataclass(frozen=True)
class ProductDetails:
    code: str | None = None
    name: str | None = None
    description: str | None = None
    kind: ProductKind | None = None
    form_factor: FormFactor | None = None
    features: Sequence[str] | None = None
    branding: str | None = None
    unit_price: str | None = None
    currency: str | None = None
    active: bool | None = None


@dataclass(frozen=True)
class AccountDetails:
    code: str | None = None
    name: str | None = None
    status: AccountStatus | None = None
    defaults: Entitlements | None = None


def _price(value: str) -> Decimal | None:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        return None
    if -amount.as_tuple().exponent > 4:  # type: ignore[operator]
        return None
    return amount


def _product_problems(d: ProductDetails) -> list[FieldError]:
    problems = []
    if d.code is not None and (p := catalogue_code_problem(d.code)):
        problems.append(FieldError("code", p))
    for name, value in (("name", d.name), ("branding", d.branding)):
        if value is not None and (p := text_problem(value, required=name == "name")):
            problems.append(FieldError(name, p))
    if d.description is not None and (
        p := text_problem(d.description, required=False, max_length=4000)
    ):
        problems.append(FieldError("description", p))
    for i, feature in enumerate(d.features or ()):
        if p := catalogue_code_problem(feature):
            problems.append(FieldError(f"features.{i}", p))
    if d.unit_price is not None and _price(d.unit_price) is None:
        problems.append(
            FieldError("unitPrice", "must be a non-negative decimal with at most 4 decimals")
        )
    if d.currency is not None and not _CURRENCY.fullmatch(d.currency):
        problems.append(FieldError("currency", "must be an ISO 4217 code such as EUR"))
    return problems


async def create_product(db: Database, *, viewer: Viewer, details: ProductDetails) -> Product:
    ensure_role(viewer, ADMIN, "manage products")
    problems = _product_problems(details)
    for name in ("code", "name", "kind", "form_factor", "unit_price", "currency"):
        if getattr(details, name) is None:
            problems.append(FieldError(name, "is required"))
    raise_if_any(problems)
    assert details.code
    assert details.name
    assert details.unit_price
    assert details.currency
    assert details.kind
    assert details.form_factor
    product = Product(
        code=details.code,
        name=details.name,
        description=details.description or "",
        kind=details.kind,
        form_factor=details.form_factor,
        features=list(details.features or []),
        branding=details.branding,
        unit_price=_price(details.unit_price),
        currency=details.currency,
        active=True if details.active is None else details.active,
    )
    try:
        async with db.write() as session:
            session.add(product)
    except IntegrityError:
        raise BadUserInput.single("code", f"a product with code {details.code} exists") from None
    return product


async def update_product(
    db: Database, *, viewer: Viewer, product_id: uuid.UUID, details: ProductDetails
) -> Product:
    ensure_role(viewer, ADMIN, "manage products")
    raise_if_any(_product_problems(details))
    try:
        async with db.write() as session:
            product = await session.get(Product, product_id)
            if product is None:
                raise NotFound("Product")
            for name, value in (
                ("code", details.code),
                ("name", details.name),
                ("description", details.description),
                ("kind", details.kind),
                ("form_factor", details.form_factor),
                ("branding", details.branding),
                ("currency", details.currency),
                ("active", details.active),
            ):
                if value is not None:
                    setattr(product, name, value)
            if details.features is not None:
                product.features = list(details.features)
            if details.unit_price is not None:
                product.unit_price = _price(details.unit_price)  # type: ignore[assignment]
    except IntegrityError:
        raise BadUserInput.single("code", f"a product with code {details.code} exists") from None
    return product


def _account_problems(d: AccountDetails) -> list[FieldError]:
    problems = []
    if d.code is not None and (p := catalogue_code_problem(d.code)):
        problems.append(FieldError("code", p))
    if d.code is not None and len(d.code) > 32:
        problems.append(FieldError("code", "must be at most 32 characters"))
    if d.name is not None and (p := text_problem(d.name, required=True)):
        problems.append(FieldError("name", p))
    if d.defaults is not None:
        for key, value in d.defaults.as_dict().items():
            if (
                key != "simBillingStatus"
                and value is not None
                and (p := catalogue_code_problem(value))
            ):
                problems.append(FieldError(f"defaults.{key}", p))
    return problems


def _write_defaults(account: Account, defaults: Entitlements) -> None:
    account.default_sim_billing_status = defaults.sim_billing_status
    account.default_price_plan = defaults.price_plan
    account.default_service_profile = defaults.service_profile
    account.default_roaming_profile = defaults.roaming_profile
    account.default_apn_group = defaults.apn_group


async def create_account(db: Database, *, viewer: Viewer, details: AccountDetails) -> Account:
    ensure_role(viewer, ADMIN, "manage accounts")
    problems = _account_problems(details)
    for name in ("code", "name"):
        if getattr(details, name) is None:
            problems.append(FieldError(name, "is required"))
    raise_if_any(problems)
    assert details.code
    assert details.name
    account = Account(
        code=details.code, name=details.name, status=details.status or AccountStatus.ACTIVE
    )
    _write_defaults(account, details.defaults or Entitlements())
    try:
        async with db.write() as session:
            session.add(account)
    except IntegrityError:
        raise BadUserInput.single("code", f"an account with code {details.code} exists") from None
    return account


async def update_account(
    db: Database, *, viewer: Viewer, account_id: uuid.UUID, details: AccountDetails
) -> Account:
    ensure_role(viewer, ADMIN, "manage accounts")
    raise_if_any(_account_problems(details))
    try:
        async with db.write() as session:
            account = await session.get(Account, account_id)
            if account is None:
                raise NotFound("Account")
            if details.code is not None:
                account.code = details.code
            if details.name is not None:
                account.name = details.name
            if details.status is not None:
                account.status = details.status
            if details.defaults is not None:
                _write_defaults(account, details.defaults)
    except IntegrityError:
        raise BadUserInput.single("code", f"an account with code {details.code} exists") from None
    return account


async def assign_product(
    db: Database,
    *,
    viewer: Viewer,
    account_id: uuid.UUID,
    product_id: uuid.UUID,
    min_quantity: int | None,
    max_quantity: int | None,
) -> ProductAssignment:
    """Offer a product to an account (or change the bounds of an existing offer)."""
    ensure_role(viewer, ADMIN, "assign products")
    problems = []
    for name, value in (("minQuantity", min_quantity), ("maxQuantity", max_quantity)):
        if value is not None and not 1 <= value <= MAX_QUANTITY:
            problems.append(FieldError(name, f"must be between 1 and {MAX_QUANTITY}"))
    if min_quantity is not None and max_quantity is not None and min_quantity > max_quantity:
        problems.append(FieldError("maxQuantity", "must not be below minQuantity"))
    raise_if_any(problems)
    async with db.write() as session:
        if await session.get(Account, account_id) is None:
            raise NotFound("Account")
        if await session.get(Product, product_id) is None:
            raise NotFound("Product")
        assignment = await account_repo.assignment_for(
            session, account_id=account_id, product_id=product_id
        )
        if assignment is None:
            assignment = ProductAssignment(account_id=account_id, product_id=product_id)
            session.add(assignment)
        assignment.min_quantity = min_quantity
        assignment.max_quantity = max_quantity
    return assignment


async def unassign_product(
    db: Database, *, viewer: Viewer, account_id: uuid.UUID, product_id: uuid.UUID
) -> None:
    ensure_role(viewer, ADMIN, "assign products")
    async with db.write() as session:
        assignment = await account_repo.assignment_for(
            session, account_id=account_id, product_id=product_id
        )
        if assignment is None:
            raise NotFound("ProductAssignment")
        await session.delete(assignment)


async def set_catalogue(
    db: Database,
    *,
    viewer: Viewer,
    account_id: uuid.UUID,
    kind: CatalogueKind,
    codes: Sequence[str],
) -> None:
    """Replace the account's allowed values of one kind."""
    ensure_role(viewer, ADMIN, "manage catalogues")
    raise_if_any(
        [
            FieldError(f"codes.{i}", p)
            for i, c in enumerate(codes)
            if (p := catalogue_code_problem(c))
        ]
    )
    async with db.write() as session:
        if await session.get(Account, account_id) is None:
            raise NotFound("Account")
        await session.execute(
            delete(CatalogueEntry).where(
                CatalogueEntry.account_id == account_id, CatalogueEntry.kind == kind
            )
        )
        for code in dict.fromkeys(codes):
            session.add(CatalogueEntry(account_id=account_id, kind=kind, code=code))


async def set_configuration(db: Database, *, viewer: Viewer, items: dict[str, Any]) -> None:
    """Change configuration items, all or none."""
    ensure_role(viewer, ADMIN, "change configuration")
    problems = []
    for key, value in items.items():
        expected = CONFIG_KEYS.get(key)
        if expected is None:
            problems.append(FieldError(key, "unknown configuration item"))
        elif not isinstance(value, expected):
            problems.append(FieldError(key, f"must be a {expected.__name__}"))
        elif isinstance(value, list):
            if len(value) > 1000:
                problems.append(FieldError(key, "at most 1000 entries"))
            problems += [
                FieldError(f"{key}.{i}", p)
                for i, v in enumerate(value)
                if (p := text_problem(str(v), required=True))
            ]
    raise_if_any(problems)
    async with db.write() as session:
        for key, value in items.items():
            await set_config(session, key=key, value=value)


def require_admin(viewer: Viewer, doing: str) -> None:
    ensure_role(viewer, ADMIN, doing)
