"""Keyset pagination with opaque cursors, shared by every list query."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from simgql.db.records import model_of, plain, records
from simgql.domain.errors import BadUserInput

T = TypeVar("T")
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
MAX_CURSOR_LENGTH = 512


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    cursors: list[str]
    total_count: int
    has_next_page: bool
    has_previous_page: bool


def _to_json(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _from_json(value: Any, python_type: type) -> Any:
    if python_type is dt.datetime:
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive timestamp")
        return parsed
    if python_type is uuid.UUID:
        return uuid.UUID(value)
    if not isinstance(value, python_type):
        raise ValueError("wrong type")
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_to_json(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, keys: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(keys):
            raise ValueError("wrong shape")
        return [_from_json(v, k.type.python_type) for v, k in zip(values, keys, strict=True)]
    except (ValueError, TypeError, RecursionError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadUserInput.single("after", "is not a cursor of this list") from exc


def check_page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise BadUserInput.single("first", f"must be between 0 and {MAX_PAGE_SIZE}")
    return first


async def fetch_page(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    keys: Sequence[InstrumentedAttribute[Any]],
    descending: bool = False,
    first: int | None,
    after: str | None,
) -> Page[Any]:
    """One page of `stmt` (a select of one entity) ordered by `keys`, after a cursor.

    The rows are records (`simgql.db.records`): pages are read to be shown, never changed.
    """
    size = check_page_size(first)
    total = (
        await session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))
    ).scalar_one()
    ordered = stmt.order_by(*(k.desc() if descending else k.asc() for k in keys))
    if after is not None:
        position = decode_cursor(after, keys)
        row_key = tuple_(*keys)
        ordered = ordered.where(
            row_key < tuple_(*position) if descending else row_key > tuple_(*position)
        )
    model = model_of(stmt)
    if model is None:
        rows = list((await session.execute(ordered.limit(size + 1))).scalars())
    else:  # a page is only shown: records, not ORM entities (see `simgql.db.records`)
        rows = records(await session.execute(plain(ordered, model).limit(size + 1)), model)
    has_next = len(rows) > size
    rows = rows[:size]
    cursors = [encode_cursor([getattr(r, k.key) for k in keys]) for r in rows]
    return Page(rows, cursors, total, has_next, after is not None)
