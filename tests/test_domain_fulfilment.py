"""The rules of fulfilment without a database: allocation, sales-order steps, checks.

The expected sales-order table below is SPEC section 4 (and docs/fulfilment.md) written out
by hand, so a change to `SALES_ORDER_STEPS` that the specification does not make fails here.
"""

from __future__ import annotations

import itertools
import uuid
from collections import defaultdict

import pytest

from simgql.domain.errors import InvalidTransition
from simgql.domain.fulfilment import (
    OPEN_STATUSES,
    Allocation,
    Delivery,
    Demand,
    DenyListCheck,
    DispatchedItem,
    SalesOrderStatus,
    SalesOrderStep,
    Shortfall,
    StockLevel,
    allocate,
    dispatch_problems,
    next_sales_order_status,
)
from simgql.domain.model import SimIdentity
from tests.factories import sims

SO = SalesOrderStatus
STEP = SalesOrderStep

P1 = uuid.uuid4()
P2 = uuid.uuid4()
P3 = uuid.uuid4()
WAREHOUSES = {code: uuid.uuid4() for code in ("WH-A", "WH-B", "WH-C", "WH-D")}


def wh(code: str) -> uuid.UUID:
    return WAREHOUSES[code]


def level(code: str, product: uuid.UUID, available: int) -> StockLevel:
    return StockLevel(wh(code), code, product, available)


def demand(product: uuid.UUID, quantity: int) -> Demand:
    return Demand(uuid.uuid4(), product, quantity)


def shipped(allocations: list[Allocation]) -> dict[tuple[str, uuid.UUID], int]:
    """Units per (warehouse code, product)."""
    code_of = {v: k for k, v in WAREHOUSES.items()}
    out: dict[tuple[str, uuid.UUID], int] = defaultdict(int)
    for a in allocations:
        out[(code_of[a.warehouse_id], a.product_id)] += a.quantity
    return dict(out)


def assert_every_line_is_covered(demands: list[Demand], allocations: list[Allocation]) -> None:
    per_line: dict[uuid.UUID, int] = defaultdict(int)
    for a in allocations:
        assert a.quantity > 0, a
        per_line[a.line_id] += a.quantity
    assert per_line == {d.line_id: d.quantity for d in demands}
    by_line = {d.line_id: d.product_id for d in demands}
    assert all(by_line[a.line_id] == a.product_id for a in allocations)


# --- allocate ---------------------------------------------------------------------------------


def test_one_warehouse_holding_everything_ships_the_whole_order() -> None:
    demands = [demand(P1, 50), demand(P2, 20)]
    stock = [
        level("WH-A", P1, 500),  # holds more of P1, but none of P2
        level("WH-B", P1, 60),
        level("WH-B", P2, 20),
    ]

    allocations, shortfalls = allocate(demands, stock)

    assert shortfalls == []
    assert shipped(allocations) == {("WH-B", P1): 50, ("WH-B", P2): 20}
    assert_every_line_is_covered(demands, allocations)


def test_among_warehouses_that_hold_everything_the_lowest_code_is_chosen_whatever_the_order() -> (
    None
):
    demands = [demand(P1, 10)]
    stock = [level("WH-C", P1, 1000), level("WH-B", P1, 10), level("WH-D", P1, 50)]

    for ordering in itertools.permutations(stock):
        allocations, shortfalls = allocate(demands, ordering)
        assert shortfalls == []
        assert shipped(allocations) == {("WH-B", P1): 10}


def test_split_takes_from_the_warehouse_holding_most_first() -> None:
    demands = [demand(P1, 100)]
    stock = [level("WH-A", P1, 30), level("WH-B", P1, 60), level("WH-C", P1, 45)]

    allocations, shortfalls = allocate(demands, stock)

    assert shortfalls == []
    assert shipped(allocations) == {("WH-B", P1): 60, ("WH-C", P1): 40}
    assert_every_line_is_covered(demands, allocations)


