"""Subscriptions: status events of one PO, or of every PO the viewer may see."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import AsyncGenerator
from functools import partial
from typing import Annotated, Literal

import strawberry
from graphql import GraphQLError

from simgql.api.context import Info
from simgql.api.errors import MASKED_MESSAGE, as_graphql_error
from simgql.api.ids import decode_id
from simgql.api.loaders import Loaders
from simgql.api.types import PurchaseOrder, SalesOrder
from simgql.db import events as event_repo
from simgql.db import models
from simgql.db.engine import is_unavailable, outages
from simgql.domain import model
from simgql.domain.errors import (
    BadUserInput,
    DomainError,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from simgql.domain.fulfilment import SalesOrderStatus
from simgql.domain.policy import can_see_account, visible_account_scope
from simgql.events.hub import (
    EventFilter,
    SubscriberOverflow,
    SubscriptionExpired,
    decode_event_cursor,
    encode_event_cursor,
)

AFTER_EVENT = (
    "The `cursor` of an event already received: every later event is replayed first, in "
    "order, then live ones follow, with no gap and no repeat."
)


log = logging.getLogger("simgql.subscriptions")


@strawberry.type(description="One status change of a purchase order, as it committed.")
class PurchaseOrderStatusEvent:
    row: strawberry.Private[models.StatusEvent]
    cursor: str = strawberry.field(description="Pass as `after` to resume right after this event.")
    from_status: model.PurchaseOrderStatus | None = strawberry.field(
        description="The PO's status before the change; null for its creation."
    )
    to_status: model.PurchaseOrderStatus = strawberry.field(
        description="The PO's status after the change."
    )
    actor: str = strawberry.field(
        description="Who made the change: the token's `sub`, or `system`."
    )
    note: str | None = strawberry.field(
        description="The note or reason given with the change, if any."
    )
    occurred_at: dt.datetime = strawberry.field(description="When the change was made.")
    sales_order_status: SalesOrderStatus | None = strawberry.field(
        description="Set when the event is a sales order's status change (the PO's stays)."
    )

    @strawberry.field(description="The sales order this event is about, if any.")
    async def sales_order(self, info: Info) -> SalesOrder | None:
        if self.row.sales_order_id is None:
            return None
        row = await info.context.loaders.sales_order.load(self.row.sales_order_id)
        return SalesOrder.of(row) if row else None

    @strawberry.field(description="The purchase order as it is now.")
    async def purchase_order(self, info: Info) -> PurchaseOrder:
        row = await info.context.loaders.purchase_order.load(self.row.purchase_order_id)
        assert row is not None
        return PurchaseOrder.of(row)

    @classmethod
    def of(cls, e: models.StatusEvent) -> PurchaseOrderStatusEvent:
        return cls(
            row=e,
            cursor=encode_event_cursor(e.id),
            from_status=model.PurchaseOrderStatus(e.from_status) if e.from_status else None,
            to_status=model.PurchaseOrderStatus(e.to_status),
            actor=e.actor,
            note=e.note,
            occurred_at=e.occurred_at,
            sales_order_status=SalesOrderStatus(e.sales_order_status)
            if e.sales_order_status
            else None,
        )


async def _check_cursor(info: Info, after: str | None) -> int | None:
    """The event id of a cursor; unknown or invisible cursors are bad input."""
    if after is None:
        return None
    event_id = decode_event_cursor(after)
    if event_id is not None:
        async with info.context.db.read() as session:
            event = await event_repo.get_event(session, event_id=event_id)
        if event is not None and can_see_account(info.context.viewer, event.account_id):
            return event_id
    raise BadUserInput.single("after", "is not a cursor of an event you can see")


def _events(
    info: Info, flt: EventFilter, after: int | None
) -> contextlib.aclosing[AsyncGenerator[models.StatusEvent, None]]:
    """The hub's events for `flt`, closed as soon as the subscription ends."""
    hub = info.context.hub
    if hub is None:
        raise DomainError("live events are not available on this server")
    return contextlib.aclosing(hub.stream(flt, after=after, expires_at=info.context.expires_at))


def _delivered(info: Info, event: models.StatusEvent) -> PurchaseOrderStatusEvent:
    """An event about to go out: the token still valid, the event's shared loaders in place.

    Each event's root object and loaders are made once for all local subscribers: nothing
    of an event is this subscription's own, so an idle subscription keeps no copy of the
    last event it delivered.
    """
    expires = info.context.expires_at
    if expires is not None and expires <= dt.datetime.now(dt.UTC):
        raise Unauthenticated("the token has expired; reconnect with a fresh one")
    hub = info.context.hub
    assert hub is not None  # `_events` checked
    info.context.loaders = hub.shared(event.id, partial(Loaders, info.context.db, shared=True))
    if info.context.metrics is not None:
        info.context.metrics.delivered.inc()
    return hub.shared(("root", event.id), partial(PurchaseOrderStatusEvent.of, event))


