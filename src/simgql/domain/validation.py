"""Input validation and the plausibility checks a purchase order must pass on submit."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence

from simgql.domain.countries import COUNTRY_CODES
from simgql.domain.errors import FieldError
from simgql.domain.model import (
    Catalogue,
    CatalogueKind,
    Entitlements,
    OrderLine,
    ShippingAddress,
    SimIdentity,
)

MIN_QUANTITY = 1
MAX_QUANTITY = 100_000
MAX_LINES = 100
MAX_TEXT = 200
MAX_NOTE = 2000
MAX_STREET_LINES = 3

NOT_OFFERED = "is not a product offered to this account"

_DIGITS = re.compile(r"[0-9]+")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_PHONE = re.compile(r"\+?[0-9][0-9 \-()]{3,30}")


def luhn_valid(digits: str) -> bool:
    """True when the last digit is the Luhn check digit of the ones before it."""
    if not digits or not digits.isdigit() or not digits.isascii():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_check_digit(payload: str) -> str:
    """The digit that makes `payload + digit` pass the Luhn check."""
    for d in "0123456789":
        if luhn_valid(payload + d):
            return d
    raise ValueError("payload must be digits")  # pragma: no cover - unreachable for digits


def iccid_problem(iccid: str) -> str | None:
    if not _DIGITS.fullmatch(iccid) or len(iccid) not in (19, 20):
        return "ICCID must be 19 or 20 digits"
    if not luhn_valid(iccid):
        return "ICCID check digit (Luhn) is wrong"
    return None


def imsi_problem(imsi: str) -> str | None:
    if not _DIGITS.fullmatch(imsi) or len(imsi) != 15:
        return "IMSI must be exactly 15 digits"
    return None


def msisdn_problem(msisdn: str) -> str | None:
    if not _DIGITS.fullmatch(msisdn) or not 8 <= len(msisdn) <= 15 or msisdn[0] == "0":
        return "MSISDN must be 8 to 15 digits in E.164 form, without '+' or leading zero"
    return None


def text_problem(value: str, *, required: bool, max_length: int = MAX_TEXT) -> str | None:
    if required and not value.strip():
        return "must not be empty"
    if len(value) > max_length:
        return f"must be at most {max_length} characters"
    if any(unicodedata.category(ch) == "Cc" and ch != "\t" for ch in value):
        return "must not contain control characters"
    return None


def address_problems(address: ShippingAddress, prefix: str = "shippingAddress") -> list[FieldError]:
    problems: list[FieldError] = []

    def check(name: str, value: str | None, *, required: bool) -> None:
        if value is None:
            if required:
                problems.append(FieldError(f"{prefix}.{name}", "is required"))
            return
        p = text_problem(value, required=required)
        if p:
            problems.append(FieldError(f"{prefix}.{name}", p))

    check("recipient", address.recipient, required=True)
    check("company", address.company, required=False)
    check("city", address.city, required=True)
    check("postalCode", address.postal_code, required=True)
    check("region", address.region, required=False)
    if not 1 <= len(address.street) <= MAX_STREET_LINES:
        problems.append(FieldError(f"{prefix}.street", "must have 1 to 3 lines"))
    for i, line in enumerate(address.street):
        p = text_problem(line, required=i == 0)
        if p:
            problems.append(FieldError(f"{prefix}.street.{i}", p))
    if address.country not in COUNTRY_CODES:
        problems.append(
            FieldError(f"{prefix}.country", "must be an ISO 3166-1 alpha-2 code such as DE")
        )
    if address.phone is not None and address.phone != "" and not _PHONE.fullmatch(address.phone):
        problems.append(FieldError(f"{prefix}.phone", "is not a phone number"))
    return problems


def quantity_problem(quantity: int) -> str | None:
    if not MIN_QUANTITY <= quantity <= MAX_QUANTITY:
        return f"must be between {MIN_QUANTITY} and {MAX_QUANTITY}"
    return None


def line_shape_problems(quantities: Sequence[int], prefix: str = "lines") -> list[FieldError]:
    """Checks that need no database: count of lines and quantity ranges."""
    problems: list[FieldError] = []
    if not quantities:
        problems.append(FieldError(prefix, "a purchase order needs at least one line"))
    if len(quantities) > MAX_LINES:
        problems.append(FieldError(prefix, f"at most {MAX_LINES} lines"))
    for i, q in enumerate(quantities):
        p = quantity_problem(q)
        if p:
            problems.append(FieldError(f"{prefix}.{i}.quantity", p))
    return problems


def ship_date_problem(requested: dt.date | None, today: dt.date) -> str | None:
    if requested is not None and requested < today:
        return "must not be in the past"
    return None


def override_problems(
    overrides: Entitlements,
    *,
    allowed: bool,
    catalogue: Catalogue,
    prefix: str = "overrides",
) -> list[FieldError]:
    """Overrides must be switched on, and each value must be in the account's catalogue."""
    if overrides.is_empty():
        return []
    if not allowed:
        return [FieldError(prefix, "overriding the account defaults is switched off")]
    problems: list[FieldError] = []
    by_kind = {
        "pricePlan": (CatalogueKind.PRICE_PLAN, overrides.price_plan),
        "serviceProfile": (CatalogueKind.SERVICE_PROFILE, overrides.service_profile),
        "roamingProfile": (CatalogueKind.ROAMING_PROFILE, overrides.roaming_profile),
        "apnGroup": (CatalogueKind.APN_GROUP, overrides.apn_group),
    }
    for name, (kind, value) in by_kind.items():
        if value is not None and not catalogue.allows(kind, value):
            problems.append(
                FieldError(f"{prefix}.{name}", f"'{value}' is not in the account's catalogue")
            )
    return problems


