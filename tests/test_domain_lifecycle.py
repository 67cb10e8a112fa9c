"""The lifecycle table and the policy built on it, without a database.

The expected rows below are SPEC section 3 written out by hand: a change to
`simgql.domain.lifecycle.LIFECYCLE` that the specification does not make fails here.
"""

from __future__ import annotations

import itertools
import uuid

import pytest

from simgql.domain.errors import Conflict, Forbidden, InvalidTransition, NotFound
from simgql.domain.lifecycle import LIFECYCLE, TERMINAL_STATUSES
from simgql.domain.model import (
    PurchaseOrderAction,
    PurchaseOrderFacts,
    PurchaseOrderStatus,
    Role,
    Viewer,
)
from simgql.domain.policy import authorize_transition, available_actions

A = PurchaseOrderAction
S = PurchaseOrderStatus
R = Role

PURCHASER = frozenset({R.ENTERPRISE_PURCHASER})
SP = frozenset({R.SP_AGENT, R.SP_ADMIN})
PURCHASER_AND_SP = PURCHASER | SP

# SPEC section 3, one tuple per (action, from statuses, to status, roles, guard).
# `guard` names the extra condition the table puts on the transition.
SPEC_ROWS = {
    (A.UPDATE, frozenset({S.DRAFT}), S.DRAFT, PURCHASER_AND_SP, None),
    (A.SUBMIT, frozenset({S.DRAFT}), S.SUBMITTED, PURCHASER_AND_SP, "account active"),
    (A.ACCEPT, frozenset({S.SUBMITTED}), S.ACCEPTED, SP, None),
    (A.REJECT, frozenset({S.SUBMITTED}), S.REJECTED, SP, None),
    (A.REOPEN, frozenset({S.REJECTED}), S.DRAFT, PURCHASER_AND_SP, None),
    (A.CANCEL, frozenset({S.DRAFT, S.SUBMITTED, S.REJECTED}), S.CANCELLED, PURCHASER, None),
    # SPEC section 4 ("an agent can ... cancel the PO") adds PROVISIONING, until SIMs are
    # assigned to it.
    (
        A.CANCEL,
        frozenset({S.DRAFT, S.SUBMITTED, S.REJECTED, S.ACCEPTED, S.PROVISIONING}),
        S.CANCELLED,
        SP,
        "no SIMs assigned yet",
    ),
    (A.START_PROVISIONING, frozenset({S.ACCEPTED}), S.PROVISIONING, SP, None),
    (A.ASSIGN_SIMS, frozenset({S.PROVISIONING}), S.PROVISIONING, SP, None),
    (A.MARK_READY, frozenset({S.PROVISIONING}), S.READY, SP, "fully assigned"),
    (A.SHIP, frozenset({S.READY}), S.SHIPPED, SP, None),
    (A.CONFIRM_RECEIPT, frozenset({S.SHIPPED}), S.CLOSED, PURCHASER, None),
}

# The same table as "who may do what from where", flattened: (action, role, status) -> to.
ALLOWED: dict[tuple[A, R, S], S] = {
    (action, role, status): to
    for action, froms, to, roles, _ in SPEC_ROWS
    for role in roles
    for status in froms
}
GUARDED = {(action, froms, guard) for action, froms, _, _, guard in SPEC_ROWS if guard}

OWN_ACCOUNT = uuid.UUID("00000000-0000-4000-8000-000000000001")
OTHER_ACCOUNT = uuid.UUID("00000000-0000-4000-8000-000000000002")


def viewer(role: R, account: uuid.UUID = OWN_ACCOUNT) -> Viewer:
    if role in (R.ENTERPRISE_VIEWER, R.ENTERPRISE_PURCHASER):
        return Viewer(f"user-{role}", role, account, "OWN")
    if role is R.WAREHOUSE:
        return Viewer("wh-system", role, warehouse_code="WH1")
    return Viewer(f"user-{role}", role)


