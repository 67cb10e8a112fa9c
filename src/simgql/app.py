"""The Starlette application: GraphQL over HTTP and WebSocket, health and readiness."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import json
import logging
import math
from collections.abc import AsyncIterator
from typing import Any, cast

from cross_web import HTTPException
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import func, select, text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Match, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from simgql import logs
from simgql.api.auth import bearer_value, viewer_from_token
from simgql.api.context import Context
from simgql.api.demo_view import demo_routes
from simgql.api.encoding import ResponseEncoder
from simgql.api.graphiql import graphiql_response, static_mount
from simgql.api.limits import QueryLimits, request_cost
from simgql.api.rate_limit import RateLimiter, make_limiter
from simgql.api.schema import build_schema
from simgql.api.security import check_production, install_log_redaction, security_middleware
from simgql.api.tokens import verifier_from_settings
from simgql.api.websocket import (
    KeepAlive,
    LegacyWSHandler,
    PingingTransportWSHandler,
    ServiceUnavailable,
)
from simgql.db.engine import Database, is_unavailable, outages
from simgql.db.models import SalesOrder
from simgql.domain.errors import DomainError, Unauthenticated
from simgql.domain.model import Viewer
from simgql.events.hub import EventHub
from simgql.fulfilment.job import SalesOrderJob, load_check
from simgql.logs import RequestIdMiddleware, configure_logging
from simgql.observability import Metrics
from simgql.runtime import tune_garbage_collector
from simgql.settings import Settings
from simgql.tracing import tracing_extensions

log = logging.getLogger("simgql")


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, and HTTP-level errors as GraphQL errors."""

    graphql_transport_ws_handler_class = PingingTransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        hub: EventHub | None,
        jobs: SalesOrderJob | None = None,
        tracer_provider: Any = None,
    ) -> None:
        strawberry_schema = build_schema(
            QueryLimits(
                max_depth=settings.max_query_depth,
                max_aliases=settings.max_query_aliases,
                max_directives=settings.max_query_directives,
                max_cost=settings.max_query_cost,
            ),
            max_tokens=settings.max_query_tokens,
            introspection=settings.introspection,
            extra_extensions=tracing_extensions(settings.tracing, tracer_provider),
            compiled=settings.compiled_execution,
        )
        self.graphql_schema = strawberry_schema._schema
        super().__init__(
            strawberry_schema,
            allowed_origins=settings.allowed_origins,
            keep_alive=True,
            keep_alive_interval=settings.ws_keep_alive_seconds,
            connection_init_wait_timeout=dt.timedelta(
                seconds=settings.ws_connection_init_timeout_seconds
            ),
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            subscription_protocols=(
                GRAPHQL_TRANSPORT_WS_PROTOCOL,
                GRAPHQL_WS_PROTOCOL,
                GRAPHQL_SSE_PROTOCOL,
                MULTIPART_SUBSCRIPTION_PROTOCOL,
            ),
        )
        self.db = db
        self.settings = settings
        # Every WebSocket's keep-alives, sent by one task (see `simgql.api.websocket`).
        interval = settings.ws_keep_alive_seconds
        self.keep_alive_pings = KeepAlive(interval) if interval > 0 else None
        self.verifier = verifier_from_settings(settings)
        self.hub = hub
        self.jobs = jobs
        self.metrics = Metrics()
        self.encoder = ResponseEncoder()
        self.limiter: RateLimiter | None = None
        if settings.rate_limit_enabled:
            self.limiter = make_limiter(
                settings.rate_limit_url,
                rate=settings.rate_limit_per_second,
                burst=settings.rate_limit_burst,
            )

    def encode_json(self, data: object) -> str:
        """orjson; a shared subscription result is encoded once for all its subscribers."""
        return self.encoder.encode(data)

    async def render_graphql_ide(self, request: Request) -> Response:
        """Our GraphiQL page: its assets are served by this server, so it works offline."""
        return graphiql_response()

    async def _rate_limit(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], request_data: Any
    ) -> ExecutionResult | None:
        """Take the operation's cost from the caller's bucket; the refusal when it is empty."""
        if self.limiter is None or not isinstance(request_data, GraphQLRequestData):
            return None
        context = kwargs.get("context", args[3] if len(args) > 3 else None)
        sub_response = kwargs.get("sub_response", args[5] if len(args) > 5 else None)
        viewer = getattr(context, "viewer_or_error", None)
        request = kwargs.get("request", args[0] if args else None)
        client = getattr(getattr(request, "client", None), "host", "unknown")
        key = f"sub:{viewer.sub}" if isinstance(viewer, Viewer) else f"ip:{client}"
        cost = request_cost(
            self.graphql_schema,
            request_data.query or "",
            request_data.operation_name,
            request_data.variables or {},
            max_tokens=self.settings.max_query_tokens,
        )
        wait = await self.limiter.take(key, cost)
        if wait is None:
            return None
        retry_after = max(1, math.ceil(wait))
        if isinstance(sub_response, Response):
            sub_response.status_code = 429
            sub_response.headers["Retry-After"] = str(retry_after)
        error = GraphQLError(
            f"rate limit reached: this operation costs {cost}; retry in {retry_after} s",
            extensions={"code": "RATE_LIMITED", "retryAfter": retry_after, "cost": cost},
        )
        return ExecutionResult(data=None, errors=[error])

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        """Run one HTTP operation, within the execution time limit."""
        request_data = kwargs.get("request_data", args[2] if len(args) > 2 else None)
        problem = (
            operation_problem(request_data)
            if isinstance(request_data, GraphQLRequestData)
            else None
        )
        if problem is not None:
            error = GraphQLError(
                problem,
                extensions={
                    "code": "BAD_USER_INPUT",
                    "fields": [{"field": "query", "message": problem}],
                },
            )
            return ExecutionResult(data=None, errors=[error])
        refusal = await self._rate_limit(args, kwargs, request_data)
        if refusal is not None:
            return refusal
        limit = self.settings.execution_timeout_seconds
        try:
            async with asyncio.timeout(limit):
                return await super().execute_operation(*args, **kwargs)
        except TimeoutError:
            error = GraphQLError(
                f"the operation ran longer than {limit} seconds and was stopped",
                extensions={"code": "QUERY_TOO_COMPLEX", "kind": "time", "limit": limit},
            )
            return ExecutionResult(data=None, errors=[error])

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate a WebSocket from `connection_init`'s `authorization` (or the header)."""
        params = context.connection_params or {}
        # Read once: the payload (the bearer token with it) is not kept for the socket's life.
        context.connection_params = None
        raw = params.get("authorization") or params.get("Authorization")
        if raw is None and isinstance(context.request, WebSocket):
            raw = context.request.headers.get("authorization")
        if not isinstance(raw, str) or not raw.strip():
            raise ConnectionRejectionError({"message": "a bearer token is required"})
        token = raw.strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        try:
            viewer, expires = await viewer_from_token(
                token,
                verifier=self.verifier,
                db=self.db,
            )
        except DomainError as exc:
            raise ConnectionRejectionError({"message": exc.message}) from None
        except Exception as exc:
            if not is_unavailable(exc):
                log.exception("unexpected error authenticating a WebSocket")
            else:
                outages.report("WebSocket connection_init", exc)
            raise ServiceUnavailable() from None
        context.viewer_or_error = viewer
        context.expires_at = expires
        logs.user.set(viewer.sub)
        return cast(UnsetType, UNSET)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gauge = self.metrics.in_flight if scope["type"] == "http" else self.metrics.websockets
        gauge.inc()
        try:
            if scope["type"] == "http":
                await self._serve(scope, receive, send)
            else:
                # Straight to Strawberry's handler, as `GraphQL.__call__` would: each frame
                # on a WebSocket's await chain lives as long as the socket.
                await self.run(WebSocket(scope, receive=receive, send=send))
        finally:
            gauge.dec()

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method not in ("GET", "HEAD", "POST"):
            response = http_error(405, f"{request.method} is not allowed: use GET or POST")
            response.headers["Allow"] = "GET, POST"
            await response(scope, receive, send)
            return
        try:
            problem = await body_problem(request, self.settings.max_body_bytes)
            response = http_error(400, problem) if problem else await self.run(request)
        except HTTPException as exc:
            response = http_error(exc.status_code, exc.reason)
        except Exception as exc:
            if is_unavailable(exc):  # e.g. the token's account could not be read
                outages.report(f"{request.method} {request.url.path}", exc)
                response = http_error(503, "the service is briefly unavailable; retry shortly")
                response.headers["Retry-After"] = "1"
            else:  # a bug of ours: masked for the client, logged for us
                log.exception("unexpected error handling %s %s", request.method, request.url.path)
                response = http_error(500, "Internal server error")
        if GRAPHQL_RESPONSE in request.headers.get("accept", ""):
            response = as_graphql_response(response)
        await response(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        viewer: Any
        expires = None
        try:
            token = bearer_value(request.headers.get("authorization"))
            if token is None:
                raise Unauthenticated("a bearer token is required")
            viewer, expires = await viewer_from_token(
                token,
                verifier=self.verifier,
                db=self.db,
            )
        except DomainError as exc:
            viewer = exc
        else:
            logs.user.set(viewer.sub)
        return Context(
            db=self.db,
            settings=self.settings,
            viewer_or_error=viewer,
            expires_at=expires,
            request=request,
            hub=self.hub,
            jobs=self.jobs,
            metrics=self.metrics,
        )


async def refresh_gauges(metrics: Metrics, hub: EventHub, db: Database) -> None:
    """Read the gauges that are states, not events, at scrape time."""
    metrics.set("simgql_subscriptions", hub.subscriber_count)
    metrics.set("simgql_event_log_position", hub.position)
    metrics.set("simgql_broker_connected", int(hub.bus.connected))
    metrics.set("simgql_broker_reconnects", hub.bus.reconnects)
    pool = db.engine.pool
    metrics.set("simgql_db_connections_in_use", getattr(pool, "checkedout", lambda: 0)())
    try:
        async with db.read() as session:
            waiting = await session.execute(
                select(func.count())
                .select_from(SalesOrder)
                .where(SalesOrder.status == "AWAITING_GENERATION")
            )
            metrics.set("simgql_sales_orders_waiting", waiting.scalar_one())
    except Exception:  # a scrape must not fail because the database is away
        log.warning("could not count waiting sales orders for /metrics")


GRAPHQL_RESPONSE = "application/graphql-response+json"


def as_graphql_response(response: Response) -> Response:
    """The GraphQL-over-HTTP media type, for clients that ask for it.

    With it, a request that never executed (it did not parse, validate, or its variables
    did not fit) is answered 400 without a `data` entry, as the spec recommends; clients
    that accept only `application/json` keep getting 200, the legacy behaviour.
    """
    if not response.media_type or "json" not in response.media_type:
        return response
    if not isinstance(response.body, bytes) or response.status_code != 200:
        response.headers["content-type"] = f"{GRAPHQL_RESPONSE}; charset=utf-8"
        return response
    try:
        body = json.loads(response.body)
    except ValueError:
        return response
    status = response.status_code
    if (
        isinstance(body, dict)
        and body.get("errors")
        and body.get("data") is None
        and not any(e.get("path") for e in body["errors"])
    ):
        body.pop("data", None)
        status = 400
    headers = {
        k: v
        for k, v in response.headers.items()
        if k.lower() not in ("content-length", "content-type")
    }
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        headers=headers,
        media_type=GRAPHQL_RESPONSE,
    )


