"""The sales order request job: turns waiting sales orders into warehouse batches."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from simgql.db.config import (
    FRAUD_CHECK_REQUIRED,
    FRAUD_DENY_ADDRESS_FRAGMENTS,
    FRAUD_DENY_NAMES,
    get_config,
)
from simgql.db.engine import Database, log_failure
from simgql.db.models import StatusEvent
from simgql.domain.fulfilment import DenyListCheck, FraudCheck
from simgql.fulfilment.actions import generate_waiting

log = logging.getLogger("simgql.jobs")

Publish = Callable[[Sequence[StatusEvent]], Awaitable[None]]


def load_check(path: str) -> FraudCheck:
    """A custom check named `package.module:callable` (the callable takes a `Delivery`)."""
    module, _, name = path.partition(":")
    check: FraudCheck = getattr(importlib.import_module(module), name)
    return check


async def configured_check(db: Database, custom: FraudCheck | None) -> FraudCheck | None:
    """The check to run, or None when `salesOrder.fraudCheckRequired` is off."""
    async with db.read() as session:
        if not await get_config(session, key=FRAUD_CHECK_REQUIRED):
            return None
        if custom is not None:
            return custom
        return DenyListCheck.of(
            await get_config(session, key=FRAUD_DENY_NAMES),
            await get_config(session, key=FRAUD_DENY_ADDRESS_FRAGMENTS),
        )


async def run_once(
    db: Database, *, custom: FraudCheck | None = None, publish: Publish | None = None
) -> int:
    """Generate every order waiting now; how many were handled."""
    total = 0
    while True:
        handled, events = await generate_waiting(db, check=await configured_check(db, custom))
        total += handled
        if publish is not None and events:
            await publish(events)
        if handled == 0:
            return total


class SalesOrderJob:
    """Runs the job in the background: when woken (`immediate`) and every `interval` seconds."""

    def __init__(
        self,
        db: Database,
        *,
        mode: str = "immediate",
        interval: float = 10.0,
        custom: FraudCheck | None = None,
        publish: Publish | None = None,
    ) -> None:
        self.db = db
        self.mode = mode
        self.interval = interval
        self.custom = custom
        self.publish = publish
        self.runs = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        if self.mode == "immediate":
            self._wake.set()

    async def start(self) -> None:
        if self.mode != "off":
            self._task = asyncio.create_task(self._loop(), name="simgql-sales-order-job")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await run_once(self.db, custom=self.custom, publish=self.publish)
                self.runs += 1
            except Exception as exc:  # the next run tries again; nothing was half-done
                log_failure("sales order request job", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
