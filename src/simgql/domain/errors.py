"""Errors raised by the domain; the API layer maps each to one `extensions.code`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field, addressed by a dotted path such as `lines.0.quantity`."""

    field: str
    message: str


class DomainError(Exception):
    """Base of every error a client may see; `code` becomes `extensions.code`."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def extensions(self) -> dict[str, object]:
        return {"code": self.code}


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class NotFound(DomainError):
    code = "NOT_FOUND"

    def __init__(self, what: str = "Object") -> None:
        super().__init__(f"{what} not found")


class Conflict(DomainError):
    code = "CONFLICT"


class InsufficientStock(DomainError):
    code = "INSUFFICIENT_STOCK"

    def __init__(self, shortfall: list[dict[str, object]]) -> None:
        parts = ", ".join(
            f"{s['productCode']}: {s['requested']} requested, {s['available']} available"
            for s in shortfall
        )
        super().__init__(f"not enough stock ({parts})")
        self.shortfall = shortfall

    def extensions(self) -> dict[str, object]:
        return {"code": self.code, "shortfall": self.shortfall}


class RateLimited(DomainError):
    code = "RATE_LIMITED"


class QueryTooComplex(DomainError):
    code = "QUERY_TOO_COMPLEX"


class InvalidTransition(DomainError):
    code = "INVALID_TRANSITION"

    def __init__(self, message: str, *, status: str) -> None:
        super().__init__(message)
        self.status = status

    def extensions(self) -> dict[str, object]:
        return {"code": self.code, "status": self.status}


class BadUserInput(DomainError):
    code = "BAD_USER_INPUT"

    def __init__(self, fields: Iterable[FieldError], message: str | None = None) -> None:
        self.fields = list(fields)
        if message is None:
            message = "; ".join(f"{f.field}: {f.message}" for f in self.fields) or "Invalid input"
        super().__init__(message)

    @classmethod
    def single(cls, field: str, message: str) -> BadUserInput:
        return cls([FieldError(field, message)])

    def extensions(self) -> dict[str, object]:
        return {
            "code": self.code,
            "fields": [{"field": f.field, "message": f.message} for f in self.fields],
        }


def raise_if_any(problems: list[FieldError]) -> None:
    """Raise one `BadUserInput` carrying every collected problem, if there is any."""
    if problems:
        raise BadUserInput(problems)
