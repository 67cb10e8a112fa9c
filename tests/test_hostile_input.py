"""Hostile input, generated: documents, variables, HTTP bodies and headers, from every caller.

Property-based tests (hypothesis, derandomized so CI sees the same examples every run) against
the shared `api` app, on SQLite and PostgreSQL:

- random GraphQL documents built from the real schema (root fields, selections, arguments of
  right and wrong types, aliases, fragments, directives, deep nesting, corrupted text);
- random variables for every real mutation, from nearly valid to junk (huge numbers, unicode,
  nulls, nested garbage), with IDs drawn from real objects of two tenants;
- random raw HTTP requests: bodies, content types, accept headers, authorization headers.

Every request is sent as every caller: the victim tenant's viewer, another tenant's viewer and
purchaser, a warehouse system of another warehouse, no token, a bad token (these may not
change the victim's data), then the victim's purchaser, an agent and an admin (who may).
On every response: no 5xx, every error carries an `extensions.code` of SPEC's list (never
INTERNAL_SERVER_ERROR), no stack trace, source path or driver message, and a caller without a
valid token never hears more than UNAUTHENTICATED (or a refusal of the request itself).
Around the callers who may not touch the victim, every database row about the victim (POs,
lines, history, SIMs, sales orders, charges, account, catalogue, products, stock) and the
configuration must not change; after a request of anyone that applied nothing (refused before
execution, or its one mutation failed), nothing about either tenant may change.

What the properties (and writing them) found is pinned at the end as plain examples.
The module prints how many requests each property sent (run with `-s` to see it);
docs/reliability.md quotes the figures.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from graphql import (
    GraphQLField,
    GraphQLInputType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLOutputType,
    Undefined,
    get_named_type,
    is_abstract_type,
    is_enum_type,
    is_input_object_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, true

import simgql
from simgql.api.ids import encode_id
from simgql.api.schema import schema as strawberry_schema
from simgql.db import models
from simgql.db.engine import Database
from simgql.domain.model import PurchaseOrderStatus, Role
from simgql.domain.validation import luhn_check_digit
from simgql.fulfilment.job import run_once
from tests.client import Actor, GraphQLClient
from tests.factories import ADMIN, AGENT, Tenant, gid, make_po, make_tenant

S = PurchaseOrderStatus
SCHEMA = strawberry_schema._schema

ALLOWED_CODES = frozenset(
    {
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "NOT_FOUND",
        "BAD_USER_INPUT",
        "INVALID_TRANSITION",
        "CONFLICT",
        "INSUFFICIENT_STOCK",
        "RATE_LIMITED",
        "QUERY_TOO_COMPLEX",
    }
)

PROPERTY_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    # No shrinking: the server's state moves on between runs of an example, so shrinking
    # would chase a moving target; a failure reports the example exactly as generated.
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

_SOURCE_DIR = str(Path(simgql.__file__).resolve().parent)
_LEAKS = re.compile(
    "|".join(
        [
            r"Traceback \(most recent call last\)",
            r"File \"[^\"]+\", line \d+",
            r"\.py\", line \d+",
            r"site-packages",
            re.escape(_SOURCE_DIR),
            re.escape(sys.prefix),
            r"sqlalchemy\.",
            r"asyncpg\.",
            r"aiosqlite",
            r"sqlite3\.",
            r"object at 0x[0-9a-f]+",
        ]
    )
)
# What a caller without a valid token may hear: never an answer about the data itself.
UNAUTHENTICATED_CODES = frozenset({"UNAUTHENTICATED", "BAD_USER_INPUT", "QUERY_TOO_COMPLEX"})
_CODE_IN_TEXT = re.compile(r'"code"\s*:\s*"([^"]*)"')


# ---------------------------------------------------------------------------------------------
# The world: a victim tenant with a PO in every status, another tenant, and who calls
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Someone who sends requests: an actor (whose token is minted per example, with the
    account's code as it is then: an admin may have renamed it), no token, or a bad one."""

    name: str
    actor: Actor | None
    may_change_victim: bool


@dataclass
class World:
    victim: Tenant
    attacker: Tenant
    ids: dict[str, list[str]]
    product_codes: list[str]
    restricted: list[Caller]
    privileged: list[Caller]
    bad_tokens: list[str]
    configuration: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"World(victim={self.victim.code}, other tenant={self.attacker.code})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints the arguments of a failing example; a long repr would trip its
        # "overly large repr" warning, which filterwarnings=error turns into an error.
        printer.text(repr(self))

    async def tokens(self, api: GraphQLClient, db: Database) -> dict[str, str | None]:
        """The token of every caller now; enterprise tokens name the account's current code."""
        async with db.read() as session:
            rows = await session.execute(
                select(models.Account.code, models.Account.id).where(
                    models.Account.id.in_([self.victim.account_id, self.attacker.account_id])
                )
            )
            codes = {account_id: code for code, account_id in rows.all()}
        by_code = {t.code: codes.get(t.account_id, t.code) for t in (self.victim, self.attacker)}
        tokens: dict[str, str | None] = {}
        for caller in self.restricted + self.privileged:
            actor = caller.actor
            if actor is not None and actor.account is not None:
                actor = replace(actor, account=by_code[actor.account])
            tokens[caller.name] = None if actor is None else api.token(actor)
        return tokens

    def any_ids(self) -> list[str]:
        return [i for pool in self.ids.values() for i in pool]


VICTIM_STATUSES = [
    (S.DRAFT, False),
    (S.SUBMITTED, False),
    (S.ACCEPTED, False),
    (S.REJECTED, False),
    (S.PROVISIONING, False),
    (S.PROVISIONING, True),
    (S.READY, True),
    (S.SHIPPED, True),
    (S.CLOSED, True),
    (S.CANCELLED, False),
]
ATTACKER_STATUSES = [(S.DRAFT, False), (S.SUBMITTED, False), (S.PROVISIONING, False)]

CONFIGURATION = """
  configuration {
    allowAccountDefaultOverride salesOrderFraudCheckRequired
    salesOrderFraudDenyNames salesOrderFraudDenyAddressFragments
  }
"""
SET_CONFIGURATION = """
mutation($input: SetConfigurationInput!) {
  setConfiguration(input: $input) { configuration { allowAccountDefaultOverride } }
}
"""
IDS_OF_PO = """
query($id: ID!) {
  purchaseOrder(id: $id) {
    lines { id sims { id } product { code } }
    salesOrders { id }
  }
}
"""