def facts(
    status: S,
    *,
    account: uuid.UUID = OWN_ACCOUNT,
    version: int = 4,
    account_active: bool = True,
    fully_assigned: bool = True,
    sims_assigned: bool = False,
) -> PurchaseOrderFacts:
    # The defaults let every guard pass, so that tests see the table itself.
    return PurchaseOrderFacts(
        status=status,
        account_id=account,
        version=version,
        account_active=account_active,
        fully_assigned=fully_assigned,
        sims_assigned=sims_assigned,
    )


def role_may_ever(action: A, role: R) -> bool:
    return any(a is action and r is role for a, r, _ in ALLOWED)


def guard_blocks(action: A, f: PurchaseOrderFacts) -> bool:
    if action is A.SUBMIT:
        return not f.account_active
    if action is A.MARK_READY:
        return not f.fully_assigned
    if action is A.CANCEL:
        return f.status is S.PROVISIONING and f.sims_assigned
    return False


COMBINATIONS = list(itertools.product(A, R, S))


def combo_id(combo: tuple[A, R, S]) -> str:
    action, role, status = combo
    return f"{action}-by-{role}-in-{status}"


# --- the table itself ---------------------------------------------------------------------


def test_lifecycle_table_matches_spec_row_by_row() -> None:
    actual = {
        (
            t.action,
            t.from_statuses,
            t.to_status,
            t.roles,
            "guarded" if t.guard is not None else None,
        )
        for t in LIFECYCLE
    }
    expected = {
        (action, froms, to, roles, "guarded" if guard else None)
        for action, froms, to, roles, guard in SPEC_ROWS
    }
    assert actual == expected
    assert len(LIFECYCLE) == len(SPEC_ROWS), "no row may appear twice"


def test_every_action_has_a_row_and_every_row_a_known_action() -> None:
    assert {t.action for t in LIFECYCLE} == set(A)


def test_no_role_has_two_rows_for_the_same_action_and_status() -> None:
    seen: set[tuple[A, R, S]] = set()
    for t in LIFECYCLE:
        for role in t.roles:
            for status in t.from_statuses:
                assert (t.action, role, status) not in seen
                seen.add((t.action, role, status))


def test_enterprise_viewer_and_warehouse_appear_in_no_row() -> None:
    for t in LIFECYCLE:
        assert R.ENTERPRISE_VIEWER not in t.roles
        assert R.WAREHOUSE not in t.roles


def test_terminal_statuses_are_closed_and_cancelled() -> None:
    assert frozenset({S.CLOSED, S.CANCELLED}) == TERMINAL_STATUSES


def test_no_row_leaves_a_terminal_status() -> None:
    for t in LIFECYCLE:
        assert not (t.from_statuses & TERMINAL_STATUSES), t


def test_every_status_is_the_target_of_some_row() -> None:
    reached = {t.to_status for t in LIFECYCLE}
    assert reached == set(S)  # DRAFT: by reopen (and update)


# --- authorize_transition, every combination ----------------------------------------------


def outcome(role: R, action: A, f: PurchaseOrderFacts, expected_version: int | None = None) -> str:
    """What authorize_transition answers, as a short comparable string."""
    try:
        t = authorize_transition(viewer(role), action, f, expected_version=expected_version)
    except InvalidTransition as exc:
        ext = exc.extensions()  # the code and the current status, as the client sees them
        return f"{ext['code']}({ext['status']})"
    except (Forbidden, NotFound, Conflict) as exc:
        return exc.code
    assert t.action is action
    return f"-> {t.to_status}"


def expected_outcome(role: R, action: A, status: S) -> str:
    if not role_may_ever(action, role):
        return "FORBIDDEN"
    if (action, role, status) not in ALLOWED:
        return f"INVALID_TRANSITION({status})"
    return f"-> {ALLOWED[(action, role, status)]}"


@pytest.mark.parametrize(("action", "role"), list(itertools.product(A, R)), ids=lambda v: str(v))
def test_authorize_transition_follows_the_table(action: A, role: R) -> None:
    # Every status at once, so that a failure lists each status that disagrees.
    actual = {str(status): outcome(role, action, facts(status)) for status in S}
    assert actual == {str(status): expected_outcome(role, action, status) for status in S}


