"""A realistic simgql data set, written straight into the tables with COPY.

Going through the application's actions (as `tests/factories.py` does) costs tens of
milliseconds per purchase order; 100,000 of them would take hours. So the rows are built here
in Python, consistent with what the actions would have written, and loaded with asyncpg's
`copy_records_to_table`:

- accounts with defaults and a catalogue, products (some in USD) assigned to accounts;
- purchase orders across every status, recent ones mostly in early statuses; each with a
  status history that walks the lifecycle to its status (`po_status_events`, already
  published), a version that counts its changes, a number once accepted, price snapshots
  on its lines once submitted, shipping details once shipped;
- SIMs on every line of POs from READY on (and on part of the lines in PROVISIONING), with
  the PO's effective entitlements and Luhn-valid ICCIDs;
- one sales order per PO from PROVISIONING on, with lines mirroring the PO's lines.

Everything derives from one seed, so two runs of one scale hold the same data.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg

from simgql.domain.validation import luhn_check_digit


@dataclass(frozen=True)
class Scale:
    """How big the data set is."""

    accounts: int
    products: int
    purchase_orders: int
    warehouses: int = 3
    products_per_account: int = 30


SCALES = {
    "tiny": Scale(accounts=3, products=12, purchase_orders=300, products_per_account=8),
    "small": Scale(accounts=10, products=50, purchase_orders=10_000, products_per_account=20),
    "medium": Scale(accounts=25, products=100, purchase_orders=40_000),
    "full": Scale(accounts=50, products=200, purchase_orders=100_000),
}

# Final status of a PO: older POs have mostly finished, the newest are still moving.
OLD_MIX = {
    "CLOSED": 70, "CANCELLED": 6, "REJECTED": 4, "SHIPPED": 8, "READY": 2,
    "PROVISIONING": 2, "ACCEPTED": 2, "SUBMITTED": 2, "DRAFT": 4,
}  # fmt: skip
RECENT_MIX = {
    "DRAFT": 20, "SUBMITTED": 18, "ACCEPTED": 12, "REJECTED": 4, "PROVISIONING": 14,
    "READY": 8, "SHIPPED": 12, "CLOSED": 6, "CANCELLED": 6,
}  # fmt: skip
RECENT_FRACTION = 0.05
MAIN_PATH = ["DRAFT", "SUBMITTED", "ACCEPTED", "PROVISIONING", "READY", "SHIPPED", "CLOSED"]
SUBMITTED_ON = {"SUBMITTED", "ACCEPTED", "REJECTED", "PROVISIONING", "READY", "SHIPPED", "CLOSED"}
SIMS_FROM = {"READY", "SHIPPED", "CLOSED"}
SALES_ORDERS_FROM = {"PROVISIONING", "READY", "SHIPPED", "CLOSED"}
CATALOGUE = {
    "PRICE_PLAN": ["PP-S", "PP-M", "PP-L"],
    "SERVICE_PROFILE": ["SP-DATA", "SP-VOICE"],
    "ROAMING_PROFILE": ["RP-EU", "RP-WORLD"],
    "APN_GROUP": ["APN-1", "APN-2"],
}
FORM_FACTORS = ["MINI_2FF", "MICRO_3FF", "NANO_4FF", "TRIPLE_CUT", "MFF2", "EUICC"]
CITIES = [
    ("Hamburg", "20457", "DE"), ("Lyon", "69002", "FR"), ("Milano", "20121", "IT"),
    ("Madrid", "28013", "ES"), ("Wien", "1010", "AT"), ("Leeds", "LS1 4DY", "GB"),
]  # fmt: skip
PURCHASER = "buyer@{code}"
AGENT = "agent-007"


@dataclass
class Generated:
    """What the harness needs to know about the data set it made."""

    scale: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    account_codes: list[str] = field(default_factory=list)
    account_po_counts: dict[str, int] = field(default_factory=dict)


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _path(status: str, rng: random.Random) -> list[str]:
    """The statuses a PO went through to reach `status`, in order."""
    if status in MAIN_PATH:
        return MAIN_PATH[: MAIN_PATH.index(status) + 1]
    if status == "REJECTED":
        return ["DRAFT", "SUBMITTED", "REJECTED"]
    # CANCELLED: by the purchaser from DRAFT or SUBMITTED, or by an agent after acceptance.
    return [*MAIN_PATH[: rng.choice([1, 2, 2, 3])], "CANCELLED"]


def _pick(mix: dict[str, int], rng: random.Random) -> str:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


class _Builder:
    """Builds the rows of every table in memory, as tuples in COPY column order."""

    def __init__(self, scale: Scale, seed: int, now: dt.datetime) -> None:
        self.s = scale
        self.rng = random.Random(seed)
        self.now = now
        self.rows: dict[str, list[tuple[Any, ...]]] = {}
        self.sim_serial = 0
        self.event_id = 0
        self.po_number = 100_000

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.rows.setdefault(table, []).append(row)

    def build(self) -> Generated:
        rng, s = self.rng, self.s
        gen = Generated(scale="")
        # --- products
        products = []
        for i in range(s.products):
            pid = _uuid(rng)
            currency = "USD" if i % 10 == 9 else "EUR"
            price = Decimal(rng.choice(["0.80", "1.50", "2.25", "3.00", "4.99", "0.0125"]))
            code = f"SIM-{i:04d}"
            products.append((pid, code, price, currency))
            self.add("products", (
                pid, code, f"SIM product {i}", f"Industrial SIM, variant {i}",
                "SIM_CHIP" if i % 7 == 0 else "SIM_CARD", FORM_FACTORS[i % len(FORM_FACTORS)],
                '["5G","LTE-M"]' if i % 3 == 0 else "[]", None if i % 4 else "Acme IoT",
                price, currency, i % 25 != 24, self.now - dt.timedelta(days=400),
            ))  # fmt: skip
        # --- warehouses and stock
        warehouses = []
        for w in range(s.warehouses):
            wid = _uuid(rng)
            warehouses.append(wid)
            self.add("warehouses", (wid, f"WH{w + 1}", f"Warehouse {w + 1}", self.now))
            for pid, *_ in products:
                self.add("stock", (_uuid(rng), wid, pid, 1_000_000, 0))
        # --- accounts, catalogues, assignments
        accounts = []
        for a in range(s.accounts):
            aid = _uuid(rng)
            code = f"ACME{a + 1:03d}"
            defaults = ("TEST_READY", "PP-S", "SP-DATA", "RP-EU", "APN-1")
            self.add("accounts", (
                aid, code, f"Acme Industries {a + 1}", "ACTIVE" if a % 20 != 19 else "SUSPENDED",
                *defaults, self.now - dt.timedelta(days=400),
            ))  # fmt: skip
            for kind, codes in CATALOGUE.items():
                for c in codes:
                    self.add("catalogue_entries", (_uuid(rng), aid, kind, c))
            offered = rng.sample(products, min(s.products_per_account, len(products)))
            for pid, *_ in offered:
                self.add("product_assignments", (_uuid(rng), aid, pid, None, None))
            accounts.append((aid, code, defaults, offered))
            gen.account_codes.append(code)
        # --- purchase orders
        start = self.now - dt.timedelta(days=365)
        span = (self.now - dt.timedelta(hours=1) - start).total_seconds()
        n = s.purchase_orders
        events: list[list[Any]] = []
        for i in range(n):
            frac = i / max(1, n - 1)
            created = start + dt.timedelta(seconds=span * frac + rng.random())
            account = accounts[rng.randrange(len(accounts))]
            gen.account_po_counts[account[1]] = gen.account_po_counts.get(account[1], 0) + 1
            status = _pick(RECENT_MIX if frac > 1 - RECENT_FRACTION else OLD_MIX, rng)
            self._purchase_order(created, account, status, warehouses, events)
        # Event ids are the commit order: sort by time, then number.
        events.sort(key=lambda e: e[-1])
        for k, e in enumerate(events, start=1):
            self.add("po_status_events", (k, *e[:-1], e[-1], e[-1]))
        self.event_id = len(events)
        gen.counts = {t: len(r) for t, r in self.rows.items()}
        return gen

    def _purchase_order(
        self,
        created: dt.datetime,
        account: tuple[uuid.UUID, str, tuple[str, ...], list[Any]],
        status: str,
        warehouses: Sequence[uuid.UUID],
        events: list[list[Any]],
    ) -> None:
        rng = self.rng
        aid, code, defaults, offered = account
        po_id = _uuid(rng)
        path = _path(status, rng)
        # Each step a few hours to days after the one before, never in the future.
        times = [created]
        for _ in path[1:]:
            step = dt.timedelta(minutes=rng.randint(20, 4 * 24 * 60))
            times.append(min(times[-1] + step, self.now - dt.timedelta(seconds=1)))
        buyer = PURCHASER.format(code=code)
        prev: str | None = None
        for to, at in zip(path, times, strict=True):
            actor = buyer if to in ("DRAFT", "SUBMITTED", "CLOSED") else AGENT
            note = "not a valid quantity for this product" if to == "REJECTED" else None
            events.append([po_id, aid, prev, to, actor, note, None, None, at])
            prev = to
        number = None
        if "ACCEPTED" in path:
            self.po_number += 1
            number = self.po_number
        override_plan = rng.choice(CATALOGUE["PRICE_PLAN"]) if rng.random() < 0.2 else None
        city, postal, country = rng.choice(CITIES)
        shipped = status in ("SHIPPED", "CLOSED")
        shipped_at = times[path.index("SHIPPED")] if shipped else None
        self.add("purchase_orders", (
            po_id, aid, number, status, len(path) + (1 if status in SIMS_FROM else 0),
            "Jane Doe", f"Acme {code}", '["Hafenstrasse 1"]', city, postal, None, country,
            "+49 40 123456", (created + dt.timedelta(days=14)).date(),
            None, override_plan, None, None, None,
            "quantity above the contract" if status == "REJECTED" else None,
            "no longer needed" if status == "CANCELLED" else None,
            "DHL" if shipped else None, f"JD{rng.randrange(10**12):012d}" if shipped else None,
            shipped_at, None, buyer, created, times[-1],
        ))  # fmt: skip
        entitlements = (defaults[0], override_plan or defaults[1], *defaults[2:])
        priced = status in SUBMITTED_ON or (status == "CANCELLED" and "SUBMITTED" in path)
        lines = []
        for pos, (pid, _pcode, price, currency) in enumerate(
            rng.sample(offered, min(len(offered), rng.choice([1, 2, 2, 3, 3, 3, 4, 5, 6])))
        ):
            lid = _uuid(rng)
            qty = rng.randint(1, 6)
            lines.append((lid, pid, qty))
            self.add("purchase_order_lines", (
                lid, po_id, pos, pid, qty, price if priced else None, currency if priced else None,
            ))  # fmt: skip
        provisioning = status == "PROVISIONING"
        if status in SIMS_FROM or provisioning:
            at = times[path.index("PROVISIONING")] + dt.timedelta(minutes=5)
            for k, (lid, pid, qty) in enumerate(lines):
                if provisioning and k % 2:
                    continue  # half-way through assigning
                for _ in range(qty):
                    self._sim(pid, aid, po_id, lid, entitlements, at)
        if status in SALES_ORDERS_FROM:
            so_id = _uuid(rng)
            at = times[path.index("PROVISIONING")]
            done = status in ("SHIPPED", "CLOSED")
            self.add("sales_orders", (
                so_id, po_id, aid, warehouses[rng.randrange(len(warehouses))], None,
                "COMPLETE" if done else "AWAITING_DISPATCH", "PASSED", None, None,
                "DHL" if done else None, f"SO{rng.randrange(10**10):010d}" if done else None,
                shipped_at, at, shipped_at or at,
            ))  # fmt: skip
            for lid, pid, qty in lines:
                self.add("sales_order_lines", (_uuid(rng), so_id, lid, pid, qty))

    def _sim(
        self,
        pid: uuid.UUID,
        aid: uuid.UUID,
        po_id: uuid.UUID,
        lid: uuid.UUID,
        entitlements: tuple[str, ...],
        at: dt.datetime,
    ) -> None:
        n = self.sim_serial = self.sim_serial + 1
        payload = f"8949{n:014d}"
        self.add("sims", (
            _uuid(self.rng), payload + luhn_check_digit(payload), f"26201{n:010d}",
            f"4917{n:010d}", pid, aid, po_id, lid, *entitlements, at,
        ))  # fmt: skip


COLUMNS: dict[str, list[str]] = {
    "products": [
        "id", "code", "name", "description", "kind", "form_factor", "features", "branding",
        "unit_price", "currency", "active", "created_at",
    ],
    "warehouses": ["id", "code", "name", "created_at"],
    "stock": ["id", "warehouse_id", "product_id", "on_hand", "reserved"],
    "accounts": [
        "id", "code", "name", "status", "default_sim_billing_status", "default_price_plan",
        "default_service_profile", "default_roaming_profile", "default_apn_group", "created_at",
    ],
    "catalogue_entries": ["id", "account_id", "kind", "code"],
    "product_assignments": ["id", "account_id", "product_id", "min_quantity", "max_quantity"],
    "purchase_orders": [
        "id", "account_id", "number", "status", "version", "ship_recipient", "ship_company",
        "ship_street", "ship_city", "ship_postal_code", "ship_region", "ship_country",
        "ship_phone", "requested_ship_date", "override_sim_billing_status",
        "override_price_plan", "override_service_profile", "override_roaming_profile",
        "override_apn_group", "rejection_reason", "cancellation_reason", "carrier",
        "tracking_number", "shipped_at", "idempotency_key", "created_by", "created_at",
        "updated_at",
    ],
    "purchase_order_lines": [
        "id", "purchase_order_id", "position", "product_id", "quantity", "unit_price", "currency",
    ],
    "po_status_events": [
        "id", "purchase_order_id", "account_id", "from_status", "to_status", "actor", "note",
        "sales_order_id", "sales_order_status", "occurred_at", "published_at",
    ],
    "sims": [
        "id", "iccid", "imsi", "msisdn", "product_id", "account_id", "purchase_order_id",
        "line_id", "sim_billing_status", "price_plan", "service_profile", "roaming_profile",
        "apn_group", "created_at",
    ],
    "sales_orders": [
        "id", "purchase_order_id", "account_id", "warehouse_id", "batch_id", "status",
        "fraud_check", "fraud_reason", "error_reason", "carrier", "tracking_number",
        "dispatched_at", "created_at", "updated_at",
    ],
    "sales_order_lines": [
        "id", "sales_order_id", "purchase_order_line_id", "product_id", "quantity",
    ],
}  # fmt: skip
# Parents before children (foreign keys are checked row by row during COPY).
ORDER = [
    "products", "warehouses", "stock", "accounts", "catalogue_entries", "product_assignments",
    "purchase_orders", "purchase_order_lines", "po_status_events", "sims", "sales_orders",
    "sales_order_lines",
]  # fmt: skip


def _chunks(rows: list[tuple[Any, ...]], size: int) -> Iterable[list[tuple[Any, ...]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


async def generate(url: str, scale_name: str, *, seed: int = 20240501) -> Generated:
    """Fill the (migrated, empty) database at `url` with the data set of `scale_name`."""
    t0 = time.monotonic()
    builder = _Builder(SCALES[scale_name], seed, dt.datetime.now(dt.UTC).replace(microsecond=0))
    gen = builder.build()
    gen.scale = scale_name
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
    try:
        await conn.execute("SET synchronous_commit = off")
        # COPY into a table that has no rows yet: PostgreSQL skips most WAL when the
        # table is truncated in the same transaction, and index builds are batched.
        async with conn.transaction():
            for table in ORDER:
                rows = builder.rows.get(table, [])
                for chunk in _chunks(rows, 200_000):
                    await conn.copy_records_to_table(table, records=chunk, columns=COLUMNS[table])
            await conn.execute(
                "SELECT setval(pg_get_serial_sequence('po_status_events', 'id'), $1)",
                max(1, builder.event_id),
            )
            await conn.execute("SELECT setval('po_number_seq', $1)", builder.po_number + 1)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    gen.seconds = time.monotonic() - t0
    return gen
