"""What every resolver gets: the database, settings, the viewer and fresh loaders."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from simgql.api.loaders import Loaders
from simgql.db.engine import Database
from simgql.db.models import StatusEvent
from simgql.domain.errors import DomainError, Unauthenticated
from simgql.domain.model import Viewer
from simgql.events.hub import EventHub
from simgql.fulfilment.job import SalesOrderJob
from simgql.observability import Metrics
from simgql.settings import Settings


@dataclass
class Context:
    db: Database
    settings: Settings
    viewer_or_error: Viewer | DomainError
    expires_at: dt.datetime | None = None
    request: Any = None
    hub: EventHub | None = None
    jobs: SalesOrderJob | None = None
    metrics: Metrics | None = None
    connection_params: dict[str, Any] | None = None
    _loaders: Loaders | None = field(default=None, init=False, repr=False)

    @property
    def loaders(self) -> Loaders:
        """This operation's loaders, made on first use: a WebSocket's context, held for the
        connection's whole life, never needs its own (events bring shared ones)."""
        if self._loaders is None:
            self._loaders = Loaders(self.db)
        return self._loaders

    @loaders.setter
    def loaders(self, value: Loaders) -> None:
        self._loaders = value

    def forget_loaders(self) -> None:
        """Start over with empty loaders (what an abandoned attempt loaded is not reused)."""
        self._loaders = None

    async def committed(self, events: list[StatusEvent]) -> None:
        """After a commit: publish its events, and wake the job when orders wait for it."""
        if self.hub is not None:
            await self.hub.published(events)
            if self.metrics is not None:
                self.metrics.published.inc(len(events))
        if self.jobs is not None and any(
            e.sales_order_status == "AWAITING_GENERATION" for e in events
        ):
            self.jobs.wake()

    @property
    def viewer(self) -> Viewer:
        """The authenticated viewer; every field that reads data asks for it."""
        if isinstance(self.viewer_or_error, DomainError):
            raise self.viewer_or_error
        if self.expires_at is not None and self.expires_at <= dt.datetime.now(dt.UTC):
            raise Unauthenticated("the token has expired")
        return self.viewer_or_error


Info = StrawberryInfo[Context, None]


def viewer_of(info: Info) -> Viewer:
    return info.context.viewer