def catalogue_code_problem(code: str) -> str | None:
    if not _CODE.fullmatch(code):
        return "must be 1 to 64 letters, digits, '_', '.' or '-'"
    return None


def submission_problems(
    *,
    lines: Sequence[OrderLine],
    address: ShippingAddress | None,
    requested_ship_date: dt.date | None,
    overrides: Entitlements,
    overrides_allowed: bool,
    catalogue: Catalogue,
    account_active: bool,
    today: dt.date,
) -> list[FieldError]:
    """Every plausibility check of SPEC section 3, collected rather than stopping at the first."""
    problems = line_shape_problems([line.quantity for line in lines])
    currencies = set()
    seen = set()
    for i, line in enumerate(lines):
        product = line.product
        where = f"lines.{i}.productId"
        if product is None or not product.assigned:
            # The same words for both: products offered to other accounts stay invisible.
            problems.append(FieldError(where, NOT_OFFERED))
            continue
        if product.product_id in seen:
            problems.append(FieldError(where, "the product appears on more than one line"))
        seen.add(product.product_id)
        if not product.active:
            problems.append(FieldError(where, f"product {product.code} is not active"))
        currencies.add(product.currency)
        if product.min_quantity is not None and line.quantity < product.min_quantity:
            problems.append(
                FieldError(f"lines.{i}.quantity", f"must be at least {product.min_quantity}")
            )
        if product.max_quantity is not None and line.quantity > product.max_quantity:
            problems.append(
                FieldError(f"lines.{i}.quantity", f"must be at most {product.max_quantity}")
            )
    if len(currencies) > 1:
        problems.append(FieldError("lines", "all lines must be priced in one currency"))
    if address is None:
        problems.append(FieldError("shippingAddress", "is required"))
    else:
        problems.extend(address_problems(address))
    p = ship_date_problem(requested_ship_date, today)
    if p:
        problems.append(FieldError("requestedShipDate", p))
    problems.extend(override_problems(overrides, allowed=overrides_allowed, catalogue=catalogue))
    if not account_active:
        problems.append(FieldError("accountId", "the account is suspended"))
    return problems


def sim_problems(sims: Sequence[tuple[str, SimIdentity]]) -> list[FieldError]:
    """Format checks of SIM identities, each addressed by its field path, and duplicates."""
    problems: list[FieldError] = []
    seen: dict[str, set[str]] = {"iccid": set(), "imsi": set(), "msisdn": set()}
    for prefix, sim in sims:
        for name, value, check in (
            ("iccid", sim.iccid, iccid_problem),
            ("imsi", sim.imsi, imsi_problem),
            ("msisdn", sim.msisdn, msisdn_problem),
        ):
            where = f"{prefix}.{name}"
            p = check(value)
            if p:
                problems.append(FieldError(where, p))
            elif value in seen[name]:
                problems.append(FieldError(where, f"duplicate {name.upper()} {value}"))
            seen[name].add(value)
    return problems
