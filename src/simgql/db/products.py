"""Data access for products."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from simgql.db.models import Product, ProductAssignment
from simgql.db.records import fetch

# Built once (see `purchase_orders`).
_PRODUCTS_BY_IDS = select(Product).where(Product.id.in_(bindparam("ids", expanding=True)))


async def products_by_ids(
    session: AsyncSession, *, ids: Sequence[uuid.UUID], lean: bool = False
) -> dict[uuid.UUID, Product]:
    rows = await fetch(session, _PRODUCTS_BY_IDS, Product, {"ids": list(ids)}, lean=lean)
    return {r.id: r for r in rows}


async def assignments_by_account_ids(
    session: AsyncSession, *, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[ProductAssignment]]:
    rows = (
        await session.execute(
            select(ProductAssignment)
            .join(Product, Product.id == ProductAssignment.product_id)
            .where(ProductAssignment.account_id.in_(ids))
            .order_by(Product.code)
        )
    ).scalars()
    out: dict[uuid.UUID, list[ProductAssignment]] = {i: [] for i in ids}
    for r in rows:
        out[r.account_id].append(r)
    return out


def visible_products(
    *,
    account_id: uuid.UUID | None,
    kind: str | None = None,
    active: bool | None = None,
    code: str | None = None,
) -> Select[Product]:
    """Products a viewer may list: all for SP roles, the assigned ones for an account."""
    stmt = select(Product)
    if account_id is not None:
        stmt = stmt.where(
            Product.id.in_(
                select(ProductAssignment.product_id).where(
                    ProductAssignment.account_id == account_id
                )
            )
        )
    if kind is not None:
        stmt = stmt.where(Product.kind == kind)
    if active is not None:
        stmt = stmt.where(Product.active == active)
    if code is not None:
        stmt = stmt.where(Product.code == code)
    return stmt
