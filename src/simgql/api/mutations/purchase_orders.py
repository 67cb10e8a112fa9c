"""Mutations of purchase orders: thin wrappers that decode input and call one action."""

from __future__ import annotations

import strawberry

from simgql.api.context import Info
from simgql.api.ids import decode_id, decode_optional_id
from simgql.api.inputs import (
    AssignPurchaseOrderSimsInput,
    CreatePurchaseOrderInput,
    OptionalReasonInput,
    ReasonInput,
    ShipPurchaseOrderInput,
    TransitionInput,
    UpdatePurchaseOrderInput,
)
from simgql.api.types import PurchaseOrder
from simgql.services import purchase_orders as actions
from simgql.services.outcome import Outcome


@strawberry.type
class PurchaseOrderPayload:
    purchase_order: PurchaseOrder


async def _payload(info: Info, outcome: Outcome) -> PurchaseOrderPayload:
    await info.context.committed(outcome.events)
    return PurchaseOrderPayload(purchase_order=PurchaseOrder.of(outcome.purchase_order))


async def _simple(
    info: Info, input: TransitionInput, action: actions.SimpleTransition
) -> PurchaseOrderPayload:
    outcome = await action(
        info.context.db,
        viewer=info.context.viewer,
        po_id=decode_id(input.id, "PurchaseOrder", "id"),
        expected_version=input.expected_version,
        note=input.note,
    )
    return await _payload(info, outcome)


@strawberry.type
class PurchaseOrderMutations:
    @strawberry.mutation(description="Raise a new purchase order in DRAFT.")
    async def create_purchase_order(
        self, info: Info, input: CreatePurchaseOrderInput
    ) -> PurchaseOrderPayload:
        outcome = await actions.create_purchase_order(
            info.context.db,
            viewer=info.context.viewer,
            account_id=decode_optional_id(input.account_id, "Account", "accountId"),
            details=input.details(),
            idempotency_key=input.idempotency_key,
        )
        return await _payload(info, outcome)

    @strawberry.mutation(description="Change a DRAFT; lines given replace every line.")
    async def update_purchase_order(
        self, info: Info, input: UpdatePurchaseOrderInput
    ) -> PurchaseOrderPayload:
        outcome = await actions.update_purchase_order(
            info.context.db,
            viewer=info.context.viewer,
            po_id=decode_id(input.id, "PurchaseOrder", "id"),
            expected_version=input.expected_version,
            details=input.details(),
        )
        return await _payload(info, outcome)

    @strawberry.mutation(description="DRAFT to SUBMITTED, after the plausibility checks.")
    async def submit_purchase_order(
        self, info: Info, input: TransitionInput
    ) -> PurchaseOrderPayload:
        return await _simple(info, input, actions.submit_purchase_order)

    @strawberry.mutation(description="SUBMITTED to ACCEPTED; assigns the PO number.")
    async def accept_purchase_order(
        self, info: Info, input: TransitionInput
    ) -> PurchaseOrderPayload:
        return await _simple(info, input, actions.accept_purchase_order)

    @strawberry.mutation(description="SUBMITTED to REJECTED, with a reason.")
    async def reject_purchase_order(self, info: Info, input: ReasonInput) -> PurchaseOrderPayload:
        outcome = await actions.reject_purchase_order(
            info.context.db,
            viewer=info.context.viewer,
            po_id=decode_id(input.id, "PurchaseOrder", "id"),
            expected_version=input.expected_version,
            reason=input.reason,
        )
        return await _payload(info, outcome)

    @strawberry.mutation(description="REJECTED back to DRAFT.")
    async def reopen_purchase_order(
        self, info: Info, input: TransitionInput
    ) -> PurchaseOrderPayload:
        return await _simple(info, input, actions.reopen_purchase_order)

    @strawberry.mutation(description="Cancel a PO that has not been provisioned.")
    async def cancel_purchase_order(
        self, info: Info, input: OptionalReasonInput
    ) -> PurchaseOrderPayload:
        outcome = await actions.cancel_purchase_order(
            info.context.db,
            viewer=info.context.viewer,
            po_id=decode_id(input.id, "PurchaseOrder", "id"),
            expected_version=input.expected_version,
            reason=input.reason,
        )
        return await _payload(info, outcome)

    @strawberry.mutation(description="ACCEPTED to PROVISIONING.")
    async def start_purchase_order_provisioning(
        self, info: Info, input: TransitionInput
    ) -> PurchaseOrderPayload:
        return await _simple(info, input, actions.start_provisioning)

    @strawberry.mutation(description="Attach SIM identities to the lines of a PROVISIONING PO.")
    async def assign_purchase_order_sims(
        self, info: Info, input: AssignPurchaseOrderSimsInput
    ) -> PurchaseOrderPayload:
        outcome = await actions.assign_sims(
            info.context.db,
            viewer=info.context.viewer,
            po_id=decode_id(input.id, "PurchaseOrder", "id"),
            expected_version=input.expected_version,
            assignments=input.to_domain(),
        )
        return await _payload(info, outcome)

    @strawberry.mutation(description="PROVISIONING to READY, once every line is fully assigned.")
    async def mark_purchase_order_ready(
        self, info: Info, input: TransitionInput
    ) -> PurchaseOrderPayload:
        return await _simple(info, input, actions.mark_ready)

    @strawberry.mutation(description="READY to SHIPPED, with carrier and tracking number.")
    async def ship_purchase_order(
        self, info: Info, input: ShipPurchaseOrderInput
    ) -> PurchaseOrderPayload:
        outcome = await actions.ship_purchase_order(
            info.context.db,
            viewer=info.context.viewer,
            po_id=decode_id(input.id, "PurchaseOrder", "id"),
            expected_version=input.expected_version,
            carrier=input.carrier,
            tracking_number=input.tracking_number,
            shipped_at=input.shipped_at,
        )
        return await _payload(info, outcome)

    @strawberry.mutation(description="SHIPPED to CLOSED: the purchaser confirms receipt.")
    async def confirm_purchase_order_receipt(
        self, info: Info, input: TransitionInput
    ) -> PurchaseOrderPayload:
        return await _simple(info, input, actions.confirm_receipt)
