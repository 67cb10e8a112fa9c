"""Data access for warehouses, stock, sales orders, batches and charges."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from simgql.db.models import (
    Charge,
    PurchaseOrder,
    SalesOrder,
    SalesOrderBatch,
    SalesOrderLine,
    Stock,
    Warehouse,
)
from simgql.db.records import fetch
from simgql.domain.fulfilment import StockLevel


async def stock_levels(
    session: AsyncSession, *, product_ids: Sequence[uuid.UUID], lock: bool = False
) -> list[StockLevel]:
    """Available units per warehouse of the given products; `lock` holds the rows."""
    stmt = (
        select(Stock, Warehouse.code)
        .join(Warehouse, Warehouse.id == Stock.warehouse_id)
        .where(Stock.product_id.in_(list(product_ids)))
        .order_by(Stock.id)
    )
    if lock:
        stmt = stmt.with_for_update(of=Stock)
    rows = (await session.execute(stmt)).all()
    return [
        StockLevel(s.warehouse_id, code, s.product_id, s.on_hand - s.reserved) for s, code in rows
    ]


async def stock_row(
    session: AsyncSession, *, warehouse_id: uuid.UUID, product_id: uuid.UUID, lock: bool = False
) -> Stock | None:
    stmt = select(Stock).where(Stock.warehouse_id == warehouse_id, Stock.product_id == product_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_warehouse_by_code(session: AsyncSession, *, code: str) -> Warehouse | None:
    return (
        await session.execute(select(Warehouse).where(Warehouse.code == code))
    ).scalar_one_or_none()


# The loaders' statements, built once (see `purchase_orders`).
_WAREHOUSES_BY_IDS = select(Warehouse).where(Warehouse.id.in_(bindparam("ids", expanding=True)))
_SALES_ORDERS_BY_PO_IDS = (
    select(SalesOrder)
    .where(SalesOrder.purchase_order_id.in_(bindparam("ids", expanding=True)))
    .order_by(SalesOrder.created_at, SalesOrder.id)
)
_SALES_ORDERS_BY_IDS = select(SalesOrder).where(SalesOrder.id.in_(bindparam("ids", expanding=True)))
_LINES_BY_SALES_ORDER_IDS = (
    select(SalesOrderLine)
    .where(SalesOrderLine.sales_order_id.in_(bindparam("ids", expanding=True)))
    .order_by(SalesOrderLine.sales_order_id, SalesOrderLine.id)
)


async def warehouses_by_ids(
    session: AsyncSession, *, ids: Sequence[uuid.UUID], lean: bool = False
) -> dict[uuid.UUID, Warehouse]:
    rows = await fetch(session, _WAREHOUSES_BY_IDS, Warehouse, {"ids": list(ids)}, lean=lean)
    return {r.id: r for r in rows}


async def get_sales_order(
    session: AsyncSession, *, sales_order_id: uuid.UUID, lock: bool = False
) -> SalesOrder | None:
    stmt = select(SalesOrder).where(SalesOrder.id == sales_order_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def sales_orders_of(
    session: AsyncSession, *, purchase_order_id: uuid.UUID, lock: bool = False
) -> list[SalesOrder]:
    stmt = (
        select(SalesOrder)
        .where(SalesOrder.purchase_order_id == purchase_order_id)
        .order_by(SalesOrder.created_at, SalesOrder.id)
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return list((await session.execute(stmt)).scalars())


async def sales_orders_by_po_ids(
    session: AsyncSession, *, ids: Sequence[uuid.UUID], lean: bool = False
) -> dict[uuid.UUID, list[SalesOrder]]:
    rows = await fetch(session, _SALES_ORDERS_BY_PO_IDS, SalesOrder, {"ids": list(ids)}, lean=lean)
    out: dict[uuid.UUID, list[SalesOrder]] = {i: [] for i in ids}
    for r in rows:
        out[r.purchase_order_id].append(r)
    return out


async def sales_orders_by_ids(
    session: AsyncSession, *, ids: Sequence[uuid.UUID], lean: bool = False
) -> dict[uuid.UUID, SalesOrder]:
    rows = await fetch(session, _SALES_ORDERS_BY_IDS, SalesOrder, {"ids": list(ids)}, lean=lean)
    return {r.id: r for r in rows}


async def lines_by_sales_order_ids(
    session: AsyncSession, *, ids: Sequence[uuid.UUID], lean: bool = False
) -> dict[uuid.UUID, list[SalesOrderLine]]:
    rows = await fetch(
        session, _LINES_BY_SALES_ORDER_IDS, SalesOrderLine, {"ids": list(ids)}, lean=lean
    )
    out: dict[uuid.UUID, list[SalesOrderLine]] = {i: [] for i in ids}
    for r in rows:
        out[r.sales_order_id].append(r)
    return out


async def charges_by_sales_order_ids(
    session: AsyncSession, *, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Charge]]:
    rows = (await session.execute(select(Charge).where(Charge.sales_order_id.in_(ids)))).scalars()
    out: dict[uuid.UUID, list[Charge]] = {i: [] for i in ids}
    for r in rows:
        out[r.sales_order_id].append(r)
    return out


async def claim_waiting(
    session: AsyncSession, *, limit: int
) -> tuple[list[SalesOrder], dict[uuid.UUID, PurchaseOrder]]:
    """Lock up to `limit` orders awaiting generation, and their POs, that nobody else holds.

    POs are locked before their sales orders, the order every other change uses.
    """
    waiting = select(SalesOrder.purchase_order_id).where(SalesOrder.status == "AWAITING_GENERATION")
    # SKIP LOCKED with LIMIT: each worker gets POs that no other worker holds right now.
    pos = (
        await session.execute(
            select(PurchaseOrder)
            .where(PurchaseOrder.id.in_(waiting))
            .order_by(PurchaseOrder.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    ).scalars()
    held = {po.id: po for po in pos}
    if not held:
        return [], {}
    orders = (
        await session.execute(
            select(SalesOrder)
            .where(
                SalesOrder.status == "AWAITING_GENERATION",
                SalesOrder.purchase_order_id.in_(list(held)),
            )
            .order_by(SalesOrder.created_at, SalesOrder.id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    ).scalars()
    return list(orders), held


async def lock_purchase_orders(session: AsyncSession, *, ids: Sequence[uuid.UUID]) -> None:
    """Take the row locks of several POs, always in id order (no lock cycles)."""
    if ids:
        await session.execute(
            select(PurchaseOrder.id)
            .where(PurchaseOrder.id.in_(sorted(set(ids))))
            .order_by(PurchaseOrder.id)
            .with_for_update()
        )


async def open_batch(session: AsyncSession, *, warehouse_id: uuid.UUID) -> SalesOrderBatch:
    """The warehouse's batch that has not been extracted yet, created when there is none."""
    batch = (
        await session.execute(
            select(SalesOrderBatch)
            .where(
                SalesOrderBatch.warehouse_id == warehouse_id,
                SalesOrderBatch.extracted_at.is_(None),
            )
            .order_by(SalesOrderBatch.created_at)
            .limit(1)
        )
    ).scalar_one_or_none()
    if batch is None:
        batch = SalesOrderBatch(warehouse_id=warehouse_id)
        session.add(batch)
        await session.flush()
    return batch


def filtered_sales_orders(
    *,
    account_id: uuid.UUID | None = None,
    warehouse_id: uuid.UUID | None = None,
    statuses: Sequence[str] | None = None,
    purchase_order_id: uuid.UUID | None = None,
) -> Select[SalesOrder]:
    stmt = select(SalesOrder)
    if account_id is not None:
        stmt = stmt.where(SalesOrder.account_id == account_id)
    if warehouse_id is not None:
        stmt = stmt.where(SalesOrder.warehouse_id == warehouse_id)
    if statuses:
        stmt = stmt.where(SalesOrder.status.in_(list(statuses)))
    if purchase_order_id is not None:
        stmt = stmt.where(SalesOrder.purchase_order_id == purchase_order_id)
    return stmt
