"""Mutations of fulfilment: warehouse reports, retries, warehouses and stock."""

from __future__ import annotations

import datetime as dt
import uuid

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
    iccid: str
    imsi: str
    msisdn: str
    product_id: strawberry.ID | None = None
    product_code: str | None = None


@strawberry.input
class RecordSalesOrderDispatchInput:
    sales_order_id: strawberry.ID
    items: list[DispatchedSimInput]
    carrier: str
    tracking_number: str
    dispatched_at: dt.datetime | None = None


@strawberry.input
class RecordSalesOrderErrorInput:
    sales_order_id: strawberry.ID
    reason: str


@strawberry.input
class RetrySalesOrderInput:
    sales_order_id: strawberry.ID


@strawberry.type
class SalesOrderPayload:
    sales_order: SalesOrder


@strawberry.input
class CreateWarehouseInput:
    code: str
    name: str


@strawberry.type
class WarehousePayload:
    warehouse: Warehouse


@strawberry.input(description="Sets the units on hand of one product in one warehouse.")
class SetStockInput:
    warehouse_id: strawberry.ID
    product_id: strawberry.ID
    on_hand: int


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
        self, info: Info, input: RecordSalesOrderDispatchInput
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
        self, info: Info, input: RecordSalesOrderErrorInput
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
    async def retry_sales_order(self, info: Info, input: RetrySalesOrderInput) -> SalesOrderPayload:
        pk = decode_id(input.sales_order_id, "SalesOrder", "salesOrderId")
        outcome = await actions.retry_sales_order(
            info.context.db, viewer=info.context.viewer, sales_order_id=pk
        )
        await info.context.committed(outcome.events)
        return await _sales_order_payload(info, pk)

    @strawberry.mutation(description="SP_ADMIN: add a warehouse.")
    async def create_warehouse(self, info: Info, input: CreateWarehouseInput) -> WarehousePayload:
        row = await stock_admin.create_warehouse(
            info.context.db, viewer=info.context.viewer, code=input.code, name=input.name
        )
        return WarehousePayload(warehouse=Warehouse.of(row))

    @strawberry.mutation(description="SP_ADMIN: set the units on hand of a product in a warehouse.")
    async def set_stock(self, info: Info, input: SetStockInput) -> WarehousePayload:
        row = await stock_admin.set_stock(
            info.context.db,
            viewer=info.context.viewer,
            warehouse_id=decode_id(input.warehouse_id, "Warehouse", "warehouseId"),
            product_id=decode_id(input.product_id, "Product", "productId"),
            on_hand=input.on_hand,
        )
        return WarehousePayload(warehouse=Warehouse.of(row))