def _signed(secret: str, **claims: Any) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def _bad_tokens(api: GraphQLClient, victim: Tenant) -> list[str]:
    """Tokens that must be UNAUTHENTICATED: forged, expired, unsigned, odd claims."""
    now = int(dt.datetime.now(dt.UTC).timestamp())
    later = now + 3600
    signed = api.secret
    good = api.token(victim.purchaser)
    head, _payload, _signature = good.split(".")
    return [
        "garbage",
        "a.b.c",
        good + "x",
        head + ".e30.",
        api.token(victim.purchaser, ttl=-dt.timedelta(minutes=1)),
        _signed(
            "another-secret-of-sufficient-length-0123456789", sub="m", role="SP_ADMIN", exp=later
        ),
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
        + "eyJzdWIiOiJtIiwicm9sZSI6IlNQX0FETUlOIiwiZXhwIjo0MTAyNDQ0ODAwfQ.",
        _signed(signed, sub="m", role="ROOT", exp=later),
        _signed(signed, sub="m", role=["SP_ADMIN"], exp=later),
        _signed(signed, sub="m", role="ENTERPRISE_VIEWER", exp=later),
        _signed(signed, sub="m", role="ENTERPRISE_VIEWER", account=["x"], exp=later),
        _signed(signed, sub="m", role="ENTERPRISE_VIEWER", account="NO-SUCH-ACCOUNT", exp=later),
        _signed(signed, sub=["m"], role="SP_AGENT", exp=later),
        _signed(signed, sub="m" * 500, role="SP_AGENT", exp=later),
        _signed(signed, sub="", role="SP_AGENT", exp=later),
        _signed(signed, sub="m", role="WAREHOUSE", warehouse=42, exp=later),
        _signed(signed, sub="m", role="SP_AGENT"),
        _signed(signed, sub="m", role="SP_AGENT", exp="tomorrow"),
        "Bearer " + good,
        "x" * 20_000,
    ]


async def _ids_of(api: GraphQLClient, po_gid: str) -> dict[str, Any]:
    po: dict[str, Any] = (await api.run(AGENT, IDS_OF_PO, {"id": po_gid})).ok()["purchaseOrder"]
    return po


async def _build_world(api: GraphQLClient, db: Database) -> World:
    victim = await make_tenant(db, stock=1_000)
    attacker = await make_tenant(db, stock=1_000)
    victim_pos = [gid(await make_po(db, victim, s, assign=a)) for s, a in VICTIM_STATUSES]
    attacker_pos = [gid(await make_po(db, attacker, s, assign=a)) for s, a in ATTACKER_STATUSES]
    await run_once(db)  # the waiting sales orders become AWAITING_DISPATCH
    lines, sims, sales_orders, codes = [], [], [], set()
    for po in victim_pos + attacker_pos:
        found = await _ids_of(api, po)
        for line in found["lines"]:
            lines.append(line["id"])
            codes.add(line["product"]["code"])
            sims += [s["id"] for s in line["sims"]]
        sales_orders += [so["id"] for so in found["salesOrders"]]
    ids = {
        "PurchaseOrder": victim_pos + attacker_pos,
        "Account": [victim.gid, attacker.gid],
        "Product": [t.product_gid(i) for t in (victim, attacker) for i in (0, 1)],
        "Line": lines,
        "SalesOrder": sales_orders,
        "Warehouse": [encode_id("Warehouse", t.warehouse_id) for t in (victim, attacker)],
        "Sim": sims,
    }
    warehouse = Actor(
        Role.WAREHOUSE, f"wms@{attacker.warehouse_code}", warehouse=attacker.warehouse_code
    )
    bad = _bad_tokens(api, victim)
    restricted = [
        Caller("victim viewer", victim.viewer, False),
        Caller("other tenant's viewer", attacker.viewer, False),
        Caller("other tenant's purchaser", attacker.purchaser, False),
        Caller("warehouse of another warehouse", warehouse, False),
        Caller("no token", None, False),
        Caller("bad token", None, False),  # the token itself is drawn per example
    ]
    privileged = [
        Caller("victim purchaser", victim.purchaser, True),
        Caller("agent", AGENT, True),
        Caller("admin", ADMIN, True),
    ]
    return World(victim, attacker, ids, sorted(codes), restricted, privileged, bad)


@pytest.fixture(scope="module")
def tally(database_url: str) -> Iterator[Counter[str]]:
    """The requests this module's properties sent on this backend, printed at the end."""
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    counts: Counter[str] = Counter()
    yield counts
    if counts:
        figures = ", ".join(f"{name}: {n}" for name, n in sorted(counts.items()))
        print(f"\nhostile input on {backend}: {sum(counts.values())} requests ({figures})")


@pytest.fixture
async def world(api: GraphQLClient, db: Database) -> Any:
    """Two fresh tenants with POs in every status; the configuration is restored afterwards."""
    built = await _build_world(api, db)
    built.configuration = (await api.run(ADMIN, "{" + CONFIGURATION + "}")).ok()["configuration"]
    yield built
    restored = await api.run(ADMIN, SET_CONFIGURATION, {"input": built.configuration})
    assert not restored.errors, restored.body


# ---------------------------------------------------------------------------------------------
# Sending and checking
# ---------------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    content_type: str
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def _errors_in(reply: Reply) -> list[Any]:
    """Every GraphQL error object of a response: JSON, SSE or multipart."""
    if reply.content_type.startswith("application/json") or reply.content_type.startswith(
        "application/graphql-response+json"
    ):
        if not reply.text:
            return []
        body = reply.json()
        assert isinstance(body, dict), reply.text[:500]
        assert "data" in body or "errors" in body, reply.text[:500]
        errors = body.get("errors") or []
        assert isinstance(errors, list), reply.text[:500]
        return errors
    errors: list[Any] = []
    for line in reply.text.splitlines():  # SSE "data: {...}" lines, multipart JSON parts
        line = line.removeprefix("data:").strip()
        if not line.startswith("{"):
            continue
        message = json.loads(line)
        payload = message.get("payload") or message  # multipart wraps results in `payload`
        errors += payload.get("errors") or []
    return errors


def check_reply(reply: Reply) -> None:
    """What no request may ever get: a 5xx, an error without a known code, internals."""
    assert reply.status < 500, (reply.status, reply.text[:2000])
    leak = _LEAKS.search(reply.text)
    assert leak is None, f"response leaks internals ({leak.group(0)!r}): {reply.text[:2000]}"
    for error in _errors_in(reply):
        assert isinstance(error, dict), reply.text[:2000]
        code = (error.get("extensions") or {}).get("code")
        assert code in ALLOWED_CODES, (code, reply.text[:2000])
        assert isinstance(error.get("message"), str), reply.text[:2000]
    for code in _CODE_IN_TEXT.findall(reply.text):
        assert code != "INTERNAL_SERVER_ERROR", reply.text[:2000]


def _auth(token: str | None) -> dict[str, str]:
    return {} if token is None else {"authorization": f"Bearer {token}"}


