"""Baseline (a): the physical limit in Python — Starlette, asyncpg, one SQL statement per query.

It answers the two read operations of the benchmark (`Dashboard` = Q1, `EditPurchaseOrder` =
Q2, chosen by `operationName`, like persisted queries) with exactly the JSON simgql returns,
built by PostgreSQL in ONE statement (json_build_object/json_agg, global IDs, cursors and
money formatted in SQL) so that Python only verifies the token and copies bytes. Nothing
parses GraphQL. `availableActions` is the one field decided in Python, by simgql's own
policy function (a pure function of the PO's facts).

    SIMGQL_DATABASE_URL=postgresql://... SIMGQL_JWT_SECRET=... \
        uvicorn bench.baselines.handwritten:make_app --factory --loop uvloop --http httptools
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import jwt
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simgql.domain.model import PurchaseOrderFacts, PurchaseOrderStatus, Role, Viewer
from simgql.domain.policy import available_actions

SP_ROLES = {"SP_AGENT", "SP_ADMIN"}


def gid_sql(type_name: str, column: str) -> str:
    """SQL for simgql's global ID: base64url('Type:uuid') without padding."""
    return (
        f"rtrim(translate(encode(convert_to('{type_name}:' || {column}::text, 'UTF8'), "
        f"'base64'), E'+/\\n', '-_'), '=')"
    )


def iso_sql(column: str) -> str:
    """SQL for Python's `datetime.isoformat()` of a UTC timestamp (micros only when set)."""
    return (
        f"(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
        f"CASE WHEN date_part('microseconds', {column})::bigint % 1000000 <> 0 "
        f"THEN to_char({column} AT TIME ZONE 'UTC', '.US') ELSE '' END || '+00:00')"
    )


def iso_or_null(column: str) -> str:
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE {iso_sql(column)} END"


def money_sql(amount: str) -> str:
    """SQL for simgql's `Money.amount`: at least two decimals, more only where needed."""
    return (
        f"CASE WHEN scale(trim_scale({amount})) < 2 THEN round({amount}, 2)::text "
        f"ELSE trim_scale({amount})::text END"
    )


def cursor_sql(created: str, pk: str) -> str:
    """SQL for simgql's PO cursor: base64url of the JSON `["<created iso>","<uuid>"]`."""
    raw = f"'[\"' || {iso_sql(created)} || '\",\"' || {pk}::text || '\"]'"
    return f"rtrim(translate(encode(convert_to({raw}, 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')"


def entitlements_sql(sbs: str, plan: str, service: str, roaming: str, apn: str) -> str:
    return (
        f"json_build_object('simBillingStatus', {sbs}, 'pricePlan', {plan}, "
        f"'serviceProfile', {service}, 'roamingProfile', {roaming}, 'apnGroup', {apn})"
    )


# A line's price: the snapshot taken at submit, else the product's current price.
LINE_PRICE = (
    "CASE WHEN l.unit_price IS NOT NULL AND l.currency IS NOT NULL THEN l.unit_price "
    "ELSE p.unit_price END"
)
LINE_CURRENCY = (
    "CASE WHEN l.unit_price IS NOT NULL AND l.currency IS NOT NULL THEN l.currency "
    "ELSE p.currency END"
)


def total_sql(po: str) -> str:
    """The PO total: null without lines or with mixed currencies."""
    return f"""(SELECT CASE WHEN count(*) = 0 OR count(DISTINCT t.cur) <> 1 THEN NULL
                ELSE json_build_object('amount', {money_sql("sum(t.price * t.qty)")},
                                       'currency', min(t.cur)) END
               FROM (SELECT {LINE_PRICE} AS price, {LINE_CURRENCY} AS cur, l.quantity AS qty
                     FROM purchase_order_lines l JOIN products p ON p.id = l.product_id
                     WHERE l.purchase_order_id = {po}.id) t)"""


