"""Data access for accounts, their catalogues and the products assigned to them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from simgql.db.models import Account, CatalogueEntry, Product, ProductAssignment
from simgql.db.records import fetch
from simgql.domain.model import (
    AccountStatus,
    Catalogue,
    CatalogueKind,
    Entitlements,
    OfferedProduct,
    SimBillingStatus,
)


async def get_account(session: AsyncSession, *, account_id: uuid.UUID) -> Account | None:
    return await session.get(Account, account_id)


# Built once (see `purchase_orders`): the token check reads the account on every request.
_ACCOUNT_BY_CODE = select(Account).where(Account.code == bindparam("code"))
_ACCOUNTS_BY_IDS = select(Account).where(Account.id.in_(bindparam("ids", expanding=True)))


async def get_account_by_code(session: AsyncSession, *, code: str) -> Account | None:
    return (await session.execute(_ACCOUNT_BY_CODE, {"code": code})).scalar_one_or_none()


async def accounts_by_ids(
    session: AsyncSession, *, ids: Sequence[uuid.UUID], lean: bool = False
) -> dict[uuid.UUID, Account]:
    rows = await fetch(session, _ACCOUNTS_BY_IDS, Account, {"ids": list(ids)}, lean=lean)
    return {r.id: r for r in rows}


async def catalogue_entries_by_account_ids(
    session: AsyncSession, *, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[CatalogueEntry]]:
    rows = (
        await session.execute(
            select(CatalogueEntry)
            .where(CatalogueEntry.account_id.in_(ids))
            .order_by(CatalogueEntry.kind, CatalogueEntry.code)
        )
    ).scalars()
    out: dict[uuid.UUID, list[CatalogueEntry]] = {i: [] for i in ids}
    for r in rows:
        out[r.account_id].append(r)
    return out


async def load_catalogue(session: AsyncSession, *, account_id: uuid.UUID) -> Catalogue:
    entries = (await catalogue_entries_by_account_ids(session, ids=[account_id]))[account_id]
    by_kind: dict[CatalogueKind, set[str]] = {}
    for e in entries:
        by_kind.setdefault(CatalogueKind(e.kind), set()).add(e.code)
    return Catalogue({k: frozenset(v) for k, v in by_kind.items()})


def account_defaults(account: Account) -> Entitlements:
    return Entitlements(
        sim_billing_status=SimBillingStatus(account.default_sim_billing_status)
        if account.default_sim_billing_status
        else None,
        price_plan=account.default_price_plan,
        service_profile=account.default_service_profile,
        roaming_profile=account.default_roaming_profile,
        apn_group=account.default_apn_group,
    )


def is_active(account: Account) -> bool:
    return account.status == AccountStatus.ACTIVE


async def offered_products(
    session: AsyncSession, *, account_id: uuid.UUID, product_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, OfferedProduct]:
    """The named products as the account sees them: existing, active, assigned, bounds."""
    rows = (
        await session.execute(
            select(Product, ProductAssignment)
            .outerjoin(
                ProductAssignment,
                (ProductAssignment.product_id == Product.id)
                & (ProductAssignment.account_id == account_id),
            )
            .where(Product.id.in_(product_ids))
        )
    ).all()
    return {
        product.id: OfferedProduct(
            product_id=product.id,
            code=product.code,
            active=product.active,
            assigned=assignment is not None,
            unit_price=product.unit_price,
            currency=product.currency,
            min_quantity=assignment.min_quantity if assignment else None,
            max_quantity=assignment.max_quantity if assignment else None,
        )
        for product, assignment in rows
    }


async def assignment_for(
    session: AsyncSession, *, account_id: uuid.UUID, product_id: uuid.UUID
) -> ProductAssignment | None:
    return (
        await session.execute(
            select(ProductAssignment).where(
                ProductAssignment.account_id == account_id,
                ProductAssignment.product_id == product_id,
            )
        )
    ).scalar_one_or_none()