def test_split_ties_on_quantity_are_broken_by_warehouse_code() -> None:
    demands = [demand(P1, 70)]
    stock = [level("WH-D", P1, 50), level("WH-C", P1, 50), level("WH-A", P1, 10)]

    for ordering in itertools.permutations(stock):
        allocations, shortfalls = allocate(demands, ordering)
        assert shortfalls == []
        assert shipped(allocations) == {("WH-C", P1): 50, ("WH-D", P1): 20}


def test_products_held_in_different_warehouses_are_split_per_product() -> None:
    demands = [demand(P1, 5), demand(P2, 7)]
    stock = [level("WH-A", P1, 5), level("WH-B", P2, 9)]

    allocations, shortfalls = allocate(demands, stock)

    assert shortfalls == []
    assert shipped(allocations) == {("WH-A", P1): 5, ("WH-B", P2): 7}
    assert_every_line_is_covered(demands, allocations)


def test_two_lines_of_one_product_never_take_more_than_a_warehouse_holds() -> None:
    demands = [demand(P1, 30), demand(P1, 40)]
    stock = [level("WH-A", P1, 50), level("WH-B", P1, 30)]

    allocations, shortfalls = allocate(demands, stock)

    assert shortfalls == []
    assert_every_line_is_covered(demands, allocations)
    assert shipped(allocations) == {("WH-A", P1): 40, ("WH-B", P1): 30}


def test_short_stock_reports_the_shortfall_per_product_and_allocates_nothing() -> None:
    demands = [demand(P1, 60), demand(P1, 40), demand(P2, 5), demand(P3, 3)]
    stock = [level("WH-A", P1, 50), level("WH-B", P1, 20), level("WH-A", P2, 500)]

    allocations, shortfalls = allocate(demands, stock)

    assert allocations == []
    assert sorted(shortfalls, key=lambda s: str(s.product_id)) == sorted(
        [Shortfall(P1, 100, 70), Shortfall(P3, 3, 0)], key=lambda s: str(s.product_id)
    )


def test_stock_of_exactly_the_requested_quantity_is_enough() -> None:
    allocations, shortfalls = allocate(
        [demand(P1, 25)], [level("WH-A", P1, 20), level("WH-B", P1, 5)]
    )

    assert shortfalls == []
    assert shipped(allocations) == {("WH-A", P1): 20, ("WH-B", P1): 5}


def test_warehouses_with_nothing_available_are_ignored() -> None:
    demands = [demand(P1, 10), demand(P2, 10)]
    stock = [
        level("WH-A", P1, 0),  # lowest code, holds P2, but no P1 left
        level("WH-A", P2, 100),
        level("WH-B", P1, -3),  # more reserved than on hand
        level("WH-B", P2, 100),
        level("WH-C", P1, 10),
        level("WH-C", P2, 10),
    ]

    allocations, shortfalls = allocate(demands, stock)

    assert shortfalls == []
    assert shipped(allocations) == {("WH-C", P1): 10, ("WH-C", P2): 10}


def test_zero_and_negative_stock_do_not_count_towards_availability() -> None:
    _, shortfalls = allocate(
        [demand(P1, 4)], [level("WH-A", P1, 0), level("WH-B", P1, -10), level("WH-C", P1, 3)]
    )

    assert shortfalls == [Shortfall(P1, 4, 3)]


def test_no_stock_at_all_is_a_shortfall_with_nothing_available() -> None:
    allocations, shortfalls = allocate([demand(P2, 1)], [])

    assert allocations == []
    assert shortfalls == [Shortfall(P2, 1, 0)]


def test_split_allocation_never_uses_a_warehouse_with_no_stock_of_the_product() -> None:
    demands = [demand(P1, 15)]
    stock = [level("WH-A", P1, 0), level("WH-B", P1, 10), level("WH-C", P1, 10)]

    allocations, _ = allocate(demands, stock)

    assert {a.warehouse_id for a in allocations} == {wh("WH-B"), wh("WH-C")}
    assert shipped(allocations) == {("WH-B", P1): 10, ("WH-C", P1): 5}


# --- the sales-order status table --------------------------------------------------------------

