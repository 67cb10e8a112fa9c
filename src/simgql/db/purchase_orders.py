"""Data access for purchase orders, their lines, SIMs and status history."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, case, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from simgql.db.models import (
    PO_NUMBER_START,
    Counter,
    PurchaseOrder,
    PurchaseOrderLine,
    SalesOrder,
    Sim,
    StatusEvent,
)
from simgql.db.records import fetch
from simgql.domain.model import Entitlements, ShippingAddress, SimBillingStatus

PO_NUMBER_COUNTER = "po_number"
EVENT_LOG_LOCK = 0x5349_4D47  # "SIMG": the advisory lock that orders event-log appends


@dataclass(frozen=True)
class PurchaseOrderFilter:
    account_id: uuid.UUID | None = None
    statuses: Sequence[str] | None = None
    number: int | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None


def filtered_purchase_orders(flt: PurchaseOrderFilter) -> Select[PurchaseOrder]:
    stmt = select(PurchaseOrder)
    if flt.account_id is not None:
        stmt = stmt.where(PurchaseOrder.account_id == flt.account_id)
    if flt.statuses:
        stmt = stmt.where(PurchaseOrder.status.in_(list(flt.statuses)))
    if flt.number is not None:
        stmt = stmt.where(PurchaseOrder.number == flt.number)
    if flt.created_after is not None:
        stmt = stmt.where(PurchaseOrder.created_at > flt.created_after)
    if flt.created_before is not None:
        stmt = stmt.where(PurchaseOrder.created_at < flt.created_before)
    return stmt


async def get_purchase_order(
    session: AsyncSession, *, po_id: uuid.UUID, lock: bool = False
) -> PurchaseOrder | None:
    """The PO by id; `lock` takes its row lock for the rest of the transaction."""
    stmt = select(PurchaseOrder).where(PurchaseOrder.id == po_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def find_by_idempotency_key(
    session: AsyncSession, *, created_by: str, key: str
) -> PurchaseOrder | None:
    return (
        await session.execute(
            select(PurchaseOrder).where(
                PurchaseOrder.created_by == created_by, PurchaseOrder.idempotency_key == key
            )
        )
    ).scalar_one_or_none()


# The loaders' statements, built once: a statement object remembers its cache key, and
# building one per call (column coercion, cache key) costs about as much as running it.
_PURCHASE_ORDERS_BY_IDS = select(PurchaseOrder).where(
    PurchaseOrder.id.in_(bindparam("ids", expanding=True))
)
_LINES_BY_PO_IDS = (
    select(PurchaseOrderLine)
    .where(PurchaseOrderLine.purchase_order_id.in_(bindparam("ids", expanding=True)))
    .order_by(PurchaseOrderLine.purchase_order_id, PurchaseOrderLine.position)
)
_SIMS_BY_LINE_IDS = (
    select(Sim)
    .where(Sim.line_id.in_(bindparam("ids", expanding=True)))
    .order_by(Sim.line_id, Sim.iccid)
)
_SIM_COUNTS_BY_LINE_IDS = (
    select(Sim.line_id, func.count())
    .where(Sim.line_id.in_(bindparam("ids", expanding=True)))
    .group_by(Sim.line_id)
)
_EVENTS_BY_PO_IDS = (
    select(StatusEvent)
    .where(StatusEvent.purchase_order_id.in_(bindparam("ids", expanding=True)))
    .order_by(StatusEvent.purchase_order_id, StatusEvent.id)
)


def _assignment_statement() -> Select[uuid.UUID, int, Any, Any]:
    lines = (
        select(
            PurchaseOrderLine.purchase_order_id.label("po_id"),
            PurchaseOrderLine.quantity.label("quantity"),
            select(func.count())
            .where(Sim.line_id == PurchaseOrderLine.id)
            .correlate(PurchaseOrderLine)
            .scalar_subquery()
            .label("n"),
        )
        .where(PurchaseOrderLine.purchase_order_id.in_(bindparam("ids", expanding=True)))
        .subquery()
    )
    return select(
        lines.c.po_id,
        func.count(),
        func.sum(case((lines.c.n >= lines.c.quantity, 1), else_=0)),
        func.sum(lines.c.n),
    ).group_by(lines.c.po_id)


_ASSIGNMENT_BY_PO_IDS = _assignment_statement()


async def purchase_orders_by_ids(
    session: AsyncSession, *, ids: Sequence[uuid.UUID], lean: bool = False
) -> dict[uuid.UUID, PurchaseOrder]:
    rows = await fetch(
        session, _PURCHASE_ORDERS_BY_IDS, PurchaseOrder, {"ids": list(ids)}, lean=lean
    )
    return {r.id: r for r in rows}


async def lines_by_po_ids(
    session: AsyncSession, *, ids: Sequence[uuid.UUID], lean: bool = False
) -> dict[uuid.UUID, list[PurchaseOrderLine]]:
    rows = await fetch(session, _LINES_BY_PO_IDS, PurchaseOrderLine, {"ids": list(ids)}, lean=lean)
    out: dict[uuid.UUID, list[PurchaseOrderLine]] = {i: [] for i in ids}
    for r in rows:
        out[r.purchase_order_id].append(r)
    return out


async def sims_by_line_ids(
    session: AsyncSession, *, ids: Sequence[uuid.UUID], lean: bool = False
) -> dict[uuid.UUID, list[Sim]]:
    rows = await fetch(session, _SIMS_BY_LINE_IDS, Sim, {"ids": list(ids)}, lean=lean)
    out: dict[uuid.UUID, list[Sim]] = {i: [] for i in ids}
    for r in rows:
        out[r.line_id].append(r)
    return out


async def sim_counts_by_line_ids(
    session: AsyncSession, *, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    rows = (await session.execute(_SIM_COUNTS_BY_LINE_IDS, {"ids": list(ids)})).all()
    counts = dict.fromkeys(ids, 0)
    counts.update({line_id: int(n) for line_id, n in rows})
    return counts


@dataclass(frozen=True)
class Assignment:
    """How far a PO's lines have their SIMs."""

    complete: bool = False
    started: bool = False