async def post_graphql(
    api: GraphQLClient,
    token: str | None,
    query: str,
    variables: Any,
    counts: Counter[str],
    what: str,
) -> Reply:
    body = json.dumps({"query": query, "variables": variables}, allow_nan=True)
    response = await api.http.post(
        api.path,
        content=body.encode(),
        headers={"content-type": "application/json", **_auth(token)},
    )
    counts[what] += 1
    return _reply(response)


def _reply(response: httpx.Response) -> Reply:
    return Reply(response.status_code, response.headers.get("content-type", ""), response.text)


async def snapshot(
    db: Database, world: World, *, victim_only: bool = False
) -> dict[str, list[tuple[str, ...]]]:
    """Every row about the tenants (POs, lines, history, SIMs, sales orders, charges, account,
    catalogue, products, stock) and the configuration, read straight from the database.
    `victim_only`: the victim's rows (the other tenant may change its own)."""
    tenants = [world.victim] if victim_only else [world.victim, world.attacker]
    accounts = [t.account_id for t in tenants]
    products = [p for t in tenants for p in t.product_ids]
    warehouses = [t.warehouse_id for t in tenants]
    po_ids = select(models.PurchaseOrder.id).where(models.PurchaseOrder.account_id.in_(accounts))
    so_ids = select(models.SalesOrder.id).where(models.SalesOrder.account_id.in_(accounts))
    queries: dict[str, tuple[Any, Any]] = {
        "accounts": (models.Account, models.Account.id.in_(accounts)),
        "catalogue": (models.CatalogueEntry, models.CatalogueEntry.account_id.in_(accounts)),
        "assignments": (
            models.ProductAssignment,
            models.ProductAssignment.account_id.in_(accounts),
        ),
        "products": (models.Product, models.Product.id.in_(products)),
        "configuration": (models.ConfigItem, true()),
        "purchase orders": (models.PurchaseOrder, models.PurchaseOrder.account_id.in_(accounts)),
        "lines": (models.PurchaseOrderLine, models.PurchaseOrderLine.purchase_order_id.in_(po_ids)),
        "history": (models.StatusEvent, models.StatusEvent.account_id.in_(accounts)),
        "sims": (models.Sim, models.Sim.account_id.in_(accounts)),
        "sales orders": (models.SalesOrder, models.SalesOrder.account_id.in_(accounts)),
        "sales order lines": (
            models.SalesOrderLine,
            models.SalesOrderLine.sales_order_id.in_(so_ids),
        ),
        "charges": (models.Charge, models.Charge.account_id.in_(accounts)),
        "stock": (models.Stock, models.Stock.warehouse_id.in_(warehouses)),
    }
    out: dict[str, list[tuple[str, ...]]] = {}
    async with db.read() as session:
        for name, (model, condition) in queries.items():
            # `published_at` is the outbox's bookkeeping, not data anyone sees.
            columns = [c for c in model.__table__.columns if c.name != "published_at"]
            rows = (await session.execute(select(*columns).where(condition))).all()
            out[name] = sorted(tuple(repr(v) for v in row) for row in rows)
    return out


def applied_nothing(reply: Reply, root_fields: int) -> bool:
    """Whether the request certainly changed nothing: refused before execution, or its one
    root field failed."""
    if reply.status != 200 or not reply.content_type.startswith("application/json"):
        return reply.status >= 400
    body = reply.json()
    errors = body.get("errors") or []
    if not errors:
        return False
    if all(not e.get("path") for e in errors):
        return True
    data = body.get("data")
    return root_fields == 1 and (data is None or all(v is None for v in data.values()))


async def probe_every_caller(
    api: GraphQLClient,
    db: Database,
    world: World,
    send: Any,
    *,
    bad_token: str,
    may_change: bool,
    root_fields: int,
) -> None:
    """Send one request as every caller; check each reply and what each may have changed."""
    tokens = await world.tokens(api, db)
    before = await snapshot(db, world, victim_only=True)
    for caller in world.restricted:
        token = bad_token if caller.name == "bad token" else tokens[caller.name]
        reply = await send(token)
        check_reply(reply)
        if caller.name in ("bad token", "no token"):
            codes = {e.get("extensions", {}).get("code") for e in _errors_in(reply)}
            assert codes <= UNAUTHENTICATED_CODES, (caller.name, reply.text[:2000])
    after = await snapshot(db, world, victim_only=True)
    assert after == before, "a caller who may not touch the victim changed something"
    before = await snapshot(db, world)
    for caller in world.privileged:
        reply = await send(tokens[caller.name])
        check_reply(reply)
        after = await snapshot(db, world)
        if not may_change or applied_nothing(reply, root_fields):
            assert after == before, (caller.name, reply.text[:2000])
        before = after


# ---------------------------------------------------------------------------------------------
# Strategies: values for the schema's input types, from nearly valid to junk
# ---------------------------------------------------------------------------------------------

JUNK_STRINGS = [
    "",
    " ",
    "\x00",
    "\t\n",
    "null",
    "undefined",
    "' OR 1=1 --",
    '"; DROP TABLE purchase_orders; --',
    "%s%s%s%n",
    "{{7*7}}",
    "${jndi:ldap://127.0.0.1/x}",
    "<script>alert(1)</script>",
    "../../../../etc/passwd",
    "\u202egnp.exe",
    "\ufeff",
    "🙂" * 60,
    "١٢٣٤",
    "\U0001d7d9\U0001d7da\U0001d7db",
    "ÄÖÜß",
    "NaN",
    "Infinity",
    "-0",
    "1e309",
    "0x10",
    "\\u0000",
    "a" * 199,
    "a" * 200,
    "a" * 201,
    "n" * 2_001,
    "z" * 100_000,
]
TEXT = st.one_of(
    st.sampled_from(JUNK_STRINGS),
    st.text(max_size=24),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=8),
)
PLAIN_TEXT = st.text(
    alphabet=st.characters(categories=["L", "N", "Zs"], max_codepoint=0x2FFF),
    min_size=1,
    max_size=20,
).filter(str.strip)
GARBAGE = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from([2**31, -(2**31) - 1, 2**53 + 1, 2**63, 10**40, -(10**40)]),
        st.floats(allow_nan=True, allow_infinity=True),
        TEXT,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["id", "input", "lines", "a", "", "__proto__"]), inner, max_size=3
        ),
    ),
    max_leaves=6,
)
HUGE_INTS = st.sampled_from([2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**53 + 1, 2**63, 10**30])
WRONG_LITERALS = [
    '"text"',
    "42",
    "4.5",
    "-1",
    "true",
    "null",
    "[1, 2]",
    "{a: 1}",
    "SOME_ENUM",
    "$undeclared",
    "99999999999999999999999",
    '"""block\nstring"""',
    "[[[[[]]]]]",
    "{}",
]