@functools.lru_cache(maxsize=512)
def _operations(query: str) -> tuple[tuple[str | None, OperationType], ...] | None:
    """The (name, kind) of each operation of a document; None when it does not parse."""
    try:
        document = parse(query)
    except GraphQLError:
        return None  # the schema reports the syntax error as usual
    return tuple(
        (d.name.value if d.name else None, d.operation)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )


def operation_problem(request: GraphQLRequestData) -> str | None:
    """Why the operation to run cannot be chosen, or cannot run over plain HTTP."""
    if not request.query:
        return None
    operations = _operations(request.query)
    if not operations:
        return None
    if request.operation_name is None and len(operations) > 1:
        return "operationName is required when the document holds several operations"
    chosen = [
        kind
        for name, kind in operations
        if request.operation_name is None or name == request.operation_name
    ]
    if request.protocol == "http" and chosen == [OperationType.SUBSCRIPTION]:
        return (
            "subscriptions need a WebSocket (graphql-transport-ws or graphql-ws), "
            "Server-Sent Events (Accept: text/event-stream) or multipart HTTP"
        )
    return None


async def body_problem(request: Request, max_bytes: int) -> str | None:
    """Why a request body cannot be a GraphQL request, if it cannot."""
    if request.method != "POST":
        return None
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        return f"the request body is larger than {max_bytes} bytes"
    body = await request.body()  # cached: the GraphQL view reads it again
    if len(body) > max_bytes:
        return f"the request body is larger than {max_bytes} bytes"
    if "json" not in request.headers.get("content-type", ""):
        return None
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "Unable to parse request body as JSON"
    if isinstance(data, list):
        if not data or not all(isinstance(item, dict) for item in data):
            return "A batch must be a non-empty list of GraphQL requests"
        return None
    if not isinstance(data, dict):
        return "The request body must be a JSON object"
    if not isinstance(data.get("operationName"), str | None):
        return "operationName must be a string"
    return None


