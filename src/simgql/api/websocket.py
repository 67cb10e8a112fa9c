"""WebSocket protocol handlers: server pings, and a clean close when we cannot serve.

- `graphql-transport-ws`: the server pings every keep-alive interval, so dead peers are
  noticed; `graphql-ws` sends `ka` on acknowledging and every interval after.
- Both protocols: one `KeepAlive` per server sends every connection's keep-alives, instead
  of a task sleeping per connection: thousands of idle subscribers are the usual load, and
  each such task (its coroutines, timer and future) cost about 1.5 KiB.
- `LeanWebSocketProtocol`: uvicorn's sans-I/O WebSocket protocol with about 6.5 KiB less
  kept per socket; `simgql serve` runs uvicorn with it (`--ws WS_PROTOCOL`).
- Both protocols: when `connection_init` cannot be checked because the database is away,
  the socket is closed with 1013 "try again later" (graphql-transport-ws) or gets
  `connection_error` and 1011 (graphql-ws), never dropped without a close frame; clients
  reconnect. A refused token stays 4403 (do not retry).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any, Protocol, cast

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionInitMessage as LegacyConnectionInitMessage,
)
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

TRY_AGAIN_LATER = 1013
# uvicorn's `--ws` for `LeanWebSocketProtocol` (an import path is one of its accepted values).
WS_PROTOCOL = "simgql.api.websocket:LeanWebSocketProtocol"


class ServiceUnavailable(Exception):
    """Raised by `on_ws_connect` when the caller cannot be checked right now."""


class KeptAlive(Protocol):
    async def send_keep_alive(self) -> None: ...


class KeepAlive:
    """Pings every member connection once per `interval` after it joined, from one task.

    All members share one interval, so the order they are due in is the order they joined
    (or were last pinged): an ordered dict is the schedule, the one task sleeps until its
    head is due. A ping is sent by a short task of its own, so a peer that does not read
    cannot hold up the others' pings.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._due: OrderedDict[KeptAlive, float] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._due)

    def add(self, handler: KeptAlive) -> None:
        loop = asyncio.get_running_loop()
        self._due[handler] = loop.time() + self.interval
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._run(), name="simgql-ws-keep-alive")

    def discard(self, handler: KeptAlive) -> None:
        self._due.pop(handler, None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._due:
            handler, due = next(iter(self._due.items()))
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
                continue  # it may have left while we slept
            self._due[handler] = due + self.interval
            self._due.move_to_end(handler)
            self._send(handler)

    def _send(self, handler: KeptAlive) -> None:
        task = asyncio.create_task(handler.send_keep_alive())
        self._sending.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if not task.cancelled():
            task.exception()  # a peer gone mid-ping: its handler is ending anyway


def keep_alive_of(view: object) -> KeepAlive | None:
    """The server's shared keep-alive, if it has one (`GraphQLApp.keep_alive_pings`)."""
    keep_alive = getattr(view, "keep_alive_pings", None)
    return keep_alive if isinstance(keep_alive, KeepAlive) else None


class PingingTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """Sends `ping` every keep-alive interval once the connection is acknowledged."""

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except ServiceUnavailable:
            await self.websocket.close(code=TRY_AGAIN_LATER, reason="Service unavailable")
            return
        finally:
            # Cancelled (or fired) by now; the finished task would otherwise keep its
            # cancellation's traceback and frames for the connection's whole life.
            self.connection_init_timeout_task = None
        keep_alive = keep_alive_of(self.view)
        if self.connection_acknowledged and keep_alive is not None:
            keep_alive.add(self)

    async def send_keep_alive(self) -> None:
        await self.send_message({"type": "ping"})

    async def shutdown(self) -> None:
        keep_alive = keep_alive_of(self.view)
        if keep_alive is not None:
            keep_alive.discard(self)
        await super().shutdown()


class LegacyWSHandler(BaseGraphQLWSHandler[Any, Any]):
    """`graphql-ws` (subscriptions-transport-ws), closing cleanly when we cannot serve."""

    async def handle_connection_init(self, message: LegacyConnectionInitMessage) -> None:
        keep_alive = keep_alive_of(self.view)
        if keep_alive is not None:
            self.keep_alive = False  # the shared keep-alive, not a task of this connection
        try:
            await super().handle_connection_init(message)
        except ServiceUnavailable:
            await self.send_message(
                {"type": "connection_error", "payload": {"message": "Service unavailable"}}
            )
            await self.websocket.close(code=1011, reason="Service unavailable")
            return
        if self.connection_acknowledged and keep_alive is not None:
            await self.send_keep_alive()  # the protocol's first `ka` follows the ack
            keep_alive.add(self)

    async def send_keep_alive(self) -> None:
        await self.send_message({"type": "ka"})

    async def cleanup(self) -> None:
        keep_alive = keep_alive_of(self.view)
        if keep_alive is not None:
            keep_alive.discard(self)
        await super().cleanup()


class _Inbox:
    """What uvicorn needs of its receive queue (`put_nowait`, `get`, `empty`), for the one
    reader a socket has: a list and a future made only while the reader waits."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)


class _Gate:
    """What uvicorn needs of its `writable` event (`set`, `clear`, `wait`), with a future
    made only while a sender waits for the peer to drain (an `asyncio.Event` keeps a
    deque for life)."""

    __slots__ = ("_open", "_waiter")

    def __init__(self) -> None:
        self._open = True
        self._waiter: asyncio.Future[None] | None = None

    def is_set(self) -> bool:
        return self._open

    def set(self) -> None:
        self._open = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def clear(self) -> None:
        self._open = False

    async def wait(self) -> None:
        while not self._open:
            if self._waiter is None or self._waiter.done():
                self._waiter = asyncio.get_running_loop().create_future()
            # Shielded: one sender giving up must not wake or fail the others.
            await asyncio.shield(self._waiter)


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, keeping less per socket for its whole life.

    An idle subscriber's socket is mostly uvicorn's state, and three parts of it are larger
    than their use (measured at 1,000 sockets): an `asyncio.Queue` for the socket's single
    reader (three deques, 3.4 KiB), an `asyncio.Event` for write flow control (1 KiB), and
    the handshake's request and response with their headers, never read again once the
    handshake is answered (2.6 KiB). The first two are swapped for the minimal objects
    above, the last two let go. The frames, keep-alive pings and closing are uvicorn's.
    Should a uvicorn release change these attributes, the stock ones are kept.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if type(self.queue) is asyncio.Queue:
            self.queue = cast("asyncio.Queue[Any]", _Inbox())
        if type(self.writable) is asyncio.Event:
            self.writable = cast(asyncio.Event, _Gate())

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        self.__dict__.pop("request", None)  # read only in the call above

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            self.__dict__.pop("response", None)  # sent; read only to send it
