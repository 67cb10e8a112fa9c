"""Root query fields of fulfilment: sales orders, warehouses and the allocation preview."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry
from sqlalchemy import select

from simgql.api.context import Info
from simgql.api.ids import decode_id, decode_optional_id
from simgql.api.types import (
    After,
    Connection,
    First,
    Product,
    SalesOrder,
    Warehouse,
    connection,
)
from simgql.db import fulfilment as repo
from simgql.db import models
from simgql.db.pagination import fetch_page
from simgql.domain.errors import NotFound
from simgql.domain.fulfilment import SalesOrderStatus
from simgql.domain.model import SP_ROLES, Role
from simgql.domain.policy import (
    can_see_sales_order,
    ensure_role,
    ensure_visible,
    sales_order_scope,
)
from simgql.fulfilment.actions import plan


@strawberry.input(description="Narrows `salesOrders`; every field given must match.")
class SalesOrderFilter:
    warehouse_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this warehouse's sales orders."
    )
    status: list[SalesOrderStatus] | None = strawberry.field(
        default=None, description="Only sales orders in one of these statuses."
    )
    purchase_order_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only the sales orders of this purchase order."
    )


@strawberry.type(description="Units of one product one warehouse would ship for a PO.")
class PlannedShipment:
    warehouse: Warehouse = strawberry.field(description="The warehouse that would ship.")
    product: Product = strawberry.field(description="The product it would ship.")
    quantity: int = strawberry.field(description="How many units it would ship.")


@strawberry.type(description="Units missing to fulfil a PO.")
class StockShortfall:
    product_code: str = strawberry.field(description="The code of the product short of stock.")
    requested: int = strawberry.field(description="The units the PO needs.")
    available: int = strawberry.field(description="The units available over all warehouses.")


@strawberry.type(description="How a PO would be split over warehouses if provisioned now.")
class FulfilmentPlan:
    feasible: bool = strawberry.field(description="True when stock covers every line.")
    shipments: list[PlannedShipment] = strawberry.field(
        description="The split over warehouses; empty when not feasible."
    )
    shortfall: list[StockShortfall] = strawberry.field(
        description="What is missing, per product; empty when feasible."
    )


@strawberry.type(description="Stock of one product in one warehouse.")
class StockLevel:
    warehouse: Warehouse = strawberry.field(description="The warehouse.")
    product: Product = strawberry.field(description="The product.")
    on_hand: int = strawberry.field(description="The units the warehouse holds.")
    reserved: int = strawberry.field(description="The units reserved for open sales orders.")
    available: int = strawberry.field(
        description="onHand minus reserved: what provisioning may still allocate."
    )


async def visible_sales_order(info: Info, pk: uuid.UUID) -> SalesOrder | None:
    row = await info.context.loaders.sales_order.load(pk)
    if row is None:
        return None
    warehouse = await info.context.loaders.warehouse.load(row.warehouse_id)
    assert warehouse is not None
    if not can_see_sales_order(info.context.viewer, row.account_id, warehouse.code):
        return None
    return SalesOrder.of(row)


async def visible_warehouse(info: Info, pk: uuid.UUID) -> Warehouse | None:
    viewer = info.context.viewer
    row = await info.context.loaders.warehouse.load(pk)
    if row is None:
        return None
    if viewer.role in SP_ROLES or (
        viewer.role is Role.WAREHOUSE and viewer.warehouse_code == row.code
    ):
        return Warehouse.of(row)
    return None


@strawberry.type
class FulfilmentQueries:
    @strawberry.field(description="Sales orders the viewer may see, newest first.")
    async def sales_orders(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        filter: Annotated[
            SalesOrderFilter | None, strawberry.argument(description="Narrows the list.")
        ] = None,
    ) -> Connection[SalesOrder]:
        account_id, warehouse_code = sales_order_scope(info.context.viewer)
        f = filter or SalesOrderFilter()
        warehouse_id = decode_optional_id(f.warehouse_id, "Warehouse", "filter.warehouseId")
        stmt = repo.filtered_sales_orders(
            account_id=account_id,
            warehouse_id=warehouse_id,
            statuses=[s.value for s in f.status] if f.status else None,
            purchase_order_id=decode_optional_id(
                f.purchase_order_id, "PurchaseOrder", "filter.purchaseOrderId"
            ),
        )
        if warehouse_code is not None:
            stmt = stmt.join(
                models.Warehouse, models.Warehouse.id == models.SalesOrder.warehouse_id
            )
            stmt = stmt.where(models.Warehouse.code == warehouse_code)
        async with info.context.db.read() as session:
            page = await fetch_page(
                session,
                stmt,
                keys=[models.SalesOrder.created_at, models.SalesOrder.id],
                descending=True,
                first=first,
                after=after,
            )
        return connection(
            [SalesOrder.of(r) for r in page.rows],
            page.cursors,
            total=page.total_count,
            has_next=page.has_next_page,
            has_previous=page.has_previous_page,
        )

    @strawberry.field(
        description="A sales order by its ID; null when it does not exist or is not visible."
    )
    async def sales_order(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="The sales order's global ID.")
        ],
    ) -> SalesOrder | None:
        return await visible_sales_order(info, decode_id(id, "SalesOrder", "id"))

    @strawberry.field(description="Warehouses (service provider roles; a warehouse sees itself).")
    async def warehouses(self, info: Info) -> list[Warehouse]:
        viewer = info.context.viewer
        stmt = select(models.Warehouse).order_by(models.Warehouse.code)
        if viewer.role is Role.WAREHOUSE:
            stmt = stmt.where(models.Warehouse.code == (viewer.warehouse_code or ""))
        else:
            ensure_role(viewer, SP_ROLES, "list warehouses")
        async with info.context.db.read() as session:
            rows = (await session.execute(stmt)).scalars().all()
        return [Warehouse.of(r) for r in rows]

    @strawberry.field(description="Stock per warehouse and product (service provider roles).")
    async def stock(
        self,
        info: Info,
        warehouse_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this warehouse; all when not given."),
        ] = None,
    ) -> list[StockLevel]:
        ensure_role(info.context.viewer, SP_ROLES, "read stock")
        stmt = select(models.Stock).order_by(models.Stock.warehouse_id, models.Stock.product_id)
        wid = decode_optional_id(warehouse_id, "Warehouse", "warehouseId")
        if wid is not None:
            stmt = stmt.where(models.Stock.warehouse_id == wid)
        async with info.context.db.read() as session:
            rows = (await session.execute(stmt)).scalars().all()
        out = []
        for r in rows:
            warehouse = await info.context.loaders.warehouse.load(r.warehouse_id)
            product = await info.context.loaders.product.load(r.product_id)
            assert warehouse is not None
            assert product is not None
            out.append(
                StockLevel(
                    warehouse=Warehouse.of(warehouse),
                    product=Product.of(product),
                    on_hand=r.on_hand,
                    reserved=r.reserved,
                    available=r.on_hand - r.reserved,
                )
            )
        return out

    @strawberry.field(
        description="Dry run of the stock check: how provisioning would allocate the PO now."
    )
    async def fulfilment_plan(
        self,
        info: Info,
        purchase_order_id: Annotated[
            strawberry.ID, strawberry.argument(description="The purchase order's global ID.")
        ],
    ) -> FulfilmentPlan:
        viewer = info.context.viewer
        pk = decode_id(purchase_order_id, "PurchaseOrder", "purchaseOrderId")
        async with info.context.db.read() as session:
            po = await session.get(models.PurchaseOrder, pk)
            if po is None:
                raise NotFound("PurchaseOrder")
            ensure_visible(viewer, po.account_id, "PurchaseOrder")
            ensure_role(viewer, SP_ROLES, "preview fulfilment")
            allocation, shortfall = await plan(session, po=po, lock=False)
        shipments = []
        for warehouse_id, parts in allocation.items():
            warehouse = await info.context.loaders.warehouse.load(warehouse_id)
            assert warehouse is not None
            for part in parts:
                product = await info.context.loaders.product.load(part.product_id)
                assert product is not None
                shipments.append(
                    PlannedShipment(
                        warehouse=Warehouse.of(warehouse),
                        product=Product.of(product),
                        quantity=part.quantity,
                    )
                )
        return FulfilmentPlan(
            feasible=not shortfall,
            shipments=shipments,
            shortfall=[
                StockShortfall(
                    product_code=str(s["productCode"]),
                    requested=int(str(s["requested"])),
                    available=int(str(s["available"])),
                )
                for s in shortfall
            ],
        )
