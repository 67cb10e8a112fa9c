"""WebSocket protocol handlers: server pings, and a clean close when we cannot serve.

- `graphql-transport-ws`: the server pings every keep-alive interval, so dead peers are
  noticed.
- Both protocols: when `connection_init` cannot be checked because the database is away,
  the socket is closed with 1013 "try again later" (graphql-transport-ws) or gets
  `connection_error` and 1011 (graphql-ws), never dropped without a close frame; clients
  reconnect. A refused token stays 4403 (do not retry).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionInitMessage as LegacyConnectionInitMessage,
)

TRY_AGAIN_LATER = 1013


class ServiceUnavailable(Exception):
    """Raised by `on_ws_connect` when the caller cannot be checked right now."""


class PingingTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """Sends `ping` every keep-alive interval once the connection is acknowledged."""

    ping_task: asyncio.Task[None] | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except ServiceUnavailable:
            await self.websocket.close(code=TRY_AGAIN_LATER, reason="Service unavailable")
            return
        interval = getattr(self.view, "keep_alive_interval", None)
        if self.connection_acknowledged and interval:
            self.ping_task = asyncio.create_task(self._ping(float(interval)))

    async def _ping(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.send_message({"type": "ping"})

    async def shutdown(self) -> None:
        if self.ping_task is not None:
            self.ping_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.ping_task
        await super().shutdown()


class LegacyWSHandler(BaseGraphQLWSHandler[Any, Any]):
    """`graphql-ws` (subscriptions-transport-ws), closing cleanly when we cannot serve."""

    async def handle_connection_init(self, message: LegacyConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except ServiceUnavailable:
            await self.send_message(
                {"type": "connection_error", "payload": {"message": "Service unavailable"}}
            )
            await self.websocket.close(code=1011, reason="Service unavailable")
