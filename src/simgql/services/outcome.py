"""What an action hands back: the PO after its committed change, and that change's events."""

from __future__ import annotations

from dataclasses import dataclass, field

from simgql.db.models import PurchaseOrder, StatusEvent


@dataclass
class Outcome:
    """The PO after a committed change, and the events that change produced."""

    purchase_order: PurchaseOrder
    events: list[StatusEvent] = field(default_factory=list)
