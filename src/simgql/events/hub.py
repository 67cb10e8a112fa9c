"""The per-process fan-out: reads the event log once, hands each event to its subscribers.

Each subscriber owns a bounded queue. One that falls behind by more than its queue holds is
dropped with an `overflowed` mark, so it cannot stall the others; the client is told and
resumes from its last cursor, which replays what it missed from the log.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime as dt
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from simgql.db import events as event_repo
from simgql.db.engine import Database, log_failure
from simgql.db.models import StatusEvent
from simgql.events.bus import EventBus

log = logging.getLogger("simgql.events")

FETCH_BATCH = 500
SHARED_EVENTS = 768  # root objects, loaders and shared results of the last 256 events
T = TypeVar("T")
REPLAY_BATCH = 200


def encode_event_cursor(event_id: int) -> str:
    return base64.urlsafe_b64encode(f"event:{event_id}".encode()).decode().rstrip("=")


def decode_event_cursor(cursor: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    prefix, _, number = raw.partition(":")
    if prefix != "event" or not number.isdigit() or len(number) > 18:
        return None
    return int(number)


@dataclass(frozen=True)
class EventFilter:
    """Which events one subscription wants; `None` fields do not narrow."""

    purchase_order_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    statuses: frozenset[str] | None = None

    def matches(self, event: StatusEvent) -> bool:
        if self.purchase_order_id is not None and event.purchase_order_id != self.purchase_order_id:
            return False
        if self.account_id is not None and event.account_id != self.account_id:
            return False
        return not self.statuses or event.to_status in self.statuses


class SubscriptionExpired(Exception):
    """The subscriber's credentials expired while it waited."""


class SubscriberOverflow(Exception):
    """The subscriber fell further behind than its queue holds."""

    def __init__(self, last_delivered: int) -> None:
        super().__init__("subscriber fell behind")
        self.last_delivered = last_delivered


@dataclass(eq=False, slots=True)
class Subscriber:
    """One subscription's place in the fan-out: its filter, a bounded backlog, a wake-up.

    Thousands of these sit idle for hours, so each is kept small: the backlog is a plain
    list (an empty deque costs 760 bytes, an `asyncio.Queue` three of them; backlogs are
    short, so taking from the front is cheap), and the wake-up is a future made only
    while the subscriber waits (an `asyncio.Event` holds a deque of its own for life).
    Only the hub puts and only the subscriber takes.
    """

    filter: EventFilter
    limit: int
    queue: list[StatusEvent] = field(default_factory=list)
    overflowed: bool = False
    expires_at: dt.datetime | None = None
    expired: bool = False
    waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def wait(self) -> None:
        """Until the hub hands over an event or marks this subscriber overflowed or expired."""
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None


