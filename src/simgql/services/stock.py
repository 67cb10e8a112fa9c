"""Service-provider administration of warehouses and their stock."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError

from simgql.db import fulfilment as repo
from simgql.db.engine import Database
from simgql.db.models import Product, Stock, Warehouse
from simgql.domain.errors import BadUserInput, FieldError, NotFound, raise_if_any
from simgql.domain.model import Role, Viewer
from simgql.domain.policy import ensure_role
from simgql.domain.validation import catalogue_code_problem, text_problem

ADMIN = frozenset({Role.SP_ADMIN})
MAX_STOCK = 10_000_000


async def create_warehouse(db: Database, *, viewer: Viewer, code: str, name: str) -> Warehouse:
    ensure_role(viewer, ADMIN, "manage warehouses")
    problems = []
    if (p := catalogue_code_problem(code)) or len(code) > 32:
        problems.append(FieldError("code", p or "must be at most 32 characters"))
    if p := text_problem(name, required=True):
        problems.append(FieldError("name", p))
    raise_if_any(problems)
    warehouse = Warehouse(code=code, name=name)
    try:
        async with db.write() as session:
            session.add(warehouse)
    except IntegrityError:
        raise BadUserInput.single("code", f"a warehouse with code {code} exists") from None
    return warehouse


async def set_stock(
    db: Database, *, viewer: Viewer, warehouse_id: uuid.UUID, product_id: uuid.UUID, on_hand: int
) -> Warehouse:
    """Set what a warehouse holds of a product; never below what is already reserved."""
    ensure_role(viewer, ADMIN, "manage stock")
    if not 0 <= on_hand <= MAX_STOCK:
        raise BadUserInput.single("onHand", f"must be between 0 and {MAX_STOCK}")
    async with db.write() as session:
        warehouse = await session.get(Warehouse, warehouse_id)
        if warehouse is None:
            raise NotFound("Warehouse")
        if await session.get(Product, product_id) is None:
            raise NotFound("Product")
        row = await repo.stock_row(
            session, warehouse_id=warehouse_id, product_id=product_id, lock=True
        )
        if row is None:
            session.add(Stock(warehouse_id=warehouse_id, product_id=product_id, on_hand=on_hand))
        else:
            if on_hand < row.reserved:
                raise BadUserInput.single(
                    "onHand", f"{row.reserved} units are reserved for sales orders"
                )
            row.on_hand = on_hand
    return warehouse
