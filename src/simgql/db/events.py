"""Data access for the status-event log (the transactional outbox)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from simgql.db.models import StatusEvent


async def latest_event_id(session: AsyncSession) -> int:
    return int(
        (await session.execute(select(func.coalesce(func.max(StatusEvent.id), 0)))).scalar_one()
    )


async def get_event(session: AsyncSession, *, event_id: int) -> StatusEvent | None:
    return await session.get(StatusEvent, event_id)


async def events_after(
    session: AsyncSession,
    *,
    after_id: int,
    limit: int,
    purchase_order_id: uuid.UUID | None = None,
    account_id: uuid.UUID | None = None,
    statuses: Sequence[str] | None = None,
) -> list[StatusEvent]:
    """Events with an id above `after_id`, oldest first, optionally narrowed."""
    stmt = select(StatusEvent).where(StatusEvent.id > after_id)
    if purchase_order_id is not None:
        stmt = stmt.where(StatusEvent.purchase_order_id == purchase_order_id)
    if account_id is not None:
        stmt = stmt.where(StatusEvent.account_id == account_id)
    if statuses:
        stmt = stmt.where(StatusEvent.to_status.in_(list(statuses)))
    return list((await session.execute(stmt.order_by(StatusEvent.id).limit(limit))).scalars())


async def mark_published(session: AsyncSession, *, ids: Sequence[int], at: dt.datetime) -> None:
    await session.execute(
        update(StatusEvent)
        .where(StatusEvent.id.in_(list(ids)), StatusEvent.published_at.is_(None))
        .values(published_at=at)
    )


async def claim_unpublished(
    session: AsyncSession, *, older_than: dt.datetime, at: dt.datetime, limit: int = 1000
) -> list[int]:
    """Mark events that nobody published (a crash between commit and publish) as published."""
    ids = list(
        (
            await session.execute(
                select(StatusEvent.id)
                .where(StatusEvent.published_at.is_(None), StatusEvent.occurred_at < older_than)
                .order_by(StatusEvent.id)
                .limit(limit)
            )
        ).scalars()
    )
    if ids:
        await mark_published(session, ids=ids, at=at)
    return ids