def http_error(status: int, message: str) -> Response:
    """A GraphQL-shaped error body for requests that never reached execution."""
    code = "BAD_USER_INPUT" if status < 500 else "INTERNAL_SERVER_ERROR"
    body = {
        "errors": [
            {
                "message": message,
                "extensions": {"code": code, "fields": [{"field": "request", "message": message}]},
            }
        ]
    }
    return Response(json.dumps(body), status_code=status, media_type="application/json")


class Application(Starlette):
    """Starlette, with the GraphQL WebSocket route reached past Starlette's own layers.

    A WebSocket's await chain lives as long as the socket. Starlette's error and exception
    middleware and its router put seven coroutine frames and their closures (about 3 KiB)
    on every socket, and do nothing for this route: the view answers every failure itself
    (a close code, or a GraphQL error) and raises no HTTP or WebSocket exception for them
    to turn into a response. The application's own middleware (request ids, security)
    still wraps the route, in the same order; anything else goes the usual way.
    """

    def __init__(self, websocket_route: WebSocketRoute, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.websocket_route = websocket_route
        self._websocket_stack: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            match, child_scope = self.websocket_route.matches(scope)
            if match is Match.FULL:
                scope["app"] = self
                scope.update(child_scope)
                await self._websocket_app()(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def _websocket_app(self) -> ASGIApp:
        """The route wrapped in the user middleware, built on first use as Starlette does."""
        if self._websocket_stack is None:
            app = self.websocket_route.app
            for cls, args, kwargs in reversed(self.user_middleware):
                app = cls(app, *args, **kwargs)
            self._websocket_stack = app
        return self._websocket_stack


def create_app(
    settings: Settings | None = None, *, db: Database | None = None, tracer_provider: Any = None
) -> Starlette:
    """The application; `tracer_provider` overrides the one `SIMGQL_TRACING` picks."""
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format, only_if_unconfigured=True)
    for warning in check_production(settings):  # raises InsecureConfiguration when unfit
        log.warning("production settings: %s", warning)
    database = db or Database(
        settings.database_url, echo=settings.sql_echo, pool_size=settings.db_pool_size
    )
    hub = EventHub(
        database,
        settings.broadcast_url,
        queue_size=settings.subscriber_queue_size,
        poll_interval=settings.event_poll_seconds,
        heartbeat_interval=settings.broker_heartbeat_seconds,
    )
    jobs = SalesOrderJob(
        database,
        mode=settings.sales_order_job,
        interval=settings.sales_order_job_interval_seconds,
        custom=load_check(settings.fraud_check) if settings.fraud_check else None,
        publish=hub.published,
    )
    graphql = GraphQLApp(
        db=database, settings=settings, hub=hub, jobs=jobs, tracer_provider=tracer_provider
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        install_log_redaction([settings.jwt_secret])
        tune_garbage_collector(settings.gc_gen0_threshold)
        await hub.start()
        await jobs.start()
        try:
            yield
        finally:
            await jobs.stop()
            await hub.stop()
            if graphql.limiter is not None:
                await graphql.limiter.close()
            if db is None:
                await database.dispose()

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_request: Request) -> Response:
        report = {"database": "ok", "broker": "ok" if hub.bus.healthy else "unreachable"}
        try:
            async with database.read() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:  # readiness reports, it does not raise
            outages.report("readiness probe", exc)
            report["database"] = "unreachable"
        ready = all(v == "ok" for v in report.values())
        return JSONResponse(report, status_code=200 if ready else 503)

    async def metrics(_request: Request) -> Response:
        await refresh_gauges(graphql.metrics, hub, database)
        return Response(graphql.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    graphql_ws = WebSocketRoute("/graphql", graphql)
    app = Application(
        graphql_ws,
        routes=[
            static_mount(),
            *demo_routes(),
            Route("/graphql", graphql),
            graphql_ws,
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ],
        middleware=[Middleware(RequestIdMiddleware), *security_middleware(settings)],
        lifespan=lifespan,
    )
    app.state.db = database
    app.state.hub = hub
    app.state.settings = settings
    return app
