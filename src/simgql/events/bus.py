"""The broadcast bus: wake-up messages between server processes, in front of broadcaster.

Messages only say "the event log grew"; the log itself is read from the database. A lost
message therefore delays delivery but loses nothing. broadcaster 0.3.1 does not notice a lost
Redis or PostgreSQL connection (its listener hangs or dies), so the bus sends itself a
heartbeat and rebuilds the connection when the heartbeat stops coming back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from broadcaster import Broadcast
from broadcaster._backends.base import BroadcastBackend
from broadcaster._backends.redis import RedisBackend

log = logging.getLogger("simgql.events")

CHANNEL = "simgql_po_events"
HEARTBEAT = "heartbeat"


class _RedisBackend(RedisBackend):
    """broadcaster's Redis backend, woken only once the subscription is really in place.

    Upstream sets its "ready" flag before subscribing; with redis-py 8 the listener then
    finds no subscription, stops, and waits for the next subscribe that never comes.
    """

    async def subscribe(self, channel: str) -> None:
        await self._pubsub.subscribe(channel)
        self._ready.set()


def _backend_for(url: str) -> BroadcastBackend | None:
    scheme = urlparse(url).scheme
    if scheme in ("redis", "rediss"):
        return _RedisBackend(url)
    return None  # broadcaster's own choice for memory:// and postgres://


def normalise_broadcast_url(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgres+asyncpg://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


class EventBus:
    """Publishes wake-ups and calls `on_message` for every one received, from any process."""

    def __init__(
        self,
        url: str,
        on_message: Callable[[], None],
        *,
        heartbeat_interval: float = 2.0,
        publish_timeout: float = 2.0,
    ) -> None:
        self.url = normalise_broadcast_url(url)
        self.on_message = on_message
        self.heartbeat_interval = heartbeat_interval
        self.publish_timeout = publish_timeout
        self.reconnects = 0
        self.connected = False
        self._broadcast: Broadcast | None = None
        self._publish_lock = asyncio.Lock()
        self._last_seen = 0.0
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def healthy(self) -> bool:
        """Connected, and (for a real broker) a heartbeat came back recently."""
        if not self.connected:
            return False
        if self.is_memory:
            return True
        silence = asyncio.get_running_loop().time() - self._last_seen
        return silence < 3 * self.heartbeat_interval

    @property
    def is_memory(self) -> bool:
        return self.url.startswith("memory://")

    async def start(self) -> None:
        self._supervisor = asyncio.create_task(self._supervise(), name="simgql-bus")

    async def stop(self) -> None:
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor

    async def publish(self, message: str) -> bool:
        """Send a message; False when the broker could not take it (the log keeps the event)."""
        broadcast = self._broadcast
        if broadcast is None or not self.connected:
            return False
        try:
            async with self._publish_lock:
                await asyncio.wait_for(broadcast.publish(CHANNEL, message), self.publish_timeout)
        except Exception as exc:  # any broker failure: log it, the watchdog reconnects
            log.warning("broadcast publish failed: %s", exc)
            return False
        return True

    async def _supervise(self) -> None:
        """Keep one healthy connection: (re)connect, listen, heartbeat, watch, repeat."""
        delay = 0.2
        while not self._stopping:
            try:
                await self._run_connection()
                delay = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker went away; try again with backoff
                log.warning("broadcast connection lost (%s); reconnecting", exc)
            self.connected = False
            self.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _run_connection(self) -> None:
        loop = asyncio.get_running_loop()
        backend = _backend_for(self.url)
        broadcast = Broadcast(backend=backend) if backend else Broadcast(self.url)
        await asyncio.wait_for(broadcast.connect(), 5)
        subscription = broadcast.subscribe(CHANNEL)
        try:
            subscriber = await asyncio.wait_for(subscription.__aenter__(), 5)
            self._broadcast = broadcast
            self.connected = True
            self._last_seen = loop.time()
            # Whatever was published while we were away is in the log: catch up now.
            self.on_message()
            heartbeat = asyncio.create_task(self._heartbeat())
            try:
                await self._listen(subscriber, loop)
            finally:
                # Down from this moment: /readyz and publishers must know at once, not once
                # the teardown below (which talks to a broker that may be gone) is over.
                self._broadcast = None
                self.connected = False
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(subscription.__aexit__(None, None, None), 1)
        finally:
            self._broadcast = None
            self.connected = False
            with contextlib.suppress(Exception):
                await asyncio.wait_for(_disconnect(broadcast), 2)

    async def _listen(self, subscriber: Any, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            if self.is_memory:
                # Nothing to lose in-process; a busy event loop must not look like an outage.
                event = await subscriber.get()
                if event.message != HEARTBEAT:
                    self.on_message()
                continue
            timeout = self._last_seen + 3 * self.heartbeat_interval - loop.time()
            if timeout <= 0:
                raise ConnectionError("no heartbeat came back from the broker")
            try:
                event = await asyncio.wait_for(subscriber.get(), timeout)
            except TimeoutError:
                continue
            self._last_seen = loop.time()
            if event.message != HEARTBEAT:
                self.on_message()

    async def _heartbeat(self) -> None:
        while True:
            await self.publish(HEARTBEAT)
            await asyncio.sleep(self.heartbeat_interval)


async def _disconnect(broadcast: Broadcast) -> None:
    # broadcaster re-raises its dead listener's error on disconnect; we only want it closed.
    with contextlib.suppress(Exception):
        await broadcast.disconnect()
