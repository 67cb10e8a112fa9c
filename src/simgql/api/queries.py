"""Root query fields; each resolver checks visibility through the policy and reads via repos."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy import select

from simgql.api.context import Info
from simgql.api.fulfilment_queries import visible_sales_order, visible_warehouse
from simgql.api.ids import decode_optional_id, parse_id
from simgql.api.inputs import (
    AccountFilter,
    ProductFilter,
    PurchaseOrderFilter,
    PurchaseOrderOrderBy,
)
from simgql.api.prefetch import prefetch
from simgql.api.types import (
    Account,
    After,
    Connection,
    First,
    Me,
    Node,
    Product,
    PurchaseOrder,
    Sim,
    connection,
)
from simgql.db import models
from simgql.db import products as product_repo
from simgql.db import purchase_orders as po_repo
from simgql.db.pagination import fetch_page
from simgql.domain.errors import BadUserInput
from simgql.domain.policy import can_see_account, visible_account_scope


async def _visible_product(info: Info, pk: object) -> Product | None:
    viewer = info.context.viewer
    scope = visible_account_scope(viewer)
    async with info.context.db.read() as session:
        stmt = product_repo.visible_products(account_id=scope).where(models.Product.id == pk)
        row = (await session.execute(stmt)).scalar_one_or_none()
    return Product.of(row) if row else None


async def _visible_account(info: Info, pk: object) -> Account | None:
    viewer = info.context.viewer
    row = await info.context.loaders.account.load(pk)  # type: ignore[arg-type]
    if row is None or not can_see_account(viewer, row.id):
        return None
    return Account.of(row)


async def _visible_purchase_order(info: Info, pk: object) -> PurchaseOrder | None:
    viewer = info.context.viewer
    visible_account_scope(viewer)
    row = await info.context.loaders.purchase_order.load(pk)  # type: ignore[arg-type]
    if row is None or not can_see_account(viewer, row.account_id):
        return None
    await prefetch(info, [row], ())
    return PurchaseOrder.of(row)


async def _visible_sim(info: Info, pk: object) -> Sim | None:
    from simgql.domain.model import PurchaseOrderStatus
    from simgql.domain.policy import can_see_sims

    viewer = info.context.viewer
    visible_account_scope(viewer)
    async with info.context.db.read() as session:
        sim = await session.get(models.Sim, pk)
        if sim is None or not can_see_account(viewer, sim.account_id):
            return None
        po = await session.get(models.PurchaseOrder, sim.purchase_order_id)
    assert po is not None
    return Sim.of(sim) if can_see_sims(viewer, PurchaseOrderStatus(po.status)) else None


_NODE_FETCHERS = {
    "Product": _visible_product,
    "Account": _visible_account,
    "PurchaseOrder": _visible_purchase_order,
    "Sim": _visible_sim,
    "SalesOrder": visible_sales_order,
    "Warehouse": visible_warehouse,
}


def _pk(value: strawberry.ID, type_name: str) -> object | None:
    parsed = parse_id(value)
    if parsed is None:
        raise BadUserInput.single("id", "is not an ID of this API")
    return parsed[1] if parsed[0] == type_name else None


@strawberry.type
class Query:
    @strawberry.field(description="Who the bearer token speaks for.")
    async def me(self, info: Info) -> Me:
        viewer = info.context.viewer
        account = None
        if viewer.account_id is not None:
            account = await info.context.loaders.account.load(viewer.account_id)
        return Me(
            sub=viewer.sub, role=viewer.role, warehouse=viewer.warehouse_code, account_row=account
        )

    @strawberry.field(description="Any object by its global ID; null when it is not visible.")
    async def node(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="A global ID of any object type.")
        ],
    ) -> Node | None:
        parsed = parse_id(id)
        if parsed is None:
            raise BadUserInput.single("id", "is not an ID of this API")
        fetch = _NODE_FETCHERS.get(parsed[0])
        return await fetch(info, parsed[1]) if fetch else None

    @strawberry.field(
        description="A product by its ID; null when it does not exist or is not visible."
    )
    async def product(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The product's global ID.")],
    ) -> Product | None:
        pk = _pk(id, "Product")
        return await _visible_product(info, pk) if pk else None

    @strawberry.field(description="Enterprise roles see the products assigned to their account.")
    async def products(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        filter: Annotated[
            ProductFilter | None, strawberry.argument(description="Narrows the list.")
        ] = None,
    ) -> Connection[Product]:
        scope = visible_account_scope(info.context.viewer)
        f = filter or ProductFilter()
        stmt = product_repo.visible_products(
            account_id=scope, kind=f.kind, active=f.active, code=f.code
        )
        async with info.context.db.read() as session:
            page = await fetch_page(
                session, stmt, keys=[models.Product.code], first=first, after=after
            )
        return connection(
            [Product.of(r) for r in page.rows],
            page.cursors,
            total=page.total_count,
            has_next=page.has_next_page,
            has_previous=page.has_previous_page,
        )

    @strawberry.field(
        description="An account by its ID; null when it does not exist or is not visible."
    )
    async def account(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The account's global ID.")],
    ) -> Account | None:
        pk = _pk(id, "Account")
        return await _visible_account(info, pk) if pk else None

    @strawberry.field(description="Enterprise roles see only their own account.")
    async def accounts(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        filter: Annotated[
            AccountFilter | None, strawberry.argument(description="Narrows the list.")
        ] = None,
    ) -> Connection[Account]:
        scope = visible_account_scope(info.context.viewer)
        f = filter or AccountFilter()
        stmt = select(models.Account)
        if scope is not None:
            stmt = stmt.where(models.Account.id == scope)
        if f.code is not None:
            stmt = stmt.where(models.Account.code == f.code)
        if f.status is not None:
            stmt = stmt.where(models.Account.status == f.status)
        async with info.context.db.read() as session:
            page = await fetch_page(
                session, stmt, keys=[models.Account.code], first=first, after=after
            )
        return connection(
            [Account.of(r) for r in page.rows],
            page.cursors,
            total=page.total_count,
            has_next=page.has_next_page,
            has_previous=page.has_previous_page,
        )

    @strawberry.field(
        description="A purchase order by its ID; null when it does not exist or is not visible."
    )
    async def purchase_order(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="The purchase order's global ID.")
        ],
    ) -> PurchaseOrder | None:
        pk = _pk(id, "PurchaseOrder")
        return await _visible_purchase_order(info, pk) if pk else None

    @strawberry.field(
        description="Purchase orders the viewer may see: enterprise roles their own account's."
    )
    async def purchase_orders(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        filter: Annotated[
            PurchaseOrderFilter | None, strawberry.argument(description="Narrows the list.")
        ] = None,
        order_by: Annotated[
            PurchaseOrderOrderBy, strawberry.argument(description="The order; newest first.")
        ] = PurchaseOrderOrderBy.CREATED_AT_DESC,
    ) -> Connection[PurchaseOrder]:
        viewer = info.context.viewer
        scope = visible_account_scope(viewer)
        f = filter or PurchaseOrderFilter()
        account_id = decode_optional_id(f.account_id, "Account", "filter.accountId")
        if scope is not None and account_id is not None and account_id != scope:
            # Another tenant's account filters to nothing, exactly like an unknown one.
            return connection([], [], total=0, has_next=False, has_previous=after is not None)
        stmt = po_repo.filtered_purchase_orders(
            po_repo.PurchaseOrderFilter(
                account_id=scope or account_id,
                statuses=f.status,
                number=f.number,
                created_after=f.created_after,
                created_before=f.created_before,
            )
        )
        for name, value in (
            ("filter.createdAfter", f.created_after),
            ("filter.createdBefore", f.created_before),
        ):
            if value is not None and value.tzinfo is None:
                raise BadUserInput.single(name, "must carry a time zone offset")
        async with info.context.db.read() as session:
            page = await fetch_page(
                session,
                stmt,
                keys=[models.PurchaseOrder.created_at, models.PurchaseOrder.id],
                descending=order_by is PurchaseOrderOrderBy.CREATED_AT_DESC,
                first=first,
                after=after,
            )
        await prefetch(info, page.rows, ("edges", "node"))
        return connection(
            [PurchaseOrder.of(r) for r in page.rows],
            page.cursors,
            total=page.total_count,
            has_next=page.has_next_page,
            has_previous=page.has_previous_page,
        )