# SPEC section 4, step by step: (step, from) -> to. Anything not listed is refused.
EXPECTED_STEPS = {
    (STEP.GENERATE, SO.AWAITING_GENERATION): SO.AWAITING_DISPATCH,
    (STEP.FAIL_CHECK, SO.AWAITING_GENERATION): SO.ERROR,
    (STEP.DISPATCH, SO.AWAITING_DISPATCH): SO.COMPLETE,
    (STEP.REPORT_ERROR, SO.AWAITING_GENERATION): SO.ERROR,
    (STEP.REPORT_ERROR, SO.AWAITING_DISPATCH): SO.ERROR,
    (STEP.RETRY, SO.ERROR): SO.AWAITING_GENERATION,
    (STEP.CANCEL, SO.AWAITING_GENERATION): SO.CANCELLED,
    (STEP.CANCEL, SO.AWAITING_DISPATCH): SO.CANCELLED,
    (STEP.CANCEL, SO.ERROR): SO.CANCELLED,
}


@pytest.mark.parametrize(
    ("step", "current"),
    list(itertools.product(SalesOrderStep, SalesOrderStatus)),
    ids=lambda v: str(v),
)
def test_every_step_from_every_sales_order_status(
    step: SalesOrderStep, current: SalesOrderStatus
) -> None:
    expected = EXPECTED_STEPS.get((step, current))
    if expected is not None:
        assert next_sales_order_status(step, current) is expected
        return
    with pytest.raises(InvalidTransition) as refused:
        next_sales_order_status(step, current)
    assert refused.value.status == current
    assert refused.value.code == "INVALID_TRANSITION"


@pytest.mark.parametrize("final", [SO.COMPLETE, SO.CANCELLED])
def test_complete_and_cancelled_orders_are_final(final: SalesOrderStatus) -> None:
    for step in SalesOrderStep:
        with pytest.raises(InvalidTransition):
            next_sales_order_status(step, final)
    assert final not in OPEN_STATUSES


def test_open_statuses_are_those_a_cancel_releases() -> None:
    assert {
        SO.AWAITING_GENERATION,
        SO.AWAITING_DISPATCH,
        SO.ERROR,
    } == OPEN_STATUSES


# --- the built-in fraud check ------------------------------------------------------------------


def delivery(**changes: object) -> Delivery:
    base: dict[str, object] = {
        "recipient": "Jane Doe",
        "company": "Acme GmbH",
        "street": ("Hafenstrasse 1", "Building 7"),
        "city": "Hamburg",
        "postal_code": "20457",
        "country": "DE",
    }
    base.update(changes)
    return Delivery(**base)  # type: ignore[arg-type]


CHECK = DenyListCheck.of(["Mallory Evil", "  Shady Corp  "], ["Dark Alley", "99999", "Gotham"])


def test_a_clean_delivery_passes_the_deny_lists() -> None:
    assert CHECK(delivery()) is None


@pytest.mark.parametrize(
    "name", ["Mallory Evil", "MALLORY EVIL", "mallory evil", "  Mallory Evil "]
)
def test_deny_listed_recipient_is_refused_whatever_its_case(name: str) -> None:
    reason = CHECK(delivery(recipient=name))

    assert reason is not None
    assert name in reason


def test_deny_listed_company_is_refused() -> None:
    reason = CHECK(delivery(company="shady corp"))

    assert reason is not None
    assert "shady corp" in reason


def test_names_are_matched_whole_not_as_parts() -> None:
    assert CHECK(delivery(recipient="Mallory Evilson")) is None
    assert CHECK(delivery(recipient="Dr Mallory Evil")) is None
    assert CHECK(delivery(company=None)) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"street": ("12 dark ALLEY",)},
        {"street": ("Main Road 1", "Rear of the dark alley")},
        {"postal_code": "99999"},
        {"city": "GOTHAM CITY"},
    ],
    ids=["street", "second-street-line", "postal-code", "city"],
)
def test_address_containing_a_deny_listed_fragment_is_refused(changes: dict[str, object]) -> None:
    reason = CHECK(delivery(**changes))

    assert reason is not None
    assert "fragment" in reason