class EventHub:
    """One per process: follows the event log and feeds every local subscription."""

    def __init__(
        self,
        db: Database,
        broadcast_url: str,
        *,
        queue_size: int = 1000,
        poll_interval: float = 5.0,
        relay_interval: float = 3.0,
        relay_grace: float = 2.0,
        heartbeat_interval: float = 2.0,
        expiry_interval: float = 1.0,
    ) -> None:
        self.db = db
        self.expiry_interval = expiry_interval
        self.queue_size = queue_size
        self.poll_interval = poll_interval
        self.relay_interval = relay_interval
        self.relay_grace = relay_grace
        self.bus = EventBus(broadcast_url, self.wake, heartbeat_interval=heartbeat_interval)
        self.subscribers: set[Subscriber] = set()
        # Per-event state shared by every subscription that delivers the event (loaders).
        self._shared: OrderedDict[Hashable, Any] = OrderedDict()
        self.position = 0
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._to_mark: set[int] = set()
        self._marking: asyncio.Task[None] | None = None
        self._latest_next: asyncio.Future[int] | None = None
        self._latest_reader: asyncio.Task[None] | None = None

    @property
    def subscriber_count(self) -> int:
        return len(self.subscribers)

    def shared(self, key: Hashable, make: Callable[[], T]) -> T:
        """One object per event (or key about one) for all local subscribers.

        E.g. loaders (one read per event, not N) and shared executions (`api.multiplex`).
        """
        found = self._shared.get(key)
        if found is None:
            found = make()
            self._shared[key] = found
            while len(self._shared) > SHARED_EVENTS:
                self._shared.popitem(last=False)
        return cast(T, found)

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        async with self.db.read() as session:
            self.position = await event_repo.latest_event_id(session)
        await self.bus.start()
        self._tasks = [
            asyncio.create_task(self._follow(), name="simgql-hub-follow"),
            asyncio.create_task(self._relay(), name="simgql-hub-relay"),
            asyncio.create_task(self._expire(), name="simgql-hub-expire"),
        ]

    async def stop(self) -> None:
        if self._marking is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._marking), 2)
        tasks = [*self._tasks, *([self._latest_reader] if self._latest_reader else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.bus.stop()

    async def published(self, events: Sequence[StatusEvent]) -> None:
        """Called after a commit: tell every process; the events are marked published soon.

        The mark only keeps the relay from publishing them again, and a second wake-up is
        harmless, so the caller (a mutation about to answer) does not wait for that write:
        marks are gathered and written in one transaction in the background.
        """
        if not events:
            return
        self.wake()
        try:
            if await self.bus.publish(str(max(e.id for e in events))):
                self._to_mark.update(e.id for e in events)
                if self._marking is None or self._marking.done():
                    self._marking = asyncio.create_task(self._mark(), name="simgql-hub-mark")
        except Exception as exc:  # the change is committed; the relay publishes it later
            log_failure("publishing events", exc)

    async def _mark(self) -> None:
        """Write the published marks gathered so far, in one transaction per round."""
        while self._to_mark:
            ids, self._to_mark = sorted(self._to_mark), set()
            try:
                async with self.db.write() as session:
                    await event_repo.mark_published(session, ids=ids, at=dt.datetime.now(dt.UTC))
            except Exception as exc:  # the relay publishes them again: a spare wake-up
                log_failure("marking events as published", exc)
                return

    async def _follow(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()
            try:
                await self._catch_up()
            except Exception as exc:  # a database hiccup must not end live delivery
                log_failure("reading the event log (retrying)", exc)
                await asyncio.sleep(1)

    async def _catch_up(self) -> None:
        while True:
            async with self.db.read() as session:
                batch = await event_repo.events_after(
                    session, after_id=self.position, limit=FETCH_BATCH
                )
            for event in batch:
                self._dispatch(event)
                self.position = event.id
            if len(batch) < FETCH_BATCH:
                return

    def _dispatch(self, event: StatusEvent) -> None:
        for sub in list(self.subscribers):
            if sub.overflowed or not sub.filter.matches(event):
                continue
            if len(sub.queue) >= sub.limit:
                sub.overflowed = True
                self.subscribers.discard(sub)
            else:
                sub.queue.append(event)
            sub.wake()

    async def _expire(self) -> None:
        """Wake subscribers whose token expired while they wait, so they can be ended.

        One sweep a second for all, instead of a timer per subscriber per wait: a deadline is
        kept to within `expiry_interval`.
        """
        while True:
            await asyncio.sleep(self.expiry_interval)
            now = dt.datetime.now(dt.UTC)
            for sub in list(self.subscribers):
                if sub.expires_at is not None and sub.expires_at <= now and not sub.expired:
                    sub.expired = True
                    sub.wake()

    async def _relay(self) -> None:
        """Publish what a crash between commit and publish left unpublished."""
        while True:
            await asyncio.sleep(self.relay_interval)
            try:
                now = dt.datetime.now(dt.UTC)
                async with self.db.write() as session:
                    ids = await event_repo.claim_unpublished(
                        session, older_than=now - dt.timedelta(seconds=self.relay_grace), at=now
                    )
                if ids:
                    log.info("relayed %d unpublished events", len(ids))
                    self.wake()
                    await self.bus.publish(str(max(ids)))
            except Exception as exc:  # keep relaying after a database hiccup
                log_failure("outbox relay", exc)

    async def stream(
        self, flt: EventFilter, *, after: int | None, expires_at: dt.datetime | None = None
    ) -> AsyncGenerator[StatusEvent, None]:
        """Every matching event after `after` from the log, then live ones; no gap, no repeat.

        Without `after`, only events that commit from now on. Raises `SubscriptionExpired`
        once `expires_at` has passed while waiting (the caller checks it before delivering).
        """
        sub = Subscriber(flt, self.queue_size, expires_at=expires_at)
        # Register before replaying, so nothing that commits during the replay is missed;
        # events seen in both are told apart by id.
        self.subscribers.add(sub)
        try:
            if after is None:
                # "From now on" means after what has committed, whether or not this
                # process has handed it out yet.
                last = await self.latest_committed()
            else:
                last = after
                async for event in self._replay(flt, after):
                    yield event
                    last = event.id
            while True:
                if not sub.queue:
                    if sub.overflowed:
                        raise SubscriberOverflow(last)
                    if sub.expired:
                        raise SubscriptionExpired()
                    await sub.wait()
                    continue
                event = sub.queue.pop(0)
                if event.id <= last:
                    continue
                yield event
                last = event.id
        finally:
            self.subscribers.discard(sub)

    async def _replay(self, flt: EventFilter, after: int) -> AsyncGenerator[StatusEvent, None]:
        """The logged events after `after` that `flt` wants, read in batches.

        A generator of its own, not a loop in `stream`, so that the last batch and its
        session are let go once the replay is over instead of living as long as the
        subscription.
        """
        last = after
        while True:
            batch = await self._replay_batch(flt, last)
            for event in batch:
                yield event
                last = event.id
            if len(batch) < REPLAY_BATCH:
                return

    async def _replay_batch(self, flt: EventFilter, after: int) -> Sequence[StatusEvent]:
        async with self.db.read() as session:
            return await event_repo.events_after(
                session,
                after_id=after,
                limit=REPLAY_BATCH,
                purchase_order_id=flt.purchase_order_id,
                account_id=flt.account_id,
                statuses=sorted(flt.statuses) if flt.statuses else None,
            )

    async def latest_committed(self) -> int:
        """The id of the last event committed, read after this call began.

        Subscriptions that start together (a deploy reconnects every client at once) share
        one read: each caller joins the next read to *start*, never one already running, so
        none misses an event that committed before it asked. A read per subscription used
        to queue thousands of sessions on the pool: seconds of waiting, and about 15 KiB
        per subscription of freed but fragmented memory the process kept afterwards.
        """
        if self._latest_next is None:
            self._latest_next = asyncio.get_running_loop().create_future()
        if self._latest_reader is None or self._latest_reader.done():
            self._latest_reader = asyncio.create_task(self._read_latest(), name="simgql-hub-latest")
        # Shielded: a caller that goes away must not cancel the answer for the others.
        return await asyncio.shield(self._latest_next)

    async def _read_latest(self) -> None:
        """Answer the callers gathered so far with one read, then those who came meanwhile."""
        while self._latest_next is not None:
            answer, self._latest_next = self._latest_next, None
            try:
                async with self.db.read() as session:
                    latest = await event_repo.latest_event_id(session)
            except Exception as exc:  # each caller raises it (and reports it) as before
                answer.set_exception(exc)
                answer.exception()  # retrieved, even when every caller has gone
            else:
                answer.set_result(latest)
            finally:
                if not answer.done():  # the hub is stopping
                    answer.cancel()
