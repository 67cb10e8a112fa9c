"""Actions on purchase orders: create, update and every lifecycle transition."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from simgql.db import accounts as account_repo
from simgql.db import purchase_orders as po_repo
from simgql.db.config import ALLOW_OVERRIDE, get_config
from simgql.db.engine import Database
from simgql.db.models import Account, PurchaseOrder, PurchaseOrderLine, Sim, StatusEvent, utcnow
from simgql.db.purchase_orders import address_of, overrides_of
from simgql.domain.errors import BadUserInput, Conflict, FieldError, NotFound, raise_if_any
from simgql.domain.lifecycle import PURCHASER_AND_SP
from simgql.domain.model import (
    Entitlements,
    OrderLine,
    PurchaseOrderAction,
    PurchaseOrderFacts,
    PurchaseOrderStatus,
    ShippingAddress,
    SimIdentity,
    Viewer,
)
from simgql.domain.policy import (
    authorize_transition,
    ensure_may_create_for,
    ensure_role,
    ensure_visible,
)
from simgql.domain.validation import (
    MAX_NOTE,
    MAX_TEXT,
    line_shape_problems,
    sim_problems,
    submission_problems,
    text_problem,
)
from simgql.fulfilment import actions as fulfilment
from simgql.services.outcome import Outcome

A = PurchaseOrderAction


@dataclass(frozen=True)
class LineInput:
    product_id: uuid.UUID | None  # None: the client sent an id of no product
    quantity: int


@dataclass(frozen=True)
class OrderDetails:
    """What a purchaser fills in; `None` fields of an update are left as they are."""

    lines: Sequence[LineInput] | None = None
    shipping_address: ShippingAddress | None = None
    requested_ship_date: dt.date | None = None
    overrides: Entitlements | None = None


@dataclass(frozen=True)
class LineAssignment:
    line_id: uuid.UUID | None
    sims: Sequence[SimIdentity]


def facts_of(
    po: PurchaseOrder, account: Account, *, assignment: po_repo.Assignment
) -> PurchaseOrderFacts:
    return PurchaseOrderFacts(
        status=PurchaseOrderStatus(po.status),
        account_id=po.account_id,
        version=po.version,
        account_active=account_repo.is_active(account),
        fully_assigned=assignment.complete,
        sims_assigned=assignment.started,
    )


def _write_address(po: PurchaseOrder, address: ShippingAddress) -> None:
    po.ship_recipient = address.recipient
    po.ship_company = address.company
    po.ship_street = list(address.street)
    po.ship_city = address.city
    po.ship_postal_code = address.postal_code
    po.ship_region = address.region
    po.ship_country = address.country
    po.ship_phone = address.phone


def _write_overrides(po: PurchaseOrder, overrides: Entitlements) -> None:
    po.override_sim_billing_status = overrides.sim_billing_status
    po.override_price_plan = overrides.price_plan
    po.override_service_profile = overrides.service_profile
    po.override_roaming_profile = overrides.roaming_profile
    po.override_apn_group = overrides.apn_group


async def _check_order(
    session: AsyncSession,
    *,
    account: Account,
    lines: Sequence[LineInput],
    address: ShippingAddress | None,
    requested_ship_date: dt.date | None,
    overrides: Entitlements,
    require_address: bool,
) -> None:
    """The plausibility checks; a draft may still lack its address, a submission may not."""
    known = [line.product_id for line in lines if line.product_id is not None]
    offered = await account_repo.offered_products(session, account_id=account.id, product_ids=known)
    problems = submission_problems(
        lines=[
            OrderLine(offered.get(line.product_id) if line.product_id else None, line.quantity)
            for line in lines
        ],
        address=address,
        requested_ship_date=requested_ship_date,
        overrides=overrides,
        overrides_allowed=bool(await get_config(session, key=ALLOW_OVERRIDE)),
        catalogue=await account_repo.load_catalogue(session, account_id=account.id),
        account_active=account_repo.is_active(account),
        today=dt.datetime.now(dt.UTC).date(),
    )
    if not require_address:
        problems = [p for p in problems if p.field != "shippingAddress"]
    raise_if_any(problems)


async def _replace_lines(
    session: AsyncSession, *, po: PurchaseOrder, lines: Sequence[LineInput]
) -> None:
    await session.execute(
        delete(PurchaseOrderLine).where(PurchaseOrderLine.purchase_order_id == po.id)
    )
    for i, line in enumerate(lines):
        assert line.product_id is not None  # checked by _check_order
        session.add(
            PurchaseOrderLine(
                purchase_order_id=po.id,
                position=i,
                product_id=line.product_id,
                quantity=line.quantity,
            )
        )


async def _stored_lines(session: AsyncSession, po: PurchaseOrder) -> list[PurchaseOrderLine]:
    return (await po_repo.lines_by_po_ids(session, ids=[po.id]))[po.id]


def _check_idempotency_key(key: str | None) -> None:
    if key is not None:
        p = text_problem(key, required=True)
        if p:
            raise BadUserInput.single("idempotencyKey", p)


async def create_purchase_order(
    db: Database,
    *,
    viewer: Viewer,
    account_id: uuid.UUID | None,
    details: OrderDetails,
    idempotency_key: str | None = None,
) -> Outcome:
    """Raise a new DRAFT PO; with an idempotency key, a replay returns the first PO."""
    ensure_role(viewer, PURCHASER_AND_SP, "create purchase orders")
    if account_id is None:
        if viewer.account_id is None:
            raise BadUserInput.single("accountId", "is required for service-provider roles")
        account_id = viewer.account_id
    _check_idempotency_key(idempotency_key)
    lines = details.lines or []
    async with db.write() as session:
        account = await account_repo.get_account(session, account_id=account_id)
        if account is None:
            raise NotFound("Account")
        ensure_may_create_for(viewer, account.id)
        raise_if_any(line_shape_problems([line.quantity for line in lines]))
        if idempotency_key is not None:
            earlier = await po_repo.find_by_idempotency_key(
                session, created_by=viewer.sub, key=idempotency_key
            )
            if earlier is not None:
                ensure_visible(viewer, earlier.account_id, "PurchaseOrder")
                return Outcome(earlier)
        overrides = details.overrides or Entitlements()
        await _check_order(
            session,
            account=account,
            lines=lines,
            address=details.shipping_address,
            requested_ship_date=details.requested_ship_date,
            overrides=overrides,
            require_address=False,
        )
        now = utcnow()
        po = PurchaseOrder(
            id=uuid.uuid4(),
            account_id=account.id,
            status=PurchaseOrderStatus.DRAFT,
            version=1,
            requested_ship_date=details.requested_ship_date,
            idempotency_key=idempotency_key,
            created_by=viewer.sub,
            created_at=now,
            updated_at=now,
        )
        if details.shipping_address is not None:
            _write_address(po, details.shipping_address)
        _write_overrides(po, overrides)
        try:
            async with session.begin_nested():
                session.add(po)
                await session.flush()
        except IntegrityError:
            # Another request with the same key won the race; answer with its PO.
            if idempotency_key is None:
                raise
            earlier = await po_repo.find_by_idempotency_key(
                session, created_by=viewer.sub, key=idempotency_key
            )
            if earlier is None:
                raise Conflict("a request with this idempotency key is still running") from None
            return Outcome(earlier)
        await _replace_lines(session, po=po, lines=lines)
        events = await po_repo.record_events(
            session,
            [
                po_repo.new_event(
                    po=po,
                    from_status=None,
                    to_status=po.status,
                    actor=viewer.sub,
                    note=None,
                    at=now,
                )
            ],
        )
    return Outcome(po, events)


class SimpleTransition(Protocol):
    """The shape of the transitions that take only a note."""

    async def __call__(
        self,
        db: Database,
        *,
        viewer: Viewer,
        po_id: uuid.UUID,
        expected_version: int | None,
        note: str | None,
    ) -> Outcome: ...


Apply = Callable[[AsyncSession, PurchaseOrder, Account], Awaitable[None]]
Then = Callable[[AsyncSession, PurchaseOrder, str, dt.datetime], Awaitable[list[StatusEvent]]]


async def _create_sales_orders(
    session: AsyncSession, po: PurchaseOrder, actor: str, at: dt.datetime
) -> list[StatusEvent]:
    return await fulfilment.create_sales_orders(session, po=po, actor=actor, at=at)


async def _release_on_cancel(
    session: AsyncSession, po: PurchaseOrder, actor: str, at: dt.datetime
) -> list[StatusEvent]:
    note = "purchase order cancelled; reserved stock released"
    return await fulfilment.release_sales_orders(session, po=po, actor=actor, at=at, note=note)


async def _release_on_ready(
    session: AsyncSession, po: PurchaseOrder, actor: str, at: dt.datetime
) -> list[StatusEvent]:
    note = "withdrawn: the SIMs were assigned by hand; reserved stock released"
    return await fulfilment.release_sales_orders(session, po=po, actor=actor, at=at, note=note)


async def _transition(
    db: Database,
    *,
    viewer: Viewer,
    action: PurchaseOrderAction,
    po_id: uuid.UUID,
    expected_version: int | None,
    note: str | None = None,
    apply: Apply | None = None,
    then: Then | None = None,
) -> Outcome:
    """Lock the PO, check who may do what now, apply the change, record the event.

    `apply` runs before the status changes, `then` after its event is recorded; both in the
    same transaction, so an error in either leaves everything as it was.
    """
    if note is not None:
        p = text_problem(note, required=False, max_length=MAX_NOTE)
        if p:
            raise BadUserInput.single("note", p)
    async with db.write() as session:
        po = await po_repo.get_purchase_order(session, po_id=po_id, lock=True)
        if po is None:
            raise NotFound("PurchaseOrder")
        account = await session.get(Account, po.account_id)
        assert account is not None
        assignment = po_repo.Assignment()
        if po.status == PurchaseOrderStatus.PROVISIONING:
            assignment = (await po_repo.assignment_by_po_ids(session, ids=[po.id]))[po.id]
        transition = authorize_transition(
            viewer,
            action,
            facts_of(po, account, assignment=assignment),
            expected_version=expected_version,
        )
        from_status = po.status
        if apply is not None:
            await apply(session, po, account)
        now = utcnow()
        po.status = transition.to_status
        po.version += 1
        po.updated_at = now
        pending = []
        if from_status != transition.to_status:
            pending.append(
                po_repo.new_event(
                    po=po,
                    from_status=from_status,
                    to_status=transition.to_status,
                    actor=viewer.sub,
                    note=note,
                    at=now,
                )
            )
        if then is not None:
            pending.extend(await then(session, po, viewer.sub, now))
        events = await po_repo.record_events(session, pending)
    return Outcome(po, events)


async def update_purchase_order(
    db: Database,
    *,
    viewer: Viewer,
    po_id: uuid.UUID,
    expected_version: int | None,
    details: OrderDetails,
) -> Outcome:
    """Change a DRAFT; lines given replace all lines, fields not given stay as they are."""
    if details.lines is not None:
        raise_if_any(line_shape_problems([line.quantity for line in details.lines]))

    async def apply(session: AsyncSession, po: PurchaseOrder, account: Account) -> None:
        lines = details.lines
        if lines is None:
            lines = [LineInput(x.product_id, x.quantity) for x in await _stored_lines(session, po)]
        address = details.shipping_address or address_of(po)
        ship_date = details.requested_ship_date or po.requested_ship_date
        overrides = details.overrides if details.overrides is not None else overrides_of(po)
        await _check_order(
            session,
            account=account,
            lines=lines,
            address=address,
            requested_ship_date=ship_date,
            overrides=overrides,
            require_address=False,
        )
        if details.lines is not None:
            await _replace_lines(session, po=po, lines=details.lines)
        if details.shipping_address is not None:
            _write_address(po, details.shipping_address)
        po.requested_ship_date = ship_date
        _write_overrides(po, overrides)

    return await _transition(
        db,
        viewer=viewer,
        action=A.UPDATE,
        po_id=po_id,
        expected_version=expected_version,
        apply=apply,
    )


async def submit_purchase_order(
    db: Database,
    *,
    viewer: Viewer,
    po_id: uuid.UUID,
    expected_version: int | None,
    note: str | None,
) -> Outcome:
    async def apply(session: AsyncSession, po: PurchaseOrder, account: Account) -> None:
        lines = await _stored_lines(session, po)
        await _check_order(
            session,
            account=account,
            lines=[LineInput(x.product_id, x.quantity) for x in lines],
            address=address_of(po),
            requested_ship_date=po.requested_ship_date,
            overrides=overrides_of(po),
            require_address=True,
        )
        offered = await account_repo.offered_products(
            session, account_id=account.id, product_ids=[x.product_id for x in lines]
        )
        for line in lines:
            line.unit_price = offered[line.product_id].unit_price
            line.currency = offered[line.product_id].currency

    return await _transition(
        db,
        viewer=viewer,
        action=A.SUBMIT,
        po_id=po_id,
        expected_version=expected_version,
        note=note,
        apply=apply,
    )


async def accept_purchase_order(
    db: Database,
    *,
    viewer: Viewer,
    po_id: uuid.UUID,
    expected_version: int | None,
    note: str | None,
) -> Outcome:
    async def apply(session: AsyncSession, po: PurchaseOrder, _account: Account) -> None:
        if po.number is None:
            po.number = await po_repo.next_po_number(session)

    return await _transition(
        db,
        viewer=viewer,
        action=A.ACCEPT,
        po_id=po_id,
        expected_version=expected_version,
        note=note,
        apply=apply,
    )


def _reason_apply(field_name: str, reason: str, attribute: str) -> Apply:
    p = text_problem(reason, required=True, max_length=MAX_NOTE)
    if p:
        raise BadUserInput.single(field_name, p)

    async def apply(_session: AsyncSession, po: PurchaseOrder, _account: Account) -> None:
        setattr(po, attribute, reason)

    return apply


async def reject_purchase_order(
    db: Database, *, viewer: Viewer, po_id: uuid.UUID, expected_version: int | None, reason: str
) -> Outcome:
    return await _transition(
        db,
        viewer=viewer,
        action=A.REJECT,
        po_id=po_id,
        expected_version=expected_version,
        note=reason,
        apply=_reason_apply("reason", reason, "rejection_reason"),
    )


async def cancel_purchase_order(
    db: Database,
    *,
    viewer: Viewer,
    po_id: uuid.UUID,
    expected_version: int | None,
    reason: str | None,
) -> Outcome:
    apply = _reason_apply("reason", reason, "cancellation_reason") if reason else None
    return await _transition(
        db,
        then=_release_on_cancel,
        viewer=viewer,
        action=A.CANCEL,
        po_id=po_id,
        expected_version=expected_version,
        note=reason,
        apply=apply,
    )


def _note_only(action: PurchaseOrderAction, then: Then | None = None) -> SimpleTransition:
    """A transition that takes nothing but an optional note."""

    async def perform(
        db: Database,
        *,
        viewer: Viewer,
        po_id: uuid.UUID,
        expected_version: int | None,
        note: str | None,
    ) -> Outcome:
        return await _transition(
            db,
            viewer=viewer,
            action=action,
            po_id=po_id,
            expected_version=expected_version,
            note=note,
            then=then,
        )

    return perform


reopen_purchase_order = _note_only(A.REOPEN)
start_provisioning = _note_only(A.START_PROVISIONING, then=_create_sales_orders)
mark_ready = _note_only(A.MARK_READY, then=_release_on_ready)
confirm_receipt = _note_only(A.CONFIRM_RECEIPT)


async def ship_purchase_order(
    db: Database,
    *,
    viewer: Viewer,
    po_id: uuid.UUID,
    expected_version: int | None,
    carrier: str,
    tracking_number: str,
    shipped_at: dt.datetime | None,
) -> Outcome:
    problems = []
    for name, value in (("carrier", carrier), ("trackingNumber", tracking_number)):
        p = text_problem(value, required=True, max_length=MAX_TEXT)
        if p:
            problems.append(FieldError(name, p))
    when = shipped_at or utcnow()
    if when.tzinfo is None:
        problems.append(FieldError("shippedAt", "must carry a time zone offset"))
    elif when > utcnow() + dt.timedelta(minutes=5):
        problems.append(FieldError("shippedAt", "must not be in the future"))
    raise_if_any(problems)

    async def apply(_session: AsyncSession, po: PurchaseOrder, _account: Account) -> None:
        po.carrier = carrier
        po.tracking_number = tracking_number
        po.shipped_at = when

    return await _transition(
        db,
        viewer=viewer,
        action=A.SHIP,
        po_id=po_id,
        expected_version=expected_version,
        note=f"{carrier} {tracking_number}",
        apply=apply,
    )


async def assign_sims(
    db: Database,
    *,
    viewer: Viewer,
    po_id: uuid.UUID,
    expected_version: int | None,
    assignments: Sequence[LineAssignment],
) -> Outcome:
    """Attach SIM identities to PO lines, with the PO's effective entitlements."""
    flat = [
        (f"assignments.{a}.sims.{s}", sim)
        for a, assignment in enumerate(assignments)
        for s, sim in enumerate(assignment.sims)
    ]
    problems = sim_problems(flat)
    if not flat:
        problems.append(FieldError("assignments", "at least one SIM is required"))
    raise_if_any(problems)

    async def apply(session: AsyncSession, po: PurchaseOrder, account: Account) -> None:
        lines = {x.id: x for x in await _stored_lines(session, po)}
        counts = await po_repo.sim_counts_by_line_ids(session, ids=list(lines))
        problems: list[FieldError] = []
        adding: dict[uuid.UUID, int] = {}
        for a, assignment in enumerate(assignments):
            line = lines.get(assignment.line_id) if assignment.line_id else None
            if line is None:
                problems.append(FieldError(f"assignments.{a}.lineId", "not a line of this order"))
                continue
            adding[line.id] = adding.get(line.id, 0) + len(assignment.sims)
            if counts[line.id] + adding[line.id] > line.quantity:
                problems.append(
                    FieldError(
                        f"assignments.{a}.sims",
                        f"line has {line.quantity} SIMs ordered and {counts[line.id]} assigned",
                    )
                )
        taken = await po_repo.existing_sim_identifiers(
            session,
            iccids=[s.iccid for _, s in flat],
            imsis=[s.imsi for _, s in flat],
            msisdns=[s.msisdn for _, s in flat],
        )
        for where, sim in flat:
            for kind in ("iccid", "imsi", "msisdn"):
                if (kind, getattr(sim, kind)) in taken:
                    problems.append(
                        FieldError(f"{where}.{kind}", f"{kind.upper()} is already in use")
                    )
        raise_if_any(problems)
        entitlements = overrides_of(po).over(account_repo.account_defaults(account))
        for assignment in assignments:
            assert assignment.line_id is not None
            line = lines[assignment.line_id]
            for sim in assignment.sims:
                session.add(
                    Sim(
                        iccid=sim.iccid,
                        imsi=sim.imsi,
                        msisdn=sim.msisdn,
                        product_id=line.product_id,
                        account_id=po.account_id,
                        purchase_order_id=po.id,
                        line_id=line.id,
                        sim_billing_status=entitlements.sim_billing_status,
                        price_plan=entitlements.price_plan,
                        service_profile=entitlements.service_profile,
                        roaming_profile=entitlements.roaming_profile,
                        apn_group=entitlements.apn_group,
                    )
                )
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError:
            raise Conflict("a SIM identifier was taken by a concurrent request") from None

    return await _transition(
        db,
        viewer=viewer,
        action=A.ASSIGN_SIMS,
        po_id=po_id,
        expected_version=expected_version,
        apply=apply,
    )
