"""Input validation and the submit plausibility checks, without a database."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from simgql.domain.errors import FieldError
from simgql.domain.model import (
    Catalogue,
    CatalogueKind,
    Entitlements,
    OfferedProduct,
    OrderLine,
    ShippingAddress,
    SimBillingStatus,
    SimIdentity,
)
from simgql.domain.validation import (
    address_problems,
    iccid_problem,
    imsi_problem,
    line_shape_problems,
    luhn_check_digit,
    luhn_valid,
    msisdn_problem,
    override_problems,
    quantity_problem,
    ship_date_problem,
    sim_problems,
    submission_problems,
)

TODAY = dt.date(2030, 6, 15)

# Published ICCIDs (operator samples) and classic Luhn examples, all valid.
VALID_ICCIDS = [
    "89014103211118510720",
    "89148000000745809013",
    "8944500102198304826",
    "8991101200003204514",
]
VALID_LUHN = [*VALID_ICCIDS, "79927398713", "4111111111111111", "0"]


def fields(problems: list[FieldError]) -> list[str]:
    return [p.field for p in problems]


def one_digit_changes(number: str) -> list[str]:
    return [
        number[:i] + d + number[i + 1 :]
        for i, ch in enumerate(number)
        for d in "0123456789"
        if d != ch
    ]


def addr(**changes: object) -> ShippingAddress:
    base: dict[str, object] = {
        "recipient": "Jane Doe",
        "street": ("Hafenstrasse 1",),
        "city": "Hamburg",
        "postal_code": "20457",
        "country": "DE",
        "company": None,
        "region": None,
        "phone": None,
    }
    base.update(changes)
    return ShippingAddress(**base)  # type: ignore[arg-type]


# --- Luhn and SIM identities --------------------------------------------------------------


@pytest.mark.parametrize("number", VALID_LUHN)
def test_luhn_accepts_known_valid_numbers(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize("number", VALID_LUHN)
def test_luhn_rejects_every_one_digit_change(number: str) -> None:
    changed = one_digit_changes(number)
    assert changed
    assert [n for n in changed if luhn_valid(n)] == []


@pytest.mark.parametrize("number", ["79927398710", "4111111111111112", "89014103211118510721"])
def test_luhn_rejects_a_wrong_check_digit(number: str) -> None:
    assert not luhn_valid(number)


@pytest.mark.parametrize("value", ["", "abc", "7992 7398 713", "-79927398713", "٧٩٩٢٧٣٩٨٧١٣"])
def test_luhn_rejects_what_is_not_plain_ascii_digits(value: str) -> None:
    assert not luhn_valid(value)


@pytest.mark.parametrize("payload", ["894910000000000000", "8949100000000000001", "7992739871"])
def test_luhn_check_digit_completes_a_valid_number(payload: str) -> None:
    digit = luhn_check_digit(payload)
    assert len(digit) == 1
    assert luhn_valid(payload + digit)


@pytest.mark.parametrize("iccid", VALID_ICCIDS)
def test_valid_iccids_of_19_and_20_digits_pass(iccid: str) -> None:
    assert iccid_problem(iccid) is None


@pytest.mark.parametrize("iccid", VALID_ICCIDS)
def test_iccid_with_one_digit_changed_fails_the_check_digit(iccid: str) -> None:
    for changed in one_digit_changes(iccid):
        assert iccid_problem(changed) == "ICCID check digit (Luhn) is wrong", changed


@pytest.mark.parametrize("length", [1, 18, 21, 22])
def test_iccid_of_wrong_length_fails_even_with_a_valid_check_digit(length: int) -> None:
    payload = "8" * (length - 1)
    iccid = payload + luhn_check_digit(payload)
    assert luhn_valid(iccid)
    assert iccid_problem(iccid) == "ICCID must be 19 or 20 digits"


@pytest.mark.parametrize(
    "iccid",
    [
        "",
        "8901410321111851072A",
        "8901 4103 2111 1851 0720",
        "+8901410321111851072",
        "\uff18\uff19",
    ],
)
def test_iccid_with_non_digits_fails(iccid: str) -> None:
    assert iccid_problem(iccid) == "ICCID must be 19 or 20 digits"


def test_imsi_of_15_digits_passes() -> None:
    assert imsi_problem("262011234567890") is None


@pytest.mark.parametrize(
    "imsi", ["", "26201123456789", "2620112345678901", "26201123456789X", "262 011234567890"]
)
def test_imsi_not_exactly_15_digits_fails(imsi: str) -> None:
    assert imsi_problem(imsi) == "IMSI must be exactly 15 digits"


@pytest.mark.parametrize("msisdn", ["4915112345678", "491711234567", "123456789012345"])
def test_msisdn_in_e164_digits_passes(msisdn: str) -> None:
    assert msisdn_problem(msisdn) is None


@pytest.mark.parametrize(
    "msisdn",
    ["", "+4915112345678", "04915112345678", "1234567890123456", "49 151 12345678", "4915l12345"],
)
def test_msisdn_not_in_e164_digits_fails(msisdn: str) -> None:
    assert msisdn_problem(msisdn) is not None


# --- SIM lists ----------------------------------------------------------------------------


def sim(n: int) -> SimIdentity:
    payload = f"894900000000000{n:03d}"
    return SimIdentity(
        payload + luhn_check_digit(payload), f"262010000000{n:03d}", f"4917000{n:05d}"
    )


def test_valid_distinct_sims_have_no_problems() -> None:
    assert sim_problems([(f"sims.{i}", sim(i)) for i in range(5)]) == []


def test_duplicate_iccid_within_one_request_is_reported_on_the_second() -> None:
    a, b = sim(1), sim(2)
    dup = SimIdentity(a.iccid, b.imsi, b.msisdn)
    problems = sim_problems([("sims.0", a), ("sims.1", dup)])
    assert fields(problems) == ["sims.1.iccid"]
    assert a.iccid in problems[0].message


@pytest.mark.parametrize("kind", ["iccid", "imsi", "msisdn"])
def test_each_duplicate_identity_within_one_request_is_reported(kind: str) -> None:
    a, b = sim(1), sim(2)
    dup = SimIdentity(
        a.iccid if kind == "iccid" else b.iccid,
        a.imsi if kind == "imsi" else b.imsi,
        a.msisdn if kind == "msisdn" else b.msisdn,
    )
    problems = sim_problems([("assignments.0.sims.0", a), ("assignments.1.sims.0", dup)])
    assert fields(problems) == [f"assignments.1.sims.0.{kind}"]
    assert "duplicate" in problems[0].message.lower()


def test_the_same_sim_twice_reports_all_three_identities() -> None:
    a = sim(7)
    problems = sim_problems([("sims.0", a), ("sims.1", a), ("sims.2", a)])
    assert fields(problems) == [
        "sims.1.iccid",
        "sims.1.imsi",
        "sims.1.msisdn",
        "sims.2.iccid",
        "sims.2.imsi",
        "sims.2.msisdn",
    ]


def test_malformed_sim_identities_are_reported_by_field() -> None:
    good = sim(3)
    bad = SimIdentity(good.iccid[:-1] + str((int(good.iccid[-1]) + 1) % 10), "123", "+49170")
    problems = sim_problems([("sims.0", good), ("sims.1", bad)])
    assert fields(problems) == ["sims.1.iccid", "sims.1.imsi", "sims.1.msisdn"]


# --- shipping address ---------------------------------------------------------------------


def test_a_complete_address_has_no_problems() -> None:
    full = addr(company="Acme", region="HH", phone="+49 40 123456", street=("a", "b", "c"))
    assert address_problems(full) == []


@pytest.mark.parametrize("name", ["recipient", "city", "postal_code"])
def test_missing_required_address_field(name: str) -> None:
    camel = {"postal_code": "postalCode"}.get(name, name)
    problems = address_problems(addr(**{name: None}))
    assert fields(problems) == [f"shippingAddress.{camel}"]


@pytest.mark.parametrize("value", ["", "   ", "\t"])
@pytest.mark.parametrize("name", ["recipient", "city", "postal_code"])
def test_empty_required_address_field(name: str, value: str) -> None:
    camel = {"postal_code": "postalCode"}.get(name, name)
    problems = address_problems(addr(**{name: value}))
    assert fields(problems) == [f"shippingAddress.{camel}"]
    assert problems[0].message == "must not be empty"


@pytest.mark.parametrize("name", ["company", "region", "phone"])
def test_optional_address_fields_may_be_left_out(name: str) -> None:
    assert address_problems(addr(**{name: None})) == []


@pytest.mark.parametrize("lines", [0, 4, 5])
def test_street_must_have_one_to_three_lines(lines: int) -> None:
    problems = address_problems(addr(street=tuple(f"line {i}" for i in range(lines))))
    assert fields(problems) == ["shippingAddress.street"]


@pytest.mark.parametrize("lines", [1, 2, 3])
def test_one_to_three_street_lines_are_fine(lines: int) -> None:
    assert address_problems(addr(street=tuple(f"line {i}" for i in range(lines)))) == []


def test_the_first_street_line_must_not_be_empty() -> None:
    problems = address_problems(addr(street=("  ", "Hinterhaus")))
    assert fields(problems) == ["shippingAddress.street.0"]


@pytest.mark.parametrize("country", ["XX", "de", "DEU", "D", "", "ZZ", "UK"])
def test_country_must_be_an_iso_alpha2_code(country: str) -> None:
    assert fields(address_problems(addr(country=country))) == ["shippingAddress.country"]


@pytest.mark.parametrize("country", ["DE", "US", "GB", "JP", "BR", "ZA"])
def test_iso_alpha2_countries_pass(country: str) -> None:
    assert address_problems(addr(country=country)) == []


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("recipient", "recipient"),
        ("company", "company"),
        ("city", "city"),
        ("postal_code", "postalCode"),
        ("region", "region"),
    ],
)
def test_address_text_longer_than_200_characters_is_refused(name: str, path: str) -> None:
    assert address_problems(addr(**{name: "x" * 200})) == []
    problems = address_problems(addr(**{name: "x" * 201}))
    assert fields(problems) == [f"shippingAddress.{path}"]
    assert "200" in problems[0].message


def test_over_long_street_line_is_refused() -> None:
    problems = address_problems(addr(street=("ok", "y" * 201)))
    assert fields(problems) == ["shippingAddress.street.1"]


ADDRESS_TEXT_FIELDS = [("recipient", "recipient"), ("city", "city"), ("company", "company")]


@pytest.mark.parametrize("bad", ["\x00", "\n", "\r", "\x1b[31m", "\x07", "\x1f"], ids=repr)
@pytest.mark.parametrize(("name", "path"), ADDRESS_TEXT_FIELDS)
def test_control_characters_in_address_text_are_refused(name: str, path: str, bad: str) -> None:
    problems = address_problems(addr(**{name: f"Jane{bad}Doe"}))
    assert fields(problems) == [f"shippingAddress.{path}"]
    assert problems[0].message == "must not contain control characters"


@pytest.mark.parametrize("bad", ["\x7f", "\x85", "\x9b"], ids=repr)
def test_delete_and_c1_control_characters_are_refused_too(bad: str) -> None:
    # DEL and the C1 range (NEL, CSI, ...) are control characters as much as C0 ones are.
    problems = address_problems(addr(recipient=f"Jane{bad}Doe"))
    assert fields(problems) == ["shippingAddress.recipient"]
    assert problems[0].message == "must not contain control characters"


def test_control_characters_in_a_street_line_are_refused() -> None:
    problems = address_problems(addr(street=("Hafen\x00strasse 1",)))
    assert fields(problems) == ["shippingAddress.street.0"]


def test_unicode_letters_and_tabs_are_fine_in_an_address() -> None:
    assert address_problems(addr(recipient="Zoë Ångström-Łukasz", city="München\tOst")) == []


@pytest.mark.parametrize("phone", ["abc", "12", "+49 40 12x456", "++49 40 123456"])
def test_an_unparseable_phone_number_is_refused(phone: str) -> None:
    assert fields(address_problems(addr(phone=phone))) == ["shippingAddress.phone"]


def test_every_address_problem_is_reported_at_once() -> None:
    problems = address_problems(addr(recipient="", city=None, street=(), country="XX"))
    assert set(fields(problems)) == {
        "shippingAddress.recipient",
        "shippingAddress.city",
        "shippingAddress.street",
        "shippingAddress.country",
    }


def test_address_problems_use_the_given_prefix() -> None:
    assert fields(address_problems(addr(country="XX"), prefix="input.address")) == [
        "input.address.country"
    ]


# --- quantities and lines -----------------------------------------------------------------


@pytest.mark.parametrize("quantity", [1, 2, 99_999, 100_000])
def test_quantities_from_1_to_100000_pass(quantity: int) -> None:
    assert quantity_problem(quantity) is None


@pytest.mark.parametrize("quantity", [0, -1, 100_001, 10**9])
def test_quantities_outside_1_to_100000_fail(quantity: int) -> None:
    assert quantity_problem(quantity) == "must be between 1 and 100000"


def test_line_shape_reports_each_bad_quantity_by_line() -> None:
    assert fields(line_shape_problems([5, 0, 100_001, 100_000])) == [
        "lines.1.quantity",
        "lines.2.quantity",
    ]


def test_an_order_needs_at_least_one_line() -> None:
    assert fields(line_shape_problems([])) == ["lines"]


def test_an_order_has_at_most_100_lines() -> None:
    assert line_shape_problems([1] * 100) == []
    assert fields(line_shape_problems([1] * 101)) == ["lines"]


# --- requested ship date ------------------------------------------------------------------


def test_a_past_ship_date_is_refused() -> None:
    assert ship_date_problem(TODAY - dt.timedelta(days=1), TODAY) == "must not be in the past"


@pytest.mark.parametrize("days", [0, 1, 365])
def test_today_or_a_future_ship_date_is_fine(days: int) -> None:
    assert ship_date_problem(TODAY + dt.timedelta(days=days), TODAY) is None


def test_no_ship_date_is_fine() -> None:
    assert ship_date_problem(None, TODAY) is None


# --- overrides ----------------------------------------------------------------------------

CATALOGUE = Catalogue(
    {
        CatalogueKind.PRICE_PLAN: frozenset({"PP-S", "PP-M"}),
        CatalogueKind.SERVICE_PROFILE: frozenset({"SP-DATA"}),
        CatalogueKind.ROAMING_PROFILE: frozenset({"RP-EU"}),
        CatalogueKind.APN_GROUP: frozenset({"APN-1"}),
    }
)


def test_no_overrides_are_fine_even_when_overriding_is_switched_off() -> None:
    assert override_problems(Entitlements(), allowed=False, catalogue=CATALOGUE) == []


@pytest.mark.parametrize(
    "overrides",
    [
        Entitlements(price_plan="PP-M"),
        Entitlements(sim_billing_status=SimBillingStatus.ACTIVATED),
        Entitlements(apn_group="APN-1"),
    ],
    ids=["pricePlan", "simBillingStatus", "apnGroup"],
)
def test_any_override_is_refused_when_overriding_is_switched_off(
    overrides: Entitlements,
) -> None:
    assert fields(override_problems(overrides, allowed=False, catalogue=CATALOGUE)) == ["overrides"]


def test_overrides_from_the_catalogue_are_fine() -> None:
    overrides = Entitlements(
        sim_billing_status=SimBillingStatus.INVENTORY,
        price_plan="PP-M",
        service_profile="SP-DATA",
        roaming_profile="RP-EU",
        apn_group="APN-1",
    )
    assert override_problems(overrides, allowed=True, catalogue=CATALOGUE) == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (Entitlements(price_plan="PP-XXL"), "overrides.pricePlan"),
        (Entitlements(service_profile="SP-VOICE"), "overrides.serviceProfile"),
        (Entitlements(roaming_profile="RP-WORLD"), "overrides.roamingProfile"),
        (Entitlements(apn_group="APN-9"), "overrides.apnGroup"),
        (Entitlements(price_plan="SP-DATA"), "overrides.pricePlan"),
    ],
    ids=["pricePlan", "serviceProfile", "roamingProfile", "apnGroup", "wrong-kind"],
)
def test_an_override_not_in_the_catalogue_is_refused(overrides: Entitlements, field: str) -> None:
    problems = override_problems(overrides, allowed=True, catalogue=CATALOGUE)
    assert fields(problems) == [field]
    assert "catalogue" in problems[0].message


def test_every_override_outside_the_catalogue_is_reported() -> None:
    overrides = Entitlements(price_plan="X", service_profile="Y", roaming_profile="Z")
    assert fields(override_problems(overrides, allowed=True, catalogue=CATALOGUE)) == [
        "overrides.pricePlan",
        "overrides.serviceProfile",
        "overrides.roamingProfile",
    ]


def test_an_empty_catalogue_allows_no_override() -> None:
    problems = override_problems(
        Entitlements(price_plan="PP-S"), allowed=True, catalogue=Catalogue()
    )
    assert fields(problems) == ["overrides.pricePlan"]


# --- submission_problems ------------------------------------------------------------------


def offered(
    *,
    active: bool = True,
    assigned: bool = True,
    currency: str = "EUR",
    min_quantity: int | None = None,
    max_quantity: int | None = None,
) -> OfferedProduct:
    return OfferedProduct(
        product_id=uuid.uuid4(),
        code=f"SKU-{uuid.uuid4().hex[:6]}",
        active=active,
        assigned=assigned,
        unit_price=Decimal("1.50"),
        currency=currency,
        min_quantity=min_quantity,
        max_quantity=max_quantity,
    )


def submit(**changes: object) -> list[FieldError]:
    args: dict[str, object] = {
        "lines": [OrderLine(offered(), 10)],
        "address": addr(),
        "requested_ship_date": TODAY + dt.timedelta(days=3),
        "overrides": Entitlements(),
        "overrides_allowed": True,
        "catalogue": CATALOGUE,
        "account_active": True,
        "today": TODAY,
    }
    args.update(changes)
    return submission_problems(**args)  # type: ignore[arg-type]


def test_a_plausible_order_has_no_problems() -> None:
    assert submit() == []


def test_an_order_without_lines_is_refused() -> None:
    assert fields(submit(lines=[])) == ["lines"]


def test_an_unknown_product_is_refused() -> None:
    problems = submit(lines=[OrderLine(offered(), 1), OrderLine(None, 1)])
    assert fields(problems) == ["lines.1.productId"]


def test_an_inactive_product_is_refused() -> None:
    product = offered(active=False)
    problems = submit(lines=[OrderLine(product, 1)])
    assert fields(problems) == ["lines.0.productId"]
    assert product.code in problems[0].message
    assert "not active" in problems[0].message


def unknown_product_message() -> str:
    return submit(lines=[OrderLine(None, 1)])[0].message


@pytest.mark.parametrize("active", [True, False], ids=["active", "inactive"])
def test_a_product_not_assigned_to_the_account_is_answered_like_an_unknown_one(
    active: bool,
) -> None:
    # Another account's product must not be told apart from one that does not exist.
    product = offered(assigned=False, active=active)
    problems = submit(lines=[OrderLine(product, 1)])
    assert fields(problems) == ["lines.0.productId"]
    assert problems[0].message == unknown_product_message()
    assert product.code not in problems[0].message


def test_the_same_product_on_two_lines_is_refused() -> None:
    product = offered()
    problems = submit(lines=[OrderLine(product, 1), OrderLine(product, 2)])
    assert fields(problems) == ["lines.1.productId"]


@pytest.mark.parametrize("quantity", [0, 100_001])
def test_quantity_outside_the_global_range_is_refused(quantity: int) -> None:
    assert fields(submit(lines=[OrderLine(offered(), quantity)])) == ["lines.0.quantity"]


@pytest.mark.parametrize(("quantity", "ok"), [(9, False), (10, True), (50, True), (51, False)])
def test_quantity_within_the_assignment_bounds(quantity: int, ok: bool) -> None:
    product = offered(min_quantity=10, max_quantity=50)
    problems = submit(lines=[OrderLine(product, quantity)])
    assert fields(problems) == ([] if ok else ["lines.0.quantity"])


def test_assignment_bounds_name_the_bound_in_the_message() -> None:
    low = submit(lines=[OrderLine(offered(min_quantity=10), 3)])
    high = submit(lines=[OrderLine(offered(max_quantity=20), 30)])
    assert low[0].message == "must be at least 10"
    assert high[0].message == "must be at most 20"


def test_bounds_are_checked_on_the_right_line() -> None:
    problems = submit(lines=[OrderLine(offered(), 500), OrderLine(offered(max_quantity=100), 500)])
    assert fields(problems) == ["lines.1.quantity"]


def test_lines_in_two_currencies_are_refused() -> None:
    problems = submit(
        lines=[OrderLine(offered(currency="EUR"), 1), OrderLine(offered(currency="USD"), 1)]
    )
    assert fields(problems) == ["lines"]
    assert "currency" in problems[0].message


def test_lines_in_one_currency_are_fine() -> None:
    lines = [OrderLine(offered(currency="USD"), 1), OrderLine(offered(currency="USD"), 1)]
    assert submit(lines=lines) == []


def test_a_missing_address_is_refused() -> None:
    assert fields(submit(address=None)) == ["shippingAddress"]


def test_address_problems_are_part_of_the_submission_problems() -> None:
    assert fields(submit(address=addr(country="XX", street=()))) == [
        "shippingAddress.street",
        "shippingAddress.country",
    ]


def test_a_past_ship_date_is_refused_on_submit() -> None:
    problems = submit(requested_ship_date=TODAY - dt.timedelta(days=1))
    assert fields(problems) == ["requestedShipDate"]


def test_a_ship_date_of_today_is_fine_on_submit() -> None:
    assert submit(requested_ship_date=TODAY) == []


def test_no_ship_date_is_fine_on_submit() -> None:
    assert submit(requested_ship_date=None) == []


def test_overrides_are_refused_on_submit_when_switched_off() -> None:
    problems = submit(overrides=Entitlements(price_plan="PP-M"), overrides_allowed=False)
    assert fields(problems) == ["overrides"]


def test_overrides_outside_the_catalogue_are_refused_on_submit() -> None:
    assert fields(submit(overrides=Entitlements(apn_group="APN-X"))) == ["overrides.apnGroup"]


def test_a_suspended_account_cannot_submit() -> None:
    problems = submit(account_active=False)
    assert fields(problems) == ["accountId"]
    assert "suspended" in problems[0].message


def test_every_problem_is_collected_rather_than_only_the_first() -> None:
    problems = submit(
        lines=[OrderLine(None, 1), OrderLine(offered(active=False), 0)],
        address=addr(recipient=""),
        requested_ship_date=TODAY - dt.timedelta(days=30),
        overrides=Entitlements(price_plan="NOPE"),
        account_active=False,
    )
    assert set(fields(problems)) == {
        "lines.0.productId",
        "lines.1.productId",
        "lines.1.quantity",
        "shippingAddress.recipient",
        "requestedShipDate",
        "overrides.pricePlan",
        "accountId",
    }