Q1_SQL = f"""
WITH viewer AS (SELECT id FROM accounts WHERE code = $1),
page AS (
    SELECT po.* FROM purchase_orders po
    WHERE po.account_id = (SELECT id FROM viewer)
    ORDER BY po.created_at DESC, po.id DESC
    LIMIT $2 + 1
),
shown AS (SELECT * FROM page ORDER BY created_at DESC, id DESC LIMIT $2),
nodes AS (
    SELECT s.created_at, s.id, {cursor_sql("s.created_at", "s.id")} AS cursor,
      json_build_object(
        'id', {gid_sql("PurchaseOrder", "s.id")}, 'number', s.number, 'status', s.status,
        'createdAt', {iso_sql("s.created_at")}, 'updatedAt', {iso_sql("s.updated_at")},
        'requestedShipDate', s.requested_ship_date,
        'total', {total_sql("s")},
        'account', json_build_object('id', {gid_sql("Account", "a.id")}, 'code', a.code,
                                     'name', a.name),
        'lines', coalesce((
            SELECT json_agg(json_build_object(
                'id', {gid_sql("PurchaseOrderLine", "l.id")}, 'quantity', l.quantity,
                'unitPrice', json_build_object('amount', {money_sql(LINE_PRICE)},
                                               'currency', {LINE_CURRENCY}),
                'product', json_build_object('id', {gid_sql("Product", "p.id")},
                    'code', p.code, 'name', p.name, 'formFactor', p.form_factor)
            ) ORDER BY l.position)
            FROM purchase_order_lines l JOIN products p ON p.id = l.product_id
            WHERE l.purchase_order_id = s.id), '[]'::json)
      ) AS node
    FROM shown s JOIN accounts a ON a.id = s.account_id
)
SELECT json_build_object(
  'totalCount', (SELECT count(*) FROM purchase_orders
                 WHERE account_id = (SELECT id FROM viewer)),
  'pageInfo', json_build_object(
      'hasNextPage', (SELECT count(*) FROM page) > $2,
      'endCursor', (SELECT cursor FROM nodes ORDER BY created_at ASC, id ASC LIMIT 1)),
  'edges', coalesce((SELECT json_agg(json_build_object('cursor', cursor, 'node', node)
                                     ORDER BY created_at DESC, id DESC) FROM nodes), '[]'::json)
)::text
"""

