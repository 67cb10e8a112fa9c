"""Rows read only to be shown: model objects without the ORM's bookkeeping.

Loading a row as an ORM entity costs an identity-map entry and an instance state with its
own bookkeeping, about a quarter of a dashboard page's CPU (docs/performance.md). What the
API's loaders and pages read is never changed or flushed, so for them the same statement
selects the model's columns as plain values, and each row becomes an instance of the model
class whose attributes are simply set: `line.quantity` reads the same, `isinstance` holds,
and the types stay what mypy knows. Such a record belongs to no session: it cannot be added,
refreshed or lazily loaded (our models have no relationships), which is what a read needs.
Anything that writes reads through its own unit of work, as ORM entities.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession

M = TypeVar("M")

_shapes: dict[type, tuple[tuple[str, ...], tuple[Any, ...]]] = {}
_statements: dict[int, tuple[Select[Any], Select[Any]]] = {}


def _shape(model: type) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """The model's attribute names and their columns, in one order."""
    found = _shapes.get(model)
    if found is None:
        attrs: Any = sa_inspect(model).column_attrs
        found = _shapes[model] = (
            tuple(a.key for a in attrs),
            tuple(a.columns[0] for a in attrs),
        )
    return found


def plain(stmt: Select[Any], model: type) -> Select[Any]:
    """`stmt` (a select of `model`) selecting the model's columns as plain values."""
    return stmt.with_only_columns(*_shape(model)[1])


def _remembered_plain(stmt: Select[Any], model: type) -> Select[Any]:
    """`plain(stmt)` for a statement built once (module level), built once too."""
    found = _statements.get(id(stmt))
    if found is None or found[0] is not stmt:
        found = _statements[id(stmt)] = (stmt, plain(stmt, model))
    return found[1]


def records(rows: Iterable[Sequence[Any]], model: type[M]) -> list[M]:
    """Instances of `model` holding `rows` (from `plain`), outside any session."""
    keys = _shape(model)[0]
    new = object.__new__
    out: list[M] = []
    for row in rows:
        record = new(model)
        record.__dict__.update(zip(keys, row, strict=True))
        out.append(record)
    return out


async def fetch(
    session: AsyncSession,
    stmt: Select[Any],
    model: type[M],
    params: Mapping[str, Any] | None = None,
    *,
    lean: bool,
) -> list[M]:
    """The `model` rows of `stmt` (built once, at module level): entities, or records if
    `lean`."""
    if not lean:
        return list((await session.execute(stmt, params)).scalars())
    result = await session.execute(_remembered_plain(stmt, model), params)
    return records(result, model)


def model_of(stmt: Select[Any]) -> type | None:
    """The entity a select of one entity selects, if it is one."""
    described = stmt.column_descriptions
    if len(described) != 1:
        return None
    entity = described[0].get("entity")
    return entity if isinstance(entity, type) and described[0].get("expr") is entity else None
