"""Rules of fulfilment: stock allocation, sales-order statuses, fraud checks, dispatch checks."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from simgql.domain.errors import FieldError, InvalidTransition
from simgql.domain.model import SimIdentity
from simgql.domain.validation import sim_problems


class SalesOrderStatus(StrEnum):
    AWAITING_GENERATION = "AWAITING_GENERATION"
    AWAITING_DISPATCH = "AWAITING_DISPATCH"
    COMPLETE = "COMPLETE"
    ERROR = "ERROR"
    CANCELLED = "CANCELLED"


class SalesOrderStep(StrEnum):
    GENERATE = "GENERATE"
    FAIL_CHECK = "FAIL_CHECK"
    DISPATCH = "DISPATCH"
    REPORT_ERROR = "REPORT_ERROR"
    RETRY = "RETRY"
    CANCEL = "CANCEL"


SO = SalesOrderStatus

# The sales-order life, one table: step -> (from-statuses, to-status).
SALES_ORDER_STEPS: dict[SalesOrderStep, tuple[frozenset[SalesOrderStatus], SalesOrderStatus]] = {
    SalesOrderStep.GENERATE: (frozenset({SO.AWAITING_GENERATION}), SO.AWAITING_DISPATCH),
    SalesOrderStep.FAIL_CHECK: (frozenset({SO.AWAITING_GENERATION}), SO.ERROR),
    SalesOrderStep.DISPATCH: (frozenset({SO.AWAITING_DISPATCH}), SO.COMPLETE),
    SalesOrderStep.REPORT_ERROR: (
        frozenset({SO.AWAITING_GENERATION, SO.AWAITING_DISPATCH}),
        SO.ERROR,
    ),
    SalesOrderStep.RETRY: (frozenset({SO.ERROR}), SO.AWAITING_GENERATION),
    SalesOrderStep.CANCEL: (
        frozenset({SO.AWAITING_GENERATION, SO.AWAITING_DISPATCH, SO.ERROR}),
        SO.CANCELLED,
    ),
}

OPEN_STATUSES = frozenset({SO.AWAITING_GENERATION, SO.AWAITING_DISPATCH, SO.ERROR})


def next_sales_order_status(step: SalesOrderStep, current: SalesOrderStatus) -> SalesOrderStatus:
    """The status after `step`, or INVALID_TRANSITION when `current` does not allow it."""
    allowed_from, to = SALES_ORDER_STEPS[step]
    if current not in allowed_from:
        raise InvalidTransition(
            f"cannot {step.name.lower().replace('_', ' ')} a sales order in status {current}",
            status=current,
        )
    return to


@dataclass(frozen=True)
class StockLevel:
    warehouse_id: uuid.UUID
    warehouse_code: str
    product_id: uuid.UUID
    available: int


@dataclass(frozen=True)
class Demand:
    """What one PO line asks for."""

    line_id: uuid.UUID
    product_id: uuid.UUID
    quantity: int


@dataclass(frozen=True)
class Allocation:
    warehouse_id: uuid.UUID
    line_id: uuid.UUID
    product_id: uuid.UUID
    quantity: int


@dataclass(frozen=True)
class Shortfall:
    product_id: uuid.UUID
    requested: int
    available: int


def allocate(
    demands: Sequence[Demand], stock: Iterable[StockLevel]
) -> tuple[list[Allocation], list[Shortfall]]:
    """Split the demands over warehouses; either a full allocation or the shortfalls.

    One warehouse that holds everything is preferred (one shipment); otherwise each product
    is taken from the warehouses holding most of it first, ties broken by warehouse code.
    """
    levels = [s for s in stock if s.available > 0]
    need: dict[uuid.UUID, int] = {}
    for d in demands:
        need[d.product_id] = need.get(d.product_id, 0) + d.quantity
    have: dict[uuid.UUID, int] = {}
    for s in levels:
        have[s.product_id] = have.get(s.product_id, 0) + s.available
    shortfalls = [Shortfall(p, n, have.get(p, 0)) for p, n in need.items() if have.get(p, 0) < n]
    if shortfalls:
        return [], shortfalls

    by_warehouse: dict[uuid.UUID, dict[uuid.UUID, int]] = {}
    codes: dict[uuid.UUID, str] = {}
    for s in levels:
        by_warehouse.setdefault(s.warehouse_id, {})[s.product_id] = s.available
        codes[s.warehouse_id] = s.warehouse_code
    whole = sorted(
        (
            w
            for w, held in by_warehouse.items()
            if all(held.get(p, 0) >= n for p, n in need.items())
        ),
        key=lambda w: codes[w],
    )
    if whole:
        return [Allocation(whole[0], d.line_id, d.product_id, d.quantity) for d in demands], []

    remaining = {w: dict(held) for w, held in by_warehouse.items()}
    allocations: list[Allocation] = []
    for d in demands:
        left = d.quantity
        sources = sorted(
            (w for w in remaining if remaining[w].get(d.product_id, 0) > 0),
            key=lambda w: (-remaining[w][d.product_id], codes[w]),
        )
        for w in sources:
            take = min(left, remaining[w][d.product_id])
            allocations.append(Allocation(w, d.line_id, d.product_id, take))
            remaining[w][d.product_id] -= take
            left -= take
            if left == 0:
                break
    return allocations, []


@dataclass(frozen=True)
class Delivery:
    """The name and address a sales order ships to, as the fraud check sees them."""

    recipient: str
    company: str | None
    street: tuple[str, ...]
    city: str
    postal_code: str
    country: str


class FraudCheck(Protocol):
    """Decides whether a delivery may go out; returns the reason when it may not."""

    def __call__(self, delivery: Delivery) -> str | None: ...


@dataclass(frozen=True)
class DenyListCheck:
    """The built-in check: names and address fragments that must not receive shipments."""

    names: frozenset[str]
    address_fragments: frozenset[str]

    def __call__(self, delivery: Delivery) -> str | None:
        for name in (delivery.recipient, delivery.company or ""):
            if name and name.strip().casefold() in self.names:
                return f"delivery name '{name}' is on the deny list"
        address = " ".join((*delivery.street, delivery.postal_code, delivery.city)).casefold()
        for fragment in self.address_fragments:
            if fragment and fragment in address:
                return f"delivery address matches the deny-listed fragment '{fragment}'"
        return None

    @classmethod
    def of(cls, names: Iterable[str], fragments: Iterable[str]) -> DenyListCheck:
        return cls(
            frozenset(n.strip().casefold() for n in names if n.strip()),
            frozenset(f.strip().casefold() for f in fragments if f.strip()),
        )


@dataclass(frozen=True)
class DispatchedItem:
    product_id: uuid.UUID | None  # None: the report names no product of this order
    sim: SimIdentity


def dispatch_problems(
    ordered: dict[uuid.UUID, int], items: Sequence[DispatchedItem], prefix: str = "items"
) -> list[FieldError]:
    """Identities well formed and unique, and exactly the ordered count of each product."""
    problems = sim_problems([(f"{prefix}.{i}", item.sim) for i, item in enumerate(items)])
    counted: dict[uuid.UUID, int] = {}
    for i, item in enumerate(items):
        if item.product_id is None or item.product_id not in ordered:
            problems.append(FieldError(f"{prefix}.{i}.product", "not a product of this order"))
            continue
        counted[item.product_id] = counted.get(item.product_id, 0) + 1
    for product_id, quantity in ordered.items():
        got = counted.get(product_id, 0)
        if got != quantity:
            problems.append(
                FieldError(prefix, f"{got} SIMs reported for a product ordered {quantity} times")
            )
    return problems