Q2_SQL = f"""
SELECT json_build_object(
  'id', {gid_sql("PurchaseOrder", "po.id")}, 'number', po.number, 'status', po.status,
  'version', po.version, 'createdBy', po.created_by,
  'createdAt', {iso_sql("po.created_at")}, 'updatedAt', {iso_sql("po.updated_at")},
  'requestedShipDate', po.requested_ship_date, 'rejectionReason', po.rejection_reason,
  'account', json_build_object('id', {gid_sql("Account", "a.id")}, 'code', a.code,
      'name', a.name, 'status', a.status,
      'defaults', {entitlements_sql(
          "a.default_sim_billing_status", "a.default_price_plan", "a.default_service_profile",
          "a.default_roaming_profile", "a.default_apn_group")}),
  'shippingAddress', CASE WHEN po.ship_recipient IS NULL THEN NULL ELSE json_build_object(
      'recipient', po.ship_recipient, 'company', po.ship_company,
      'street', coalesce(po.ship_street, '[]'::json), 'city', coalesce(po.ship_city, ''),
      'postalCode', coalesce(po.ship_postal_code, ''), 'region', po.ship_region,
      'country', coalesce(po.ship_country, ''), 'phone', po.ship_phone) END,
  'overrides', {entitlements_sql(
      "po.override_sim_billing_status", "po.override_price_plan",
      "po.override_service_profile", "po.override_roaming_profile", "po.override_apn_group")},
  'effectiveEntitlements', {entitlements_sql(
      "coalesce(po.override_sim_billing_status, a.default_sim_billing_status)",
      "coalesce(po.override_price_plan, a.default_price_plan)",
      "coalesce(po.override_service_profile, a.default_service_profile)",
      "coalesce(po.override_roaming_profile, a.default_roaming_profile)",
      "coalesce(po.override_apn_group, a.default_apn_group)")},
  'total', {total_sql("po")},
  'shipping', CASE WHEN po.carrier IS NULL OR po.tracking_number IS NULL
                    OR po.shipped_at IS NULL THEN NULL
      ELSE json_build_object('carrier', po.carrier, 'trackingNumber', po.tracking_number,
                             'shippedAt', {iso_sql("po.shipped_at")}) END,
  'lines', coalesce((
      SELECT json_agg(json_build_object(
        'id', {gid_sql("PurchaseOrderLine", "l.id")}, 'quantity', l.quantity,
        'assignedSimCount', (SELECT count(*) FROM sims s WHERE s.line_id = l.id),
        'unitPrice', json_build_object('amount', {money_sql(LINE_PRICE)},
                                       'currency', {LINE_CURRENCY}),
        'product', json_build_object('id', {gid_sql("Product", "p.id")}, 'code', p.code,
            'name', p.name, 'description', p.description, 'kind', p.kind,
            'formFactor', p.form_factor, 'features', coalesce(p.features, '[]'::json),
            'branding', p.branding, 'active', p.active,
            'unitPrice', json_build_object('amount', {money_sql("p.unit_price")},
                                           'currency', p.currency)),
        'sims', CASE WHEN $2 OR po.status IN ('READY', 'SHIPPED', 'CLOSED') THEN coalesce((
            SELECT json_agg(json_build_object('id', {gid_sql("Sim", "s.id")},
                'iccid', s.iccid, 'imsi', s.imsi, 'msisdn', s.msisdn,
                'entitlements', {entitlements_sql(
                    "nullif(s.sim_billing_status, '')", "s.price_plan", "s.service_profile",
                    "s.roaming_profile", "s.apn_group")}) ORDER BY s.iccid)
            FROM sims s WHERE s.line_id = l.id), '[]'::json) ELSE '[]'::json END
      ) ORDER BY l.position)
      FROM purchase_order_lines l JOIN products p ON p.id = l.product_id
      WHERE l.purchase_order_id = po.id), '[]'::json),
  'statusHistory', coalesce((
      SELECT json_agg(json_build_object('fromStatus', e.from_status, 'toStatus', e.to_status,
          'actor', e.actor, 'note', e.note, 'occurredAt', {iso_sql("e.occurred_at")},
          'salesOrderStatus', e.sales_order_status) ORDER BY e.id)
      FROM po_status_events e WHERE e.purchase_order_id = po.id), '[]'::json),
  'salesOrders', coalesce((
      SELECT json_agg(json_build_object('id', {gid_sql("SalesOrder", "so.id")},
          'status', so.status,
          'warehouse', json_build_object('code', w.code, 'name', w.name),
          'lines', coalesce((
              SELECT json_agg(json_build_object('quantity', sl.quantity,
                  'purchaseOrderLineId',
                  {gid_sql("PurchaseOrderLine", "sl.purchase_order_line_id")},
                  'product', json_build_object('code', sp.code)) ORDER BY sl.id)
              FROM sales_order_lines sl JOIN products sp ON sp.id = sl.product_id
              WHERE sl.sales_order_id = so.id), '[]'::json)
      ) ORDER BY so.created_at, so.id)
      FROM sales_orders so JOIN warehouses w ON w.id = so.warehouse_id
      WHERE so.purchase_order_id = po.id), '[]'::json)
)::text AS node,
po.status, po.version, po.account_id, a.status AS account_status,
(SELECT count(*) FROM purchase_order_lines l WHERE l.purchase_order_id = po.id) AS n_lines,
(SELECT count(*) FROM purchase_order_lines l
   WHERE l.purchase_order_id = po.id
     AND (SELECT count(*) FROM sims s WHERE s.line_id = l.id) >= l.quantity) AS n_complete,
EXISTS (SELECT 1 FROM sims s WHERE s.purchase_order_id = po.id) AS any_sims
FROM purchase_orders po JOIN accounts a ON a.id = po.account_id
WHERE po.id = $1 AND ($3::text IS NULL OR a.code = $3)
"""


