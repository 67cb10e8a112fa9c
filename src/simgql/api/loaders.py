"""Per-operation DataLoaders: a page of POs costs a fixed number of SQL statements."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from strawberry.dataloader import DataLoader

from simgql.db import accounts as account_repo
from simgql.db import fulfilment as fulfilment_repo
from simgql.db import products as product_repo
from simgql.db import purchase_orders as po_repo
from simgql.db.engine import Database
from simgql.db.models import (
    Account,
    CatalogueEntry,
    Product,
    ProductAssignment,
    PurchaseOrder,
    PurchaseOrderLine,
    SalesOrder,
    SalesOrderLine,
    Sim,
    StatusEvent,
    Warehouse,
)

BatchFetch = Callable[..., Awaitable[Mapping[uuid.UUID, Any]]]


# Database connections one operation's loaders may hold at once: sibling batches run in
# parallel up to this, so a request never needs more than this many connections.
CONNECTIONS_PER_OPERATION = 2


class SharedDataLoader(DataLoader[uuid.UUID, Any]):
    """A loader several subscriptions await at once, and for as long as the event is recent.

    - One leaving cancels only its own wait: awaiting a future from a task that gets
      cancelled cancels the future itself, and with it the load every other subscriber is
      waiting for; a shield per wait prevents it.
    - A failed load is not remembered: a subscriber resuming after a database outage reads
      again instead of getting the outage's error for as long as the event is cached.
    """

    def load(self, key: uuid.UUID) -> Awaitable[Any]:
        cached = self.cache_map.get(key) if self.cache else None
        if cached is not None and cached.done() and (cached.cancelled() or cached.exception()):
            self.clear(key)
        return asyncio.shield(super().load(key))


def _make(
    db: Database,
    gate: asyncio.Semaphore,
    fetch: BatchFetch,
    default: Any = None,
    *,
    shared: bool = False,
) -> DataLoader[uuid.UUID, Any]:
    """A loader whose each batch reads in a session of its own (sessions are not shared)."""

    async def load(keys: Sequence[uuid.UUID]) -> list[Any]:
        async with gate, db.read() as session:
            found = await fetch(session, ids=list(keys))
        return [found.get(k, default) for k in keys]

    return SharedDataLoader(load_fn=load) if shared else DataLoader(load_fn=load)


class Loaders:
    """Created for every operation, so nothing cached leaks between requests or viewers.

    `shared=True` for the loaders of one event that every subscription delivering it uses
    (they hold rows, not decisions: what a viewer may see is decided by the resolvers).
    """

    def __init__(self, db: Database, *, shared: bool = False) -> None:
        gate = asyncio.Semaphore(CONNECTIONS_PER_OPERATION)

        def _loader(fetch: BatchFetch, default: Any = None) -> DataLoader[uuid.UUID, Any]:
            return _make(db, gate, fetch, default, shared=shared)

        def _records(fetch: BatchFetch, default: Any = None) -> DataLoader[uuid.UUID, Any]:
            """A loader of rows that are only shown: records, not ORM entities (`db.records`)."""
            return _loader(functools.partial(fetch, lean=True), default)

        self.account: DataLoader[uuid.UUID, Account | None] = _records(account_repo.accounts_by_ids)
        self.product: DataLoader[uuid.UUID, Product | None] = _records(product_repo.products_by_ids)
        self.purchase_order: DataLoader[uuid.UUID, PurchaseOrder | None] = _records(
            po_repo.purchase_orders_by_ids
        )
        self.lines: DataLoader[uuid.UUID, list[PurchaseOrderLine]] = _records(
            po_repo.lines_by_po_ids, []
        )
        self.sims: DataLoader[uuid.UUID, list[Sim]] = _records(po_repo.sims_by_line_ids, [])
        self.sim_count: DataLoader[uuid.UUID, int] = _loader(po_repo.sim_counts_by_line_ids, 0)
        self.assignment: DataLoader[uuid.UUID, po_repo.Assignment] = _loader(
            po_repo.assignment_by_po_ids, po_repo.Assignment()
        )
        self.history: DataLoader[uuid.UUID, list[StatusEvent]] = _records(
            po_repo.events_by_po_ids, []
        )
        self.catalogue: DataLoader[uuid.UUID, list[CatalogueEntry]] = _loader(
            account_repo.catalogue_entries_by_account_ids, []
        )
        self.sales_order: DataLoader[uuid.UUID, SalesOrder | None] = _records(
            fulfilment_repo.sales_orders_by_ids
        )
        self.sales_orders: DataLoader[uuid.UUID, list[SalesOrder]] = _records(
            fulfilment_repo.sales_orders_by_po_ids, []
        )
        self.sales_order_lines: DataLoader[uuid.UUID, list[SalesOrderLine]] = _records(
            fulfilment_repo.lines_by_sales_order_ids, []
        )
        self.warehouse: DataLoader[uuid.UUID, Warehouse | None] = _records(
            fulfilment_repo.warehouses_by_ids
        )
        self.assignments: DataLoader[uuid.UUID, list[ProductAssignment]] = _loader(
            product_repo.assignments_by_account_ids, []
        )


T = TypeVar("T")
R = TypeVar("R")


def _succeeded(awaitable: Awaitable[Any]) -> bool:
    """Whether a load is done and has a value (not cancelled, not failed)."""
    return (
        isinstance(awaitable, asyncio.Future)
        and awaitable.done()
        and not awaitable.cancelled()
        and awaitable.exception() is None
    )


def loaded(awaitable: Awaitable[T]) -> T | None:
    """The value of a load that is already done (prefetched, or read for a sibling), else None.

    Only for loaders whose values are never None themselves (lists, found rows).
    """
    if _succeeded(awaitable):
        return cast(asyncio.Future[T], awaitable).result()
    return None


def now_or_later(awaitable: Awaitable[T], then: Callable[[T], R]) -> R:
    """`then(value)` at once when the load is already done, else an awaitable of it.

    graphql-core awaits whatever awaitable a resolver returns. Returning the value itself
    when the data is at hand (a page prefetches what its items will ask for) saves a
    coroutine, a task and a trip through the event loop per field, which is most of what a
    field costs. The declared type is the value's, as the schema needs it.
    """
    if _succeeded(awaitable):
        return then(cast(asyncio.Future[T], awaitable).result())

    async def later() -> R:
        return then(await awaitable)

    return cast(R, later())
