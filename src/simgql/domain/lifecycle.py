"""The purchase-order lifecycle as one declarative table, and the questions asked of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simgql.domain.model import (
    SP_ROLES,
    PurchaseOrderAction,
    PurchaseOrderFacts,
    PurchaseOrderStatus,
    Role,
)

A = PurchaseOrderAction
S = PurchaseOrderStatus

PURCHASER_AND_SP = frozenset({Role.ENTERPRISE_PURCHASER}) | SP_ROLES
PURCHASER = frozenset({Role.ENTERPRISE_PURCHASER})

# A guard names the reason a transition that the table allows cannot happen yet.
Guard = Callable[[PurchaseOrderFacts], str | None]


def _account_active(facts: PurchaseOrderFacts) -> str | None:
    return None if facts.account_active else "the account is suspended"


def _fully_assigned(facts: PurchaseOrderFacts) -> str | None:
    return None if facts.fully_assigned else "not every line has all its SIMs assigned"


def _nothing_delivered(facts: PurchaseOrderFacts) -> str | None:
    # SPEC section 4: an agent may cancel a PO in provisioning, until SIMs went to it.
    if facts.status is S.PROVISIONING and facts.sims_assigned:
        return "SIMs have already been assigned to it"
    return None


@dataclass(frozen=True)
class Transition:
    action: PurchaseOrderAction
    from_statuses: frozenset[PurchaseOrderStatus]
    to_status: PurchaseOrderStatus
    roles: frozenset[Role]
    guard: Guard | None = None


def _t(
    action: PurchaseOrderAction,
    from_statuses: set[PurchaseOrderStatus],
    to_status: PurchaseOrderStatus,
    roles: frozenset[Role],
    guard: Guard | None = None,
) -> Transition:
    return Transition(action, frozenset(from_statuses), to_status, roles, guard)


LIFECYCLE: tuple[Transition, ...] = (
    _t(A.UPDATE, {S.DRAFT}, S.DRAFT, PURCHASER_AND_SP),
    _t(A.SUBMIT, {S.DRAFT}, S.SUBMITTED, PURCHASER_AND_SP, _account_active),
    _t(A.ACCEPT, {S.SUBMITTED}, S.ACCEPTED, SP_ROLES),
    _t(A.REJECT, {S.SUBMITTED}, S.REJECTED, SP_ROLES),
    _t(A.REOPEN, {S.REJECTED}, S.DRAFT, PURCHASER_AND_SP),
    _t(A.CANCEL, {S.DRAFT, S.SUBMITTED, S.REJECTED}, S.CANCELLED, PURCHASER),
    _t(
        A.CANCEL,
        {S.DRAFT, S.SUBMITTED, S.REJECTED, S.ACCEPTED, S.PROVISIONING},
        S.CANCELLED,
        SP_ROLES,
        _nothing_delivered,
    ),
    _t(A.START_PROVISIONING, {S.ACCEPTED}, S.PROVISIONING, SP_ROLES),
    _t(A.ASSIGN_SIMS, {S.PROVISIONING}, S.PROVISIONING, SP_ROLES),
    _t(A.MARK_READY, {S.PROVISIONING}, S.READY, SP_ROLES, _fully_assigned),
    _t(A.SHIP, {S.READY}, S.SHIPPED, SP_ROLES),
    _t(A.CONFIRM_RECEIPT, {S.SHIPPED}, S.CLOSED, PURCHASER),
)

TERMINAL_STATUSES = frozenset({S.CLOSED, S.CANCELLED})


def transitions_for(action: PurchaseOrderAction, role: Role) -> tuple[Transition, ...]:
    """The rows of the table that let `role` perform `action` (from any status)."""
    return tuple(t for t in LIFECYCLE if t.action is action and role in t.roles)


def role_may_ever(action: PurchaseOrderAction, role: Role) -> bool:
    return bool(transitions_for(action, role))


def find_transition(
    action: PurchaseOrderAction, role: Role, status: PurchaseOrderStatus
) -> Transition | None:
    """The row that lets `role` perform `action` from `status`, if any."""
    for t in transitions_for(action, role):
        if status in t.from_statuses:
            return t
    return None


def blocking_reason(transition: Transition, facts: PurchaseOrderFacts) -> str | None:
    return transition.guard(facts) if transition.guard else None