def test_empty_deny_lists_refuse_nothing() -> None:
    check = DenyListCheck.of([], [])

    assert check(delivery()) is None
    assert check(delivery(recipient="Mallory Evil", street=("Dark Alley",))) is None


def test_blank_deny_list_entries_are_ignored_instead_of_refusing_everyone() -> None:
    check = DenyListCheck.of(["", "   "], ["", "  "])

    assert check(delivery()) is None
    assert check(delivery(company=None, recipient="X")) is None


# --- dispatch checks ---------------------------------------------------------------------------


def items(*products: uuid.UUID | None) -> list[DispatchedItem]:
    return [DispatchedItem(p, s) for p, s in zip(products, sims(len(products)), strict=True)]


def test_exactly_the_ordered_items_with_good_identities_have_no_problems() -> None:
    assert dispatch_problems({P1: 2, P2: 1}, items(P1, P2, P1)) == []


@pytest.mark.parametrize(
    ("reported", "got", "ordered"),
    [((P1,), 1, 2), ((P1, P1, P1), 3, 2), ((P2,), 0, 2)],
    ids=["too-few", "too-many", "none-of-it"],
)
def test_counts_per_product_must_equal_what_was_ordered(
    reported: tuple[uuid.UUID, ...], got: int, ordered: int
) -> None:
    problems = dispatch_problems(
        {P1: ordered, P2: len([p for p in reported if p == P2])}, items(*reported)
    )

    assert [p.field for p in problems] == ["items"]
    assert f"{got} SIMs reported" in problems[0].message
    assert f"ordered {ordered} times" in problems[0].message


def test_an_item_of_a_product_not_in_the_order_is_named() -> None:
    problems = dispatch_problems({P1: 1}, items(P1, P3, None))

    fields = [p.field for p in problems]
    assert "items.1.product" in fields
    assert "items.2.product" in fields
    assert "items.0.product" not in fields


def test_malformed_identities_are_named_per_item_and_field() -> None:
    good = sims(3)
    bad_luhn = good[0].iccid[:-1] + str((int(good[0].iccid[-1]) + 1) % 10)
    reported = [
        DispatchedItem(P1, SimIdentity(bad_luhn, good[0].imsi, good[0].msisdn)),
        DispatchedItem(P1, SimIdentity(good[1].iccid, "12345", good[1].msisdn)),
        DispatchedItem(P1, SimIdentity(good[2].iccid, good[2].imsi, "0049170000000")),
    ]

    problems = dispatch_problems({P1: 3}, reported)

    assert {p.field for p in problems} == {"items.0.iccid", "items.1.imsi", "items.2.msisdn"}
    assert any("Luhn" in p.message for p in problems)


def test_duplicate_identities_in_one_report_are_named() -> None:
    a, b = sims(2)
    reported = [
        DispatchedItem(P1, a),
        DispatchedItem(P1, SimIdentity(a.iccid, b.imsi, b.msisdn)),
        DispatchedItem(P1, SimIdentity(b.iccid, a.imsi, a.msisdn)),
    ]

    problems = dispatch_problems({P1: 3}, reported)

    assert {p.field for p in problems} == {"items.1.iccid", "items.2.imsi", "items.2.msisdn"}
    assert all("duplicate" in p.message for p in problems)


def test_every_problem_is_reported_together_under_the_given_prefix() -> None:
    (a,) = sims(1)
    reported = [
        DispatchedItem(P1, SimIdentity("123", a.imsi, a.msisdn)),
        DispatchedItem(None, a),
    ]

    problems = dispatch_problems({P1: 1, P2: 1}, reported, prefix="reports.3.items")

    fields = [p.field for p in problems]
    assert "reports.3.items.0.iccid" in fields
    assert "reports.3.items.1.product" in fields
    assert fields.count("reports.3.items") == 1  # P2: 0 reported, 1 ordered
    assert all(f.startswith("reports.3.items") for f in fields)