@pytest.mark.parametrize(
    "combo",
    [c for c in COMBINATIONS if c[1] in (R.ENTERPRISE_VIEWER, R.ENTERPRISE_PURCHASER)],
    ids=combo_id,
)
def test_another_tenants_po_is_not_found_for_enterprise_roles(combo: tuple[A, R, S]) -> None:
    action, role, status = combo
    with pytest.raises(NotFound) as exc:
        authorize_transition(viewer(role), action, facts(status, account=OTHER_ACCOUNT))
    assert exc.value.extensions() == {"code": "NOT_FOUND"}


def test_not_found_wins_over_a_stale_version_and_a_wrong_status() -> None:
    with pytest.raises(NotFound):
        authorize_transition(
            viewer(R.ENTERPRISE_PURCHASER),
            A.SUBMIT,
            facts(S.CLOSED, account=OTHER_ACCOUNT),
            expected_version=1,
        )


@pytest.mark.parametrize("role", [R.SP_AGENT, R.SP_ADMIN])
def test_service_provider_roles_act_on_any_account(role: R) -> None:
    t = authorize_transition(viewer(role), A.ACCEPT, facts(S.SUBMITTED, account=OTHER_ACCOUNT))
    assert t.to_status is S.ACCEPTED


@pytest.mark.parametrize("action", list(A), ids=str)
def test_enterprise_viewer_may_do_nothing_to_its_own_po(action: A) -> None:
    for status in S:
        with pytest.raises(Forbidden):
            authorize_transition(viewer(R.ENTERPRISE_VIEWER), action, facts(status))


def test_purchaser_cannot_accept_own_order() -> None:
    with pytest.raises(Forbidden):
        authorize_transition(viewer(R.ENTERPRISE_PURCHASER), A.ACCEPT, facts(S.SUBMITTED))


def test_agent_cannot_confirm_receipt_for_the_customer() -> None:
    with pytest.raises(Forbidden):
        authorize_transition(viewer(R.SP_AGENT), A.CONFIRM_RECEIPT, facts(S.SHIPPED))


def test_purchaser_cannot_cancel_an_accepted_order_but_an_agent_can() -> None:
    with pytest.raises(InvalidTransition) as exc:
        authorize_transition(viewer(R.ENTERPRISE_PURCHASER), A.CANCEL, facts(S.ACCEPTED))
    assert exc.value.status == S.ACCEPTED
    t = authorize_transition(viewer(R.SP_AGENT), A.CANCEL, facts(S.ACCEPTED))
    assert t.to_status is S.CANCELLED


@pytest.mark.parametrize("status", [S.PROVISIONING, S.READY, S.SHIPPED, S.CLOSED], ids=str)
@pytest.mark.parametrize("role", [R.ENTERPRISE_PURCHASER, R.SP_AGENT, R.SP_ADMIN], ids=str)
def test_nobody_can_cancel_once_sims_are_assigned(role: R, status: S) -> None:
    with pytest.raises(InvalidTransition) as exc:
        authorize_transition(
            viewer(role), A.CANCEL, facts(status, fully_assigned=True, sims_assigned=True)
        )
    assert exc.value.status == status


@pytest.mark.parametrize("role", [R.SP_AGENT, R.SP_ADMIN], ids=str)
def test_agent_may_cancel_in_provisioning_before_any_sim_is_assigned(role: R) -> None:
    waiting = facts(S.PROVISIONING, fully_assigned=False, sims_assigned=False)
    assert authorize_transition(viewer(role), A.CANCEL, waiting).to_status is S.CANCELLED
    partly = facts(S.PROVISIONING, fully_assigned=False, sims_assigned=True)
    with pytest.raises(InvalidTransition):
        authorize_transition(viewer(role), A.CANCEL, partly)


def test_purchaser_cannot_cancel_in_provisioning() -> None:
    waiting = facts(S.PROVISIONING, fully_assigned=False, sims_assigned=False)
    with pytest.raises(InvalidTransition):
        authorize_transition(viewer(R.ENTERPRISE_PURCHASER), A.CANCEL, waiting)


# --- expected versions --------------------------------------------------------------------


