"""Baseline (b): plain Strawberry over the same tables, one SQL query per resolved field.

The schema exposes the same names and shapes as simgql for what Q1 and Q2 select, so the
same GraphQL documents run against it. Every object field that needs data runs its own query
on an asyncpg pool: no DataLoaders, no batching, no joins — the "N+1" way most first GraphQL
servers are written. It is the floor simgql's batching must clear by a wide margin.

    SIMGQL_DATABASE_URL=postgresql://... SIMGQL_JWT_SECRET=... \
        uvicorn bench.baselines.naive:make_app --factory --loop uvloop --http httptools
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
import jwt
import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.types import Info as StrawberryInfo

from simgql.api.ids import encode_id, parse_id
from simgql.db.pagination import encode_cursor
from simgql.domain.model import PurchaseOrderFacts, PurchaseOrderStatus, Role, Viewer
from simgql.domain.policy import available_actions

SP_ROLES = {"SP_AGENT", "SP_ADMIN"}
SIM_VISIBLE = {"READY", "SHIPPED", "CLOSED"}


@dataclass
class Ctx:
    pool: asyncpg.Pool
    claims: dict[str, Any]
    account_id: uuid.UUID | None


Info = StrawberryInfo[Ctx, None]


async def one(info: Info, sql: str, *args: Any) -> asyncpg.Record | None:
    return await info.context.pool.fetchrow(sql, *args)


async def many(info: Info, sql: str, *args: Any) -> list[asyncpg.Record]:
    return list(await info.context.pool.fetch(sql, *args))


def money_text(amount: Decimal) -> str:
    """At least two decimals, more only where the amount has them."""
    exact = amount.normalize()
    exponent = exact.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        return format(exact, "f")
    return format(exact.quantize(Decimal("0.01")), "f")


@strawberry.type
class Money:
    amount: str
    currency: str


@strawberry.type
class Entitlements:
    sim_billing_status: str | None
    price_plan: str | None
    service_profile: str | None
    roaming_profile: str | None
    apn_group: str | None


def entitlements(row: Any, prefix: str) -> Entitlements:
    return Entitlements(
        sim_billing_status=row[f"{prefix}sim_billing_status"] or None,
        price_plan=row[f"{prefix}price_plan"],
        service_profile=row[f"{prefix}service_profile"],
        roaming_profile=row[f"{prefix}roaming_profile"],
        apn_group=row[f"{prefix}apn_group"],
    )


@strawberry.type
class Product:
    row: strawberry.Private[Any]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Product", self.row["id"]))

    @strawberry.field
    def code(self) -> str:
        return str(self.row["code"])

    @strawberry.field
    def name(self) -> str:
        return str(self.row["name"])

    @strawberry.field
    def description(self) -> str:
        return str(self.row["description"])

    @strawberry.field
    def kind(self) -> str:
        return str(self.row["kind"])

    @strawberry.field
    def form_factor(self) -> str:
        return str(self.row["form_factor"])

    @strawberry.field
    def features(self) -> list[str]:
        return list(json.loads(self.row["features"] or "[]"))

    @strawberry.field
    def branding(self) -> str | None:
        return self.row["branding"]  # type: ignore[no-any-return]

    @strawberry.field
    def active(self) -> bool:
        return bool(self.row["active"])

    @strawberry.field
    def unit_price(self) -> Money:
        return Money(amount=money_text(self.row["unit_price"]), currency=self.row["currency"])


async def product(info: Info, pk: uuid.UUID) -> Product:
    """The product of a line: one query per line (the N+1 of this baseline)."""
    row = await one(info, "SELECT * FROM products WHERE id = $1", pk)
    assert row is not None
    return Product(row=row)


@strawberry.type
class Account:
    row: strawberry.Private[Any]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Account", self.row["id"]))

    @strawberry.field
    def code(self) -> str:
        return str(self.row["code"])

    @strawberry.field
    def name(self) -> str:
        return str(self.row["name"])

    @strawberry.field
    def status(self) -> str:
        return str(self.row["status"])

    @strawberry.field
    def defaults(self) -> Entitlements:
        return entitlements(self.row, "default_")


@strawberry.type
class Sim:
    row: strawberry.Private[Any]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Sim", self.row["id"]))

    @strawberry.field
    def iccid(self) -> str:
        return str(self.row["iccid"])

    @strawberry.field
    def imsi(self) -> str:
        return str(self.row["imsi"])

    @strawberry.field
    def msisdn(self) -> str:
        return str(self.row["msisdn"])

    @strawberry.field
    def entitlements(self) -> Entitlements:
        return entitlements(self.row, "")


async def line_price(info: Info, row: Any) -> tuple[Decimal, str]:
    if row["unit_price"] is not None and row["currency"] is not None:
        return row["unit_price"], row["currency"]
    product = await one(
        info, "SELECT unit_price, currency FROM products WHERE id = $1", row["product_id"]
    )
    assert product is not None
    return product["unit_price"], product["currency"]


@strawberry.type
class PurchaseOrderLine:
    row: strawberry.Private[Any]
    po_status: strawberry.Private[str]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("PurchaseOrderLine", self.row["id"]))

    @strawberry.field
    def quantity(self) -> int:
        return int(self.row["quantity"])

    @strawberry.field
    async def product(self, info: Info) -> Product:
        return await product(info, self.row["product_id"])

    @strawberry.field
    async def unit_price(self, info: Info) -> Money:
        amount, currency = await line_price(info, self.row)
        return Money(amount=money_text(amount), currency=currency)

    @strawberry.field
    async def assigned_sim_count(self, info: Info) -> int:
        row = await one(info, "SELECT count(*) AS n FROM sims WHERE line_id = $1", self.row["id"])
        return int(row["n"]) if row else 0

    @strawberry.field
    async def sims(self, info: Info) -> list[Sim]:
        if info.context.claims["role"] not in SP_ROLES and self.po_status not in SIM_VISIBLE:
            return []
        rows = await many(
            info, "SELECT * FROM sims WHERE line_id = $1 ORDER BY iccid", self.row["id"]
        )
        return [Sim(row=r) for r in rows]


@strawberry.type
class ShippingAddress:
    recipient: str
    company: str | None
    street: list[str]
    city: str
    postal_code: str
    region: str | None
    country: str
    phone: str | None


@strawberry.type
class Shipping:
    carrier: str
    tracking_number: str
    shipped_at: dt.datetime


@strawberry.type
class StatusChange:
    from_status: str | None
    to_status: str
    actor: str
    note: str | None
    occurred_at: dt.datetime
    sales_order_status: str | None


@strawberry.type
class Warehouse:
    code: str
    name: str


@strawberry.type
class SalesOrderLine:
    row: strawberry.Private[Any]

    @strawberry.field
    def quantity(self) -> int:
        return int(self.row["quantity"])

    @strawberry.field
    def purchase_order_line_id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("PurchaseOrderLine", self.row["purchase_order_line_id"]))

    @strawberry.field
    async def product(self, info: Info) -> Product:
        return await product(info, self.row["product_id"])


@strawberry.type
class SalesOrder:
    row: strawberry.Private[Any]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("SalesOrder", self.row["id"]))

    @strawberry.field
    def status(self) -> str:
        return str(self.row["status"])

    @strawberry.field
    async def warehouse(self, info: Info) -> Warehouse:
        row = await one(
            info, "SELECT code, name FROM warehouses WHERE id = $1", self.row["warehouse_id"]
        )
        assert row is not None
        return Warehouse(code=row["code"], name=row["name"])

    @strawberry.field
    async def lines(self, info: Info) -> list[SalesOrderLine]:
        rows = await many(
            info,
            "SELECT * FROM sales_order_lines WHERE sales_order_id = $1 ORDER BY id",
            self.row["id"],
        )
        return [SalesOrderLine(row=r) for r in rows]


async def _lines(info: Info, po_id: uuid.UUID) -> list[asyncpg.Record]:
    return await many(
        info,
        "SELECT * FROM purchase_order_lines WHERE purchase_order_id = $1 ORDER BY position",
        po_id,
    )


async def _account(info: Info, account_id: uuid.UUID) -> asyncpg.Record:
    row = await one(info, "SELECT * FROM accounts WHERE id = $1", account_id)
    assert row is not None
    return row


@strawberry.type
class PurchaseOrder:
    row: strawberry.Private[Any]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("PurchaseOrder", self.row["id"]))

    @strawberry.field
    def number(self) -> int | None:
        return self.row["number"]  # type: ignore[no-any-return]

    @strawberry.field
    def status(self) -> str:
        return str(self.row["status"])

    @strawberry.field
    def version(self) -> int:
        return int(self.row["version"])

    @strawberry.field
    def created_by(self) -> str:
        return str(self.row["created_by"])

    @strawberry.field
    def created_at(self) -> dt.datetime:
        return self.row["created_at"]  # type: ignore[no-any-return]

    @strawberry.field
    def updated_at(self) -> dt.datetime:
        return self.row["updated_at"]  # type: ignore[no-any-return]

    @strawberry.field
    def requested_ship_date(self) -> dt.date | None:
        return self.row["requested_ship_date"]  # type: ignore[no-any-return]

    @strawberry.field
    def rejection_reason(self) -> str | None:
        return self.row["rejection_reason"]  # type: ignore[no-any-return]

    @strawberry.field
    async def account(self, info: Info) -> Account:
        return Account(row=await _account(info, self.row["account_id"]))

    @strawberry.field
    def shipping_address(self) -> ShippingAddress | None:
        r = self.row
        if r["ship_recipient"] is None:
            return None
        return ShippingAddress(
            recipient=r["ship_recipient"],
            company=r["ship_company"],
            street=list(json.loads(r["ship_street"] or "[]")),
            city=r["ship_city"] or "",
            postal_code=r["ship_postal_code"] or "",
            region=r["ship_region"],
            country=r["ship_country"] or "",
            phone=r["ship_phone"],
        )

    @strawberry.field
    def overrides(self) -> Entitlements:
        return entitlements(self.row, "override_")

    @strawberry.field
    async def effective_entitlements(self, info: Info) -> Entitlements:
        own = entitlements(self.row, "override_")
        base = entitlements(await _account(info, self.row["account_id"]), "default_")
        return Entitlements(
            sim_billing_status=own.sim_billing_status or base.sim_billing_status,
            price_plan=own.price_plan or base.price_plan,
            service_profile=own.service_profile or base.service_profile,
            roaming_profile=own.roaming_profile or base.roaming_profile,
            apn_group=own.apn_group or base.apn_group,
        )

    @strawberry.field
    async def total(self, info: Info) -> Money | None:
        rows = await _lines(info, self.row["id"])
        if not rows:
            return None
        prices = [await line_price(info, r) for r in rows]
        if len({c for _, c in prices}) != 1:
            return None
        pairs = zip(prices, rows, strict=True)
        amount = sum((p * r["quantity"] for (p, _), r in pairs), Decimal(0))
        return Money(amount=money_text(amount), currency=prices[0][1])

    @strawberry.field
    def shipping(self) -> Shipping | None:
        r = self.row
        if r["carrier"] is None or r["tracking_number"] is None or r["shipped_at"] is None:
            return None
        return Shipping(
            carrier=r["carrier"], tracking_number=r["tracking_number"], shipped_at=r["shipped_at"]
        )

    @strawberry.field
    async def lines(self, info: Info) -> list[PurchaseOrderLine]:
        return [
            PurchaseOrderLine(row=r, po_status=self.row["status"])
            for r in await _lines(info, self.row["id"])
        ]

    @strawberry.field
    async def status_history(self, info: Info) -> list[StatusChange]:
        rows = await many(
            info,
            "SELECT * FROM po_status_events WHERE purchase_order_id = $1 ORDER BY id",
            self.row["id"],
        )
        return [
            StatusChange(
                from_status=r["from_status"],
                to_status=r["to_status"],
                actor=r["actor"],
                note=r["note"],
                occurred_at=r["occurred_at"],
                sales_order_status=r["sales_order_status"],
            )
            for r in rows
        ]

    @strawberry.field
    async def sales_orders(self, info: Info) -> list[SalesOrder]:
        rows = await many(
            info,
            "SELECT * FROM sales_orders WHERE purchase_order_id = $1 ORDER BY created_at, id",
            self.row["id"],
        )
        return [SalesOrder(row=r) for r in rows]

    @strawberry.field
    async def available_actions(self, info: Info) -> list[str]:
        account = await _account(info, self.row["account_id"])
        lines = await _lines(info, self.row["id"])
        counts = [
            (await one(info, "SELECT count(*) AS n FROM sims WHERE line_id = $1", ln["id"]), ln)
            for ln in lines
        ]
        claims = info.context.claims
        facts = PurchaseOrderFacts(
            status=PurchaseOrderStatus(self.row["status"]),
            account_id=self.row["account_id"],
            version=self.row["version"],
            account_active=account["status"] == "ACTIVE",
            fully_assigned=bool(lines) and all(c["n"] >= ln["quantity"] for c, ln in counts if c),
            sims_assigned=any(c["n"] > 0 for c, _ in counts if c),
        )
        viewer = Viewer(claims["sub"], Role(claims["role"]), info.context.account_id)
        return [str(a) for a in available_actions(viewer, facts)]


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class PurchaseOrderEdge:
    cursor: str
    node: PurchaseOrder


@strawberry.type
class PurchaseOrderConnection:
    edges: list[PurchaseOrderEdge]
    page_info: PageInfo
    scope: strawberry.Private[uuid.UUID | None]

    @strawberry.field
    async def total_count(self, info: Info) -> int:
        if self.scope is None:
            row = await one(info, "SELECT count(*) AS n FROM purchase_orders")
        else:
            row = await one(
                info, "SELECT count(*) AS n FROM purchase_orders WHERE account_id = $1", self.scope
            )
        return int(row["n"]) if row else 0


@strawberry.type
class Query:
    @strawberry.field
    async def purchase_orders(
        self, info: Info, first: int | None = None
    ) -> PurchaseOrderConnection:
        size = 20 if first is None else first
        scope = info.context.account_id
        if scope is None:
            rows = await many(
                info,
                "SELECT * FROM purchase_orders ORDER BY created_at DESC, id DESC LIMIT $1",
                size + 1,
            )
        else:
            rows = await many(
                info,
                "SELECT * FROM purchase_orders WHERE account_id = $1 "
                "ORDER BY created_at DESC, id DESC LIMIT $2",
                scope,
                size + 1,
            )
        shown = rows[:size]
        cursors = [encode_cursor([r["created_at"], r["id"]]) for r in shown]
        return PurchaseOrderConnection(
            edges=[PurchaseOrderEdge(cursor=c, node=PurchaseOrder(row=r)) for r, c in
                   zip(shown, cursors, strict=True)],
            page_info=PageInfo(
                has_next_page=len(rows) > size,
                has_previous_page=False,
                start_cursor=cursors[0] if cursors else None,
                end_cursor=cursors[-1] if cursors else None,
            ),
            scope=scope,
        )  # fmt: skip

    @strawberry.field
    async def purchase_order(self, info: Info, id: strawberry.ID) -> PurchaseOrder | None:
        parsed = parse_id(id)
        if parsed is None or parsed[0] != "PurchaseOrder":
            return None
        row = await one(info, "SELECT * FROM purchase_orders WHERE id = $1", parsed[1])
        scope = info.context.account_id
        if row is None or (scope is not None and row["account_id"] != scope):
            return None
        return PurchaseOrder(row=row)


class NaiveGraphQL(GraphQL[Ctx, None]):
    """Strawberry's ASGI view with a context that holds the pool and the verified claims."""

    def __init__(self, pool_ref: dict[str, asyncpg.Pool], secret: str) -> None:
        super().__init__(strawberry.Schema(query=Query), graphql_ide=None)
        self.pool_ref = pool_ref
        self.secret = secret

    async def get_context(self, request: Any, response: Any) -> Ctx:
        header = request.headers.get("authorization", "")
        token = header.partition(" ")[2].strip()
        claims = jwt.decode(token, self.secret, algorithms=["HS256"])
        pool = self.pool_ref["pool"]
        account_id = None
        if claims.get("role") not in SP_ROLES:
            row = await pool.fetchrow("SELECT id FROM accounts WHERE code = $1", claims["account"])
            account_id = row["id"] if row else uuid.UUID(int=0)
        return Ctx(pool=pool, claims=claims, account_id=account_id)


def make_app() -> Starlette:
    dsn = os.environ["SIMGQL_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    secret = os.environ["SIMGQL_JWT_SECRET"]
    pool_size = int(os.environ.get("SIMGQL_DB_POOL_SIZE", "10"))
    pool_ref: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        pool_ref["pool"] = await asyncpg.create_pool(
            dsn, min_size=2, max_size=pool_size, server_settings={"timezone": "UTC"}
        )
        try:
            yield
        finally:
            await pool_ref["pool"].close()

    async def readyz(_request: Request) -> Response:
        return Response(b"ok")

    graphql = NaiveGraphQL(pool_ref, secret)
    return Starlette(
        routes=[Route("/graphql", graphql, methods=["POST"]), Route("/readyz", readyz)],
        lifespan=lifespan,
    )