# Text the schema would accept, per input field name.
TEXT_BY_FIELD: dict[str, list[str]] = {
    "country": ["DE", "de", "FR", "US", "XX", "DEU", "Germany", "D", "ÄÖ"],
    "currency": ["EUR", "USD", "eur", "XXX", "EURO"],
    "unitPrice": [
        "1.50",
        "0",
        "0.0001",
        "-1",
        "1e3",
        "NaN",
        "Infinity",
        "1.5.5",
        "9" * 30,
        " 2.50 ",
        "\uff11.\uff15",
    ],
    "pricePlan": ["PP-S", "PP-M", "PP-XXL"],
    "serviceProfile": ["SP-DATA", "SP-VOICE"],
    "roamingProfile": ["RP-EU", "RP-WORLD", "RP-MARS"],
    "apnGroup": ["APN-1", "APN-9"],
    "codes": ["PP-S", "PP-M", "SP-DATA", "RP-EU", "APN-1", "NEW-CODE"],
    "recipient": ["Jane Doe", "Mallory"],
    "city": ["Hamburg", "Köln"],
    "postalCode": ["20457", "00000"],
    "street": ["Hafenstrasse 1", "1 Main St"],
    "phone": ["+49 40 123456", "call me maybe", "+0"],
    "carrier": ["DHL", "UPS"],
    "trackingNumber": ["JD0001", "1Z999"],
    "reason": ["out of stock", "customer withdrew"],
    "note": ["ok", "please hurry"],
    "code": ["ACME", "P-NEW", "WH-NEW"],
    "name": ["Acme", "New product"],
}
INTS_BY_FIELD: dict[str, Any] = {
    "quantity": st.one_of(st.integers(1, 3), st.sampled_from([0, -1, 100_000, 100_001])),
    "expectedVersion": st.integers(0, 12),
    "onHand": st.one_of(st.integers(0, 2_000), st.just(-1)),
    "minQuantity": st.integers(-1, 5),
    "maxQuantity": st.integers(-1, 5),
    "first": st.one_of(st.integers(-1, 5), st.sampled_from([100, 101])),
    "number": st.integers(0, 200_000),
}
DATES = st.one_of(
    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2200, 1, 1)).map(dt.date.isoformat),
    st.sampled_from(
        [
            "2099-12-31",
            "1970-01-01",
            "2024-02-30",
            "0000-00-00",
            "9999-12-31",
            "today",
            "+275760-09-13",
            "2030-1-1",
        ]
    ),
)
DATETIMES = st.one_of(
    st.datetimes(
        min_value=dt.datetime(2000, 1, 1),
        max_value=dt.datetime(2100, 1, 1),
        timezones=st.just(dt.UTC),
    ).map(dt.datetime.isoformat),
    st.sampled_from(
        [
            "2030-01-02T03:04:05+01:00",
            "2020-01-01T00:00:00Z",
            "2020-01-01T00:00:00",
            "9999-12-31T23:59:59+14:00",
            "0001-01-01T00:00:00-14:00",
            "2020-13-45T99:99:99",
            "yesterday",
        ]
    ),
)
ID_KIND_BY_FIELD = {
    "productId": "Product",
    "accountId": "Account",
    "lineId": "Line",
    "salesOrderId": "SalesOrder",
    "warehouseId": "Warehouse",
    "purchaseOrderId": "PurchaseOrder",
}
ID_KIND_BY_TYPE = {
    "UpdateProductInput": "Product",
    "UpdateAccountInput": "Account",
    "product": "Product",
    "account": "Account",
    "salesOrder": "SalesOrder",
    "node": "Sim",
}


def _pct(draw: Any, percent: int) -> bool:
    return bool(draw(st.integers(0, 99)) < percent)


@st.composite
def sim_identity(draw: Any, kind: str) -> str:
    """A well-formed identifier (ICCID with a valid Luhn digit), from a number space that the
    factories never use, so other tests' SIMs are never taken."""
    n = draw(st.integers(0, 10**9))
    if kind == "iccid":
        payload = f"8933{n:014d}"
        return payload + luhn_check_digit(payload)
    return f"20801{n:010d}" if kind == "imsi" else f"3361{n:010d}"


@st.composite
def id_value(draw: Any, world: World, kind: str, messy: bool) -> str:
    """An ID: mostly of the kind the field wants, else of another kind, of nothing, or junk."""
    choice = draw(st.integers(0, 99))
    pool = world.ids.get(kind) or world.ids["PurchaseOrder"]
    if choice < (70 if messy else 90):
        return str(draw(st.sampled_from(pool)))
    if choice < 85 or not messy:
        return str(draw(st.sampled_from(world.any_ids())))
    if choice < 93:
        type_name = draw(st.sampled_from([*world.ids, "Nothing", ""]))
        return encode_id(type_name, uuid.UUID(int=draw(st.integers(0, 2**128 - 1))))
    return str(draw(st.one_of(TEXT, st.sampled_from(["UHJvZHVjdDo0Mg", "!!!!", "=" * 8]))))


@st.composite
def text_value(draw: Any, world: World, field_name: str, messy: bool) -> str:
    if field_name in ("iccid", "imsi", "msisdn") and _pct(draw, 85):
        return str(draw(sim_identity(field_name)))
    if field_name == "productCode" and _pct(draw, 85):
        return str(draw(st.sampled_from(world.product_codes)))
    known = TEXT_BY_FIELD.get(field_name)
    if known and _pct(draw, 50 if messy else 95):
        return str(draw(st.sampled_from(known)))
    if not messy and _pct(draw, 90):
        return str(draw(PLAIN_TEXT))
    return str(draw(TEXT))