@pytest.mark.parametrize(
    "combo",
    [c for c in COMBINATIONS if role_may_ever(c[0], c[1])],
    ids=combo_id,
)
def test_a_stale_expected_version_is_a_conflict_whatever_the_status(
    combo: tuple[A, R, S],
) -> None:
    action, role, status = combo
    with pytest.raises(Conflict) as exc:
        authorize_transition(viewer(role), action, facts(status, version=4), expected_version=3)
    assert exc.value.extensions() == {"code": "CONFLICT"}


@pytest.mark.parametrize(
    "key", sorted(ALLOWED, key=lambda k: (list(A).index(k[0]), k[1], k[2])), ids=combo_id
)
def test_the_current_expected_version_is_accepted(key: tuple[A, R, S]) -> None:
    action, role, status = key
    t = authorize_transition(viewer(role), action, facts(status, version=4), expected_version=4)
    assert t.to_status is ALLOWED[key]


def test_a_newer_expected_version_than_the_po_is_also_a_conflict() -> None:
    with pytest.raises(Conflict):
        authorize_transition(
            viewer(R.SP_AGENT), A.ACCEPT, facts(S.SUBMITTED, version=2), expected_version=3
        )


def test_forbidden_wins_over_a_stale_version() -> None:
    with pytest.raises(Forbidden):
        authorize_transition(
            viewer(R.ENTERPRISE_PURCHASER),
            A.ACCEPT,
            facts(S.SUBMITTED, version=2),
            expected_version=1,
        )


# --- guards -------------------------------------------------------------------------------


def test_the_table_guards_exactly_submit_mark_ready_and_late_cancel() -> None:
    assert {(t.action, t.from_statuses) for t in LIFECYCLE if t.guard is not None} == {
        (action, froms) for action, froms, _ in GUARDED
    }


@pytest.mark.parametrize("role", [R.SP_AGENT, R.SP_ADMIN], ids=str)
def test_mark_ready_needs_every_line_fully_assigned(role: R) -> None:
    with pytest.raises(InvalidTransition) as exc:
        authorize_transition(
            viewer(role), A.MARK_READY, facts(S.PROVISIONING, fully_assigned=False)
        )
    assert exc.value.status == S.PROVISIONING
    assert "assigned" in exc.value.message
    t = authorize_transition(viewer(role), A.MARK_READY, facts(S.PROVISIONING, fully_assigned=True))
    assert t.to_status is S.READY


@pytest.mark.parametrize("role", [R.ENTERPRISE_PURCHASER, R.SP_AGENT, R.SP_ADMIN], ids=str)
def test_submit_needs_an_active_account(role: R) -> None:
    with pytest.raises(InvalidTransition) as exc:
        authorize_transition(viewer(role), A.SUBMIT, facts(S.DRAFT, account_active=False))
    assert exc.value.status == S.DRAFT
    assert "suspended" in exc.value.message


def test_a_suspended_account_may_still_update_and_cancel_its_draft() -> None:
    suspended = facts(S.DRAFT, account_active=False)
    purchaser = viewer(R.ENTERPRISE_PURCHASER)
    assert authorize_transition(purchaser, A.UPDATE, suspended).to_status is S.DRAFT
    assert authorize_transition(purchaser, A.CANCEL, suspended).to_status is S.CANCELLED
    assert available_actions(purchaser, suspended) == [A.UPDATE, A.CANCEL]


def test_assigning_sims_is_not_blocked_by_the_ready_guard() -> None:
    t = authorize_transition(
        viewer(R.SP_AGENT), A.ASSIGN_SIMS, facts(S.PROVISIONING, fully_assigned=False)
    )
    assert t.to_status is S.PROVISIONING


# --- available_actions --------------------------------------------------------------------

FACT_VARIANTS = [
    pytest.param({"account_active": True, "fully_assigned": True}, id="active-assigned"),
    pytest.param({"account_active": True, "fully_assigned": False}, id="active-unassigned"),
    pytest.param({"account_active": False, "fully_assigned": True}, id="suspended-assigned"),
    pytest.param({"account_active": False, "fully_assigned": False}, id="suspended-unassigned"),
]


