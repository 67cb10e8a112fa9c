"""Actions on sales orders: create them at provisioning, generate, dispatch, fail, retry."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from simgql.db import fulfilment as repo
from simgql.db import purchase_orders as po_repo
from simgql.db.accounts import account_defaults
from simgql.db.engine import Database
from simgql.db.models import (
    Account,
    Charge,
    Product,
    PurchaseOrder,
    SalesOrder,
    SalesOrderLine,
    Sim,
    StatusEvent,
    utcnow,
)
from simgql.db.purchase_orders import overrides_of
from simgql.domain.errors import (
    BadUserInput,
    Conflict,
    FieldError,
    Forbidden,
    InsufficientStock,
    NotFound,
    raise_if_any,
)
from simgql.domain.fulfilment import (
    Allocation,
    Delivery,
    Demand,
    DispatchedItem,
    FraudCheck,
    SalesOrderStatus,
    SalesOrderStep,
    allocate,
    dispatch_problems,
    next_sales_order_status,
)
from simgql.domain.model import (
    SP_ROLES,
    SYSTEM_ACTOR,
    PurchaseOrderStatus,
    Role,
    SimIdentity,
    Viewer,
)
from simgql.domain.policy import can_see_account, ensure_role
from simgql.domain.validation import MAX_NOTE, MAX_TEXT, text_problem
from simgql.services.outcome import Outcome

SO = SalesOrderStatus


def _record(
    *,
    po: PurchaseOrder,
    so: SalesOrder,
    status: SalesOrderStatus,
    actor: str,
    note: str | None,
    at: dt.datetime,
    bump: bool = True,
) -> StatusEvent:
    """Move a sales order to `status`; it is a change of its PO, so the PO's version moves
    (unless the PO's own transition already moved it in this transaction). The event is
    returned for the transaction to record last."""
    so.status = status
    so.updated_at = at
    if bump:
        po.version += 1
        po.updated_at = at
    return po_repo.new_event(
        po=po,
        from_status=po.status,
        to_status=po.status,
        actor=actor,
        note=note,
        at=at,
        sales_order=so,
    )


async def plan(
    session: AsyncSession, *, po: PurchaseOrder, lock: bool
) -> tuple[dict[uuid.UUID, list[Allocation]], list[dict[str, object]]]:
    """The PO's lines allocated to warehouses (by warehouse), or the shortfall per product."""
    lines = (await po_repo.lines_by_po_ids(session, ids=[po.id]))[po.id]
    demands = [Demand(x.id, x.product_id, x.quantity) for x in lines]
    levels = await repo.stock_levels(
        session, product_ids=sorted({d.product_id for d in demands}), lock=lock
    )
    allocations, shortfalls = allocate(demands, levels)
    if shortfalls:
        codes = dict(
            (
                await session.execute(
                    select(Product.id, Product.code).where(
                        Product.id.in_([s.product_id for s in shortfalls])
                    )
                )
            ).all()
        )
        return {}, [
            {"productCode": codes[s.product_id], "requested": s.requested, "available": s.available}
            for s in shortfalls
        ]
    by_warehouse: dict[uuid.UUID, list[Allocation]] = {}
    for a in allocations:
        by_warehouse.setdefault(a.warehouse_id, []).append(a)
    return by_warehouse, []


async def create_sales_orders(
    session: AsyncSession, *, po: PurchaseOrder, actor: str, at: dt.datetime
) -> list[StatusEvent]:
    """Allocate stock, reserve it and create one sales order per warehouse, or refuse."""
    allocation, shortfall = await plan(session, po=po, lock=True)
    if shortfall:
        raise InsufficientStock(shortfall)
    events = []
    for warehouse_id, parts in allocation.items():
        so = SalesOrder(
            purchase_order_id=po.id,
            account_id=po.account_id,
            warehouse_id=warehouse_id,
            status=SO.AWAITING_GENERATION,
            created_at=at,
            updated_at=at,
        )
        session.add(so)
        await session.flush()
        for part in parts:
            session.add(
                SalesOrderLine(
                    sales_order_id=so.id,
                    purchase_order_line_id=part.line_id,
                    product_id=part.product_id,
                    quantity=part.quantity,
                )
            )
            stock = await repo.stock_row(
                session, warehouse_id=warehouse_id, product_id=part.product_id, lock=True
            )
            assert stock is not None
            assert stock.on_hand - stock.reserved >= part.quantity
            stock.reserved += part.quantity
        events.append(
            _record(
                po=po,
                so=so,
                status=SO.AWAITING_GENERATION,
                actor=actor,
                note="sales order created, stock reserved",
                at=at,
                bump=False,
            )
        )
    return events


async def release_sales_orders(
    session: AsyncSession, *, po: PurchaseOrder, actor: str, at: dt.datetime, note: str
) -> list[StatusEvent]:
    """Cancel the PO's open sales orders and give their reserved stock back."""
    events = []
    for so in await repo.sales_orders_of(session, purchase_order_id=po.id, lock=True):
        if so.status not in (SO.AWAITING_GENERATION, SO.AWAITING_DISPATCH, SO.ERROR):
            continue
        status = next_sales_order_status(SalesOrderStep.CANCEL, SO(so.status))
        lines = (await repo.lines_by_sales_order_ids(session, ids=[so.id]))[so.id]
        for line in lines:
            stock = await repo.stock_row(
                session, warehouse_id=so.warehouse_id, product_id=line.product_id, lock=True
            )
            if stock is not None:
                stock.reserved = max(0, stock.reserved - line.quantity)
        events.append(
            _record(
                po=po,
                so=so,
                status=status,
                actor=actor,
                note=note,
                at=at,
                bump=False,
            )
        )
    return events


def delivery_of(po: PurchaseOrder) -> Delivery:
    return Delivery(
        recipient=po.ship_recipient or "",
        company=po.ship_company,
        street=tuple(po.ship_street or ()),
        city=po.ship_city or "",
        postal_code=po.ship_postal_code or "",
        country=po.ship_country or "",
    )


async def generate_waiting(
    db: Database, *, check: FraudCheck | None, limit: int = 50
) -> tuple[int, list[StatusEvent]]:
    """The sales order request job, one pass: claim waiting orders, check, batch them.

    Rows are locked PO first, then sales order, as everywhere else, and with `SKIP LOCKED`
    on PostgreSQL: several workers never take the same order and never wait for each other;
    the pass is one transaction, so a crash leaves every order as it was.
    """
    pending: list[StatusEvent] = []
    async with db.write() as session:
        orders, pos = await repo.claim_waiting(session, limit=limit)
        now = utcnow()
        for so in orders:
            po = pos[so.purchase_order_id]
            reason = check(delivery_of(po)) if check is not None else None
            if reason is not None:
                so.fraud_check = "FAILED"
                so.fraud_reason = reason
                so.error_reason = reason
                status = next_sales_order_status(SalesOrderStep.FAIL_CHECK, SO(so.status))
                note = f"fraud check failed: {reason}"
            else:
                so.fraud_check = "PASSED" if check is not None else "NOT_REQUIRED"
                so.batch_id = (await repo.open_batch(session, warehouse_id=so.warehouse_id)).id
                status = next_sales_order_status(SalesOrderStep.GENERATE, SO(so.status))
                note = "generated for the warehouse"
            pending.append(
                _record(po=po, so=so, status=status, actor=SYSTEM_ACTOR, note=note, at=now)
            )
        events = await po_repo.record_events(session, pending)
    return len(orders), events


@dataclass(frozen=True)
class ReportedItem:
    product_id: uuid.UUID | None
    product_code: str | None
    sim: SimIdentity


async def _warehouse_order(
    session: AsyncSession, *, viewer: Viewer, sales_order_id: uuid.UUID
) -> tuple[PurchaseOrder, SalesOrder]:
    """The PO and sales order, locked in that order; a warehouse sees only its own orders."""
    so = await repo.get_sales_order(session, sales_order_id=sales_order_id)
    if so is None:
        raise NotFound("SalesOrder")
    if viewer.role is Role.WAREHOUSE:
        warehouse = (await repo.warehouses_by_ids(session, ids=[so.warehouse_id]))[so.warehouse_id]
        if warehouse.code != viewer.warehouse_code:
            raise NotFound("SalesOrder")
    elif viewer.role not in SP_ROLES:
        if can_see_account(viewer, so.account_id):
            raise Forbidden(f"role {viewer.role} may not report on sales orders")
        raise NotFound("SalesOrder")
    po = await po_repo.get_purchase_order(session, po_id=so.purchase_order_id, lock=True)
    so = await repo.get_sales_order(session, sales_order_id=sales_order_id, lock=True)
    assert po is not None
    assert so is not None
    return po, so


async def apply_dispatch(
    session: AsyncSession,
    *,
    po: PurchaseOrder,
    so: SalesOrder,
    items: Sequence[ReportedItem],
    carrier: str,
    tracking_number: str,
    dispatched_at: dt.datetime,
    actor: str,
    prefix: str = "items",
) -> list[StatusEvent]:
    """Record what a warehouse dispatched: SIMs, stock, charges, COMPLETE, maybe READY."""
    status = next_sales_order_status(SalesOrderStep.DISPATCH, SO(so.status))
    lines = (await repo.lines_by_sales_order_ids(session, ids=[so.id]))[so.id]
    ordered: dict[uuid.UUID, int] = {}
    for line in lines:
        ordered[line.product_id] = ordered.get(line.product_id, 0) + line.quantity
    codes = {c for c in (i.product_code for i in items) if c}
    by_code = (
        dict(
            (
                await session.execute(
                    select(Product.code, Product.id).where(Product.code.in_(codes))
                )
            ).all()
        )
        if codes
        else {}
    )
    resolved = [
        DispatchedItem(i.product_id or by_code.get(i.product_code or ""), i.sim) for i in items
    ]
    problems = dispatch_problems(ordered, resolved, prefix)
    for name, value in (("carrier", carrier), ("trackingNumber", tracking_number)):
        if p := text_problem(value, required=True, max_length=MAX_TEXT):
            problems.append(FieldError(name, p))
    taken = await po_repo.existing_sim_identifiers(
        session,
        iccids=[i.sim.iccid for i in items],
        imsis=[i.sim.imsi for i in items],
        msisdns=[i.sim.msisdn for i in items],
    )
    for n, item in enumerate(items):
        for kind in ("iccid", "imsi", "msisdn"):
            if (kind, getattr(item.sim, kind)) in taken:
                problems.append(
                    FieldError(f"{prefix}.{n}.{kind}", f"{kind.upper()} is already in use")
                )
    raise_if_any(problems)

    po_lines = {x.id: x for x in (await po_repo.lines_by_po_ids(session, ids=[po.id]))[po.id]}
    counts = await po_repo.sim_counts_by_line_ids(session, ids=list(po_lines))
    account = await session.get(Account, po.account_id)
    assert account is not None
    entitlements = overrides_of(po).over(account_defaults(account))
    queue = {p: [i.sim for i in resolved if i.product_id == p] for p in ordered}
    for line in lines:
        po_line = po_lines[line.purchase_order_line_id]
        if counts[po_line.id] + line.quantity > po_line.quantity:
            raise Conflict("the order line already has SIMs assigned by hand")
        for sim in queue[line.product_id][: line.quantity]:
            session.add(
                Sim(
                    iccid=sim.iccid,
                    imsi=sim.imsi,
                    msisdn=sim.msisdn,
                    product_id=line.product_id,
                    account_id=po.account_id,
                    purchase_order_id=po.id,
                    line_id=po_line.id,
                    sim_billing_status=entitlements.sim_billing_status,
                    price_plan=entitlements.price_plan,
                    service_profile=entitlements.service_profile,
                    roaming_profile=entitlements.roaming_profile,
                    apn_group=entitlements.apn_group,
                )
            )
        queue[line.product_id] = queue[line.product_id][line.quantity :]
        stock = await repo.stock_row(
            session, warehouse_id=so.warehouse_id, product_id=line.product_id, lock=True
        )
        assert stock is not None
        stock.on_hand -= line.quantity
        stock.reserved -= line.quantity
        if stock.on_hand < 0 or stock.reserved < 0:
            raise Conflict("stock records do not cover this dispatch")
        product = await session.get(Product, line.product_id)
        assert product is not None
        price = po_line.unit_price if po_line.unit_price is not None else product.unit_price
        session.add(
            Charge(
                sales_order_id=so.id,
                sales_order_line_id=line.id,
                account_id=po.account_id,
                product_id=line.product_id,
                quantity=line.quantity,
                unit_price=price,
                amount=price * line.quantity,
                currency=po_line.currency or product.currency,
            )
        )
    now = utcnow()
    so.carrier = carrier
    so.tracking_number = tracking_number
    so.dispatched_at = dispatched_at
    await session.flush()
    events = [
        _record(
            po=po,
            so=so,
            status=status,
            actor=actor,
            note=f"dispatched: {carrier} {tracking_number}",
            at=now,
        )
    ]
    siblings = await repo.sales_orders_of(session, purchase_order_id=po.id)
    done = all(s.status in (SO.COMPLETE, SO.CANCELLED) for s in siblings)
    if done and po.status == PurchaseOrderStatus.PROVISIONING:
        po.status = PurchaseOrderStatus.READY
        po.version += 1
        events.append(
            po_repo.new_event(
                po=po,
                from_status=PurchaseOrderStatus.PROVISIONING,
                to_status=PurchaseOrderStatus.READY,
                actor=SYSTEM_ACTOR,
                note="every sales order is complete",
                at=now,
            )
        )
    return events


def _ensure_reporter(viewer: Viewer) -> None:
    if viewer.role is not Role.WAREHOUSE or not viewer.warehouse_code:
        raise Forbidden("only a warehouse may report on its sales orders")


async def record_dispatch(
    db: Database,
    *,
    viewer: Viewer,
    sales_order_id: uuid.UUID,
    items: Sequence[ReportedItem],
    carrier: str,
    tracking_number: str,
    dispatched_at: dt.datetime | None,
) -> Outcome:
    _ensure_reporter(viewer)
    when = dispatched_at or utcnow()
    if when.tzinfo is None:
        raise BadUserInput.single("dispatchedAt", "must carry a time zone offset")
    try:
        async with db.write() as session:
            po, so = await _warehouse_order(session, viewer=viewer, sales_order_id=sales_order_id)
            pending = await apply_dispatch(
                session,
                po=po,
                so=so,
                items=items,
                carrier=carrier,
                tracking_number=tracking_number,
                dispatched_at=when,
                actor=viewer.sub,
            )
            events = await po_repo.record_events(session, pending)
    except IntegrityError:
        # The identities were free when checked; a concurrent request took one since.
        raise Conflict("a SIM identifier was taken by a concurrent request") from None
    return Outcome(po, events)


async def apply_error(
    session: AsyncSession, *, po: PurchaseOrder, so: SalesOrder, reason: str, actor: str
) -> list[StatusEvent]:
    if p := text_problem(reason, required=True, max_length=MAX_NOTE):
        raise BadUserInput.single("reason", p)
    status = next_sales_order_status(SalesOrderStep.REPORT_ERROR, SO(so.status))
    so.error_reason = reason
    return [
        _record(
            po=po,
            so=so,
            status=status,
            actor=actor,
            note=f"warehouse error: {reason}",
            at=utcnow(),
        )
    ]


async def record_error(
    db: Database, *, viewer: Viewer, sales_order_id: uuid.UUID, reason: str
) -> Outcome:
    _ensure_reporter(viewer)
    async with db.write() as session:
        po, so = await _warehouse_order(session, viewer=viewer, sales_order_id=sales_order_id)
        pending = await apply_error(session, po=po, so=so, reason=reason, actor=viewer.sub)
        events = await po_repo.record_events(session, pending)
    return Outcome(po, events)


async def retry_sales_order(db: Database, *, viewer: Viewer, sales_order_id: uuid.UUID) -> Outcome:
    """An agent sends an ERROR order through generation again."""
    async with db.write() as session:
        po, so = await _warehouse_order(session, viewer=viewer, sales_order_id=sales_order_id)
        ensure_role(viewer, SP_ROLES, "retry sales orders")
        status = next_sales_order_status(SalesOrderStep.RETRY, SO(so.status))
        so.error_reason = None
        so.fraud_check = None
        so.fraud_reason = None
        so.batch_id = None
        pending = [
            _record(po=po, so=so, status=status, actor=viewer.sub, note="retried", at=utcnow())
        ]
        events = await po_repo.record_events(session, pending)
    return Outcome(po, events)
