"""The one place that decides who may see and do what."""

from __future__ import annotations

import uuid

from simgql.domain.errors import Conflict, Forbidden, InvalidTransition, NotFound
from simgql.domain.lifecycle import (
    Transition,
    blocking_reason,
    find_transition,
    role_may_ever,
)
from simgql.domain.model import (
    SIM_VISIBLE_STATUSES,
    SP_ROLES,
    PurchaseOrderAction,
    PurchaseOrderFacts,
    PurchaseOrderStatus,
    Role,
    Viewer,
)


def can_see_account(viewer: Viewer, account_id: uuid.UUID) -> bool:
    """Service-provider roles see every account; enterprise roles see only their own."""
    if viewer.role in SP_ROLES:
        return True
    return viewer.is_enterprise and viewer.account_id == account_id


def visible_account_scope(viewer: Viewer) -> uuid.UUID | None:
    """The only account whose data the viewer may read, or None when it may read all.

    Roles that may read no tenant data at all are refused here.
    """
    if viewer.role in SP_ROLES:
        return None
    if viewer.is_enterprise and viewer.account_id is not None:
        return viewer.account_id
    raise Forbidden(f"role {viewer.role} cannot read purchase orders")


def ensure_visible(viewer: Viewer, account_id: uuid.UUID, what: str) -> None:
    """Another tenant's object is answered exactly like one that does not exist."""
    if not can_see_account(viewer, account_id):
        raise NotFound(what)


def can_see_sales_order(viewer: Viewer, account_id: uuid.UUID, warehouse_code: str) -> bool:
    """SP roles all; a warehouse its own; an enterprise those of its own POs."""
    if viewer.role is Role.WAREHOUSE:
        return viewer.warehouse_code == warehouse_code
    return can_see_account(viewer, account_id)


def sales_order_scope(viewer: Viewer) -> tuple[uuid.UUID | None, str | None]:
    """(account, warehouse code) the viewer's sales-order lists are limited to."""
    if viewer.role is Role.WAREHOUSE:
        return None, viewer.warehouse_code or ""
    return visible_account_scope(viewer), None


def can_see_sims(viewer: Viewer, status: PurchaseOrderStatus) -> bool:
    return viewer.role in SP_ROLES or status in SIM_VISIBLE_STATUSES


def ensure_role(viewer: Viewer, roles: frozenset[Role], doing: str) -> None:
    if viewer.role not in roles:
        raise Forbidden(f"role {viewer.role} may not {doing}")


def ensure_may_create_for(viewer: Viewer, account_id: uuid.UUID) -> None:
    """Purchasers create for their own account only; SP roles for any account."""
    if viewer.role in SP_ROLES:
        return
    if viewer.role is Role.ENTERPRISE_PURCHASER:
        ensure_visible(viewer, account_id, "Account")
        return
    raise Forbidden(f"role {viewer.role} may not create purchase orders")


def authorize_transition(
    viewer: Viewer,
    action: PurchaseOrderAction,
    facts: PurchaseOrderFacts,
    *,
    expected_version: int | None = None,
) -> Transition:
    """Decide whether `viewer` may perform `action` on a PO now; return the table row.

    Order of the checks: visibility (NOT_FOUND), role (FORBIDDEN), the client's view of the
    PO (CONFLICT), then status and guards (INVALID_TRANSITION), so that nothing is revealed
    about POs the viewer cannot see and a stale client learns it is stale.
    """
    if not viewer.is_enterprise and not viewer.is_service_provider:
        # Roles outside the tenancy model (a warehouse) learn nothing by being refused.
        raise Forbidden(f"role {viewer.role} may not change purchase orders")
    ensure_visible(viewer, facts.account_id, "PurchaseOrder")
    if not role_may_ever(action, viewer.role):
        raise Forbidden(f"role {viewer.role} may not {action.name.lower().replace('_', ' ')}")
    if expected_version is not None and expected_version != facts.version:
        raise Conflict(
            f"the purchase order is at version {facts.version}, not {expected_version}; "
            "reload it and try again"
        )
    transition = find_transition(action, viewer.role, facts.status)
    if transition is None:
        raise InvalidTransition(
            f"cannot {action.name.lower().replace('_', ' ')} a purchase order in status "
            f"{facts.status}",
            status=facts.status,
        )
    reason = blocking_reason(transition, facts)
    if reason is not None:
        raise InvalidTransition(
            f"cannot {action.name.lower().replace('_', ' ')}: {reason}", status=facts.status
        )
    return transition


def available_actions(viewer: Viewer, facts: PurchaseOrderFacts) -> list[PurchaseOrderAction]:
    """The actions the viewer may perform now, in the order of the enum (for UI buttons)."""
    if not can_see_account(viewer, facts.account_id):
        return []
    result = []
    for action in PurchaseOrderAction:
        t = find_transition(action, viewer.role, facts.status)
        if t is not None and blocking_reason(t, facts) is None:
            result.append(action)
    return result