@pytest.mark.parametrize("variant", FACT_VARIANTS)
@pytest.mark.parametrize("status", list(S), ids=str)
@pytest.mark.parametrize("role", list(R), ids=str)
def test_available_actions_are_exactly_what_the_table_permits(
    role: R, status: S, variant: dict[str, bool]
) -> None:
    f = facts(status, **variant)
    expected = [
        action for action in A if (action, role, status) in ALLOWED and not guard_blocks(action, f)
    ]
    assert available_actions(viewer(role), f) == expected


@pytest.mark.parametrize("status", list(S), ids=str)
@pytest.mark.parametrize("role", list(R), ids=str)
def test_available_actions_agree_with_authorize_transition(role: R, status: S) -> None:
    for fully_assigned in (True, False):
        f = facts(status, fully_assigned=fully_assigned)
        offered = available_actions(viewer(role), f)
        for action in A:
            try:
                authorize_transition(viewer(role), action, f)
            except (Forbidden, InvalidTransition, NotFound):
                assert action not in offered
            else:
                assert action in offered


# Written out literally: the buttons each kind of user sees, per status.
BUTTONS = {
    S.DRAFT: {"purchaser": [A.UPDATE, A.SUBMIT, A.CANCEL], "sp": [A.UPDATE, A.SUBMIT, A.CANCEL]},
    S.SUBMITTED: {"purchaser": [A.CANCEL], "sp": [A.CANCEL, A.ACCEPT, A.REJECT]},
    S.ACCEPTED: {"purchaser": [], "sp": [A.CANCEL, A.START_PROVISIONING]},
    S.REJECTED: {"purchaser": [A.CANCEL, A.REOPEN], "sp": [A.CANCEL, A.REOPEN]},
    S.PROVISIONING: {"purchaser": [], "sp": [A.CANCEL, A.ASSIGN_SIMS, A.MARK_READY]},
    S.READY: {"purchaser": [], "sp": [A.SHIP]},
    S.SHIPPED: {"purchaser": [A.CONFIRM_RECEIPT], "sp": []},
    S.CLOSED: {"purchaser": [], "sp": []},
    S.CANCELLED: {"purchaser": [], "sp": []},
}


@pytest.mark.parametrize("status", list(S), ids=str)
def test_buttons_per_status_for_each_kind_of_user(status: S) -> None:
    f = facts(status)
    assert available_actions(viewer(R.ENTERPRISE_PURCHASER), f) == BUTTONS[status]["purchaser"]
    assert available_actions(viewer(R.SP_AGENT), f) == BUTTONS[status]["sp"]
    assert available_actions(viewer(R.SP_ADMIN), f) == BUTTONS[status]["sp"]
    assert available_actions(viewer(R.ENTERPRISE_VIEWER), f) == []
    assert available_actions(viewer(R.WAREHOUSE), f) == []


def test_provisioning_without_sims_offers_assigning_and_cancelling() -> None:
    f = facts(S.PROVISIONING, fully_assigned=False)
    assert available_actions(viewer(R.SP_AGENT), f) == [A.CANCEL, A.ASSIGN_SIMS]
    partly = facts(S.PROVISIONING, fully_assigned=False, sims_assigned=True)
    assert available_actions(viewer(R.SP_AGENT), partly) == [A.ASSIGN_SIMS]


@pytest.mark.parametrize("status", sorted(TERMINAL_STATUSES), ids=str)
@pytest.mark.parametrize("role", list(R), ids=str)
def test_terminal_statuses_offer_no_action(role: R, status: S) -> None:
    assert available_actions(viewer(role), facts(status)) == []
    for action in A:
        assert not outcome(role, action, facts(status)).startswith("->"), action


@pytest.mark.parametrize("status", list(S), ids=str)
@pytest.mark.parametrize("role", [R.ENTERPRISE_VIEWER, R.ENTERPRISE_PURCHASER], ids=str)
def test_another_tenants_po_offers_no_action(role: R, status: S) -> None:
    assert available_actions(viewer(role), facts(status, account=OTHER_ACCOUNT)) == []


def test_available_actions_keep_the_order_of_the_enum() -> None:
    order = list(A)
    for role, status in itertools.product(R, S):
        offered = available_actions(viewer(role), facts(status))
        assert offered == sorted(offered, key=order.index)
