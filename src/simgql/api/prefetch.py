"""Load what a page of purchase orders will be asked for, before its fields ask.

The fields of each PO (`lines`, `account`, `total`, a line's `product`) each ask a loader;
batched, that is already a fixed number of statements per page, but every one of those
fields then waits for its batch as a coroutine and a task. Loading the page's lines,
accounts and products up front, with the same batched statements, lets those fields answer
at once from loaded data (`loaders.now_or_later`), which is most of the execution time of a
dashboard page. Only what the query selects is loaded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from strawberry.types.nodes import SelectedField

from simgql.api.context import Info
from simgql.api.loaders import loaded
from simgql.db import models

_NEED_LINES = {"lines", "total"}
_NEED_ACCOUNT = {"account", "effectiveEntitlements", "availableActions"}
_LINE_NEEDS_PRODUCT = {"product", "unitPrice"}


def selected(selections: Iterable[Any], path: Sequence[str]) -> set[str]:
    """The names of the fields selected at `path` (through fragments and aliases)."""
    names: set[str] = set()
    for selection in selections:
        if isinstance(selection, SelectedField):
            if not path:
                names.add(selection.name)
            elif selection.name == path[0]:
                names |= selected(selection.selections, path[1:])
        else:  # a fragment spread or inline fragment: the same level
            names |= selected(selection.selections, path)
    return names


async def prefetch(info: Info, rows: Sequence[models.PurchaseOrder], path: Sequence[str]) -> None:
    """Load the lines, accounts and products the selection at `path` below this field uses."""
    if not rows:
        return
    top = [s for f in info.selected_fields for s in getattr(f, "selections", ())]
    fields = selected(top, path)
    loaders = info.context.loaders
    waits: list[Any] = []
    if fields & _NEED_LINES:
        waits.append(loaders.lines.load_many([r.id for r in rows]))
    if fields & _NEED_ACCOUNT:
        waits.append(loaders.account.load_many(list({r.account_id for r in rows})))
    if not waits:
        return
    await asyncio.gather(*waits)
    if not fields & _NEED_LINES:
        return
    line_fields = selected(top, [*path, "lines"]) if "lines" in fields else set()
    every_product = bool(line_fields & {"product"})
    wanted: set[Any] = set()
    for row in rows:
        for line in loaded(loaders.lines.load(row.id)) or []:
            if every_product or (
                (line_fields & _LINE_NEEDS_PRODUCT or "total" in fields)
                and (line.unit_price is None or line.currency is None)
            ):
                wanted.add(line.product_id)
    if wanted:
        await loaders.product.load_many(list(wanted))