@st.composite
def input_value(
    draw: Any,
    world: World,
    gtype: GraphQLInputType,
    owner: str,
    field_name: str,
    messy: bool,
    depth: int = 0,
    non_null: bool = False,
) -> Any:
    """A JSON value for an input type. Not messy: of the right shape (its strings, numbers and
    IDs may still be refused by the server's own checks). Messy: now and then anything."""

    def mess(percent: int) -> bool:
        return messy and _pct(draw, percent)

    if depth > 6 or mess(5):
        return draw(GARBAGE)
    if is_non_null_type(gtype):
        if mess(2):
            return None
        return draw(
            input_value(world, gtype.of_type, owner, field_name, messy, depth, non_null=True)  # type: ignore[attr-defined]
        )
    if not non_null and _pct(draw, 6 if messy else 2):
        return None
    if is_list_type(gtype):
        items = [
            draw(input_value(world, gtype.of_type, owner, field_name, messy, depth + 1))  # type: ignore[attr-defined]
            for _ in range(draw(st.integers(0, 3) if messy else st.integers(1, 2)))
        ]
        if len(items) == 1 and mess(20):
            return items[0]  # a single value where a list is expected is coerced
        return items
    if is_input_object_type(gtype):
        out: dict[str, Any] = {}
        for name, input_field in gtype.fields.items():  # type: ignore[attr-defined]
            required = is_non_null_type(input_field.type) and input_field.default_value is Undefined
            chance = 10 if name == "expectedVersion" and not messy else 45
            if required or _pct(draw, chance):
                out[name] = draw(
                    input_value(world, input_field.type, gtype.name, name, messy, depth + 1)  # type: ignore[attr-defined]
                )
        if mess(4):
            out[draw(st.sampled_from(["planet", "id", "__typename", "Lines"]))] = draw(GARBAGE)
        if out and mess(4):
            del out[draw(st.sampled_from(sorted(out)))]  # a required field may go missing
        return out
    if is_enum_type(gtype):
        names = list(gtype.values)  # type: ignore[attr-defined]
        if mess(10):
            return draw(st.sampled_from(["LOST", "draft", "", "0"]))
        return draw(st.sampled_from(names))
    scalar = get_named_type(gtype).name
    if scalar == "ID":
        kind = ID_KIND_BY_FIELD.get(field_name) or ID_KIND_BY_TYPE.get(owner) or "PurchaseOrder"
        return draw(id_value(world, kind, messy))
    if scalar == "Int":
        return draw(HUGE_INTS if mess(15) else INTS_BY_FIELD.get(field_name, st.integers(-3, 10)))
    if scalar == "Boolean":
        return draw(st.booleans())
    if scalar == "Date":
        return draw(DATES)
    if scalar == "DateTime":
        return draw(DATETIMES)
    return draw(text_value(world, field_name, messy))


