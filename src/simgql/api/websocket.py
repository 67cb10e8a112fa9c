"""The `graphql-transport-ws` handler, with server pings so dead peers are noticed."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage


class PingingTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """Sends `ping` every keep-alive interval once the connection is acknowledged."""

    ping_task: asyncio.Task[None] | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
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