class Unauthorized(Exception):
    pass


def decode_uuid(value: Any, type_name: str) -> uuid.UUID | None:
    import base64
    import binascii

    if not isinstance(value, str):
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        name, _, pk = raw.partition(":")
        return uuid.UUID(pk) if name == type_name else None
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def viewer_of(request: Request, secret: str) -> dict[str, Any]:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("a bearer token is required")
    try:
        claims: dict[str, Any] = jwt.decode(
            token.strip(), secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized(str(exc)) from None
    return claims


def error(message: str, status: int = 200) -> Response:
    body = orjson.dumps({"data": None, "errors": [{"message": message}]})
    return Response(body, status_code=status, media_type="application/json")


def make_app() -> Starlette:
    dsn = os.environ["SIMGQL_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    secret = os.environ["SIMGQL_JWT_SECRET"]
    pool_size = int(os.environ.get("SIMGQL_DB_POOL_SIZE", "10"))
    state: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(
            dsn, min_size=2, max_size=pool_size, server_settings={"timezone": "UTC"}
        )
        try:
            yield
        finally:
            await state["pool"].close()

    async def dashboard(claims: dict[str, Any], variables: dict[str, Any]) -> bytes:
        code = claims.get("account")
        if claims.get("role") in SP_ROLES or not isinstance(code, str):
            raise Unauthorized("this baseline serves the dashboard to enterprise viewers only")
        first = variables.get("first")
        if not isinstance(first, int) or not 0 <= first <= 100:
            raise ValueError("first must be between 0 and 100")
        text = await state["pool"].fetchval(Q1_SQL, code, first)
        return b'{"data":{"purchaseOrders":' + text.encode() + b"}}"

    async def edit_view(claims: dict[str, Any], variables: dict[str, Any]) -> bytes:
        pk = decode_uuid(variables.get("id"), "PurchaseOrder")
        if pk is None:
            raise ValueError("id is not a PurchaseOrder ID")
        role = Role(claims["role"])
        sp = claims["role"] in SP_ROLES
        scope = None if sp else claims.get("account")
        row = await state["pool"].fetchrow(Q2_SQL, pk, sp, scope)
        if row is None:
            return b'{"data":{"purchaseOrder":null}}'
        facts = PurchaseOrderFacts(
            status=PurchaseOrderStatus(row["status"]),
            account_id=row["account_id"],
            version=row["version"],
            account_active=row["account_status"] == "ACTIVE",
            fully_assigned=row["n_lines"] > 0 and row["n_lines"] == row["n_complete"],
            sims_assigned=row["any_sims"],
        )
        viewer = Viewer(claims["sub"], role, None if sp else row["account_id"])
        actions = orjson.dumps([str(a) for a in available_actions(viewer, facts)])
        node: str = row["node"]
        return (
            b'{"data":{"purchaseOrder":'
            + node[:-1].encode()
            + b',"availableActions":'
            + actions
            + b"}}}"
        )

    operations = {"Dashboard": dashboard, "EditPurchaseOrder": edit_view}

    async def graphql(request: Request) -> Response:
        try:
            claims = viewer_of(request, secret)
        except Unauthorized as exc:
            return error(str(exc), 401)
        try:
            body = orjson.loads(await request.body())
            handler = operations[body.get("operationName")]
            payload = await handler(claims, body.get("variables") or {})
        except (KeyError, ValueError, orjson.JSONDecodeError, Unauthorized) as exc:
            return error(f"unsupported request: {exc}", 400)
        return Response(payload, media_type="application/json")

    async def healthz(_request: Request) -> Response:
        return Response(b"ok")

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["POST"]),
            Route("/readyz", healthz),
        ],
        lifespan=lifespan,
    )

