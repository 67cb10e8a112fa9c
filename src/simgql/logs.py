"""Logging: one line per record, as text for people or JSON for log pipelines.

Every record carries the request it belongs to: the request id (the caller's `X-Request-ID`
when it is a sane token, else one we make, and echoed in the response), the user (`sub` of
the verified token) and the GraphQL operation. These live in context variables, so records
written anywhere below a request (resolvers, the database layer, error handlers) get them
without being passed anything; tasks started by a request (subscriptions) inherit them.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import sys
import uuid
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "simgql_request_id", default=None
)
user: contextvars.ContextVar[str | None] = contextvars.ContextVar("simgql_user", default=None)
operation: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "simgql_operation", default=None
)

REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Standard attributes of a LogRecord; anything else on a record was passed with `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with terminal colours
}
_CONTEXT_FIELDS = ("request_id", "user", "operation")
_OURS = "_simgql_handler"


class RequestContext(logging.Filter):
    """Puts the request id, user and operation of the current context on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.user = user.get()
        record.operation = operation.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in _CONTEXT_FIELDS:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The classic line, with the request id and user appended when there are any."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(
            f"{name}={getattr(record, name)}"
            for name in _CONTEXT_FIELDS
            if getattr(record, name, None) is not None
        )
        if not context:
            return line
        first, newline, rest = line.partition("\n")
        return f"{first} [{context}]{newline}{rest}"


def configure_logging(level: str, fmt: str, *, only_if_unconfigured: bool = False) -> None:
    """Our handler on the root logger; uvicorn's loggers write through it too.

    With `only_if_unconfigured`, leave a root logger that already has handlers alone (an
    embedding application, or pytest, has made its choice).
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, _OURS, False)]
    if only_if_unconfigured and root.handlers and not ours:
        return
    for handler in ours:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _OURS, True)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestContext())
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def new_request_id(offered: str | None) -> str:
    """The caller's id when it is a sane token (to follow a request across services)."""
    if offered and _SANE_REQUEST_ID.fullmatch(offered):
        return offered
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Gives every HTTP request and WebSocket an id, for its log records and its response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        offered = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                offered = value.decode("latin-1")
                break
        rid = new_request_id(offered)
        tokens = (request_id.set(rid), user.set(None), operation.set(None))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id if scope["type"] == "http" else send)
        finally:
            operation.reset(tokens[2])
            user.reset(tokens[1])
            request_id.reset(tokens[0])