class _Guard:
    """Turns the hub's endings and our domain errors into GraphQL errors with their code,
    also mid-stream.

    A stateless context manager that every subscription shares, rather than async
    generators wrapping each one: every generator in a subscription's chain lives as long
    as the subscription does.
    """

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> Literal[False]:
        if not isinstance(exc, Exception) or isinstance(exc, GraphQLError):
            return False  # nothing, a GraphQL error, or cancellation and closing: as they are
        if isinstance(exc, SubscriptionExpired):
            exc = Unauthenticated("the token has expired; reconnect with a fresh one")
        elif isinstance(exc, SubscriberOverflow):
            exc = RateLimited(
                "this subscription fell behind and was dropped; resubscribe with "
                f"after: {encode_event_cursor(exc.last_delivered)!r}"
            )
        if isinstance(exc, DomainError):
            raise as_graphql_error(exc) from None
        # E.g. the database went away: masked, logged, never raw.
        if is_unavailable(exc):
            outages.report("a subscription ended", exc)
        else:
            log.error("a subscription failed", exc_info=exc)
        raise GraphQLError(MASKED_MESSAGE, extensions={"code": "INTERNAL_SERVER_ERROR"}) from None


_guarded = _Guard()


async def _one_po(info: Info, id: strawberry.ID) -> EventFilter:
    """The filter for one PO's events, once the viewer is known to see the PO."""
    viewer = info.context.viewer
    visible_account_scope(viewer)
    po_id = decode_id(id, "PurchaseOrder", "id")
    async with info.context.db.read() as session:
        po = await session.get(models.PurchaseOrder, po_id)
    if po is None or not can_see_account(viewer, po.account_id):
        raise NotFound("PurchaseOrder")
    return EventFilter(purchase_order_id=po.id)


async def _visible_pos(
    info: Info,
    account_id: strawberry.ID | None,
    statuses: list[model.PurchaseOrderStatus] | None,
) -> EventFilter:
    """The filter for every PO the viewer may see, narrowed to one account or some statuses."""
    viewer = info.context.viewer
    wanted: uuid.UUID | None = visible_account_scope(viewer)
    if account_id is not None:
        requested = decode_id(account_id, "Account", "accountId")
        async with info.context.db.read() as session:
            account = await session.get(models.Account, requested)
        if account is None or not can_see_account(viewer, account.id):
            raise NotFound("Account")
        wanted = requested
    return EventFilter(
        account_id=wanted,
        statuses=frozenset(s.value for s in statuses) if statuses else None,
    )


@strawberry.type(
    description="Live status events, over WebSocket (graphql-transport-ws or graphql-ws), "
    "Server-Sent Events or multipart HTTP; a subscription ends when the token expires."
)
class Subscription:
    @strawberry.subscription(
        description="Status events of one PO; with `after`, first every event after that cursor."
    )
    async def purchase_order_status_changed(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="The purchase order's global ID.")
        ],
        after: Annotated[str | None, strawberry.argument(description=AFTER_EVENT)] = None,
    ) -> AsyncGenerator[PurchaseOrderStatusEvent, None]:
        # The checks are helpers of their own, so that nothing they read (a session, the
        # PO) stays referenced from this generator for the subscription's life.
        with _guarded:
            flt = await _one_po(info, id)
            start = await _check_cursor(info, after)
            async with _events(info, flt, start) as events:
                async for event in events:
                    yield _delivered(info, event)

    @strawberry.subscription(
        description="Status events of every PO the viewer may see, optionally narrowed."
    )
    async def purchase_order_events(
        self,
        info: Info,
        account_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this account's POs (enterprise: their own)."),
        ] = None,
        statuses: Annotated[
            list[model.PurchaseOrderStatus] | None,
            strawberry.argument(description="Only events whose `toStatus` is one of these."),
        ] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER_EVENT)] = None,
    ) -> AsyncGenerator[PurchaseOrderStatusEvent, None]:
        with _guarded:
            flt = await _visible_pos(info, account_id, statuses)
            start = await _check_cursor(info, after)
            async with _events(info, flt, start) as events:
                async for event in events:
                    yield _delivered(info, event)
