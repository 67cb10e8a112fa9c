"""The one place where errors become `extensions.code`, and unexpected ones are masked."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from simgql.db.engine import is_unavailable, outages
from simgql.domain.errors import DomainError

log = logging.getLogger("simgql.errors")

MASKED_MESSAGE = "Internal server error"


_TOKEN_LIMIT_PREFIX = "Syntax Error: Document contains more than"
_VARIABLE = re.compile(r"Variable '\$(\w+)'(?: got invalid value .*? at '([^']+)')?")


def _field_of(message: str) -> str:
    """The input a coercion message is about (`input.lines.0.quantity`), else `query`."""
    match = _VARIABLE.match(message)
    if match is None:
        return "query"
    path = match.group(2) or match.group(1)
    return re.sub(r"\[(\d+)\]", r".\1", path)


def as_graphql_error(exc: DomainError) -> GraphQLError:
    return GraphQLError(exc.message, extensions=exc.extensions(), original_error=exc)


def shape_error(error: GraphQLError) -> GraphQLError:
    """Give the error its code; hide anything that is not one of ours."""
    original = error.original_error
    if isinstance(original, DomainError):
        return GraphQLError(
            original.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=original.extensions(),
        )
    if error.message.startswith(_TOKEN_LIMIT_PREFIX):
        measured = re.search(r"more than (\d+) tokens", error.message)
        return GraphQLError(
            error.message,
            extensions={
                "code": "QUERY_TOO_COMPLEX",
                "kind": "tokens",
                "limit": int(measured.group(1)) if measured else None,
            },
        )
    if (
        original is not None
        and not isinstance(original, GraphQLError)
        and is_unavailable(original)
    ):
        outages.report(f"operation failed at {error.path or 'start'}", original)
        return masked(error)
    if original is None or isinstance(original, GraphQLError) or error.path is None:
        # Parse, validation and variable-coercion errors: the client's request is at fault.
        if error.extensions and "code" in error.extensions:
            return error
        return GraphQLError(
            error.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={
                "code": "BAD_USER_INPUT",
                "fields": [{"field": _field_of(error.message), "message": error.message}],
            },
        )
    log.error("unexpected error in %s", error.path, exc_info=original)
    return masked(error)


def masked(error: GraphQLError) -> GraphQLError:
    """What a client learns of a failure that is not its own: that it happened, no more."""
    return GraphQLError(
        MASKED_MESSAGE,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR"},
    )


class ErrorShaping(SchemaExtension):
    """Runs after every operation (HTTP and WebSocket) and rewrites its errors."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [shape_error(e) for e in errors]  # type: ignore[union-attr]
        pre = self.execution_context.pre_execution_errors
        if pre:
            self.execution_context.pre_execution_errors = [shape_error(e) for e in pre]

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Each result of a subscription, before it goes out, like any other result."""
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [shape_error(e) for e in errors]
        yield