async def assignment_by_po_ids(
    session: AsyncSession, *, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Assignment]:
    """Per PO: every line has as many SIMs as its quantity; any SIM at all.

    The SIMs are counted per line of these POs only (through the `sims.line_id` index); a
    grouped count over all SIMs, joined afterwards, reads the whole table on every call.
    """
    rows = (await session.execute(_ASSIGNMENT_BY_PO_IDS, {"ids": list(ids)})).all()
    out = dict.fromkeys(ids, Assignment())
    for po_id, total, complete, sims in rows:
        out[po_id] = Assignment(complete=total > 0 and total == complete, started=sims > 0)
    return out


async def events_by_po_ids(
    session: AsyncSession, *, ids: Sequence[uuid.UUID], lean: bool = False
) -> dict[uuid.UUID, list[StatusEvent]]:
    rows = await fetch(session, _EVENTS_BY_PO_IDS, StatusEvent, {"ids": list(ids)}, lean=lean)
    out: dict[uuid.UUID, list[StatusEvent]] = {i: [] for i in ids}
    for r in rows:
        out[r.purchase_order_id].append(r)
    return out


async def existing_sim_identifiers(
    session: AsyncSession, *, iccids: Sequence[str], imsis: Sequence[str], msisdns: Sequence[str]
) -> set[tuple[str, str]]:
    """Which of the given identifiers are already taken, as (kind, value) pairs."""
    taken: set[tuple[str, str]] = set()
    for kind, column, values in (
        ("iccid", Sim.iccid, iccids),
        ("imsi", Sim.imsi, imsis),
        ("msisdn", Sim.msisdn, msisdns),
    ):
        if values:
            found = (await session.execute(select(column).where(column.in_(values)))).scalars()
            taken.update((kind, v) for v in found)
    return taken


async def next_po_number(session: AsyncSession) -> int:
    """A fresh PO number: a sequence on PostgreSQL, a locked counter row on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        return int((await session.execute(text("SELECT nextval('po_number_seq')"))).scalar_one())
    value = (
        await session.execute(
            update(Counter)
            .where(Counter.name == PO_NUMBER_COUNTER)
            .values(value=Counter.value + 1)
            .returning(Counter.value)
        )
    ).scalar_one_or_none()
    if value is None:
        session.add(Counter(name=PO_NUMBER_COUNTER, value=PO_NUMBER_START))
        await session.flush()
        return PO_NUMBER_START
    return int(value)


def new_event(
    *,
    po: PurchaseOrder,
    from_status: str | None,
    to_status: str,
    actor: str,
    note: str | None,
    at: dt.datetime,
    sales_order: SalesOrder | None = None,
) -> StatusEvent:
    """An event of `po` as it is now, not yet in the log (see `record_events`)."""
    return StatusEvent(
        purchase_order_id=po.id,
        account_id=po.account_id,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        note=note,
        occurred_at=at,
        sales_order_id=sales_order.id if sales_order else None,
        sales_order_status=sales_order.status if sales_order else None,
    )


async def record_events(session: AsyncSession, events: Sequence[StatusEvent]) -> list[StatusEvent]:
    """Append events to the log, as the last step of a transaction.

    On PostgreSQL an advisory lock held until commit hands out ids in commit order: whoever
    has seen event N has seen every event below N, which makes "everything after cursor N"
    gap-free (SQLite has one writer anyway). Taking it last, after every row lock of the
    transaction, keeps it out of lock cycles.
    """
    if not events:
        return []
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENT_LOG_LOCK})
    session.add_all(events)
    await session.flush()
    return list(events)


def overrides_of(po: PurchaseOrder) -> Entitlements:
    return Entitlements(
        sim_billing_status=SimBillingStatus(po.override_sim_billing_status)
        if po.override_sim_billing_status
        else None,
        price_plan=po.override_price_plan,
        service_profile=po.override_service_profile,
        roaming_profile=po.override_roaming_profile,
        apn_group=po.override_apn_group,
    )


def address_of(po: PurchaseOrder) -> ShippingAddress | None:
    if po.ship_recipient is None:
        return None
    return ShippingAddress(
        recipient=po.ship_recipient,
        company=po.ship_company,
        street=tuple(po.ship_street or ()),
        city=po.ship_city or "",
        postal_code=po.ship_postal_code or "",
        region=po.ship_region,
        country=po.ship_country or "",
        phone=po.ship_phone,
    )