def to_literal(value: Any, gtype: GraphQLInputType | None) -> str:
    """A Python value as a GraphQL literal (enum names bare; everything else as typed)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # nan and inf become names: a coercion error, as it should be
    named = get_named_type(gtype) if gtype is not None else None
    if isinstance(value, str):
        if named is not None and is_enum_type(named) and re.fullmatch(r"[_A-Za-z]\w*", value):
            return value
        return json.dumps(value)
    inner = gtype
    while inner is not None and is_non_null_type(inner):
        inner = inner.of_type  # type: ignore[attr-defined]
    if isinstance(value, list):
        item_type = inner.of_type if inner is not None and is_list_type(inner) else inner  # type: ignore[attr-defined]
        return "[" + ", ".join(to_literal(v, item_type) for v in value) + "]"
    fields = inner.fields if inner is not None and is_input_object_type(inner) else {}  # type: ignore[attr-defined]
    parts = []
    for key, v in value.items():
        name = key if re.fullmatch(r"[_A-Za-z]\w*", key) else json.dumps(key)
        sub = fields[key].type if key in fields else None
        parts.append(f"{name}: {to_literal(v, sub)}")
    return "{" + ", ".join(parts) + "}"


# ---------------------------------------------------------------------------------------------
# Strategies: GraphQL documents built from the real schema
# ---------------------------------------------------------------------------------------------

DIRECTIVES = [
    "@include(if: true)",
    "@skip(if: false)",
    "@skip(if: true)",
    "@include(if: $flag)",
    "@include",
    '@include(if: "yes")',
    "@deprecated",
    '@specifiedBy(url: "x")',
    "@oneOf",
    "@defer",
    "@stream(initialCount: 1)",
    "@nope",
]
UNKNOWN_FIELDS = ["secretField", "password", "constructor", "__proto__", "__type", "id"]
ALIASES = ["a", "b", "po", "me", "id", "status", "x0"]


@dataclass
class Document:
    text: str
    variables: dict[str, Any]
    operation: str
    root_fields: int
    messy: bool

    def __repr__(self) -> str:  # what a failing example shows
        return (
            f"Document(operation={self.operation!r}, variables={_short(self.variables)},"
            f" text=\n{self.text[:3000]}\n)"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def _short(value: Any, limit: int = 3000) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class _Builder:
    """One random document: operations, selections, arguments, fragments, directives.

    Half the documents are "clean" (valid against the schema; their values may still be
    refused by the server's own checks), half "messy" (with now and then a wrong literal, a
    missing or unknown argument or field, a bad directive, a fragment on the wrong type...).
    """

    def __init__(self, draw: Any, world: World) -> None:
        self.draw = draw
        self.world = world
        self.messy = _pct(draw, 50)
        self.variables: dict[str, Any] = {}
        self.definitions: list[str] = []
        self.fragments: list[str] = []
        self.aliases = 0
        deep = st.integers(6, 16) if self.messy else st.integers(6, 12)
        self.max_depth = draw(st.one_of(st.integers(1, 5), deep))
        self.budget = draw(st.integers(5, 60))

    def pct(self, percent: int) -> bool:
        return _pct(self.draw, percent)

    def mess(self, percent: int) -> bool:
        return self.messy and self.pct(percent)

    def variable(self, declared: str, value: Any) -> str:
        name = f"v{len(self.variables)}"
        self.variables[name] = value
        self.definitions.append(f"${name}: {declared}")
        return f"${name}"

    def argument_value(self, gtype: GraphQLInputType, owner: str, name: str) -> str:
        if self.mess(12):
            return str(self.draw(st.sampled_from(WRONG_LITERALS)))
        value = self.draw(input_value(self.world, gtype, owner, name, self.messy))
        if self.pct(25):
            declared = str(gtype)
            if self.mess(15):
                declared = self.draw(st.sampled_from(["String", "Int!", "[ID]", "Boolean", "Nope"]))
            return self.variable(declared, value)
        return to_literal(value, gtype)

    def arguments(self, definition: GraphQLField, field_name: str) -> str:
        parts = []
        for name, argument in definition.args.items():
            required = is_non_null_type(argument.type) and argument.default_value is Undefined
            if name == "after" and not self.messy:
                continue  # a made-up cursor is refused: clean documents leave it out
            if (required and not self.mess(8)) or self.pct(40):
                parts.append(f"{name}: {self.argument_value(argument.type, field_name, name)}")
        if self.mess(4):
            parts.append(f"bogus: {self.draw(st.sampled_from(WRONG_LITERALS))}")
        if parts and self.mess(3):
            parts.append(parts[0])  # the same argument twice
        return f"({', '.join(parts)})" if parts else ""

    def directives(self) -> str:
        if not self.pct(10 if self.messy else 3):
            return ""
        choices = DIRECTIVES if self.messy else DIRECTIVES[:4]
        directive = self.draw(st.sampled_from(choices))
        if "$flag" in directive:
            flag = self.draw(st.one_of(st.booleans(), GARBAGE) if self.messy else st.booleans())
            directive = directive.replace("$flag", self.variable("Boolean!", flag))
        repeat = self.draw(st.sampled_from([1, 1, 1, 2, 60])) if self.messy else 1
        return " " + " ".join([directive] * repeat)

    def alias(self) -> str:
        if not self.pct(12):
            return ""
        if self.messy:
            return f"{self.draw(st.sampled_from(ALIASES))}: "
        self.aliases += 1
        return f"alias{self.aliases}: "

    def field(
        self, parent: GraphQLNamedType, name: str, depth: int, alias: str | None = None
    ) -> str:
        self.budget -= 1
        definition: GraphQLField | None = getattr(parent, "fields", {}).get(name)
        alias = self.alias() if alias is None else alias
        if definition is None:
            return f"{alias}{name}{self.directives()}"
        text = f"{alias}{name}{self.arguments(definition, name)}{self.directives()}"
        return text + self.selection(definition.type, depth + 1)

    def selection(self, gtype: GraphQLOutputType, depth: int) -> str:
        named = get_named_type(gtype)
        if is_leaf_type(named):
            return " { id }" if self.mess(2) else ""
        if self.mess(2):
            return ""  # an object without a selection
        return " { " + " ".join(self.selections(named, depth)) + " }"

    def selections(self, parent: GraphQLNamedType, depth: int) -> list[str]:
        fields: dict[str, GraphQLField] = getattr(parent, "fields", {})
        names = sorted(fields)
        leaves = [n for n in names if is_leaf_type(get_named_type(fields[n].type))]
        deep = depth >= self.max_depth or self.budget <= 0
        pool = (leaves or ["__typename"]) if deep else names
        chosen = self.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
        out = [self.field(parent, n, depth) for n in chosen]
        if self.pct(8):
            out.append("__typename")
        if self.mess(3):
            out.append(self.draw(st.sampled_from(UNKNOWN_FIELDS)))
        if not deep and self.pct(8):
            out.append(self.inline_fragment(parent, depth))
        if not deep and self.pct(8):
            out.append(self.fragment_spread(parent, depth))
        return out

    def type_condition(self, parent: GraphQLNamedType) -> GraphQLNamedType:
        if is_abstract_type(parent) and self.pct(80):
            possible = SCHEMA.get_possible_types(parent)  # type: ignore[arg-type]
            return self.draw(st.sampled_from(sorted(possible, key=lambda t: t.name)))  # type: ignore[no-any-return]
        if not self.mess(15):
            return parent
        objects = sorted(
            (
                t
                for t in SCHEMA.type_map.values()
                if is_object_type(t) and not t.name.startswith("__")
            ),
            key=lambda t: t.name,
        )
        return self.draw(st.sampled_from(objects))  # type: ignore[no-any-return]

    def inline_fragment(self, parent: GraphQLNamedType, depth: int) -> str:
        condition = self.type_condition(parent)
        inner = " ".join(self.selections(condition, depth + 1))
        return f"... on {condition.name}{self.directives()} {{ {inner} }}"

    def fragment_spread(self, parent: GraphQLNamedType, depth: int) -> str:
        name = f"F{len(self.fragments)}"
        if self.mess(5):
            return "...Undefined"
        condition = self.type_condition(parent)
        self.fragments.append("")  # reserve the name before recursing
        body = " ".join(self.selections(condition, depth + 1))
        if self.mess(3):
            body += f" ...{name}"  # a fragment that spreads itself
        self.fragments[int(name[1:])] = f"fragment {name} on {condition.name} {{ {body} }}"
        return f"...{name}{self.directives()}"

    def root_selection(self, root: GraphQLObjectType) -> tuple[str, int]:
        names = sorted(root.fields)
        if self.pct(4):
            # Many aliases of one field: the alias limit (30) must refuse it.
            name = self.draw(st.sampled_from(names))
            count = self.draw(st.sampled_from([31, 40]))
            body = " ".join(self.field(root, name, 1, alias=f"a{i}: ") for i in range(count))
            return body, count
        chosen = self.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
        parts = [self.field(root, n, 1) for n in chosen]
        if root is SCHEMA.query_type and self.pct(5):
            parts.append(
                self.draw(
                    st.sampled_from(
                        [
                            "__typename",
                            "__schema { types { name } }",
                            '__type(name: "PurchaseOrder") { fields { name } }',
                        ]
                    )
                )
            )
        if self.mess(3):
            parts.append(self.draw(st.sampled_from(UNKNOWN_FIELDS)))
        return " ".join(parts), len(parts)


def _corrupt(draw: Any, text: str) -> str:
    """The text with a character inserted, one removed, or cut short."""
    at = draw(st.integers(0, len(text)))
    how = draw(st.sampled_from(["insert", "remove", "cut"]))
    if how == "insert":
        return text[:at] + draw(st.sampled_from(list('{}()[]$@!:"\\#.\x00…'))) + text[at:]
    if how == "remove":
        return text[:at] + text[at + 1 :]
    return text[:at]


@st.composite
def documents(draw: Any, world: World) -> Document:
    builder = _Builder(draw, world)
    operation = draw(
        st.sampled_from(["query", "query", "shorthand", "mutation", "mutation", "subscription"])
    )
    root_type = {
        "query": SCHEMA.query_type,
        "shorthand": SCHEMA.query_type,
        "mutation": SCHEMA.mutation_type,
        "subscription": SCHEMA.subscription_type,
    }[operation]
    assert root_type is not None
    body, root_fields = builder.root_selection(root_type)
    on_operation = builder.directives() if builder.messy else ""
    head = "" if operation == "shorthand" else operation
    if head and _pct(draw, 20):
        head += " Op"
    if builder.definitions:
        head = (head or "query") + "(" + ", ".join(builder.definitions) + ")"
    text = f"{head}{on_operation} {{ {body} }}"
    if builder.mess(5):
        text += " query Second { me { sub } }"  # two operations and no operationName
    text = "\n".join([text, *builder.fragments])
    if builder.mess(8):
        text = _corrupt(draw, text)
    return Document(text, builder.variables, operation, root_fields, builder.messy)


@st.composite
def mutation_requests(draw: Any, world: World) -> Document:
    """One real mutation with variables for its `input`, from nearly valid to junk."""
    mutation_type = SCHEMA.mutation_type
    assert mutation_type is not None
    messy = _pct(draw, 50)
    name = draw(st.sampled_from(sorted(mutation_type.fields)))
    definition = mutation_type.fields[name]
    argument = definition.args["input"]
    payload = get_named_type(definition.type)
    (result_field,) = payload.fields  # type: ignore[attr-defined]
    result_type = get_named_type(payload.fields[result_field].type)  # type: ignore[attr-defined]
    wanted = [
        f
        for f in ("id", "status", "version", "code", "allowAccountDefaultOverride")
        if f in result_type.fields  # type: ignore[attr-defined]
    ]
    declared = str(argument.type)
    if messy and _pct(draw, 10):
        declared = draw(st.sampled_from([declared.rstrip("!"), "String!", "JSON!"]))
    text = (
        f"mutation($input: {declared}) {{ {name}(input: $input) "
        f"{{ {result_field} {{ {' '.join(wanted) or '__typename'} }} }} }}"
    )
    if messy and _pct(draw, 10):
        variables: Any = draw(GARBAGE)  # the variables themselves are junk
    else:
        variables = {"input": draw(input_value(world, argument.type, name, "input", messy))}
        if messy and _pct(draw, 5):
            variables["extra"] = draw(GARBAGE)
    return Document(text, variables, "mutation", 1, messy)


# ---------------------------------------------------------------------------------------------
# Strategies: raw HTTP requests
# ---------------------------------------------------------------------------------------------

CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/graphql-response+json",
    "application/graphql",
    "text/plain",
    "multipart/form-data; boundary=xyz",
    "application/x-www-form-urlencoded",
    "application/jsonx",
    "",
    "*/*",
    "application/json\x7f",
]
ACCEPTS = [
    None,
    "application/json",
    "application/graphql-response+json",
    "*/*",
    "text/html",
    "text/html, */*",
    "text/event-stream",
    'multipart/mixed;subscriptionSpec="1.0"',
    "multipart/mixed; deferSpec=20220824",
    "image/png",
    "garbage;;;==",
]
EXTRA_HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "x-forwarded-for",
            "origin",
            "cookie",
            "x-request-id",
            "content-encoding",
            "accept-encoding",
            "x-apollo-operation-name",
            "graphql-require-preflight",
        ]
    ),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    max_size=3,
)


@dataclass
class RawRequest:
    method: str
    params: dict[str, str]
    content: bytes
    headers: dict[str, str]
    auth: str  # which caller's token, or a kind of junk

    def __repr__(self) -> str:
        return (
            f"RawRequest({self.method} params={_short(self.params)} headers={self.headers!r}"
            f" auth={self.auth!r} content={_short(self.content)})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


@st.composite
def request_objects(draw: Any, world: World) -> Any:
    """A JSON request object, or something that looks a bit like one."""
    doc = draw(documents(world))
    if doc.operation == "subscription":
        doc = Document(
            "{ me { sub } }", {}, "query", 1, False
        )  # streams never end: not over raw HTTP
    out: dict[str, Any] = {}
    if _pct(draw, 90):
        out["query"] = doc.text if _pct(draw, 80) else draw(GARBAGE)
    if _pct(draw, 60):
        out["variables"] = doc.variables if _pct(draw, 70) else draw(GARBAGE)
    if _pct(draw, 20):
        out["operationName"] = draw(st.one_of(st.sampled_from(["Op", "Second", "Nope"]), GARBAGE))
    if _pct(draw, 15):
        out["extensions"] = draw(GARBAGE)
    if _pct(draw, 5):
        out[draw(st.sampled_from(["Query", "id", "documentId"]))] = draw(GARBAGE)
    return out


@st.composite
def bodies(draw: Any, world: World) -> bytes:
    kind = draw(
        st.sampled_from(
            [
                "object",
                "object",
                "object",
                "batch",
                "json",
                "bytes",
                "nested",
                "huge",
                "encoded",
                "form",
            ]
        )
    )
    if kind == "object":
        return json.dumps(draw(request_objects(world)), allow_nan=True).encode()
    if kind == "batch":
        return json.dumps(
            [draw(request_objects(world)) for _ in range(draw(st.integers(0, 3)))]
        ).encode()
    if kind == "json":
        return json.dumps(draw(GARBAGE), allow_nan=True).encode()
    if kind == "bytes":
        return bytes(draw(st.binary(max_size=64)))
    if kind == "nested":
        depth = draw(st.sampled_from([10, 1_000, 100_000]))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        return (opener * depth + "1" + closer * depth).encode()
    if kind == "huge":
        return b'{"query": "{ me { sub } }", "variables": {"x": "' + b"x" * 1_100_000 + b'"}}'
    if kind == "encoded":
        text = json.dumps({"query": "{ me { sub } }"})
        encoding = draw(st.sampled_from(["utf-16", "utf-32", "utf-8-sig", "latin-1"]))
        return text.encode(encoding) + (b"\xe9" if encoding == "latin-1" else b"")
    return b"query=%7B%20me%20%7B%20sub%20%7D%20%7D&variables=%7B%7D"


@st.composite
def raw_requests(draw: Any, world: World) -> RawRequest:
    method = draw(st.sampled_from(["POST", "POST", "POST", "GET"]))
    params: dict[str, str] = {}
    content = b""
    if method == "GET":
        request = draw(request_objects(world))
        for key, value in request.items():
            params[str(key)] = (
                value
                if isinstance(value, str) and key == "query"
                else json.dumps(value, allow_nan=True)
            )
        if _pct(draw, 10):
            params["variables"] = draw(TEXT)
    else:
        content = draw(bodies(world))
    headers = dict(draw(EXTRA_HEADERS))
    content_type = draw(st.sampled_from(CONTENT_TYPES)) if _pct(draw, 40) else "application/json"
    if content_type:
        headers["content-type"] = content_type
    accept = draw(st.sampled_from(ACCEPTS))
    if accept and not (method == "GET" and "text/html" in accept and "query" not in params):
        headers["accept"] = accept
    auth = draw(
        st.sampled_from(
            [c.name for c in world.restricted + world.privileged] + ["malformed header"]
        )
    )
    return RawRequest(method, params, content, headers, auth)


# ---------------------------------------------------------------------------------------------
# The properties
# ---------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(data=st.data())
async def test_random_documents_from_the_schema_never_break_the_server_or_cross_tenants(
    api: GraphQLClient, db: Database, world: World, tally: Counter[str], data: st.DataObject
) -> None:
    doc = data.draw(documents(world), label="document")
    bad_token = data.draw(st.sampled_from(world.bad_tokens), label="bad token")

    async def send(token: str | None) -> Reply:
        return await post_graphql(api, token, doc.text, doc.variables, tally, "documents")

    await probe_every_caller(
        api,
        db,
        world,
        send,
        bad_token=bad_token,
        may_change=doc.operation == "mutation",
        root_fields=doc.root_fields,
    )


@PROPERTY_SETTINGS
@given(data=st.data())
async def test_random_variables_for_every_mutation_never_break_the_server_or_cross_tenants(
    api: GraphQLClient, db: Database, world: World, tally: Counter[str], data: st.DataObject
) -> None:
    doc = data.draw(mutation_requests(world), label="mutation")
    bad_token = data.draw(st.sampled_from(world.bad_tokens), label="bad token")

    async def send(token: str | None) -> Reply:
        return await post_graphql(api, token, doc.text, doc.variables, tally, "mutation variables")

    await probe_every_caller(
        api,
        db,
        world,
        send,
        bad_token=bad_token,
        may_change=True,
        root_fields=1,
    )


@settings(PROPERTY_SETTINGS, max_examples=250)
@given(data=st.data())
async def test_random_http_requests_never_break_the_server_or_cross_tenants(
    api: GraphQLClient, db: Database, world: World, tally: Counter[str], data: st.DataObject
) -> None:
    request = data.draw(raw_requests(world), label="request")
    callers = {c.name: c for c in world.restricted + world.privileged}
    headers = dict(request.headers)
    caller = callers.get(request.auth)
    if caller is None:
        headers["authorization"] = data.draw(
            st.sampled_from(
                [
                    "Basic dXNlcjpwYXNz",
                    "Bearer",
                    "Bearer    ",
                    "Token abc",
                    "bearer " + world.bad_tokens[0],
                    "Bearer a b c",
                ]
            )
        )
    elif caller.name == "bad token":
        headers["authorization"] = "Bearer " + data.draw(st.sampled_from(world.bad_tokens))
    elif (token := (await world.tokens(api, db))[caller.name]) is not None:
        headers["authorization"] = f"Bearer {token}"
    before = await snapshot(db, world, victim_only=True)

    response = await api.http.request(
        request.method, api.path, params=request.params, content=request.content, headers=headers
    )
    tally["http"] += 1

    reply = _reply(response)
    check_reply(reply)
    if reply.content_type.startswith("text/html"):
        assert request.method == "GET", reply.text[:500]
        assert "<html" in reply.text.lower(), reply.text[:500]
    elif reply.status < 400:
        assert _errors_in(reply) or "data" in reply.text, reply.text[:500]
    if caller is None or not caller.may_change_victim:
        assert await snapshot(db, world, victim_only=True) == before


# ---------------------------------------------------------------------------------------------
# What the properties found, pinned as plain examples
# ---------------------------------------------------------------------------------------------

STREAM_ACCEPTS = [
    pytest.param("text/event-stream", id="sse"),
    pytest.param('multipart/mixed;subscriptionSpec="1.0"', id="multipart"),
    pytest.param("application/json", id="json"),
]


@pytest.mark.parametrize("accept", STREAM_ACCEPTS)
@pytest.mark.parametrize(
    ("query", "with_token"),
    [
        pytest.param("{ me { sub } }", False, id="no-token"),
        pytest.param("{ me { sub ", True, id="syntax-error"),
        pytest.param("{ me { secretField } }", True, id="unknown-field"),
        pytest.param("{ me { sub } }", True, id="query"),
    ],
)
async def test_every_error_carries_a_code_whichever_transport_the_client_accepts(
    api: GraphQLClient, accept: str, query: str, with_token: bool
) -> None:
    headers = {"accept": accept, **(_auth(api.token(AGENT)) if with_token else {})}

    reply = _reply(await api.http.post(api.path, json={"query": query}, headers=headers))

    check_reply(reply)
    codes = [e["extensions"]["code"] for e in _errors_in(reply)]
    if "multipart" in accept:
        # The multipart transport is for subscriptions: it refuses queries outright.
        assert codes == ["BAD_USER_INPUT"], reply.text
    elif not with_token:
        assert codes == ["UNAUTHENTICATED"], reply.text


@pytest.mark.parametrize("accept", STREAM_ACCEPTS)
@pytest.mark.parametrize(
    "operation_name",
    [
        pytest.param({"id": {}}, id="object"),
        pytest.param(["Op"], id="list"),
        pytest.param(42, id="number"),
    ],
)
@pytest.mark.parametrize(
    "query",
    [
        pytest.param("query Op { me { sub } }", id="valid-document"),
        pytest.param("query Op { me { sub ", id="syntax-error"),
    ],
)
async def test_an_operation_name_that_is_not_a_string_is_bad_user_input(
    api: GraphQLClient, accept: str, operation_name: Any, query: str
) -> None:
    body = {"query": query, "operationName": operation_name}
    headers = {"accept": accept, **_auth(api.token(AGENT))}

    reply = _reply(await api.http.post(api.path, json=body, headers=headers))

    check_reply(reply)
    assert "unhashable" not in reply.text, reply.text
    codes = [e["extensions"]["code"] for e in _errors_in(reply)]
    assert codes == ["BAD_USER_INPUT"], reply.text


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_another_http_method_gets_a_graphql_shaped_json_4xx(
    api: GraphQLClient, method: str
) -> None:
    response = await api.http.request(
        method, api.path, json={"query": "{ me { sub } }"}, headers=_auth(api.token(AGENT))
    )

    reply = _reply(response)
    check_reply(reply)
    assert reply.status == 405, reply.text
    assert reply.content_type.startswith("application/json"), (reply.content_type, reply.text)
    assert [e["extensions"]["code"] for e in _errors_in(reply)] == ["BAD_USER_INPUT"]


async def test_a_document_of_several_operations_without_an_operation_name_runs_none_of_them(
    api: GraphQLClient, db: Database
) -> None:
    tenant = await make_tenant(db)
    po = gid(await make_po(db, tenant, S.SUBMITTED))
    document = (
        f'mutation Accept {{ acceptPurchaseOrder(input: {{id: "{po}"}}) {{ purchaseOrder {{ status }} }} }}'
        f' query Read {{ purchaseOrder(id: "{po}") {{ status }} }}'
    )

    reply = _reply(
        await api.http.post(api.path, json={"query": document}, headers=_auth(api.token(AGENT)))
    )

    check_reply(reply)
    assert [e["extensions"]["code"] for e in _errors_in(reply)] == ["BAD_USER_INPUT"], reply.text
    read = await api.run(AGENT, "query($id: ID!) { purchaseOrder(id: $id) { status } }", {"id": po})
    assert read.ok()["purchaseOrder"]["status"] == "SUBMITTED"


@pytest.mark.parametrize(
    "exp",
    [
        pytest.param(253_402_300_800, id="year-10000"),
        pytest.param(int(dt.datetime(2030, 1, 1, tzinfo=dt.UTC).timestamp()) * 1000, id="millis"),
        pytest.param(10**20, id="10e20"),
        pytest.param(2**63, id="2e63"),
    ],
)
async def test_a_signed_token_expiring_beyond_year_9999_is_unauthenticated_not_a_500(
    api: GraphQLClient, exp: int
) -> None:
    # An identity provider that writes `exp` in milliseconds issues exactly such tokens.
    token = _signed(api.secret, sub="m", role="SP_AGENT", exp=exp)

    reply = await post_graphql(api, token, "{ me { sub } }", {}, Counter(), "pinned")

    check_reply(reply)
    assert [e["extensions"]["code"] for e in _errors_in(reply)] == ["UNAUTHENTICATED"]
