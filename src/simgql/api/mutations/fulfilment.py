"""Mutations of fulfilment: warehouse reports, retries, warehouses and stock."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import strawberry

from simgql.api.context import Info
from simgql.api.ids import decode_id, parse_id
from simgql.api.types import SalesOrder, Warehouse
from simgql.db.fulfilment import get_sales_order
from simgql.domain.model import SimIdentity
from simgql.fulfilment import actions
from simgql.services import stock as stock_admin


@strawberry.input(description="One dispatched SIM; name the product by ID or by code.")
class DispatchedSimInput:
    iccid: str = strawberry.field(
        description="The ICCID: 19 or 20 digits, the last a Luhn check digit; new to the system."
    )
    imsi: str = strawberry.field(description="The IMSI: exactly 15 digits; new to the system.")
    msisdn: str = strawberry.field(
        description="The MSISDN: 8 to 15 E.164 digits, no `+` or leading zero; new to the system."
    )
    product_id: strawberry.ID | None = strawberry.field(
        default=None, description="The product's global ID; or give `productCode`."
    )
    product_code: str | None = strawberry.field(
        default=None, description="The product's code; or give `productId`."
    )


@strawberry.input(description="A warehouse's report that it dispatched a sales order.")
class RecordSalesOrderDispatchInput:
    sales_order_id: strawberry.ID = strawberry.field(
        description="The global ID of an AWAITING_DISPATCH sales order of the token's warehouse."
    )
    items: list[DispatchedSimInput] = strawberry.field(
        description="Every SIM dispatched: exactly the ordered quantity of each product."
    )
    carrier: str = strawberry.field(description="The carrier; at most 200 characters.")
    tracking_number: str = strawberry.field(
        description="The carrier's tracking number; at most 200 characters."
    )
    dispatched_at: dt.datetime | None = strawberry.field(
        default=None, description="When it left, with a time zone offset; default now."
    )


@strawberry.input(description="A warehouse's report that it cannot fulfil a sales order.")
class RecordSalesOrderErrorInput:
    sales_order_id: strawberry.ID = strawberry.field(
        description="The global ID of an open sales order of the token's warehouse."
    )
    reason: str = strawberry.field(
        description="Why; becomes the order's `error`; 1 to 2000 characters."
    )


@strawberry.input(description="A sales order in ERROR to generate again.")
class RetrySalesOrderInput:
    sales_order_id: strawberry.ID = strawberry.field(description="The sales order's global ID.")


@strawberry.type(description="The result of a sales-order mutation.")
class SalesOrderPayload:
    sales_order: SalesOrder = strawberry.field(description="The sales order after the change.")


@strawberry.input(description="A new warehouse.")
class CreateWarehouseInput:
    code: str = strawberry.field(
        description="The unique code: 1 to 32 letters, digits, `_`, `.` or `-`."
    )
    name: str = strawberry.field(description="The display name; 1 to 200 characters.")


@strawberry.type(description="The result of a warehouse mutation.")
class WarehousePayload:
    warehouse: Warehouse = strawberry.field(description="The warehouse after the change.")


@strawberry.input(description="Sets the units on hand of one product in one warehouse.")
class SetStockInput:
    warehouse_id: strawberry.ID = strawberry.field(description="The warehouse's global ID.")
    product_id: strawberry.ID = strawberry.field(description="The product's global ID.")
    on_hand: int = strawberry.field(
        description="Units held: 0 to 10000000, and not below what is reserved."
    )


def _product_pk(value: strawberry.ID | None) -> uuid.UUID | None:
    if value is None:
        return None
    parsed = parse_id(value)
    return parsed[1] if parsed is not None and parsed[0] == "Product" else None


async def _sales_order_payload(info: Info, sales_order_id: uuid.UUID) -> SalesOrderPayload:
    async with info.context.db.read() as session:
        row = await get_sales_order(session, sales_order_id=sales_order_id)
    assert row is not None
    return SalesOrderPayload(sales_order=SalesOrder.of(row))


@strawberry.type
class FulfilmentMutations:
    @strawberry.mutation(description="WAREHOUSE: report what was dispatched for a sales order.")
    async def record_sales_order_dispatch(
        self,
        info: Info,
        input: Annotated[
            RecordSalesOrderDispatchInput, strawberry.argument(description="What was dispatched.")
        ],
    ) -> SalesOrderPayload:
        pk = decode_id(input.sales_order_id, "SalesOrder", "salesOrderId")
        outcome = await actions.record_dispatch(
            info.context.db,
            viewer=info.context.viewer,
            sales_order_id=pk,
            items=[
                actions.ReportedItem(
                    _product_pk(i.product_id),
                    i.product_code,
                    SimIdentity(i.iccid, i.imsi, i.msisdn),
                )
                for i in input.items
            ],
            carrier=input.carrier,
            tracking_number=input.tracking_number,
            dispatched_at=input.dispatched_at,
        )
        await info.context.committed(outcome.events)
        return await _sales_order_payload(info, pk)

    @strawberry.mutation(description="WAREHOUSE: report that a sales order cannot be fulfilled.")
    async def record_sales_order_error(
        self,
        info: Info,
        input: Annotated[
            RecordSalesOrderErrorInput, strawberry.argument(description="The order and why.")
        ],
    ) -> SalesOrderPayload:
        pk = decode_id(input.sales_order_id, "SalesOrder", "salesOrderId")
        outcome = await actions.record_error(
            info.context.db, viewer=info.context.viewer, sales_order_id=pk, reason=input.reason
        )
        await info.context.committed(outcome.events)
        return await _sales_order_payload(info, pk)

    @strawberry.mutation(
        description="SP roles: send a sales order in ERROR through generation again."
    )
    async def retry_sales_order(
        self,
        info: Info,
        input: Annotated[
            RetrySalesOrderInput, strawberry.argument(description="The order to retry.")
        ],
    ) -> SalesOrderPayload:
        pk = decode_id(input.sales_order_id, "SalesOrder", "salesOrderId")
        outcome = await actions.retry_sales_order(
            info.context.db, viewer=info.context.viewer, sales_order_id=pk
        )
        await info.context.committed(outcome.events)
        return await _sales_order_payload(info, pk)

    @strawberry.mutation(description="SP_ADMIN: add a warehouse.")
    async def create_warehouse(
        self,
        info: Info,
        input: Annotated[
            CreateWarehouseInput, strawberry.argument(description="The new warehouse.")
        ],
    ) -> WarehousePayload:
        row = await stock_admin.create_warehouse(
            info.context.db, viewer=info.context.viewer, code=input.code, name=input.name
        )
        return WarehousePayload(warehouse=Warehouse.of(row))

    @strawberry.mutation(description="SP_ADMIN: set the units on hand of a product in a warehouse.")
    async def set_stock(
        self,
        info: Info,
        input: Annotated[SetStockInput, strawberry.argument(description="Where, what, how many.")],
    ) -> WarehousePayload:
        row = await stock_admin.set_stock(
            info.context.db,
            viewer=info.context.viewer,
            warehouse_id=decode_id(input.warehouse_id, "Warehouse", "warehouseId"),
            product_id=decode_id(input.product_id, "Product", "productId"),
            on_hand=input.on_hand,
        )
        return WarehousePayload(warehouse=Warehouse.of(row))
