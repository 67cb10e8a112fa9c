"""Mutations of purchase orders: thin wrappers that decode input and call one action."""

from __future__ import annotations

from typing import Annotated

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


@strawberry.type(description="The result of a purchase-order mutation.")
class PurchaseOrderPayload:
    purchase_order: PurchaseOrder = strawberry.field(
        description="The purchase order after the change."
    )


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
    @strawberry.mutation(
        description="Raise a new purchase order in DRAFT: purchasers for their own account, "
        "SP roles for any account (`accountId`)."
    )
    async def create_purchase_order(
        self,
        info: Info,
        input: Annotated[
            CreatePurchaseOrderInput, strawberry.argument(description="The new order.")
        ],
    ) -> PurchaseOrderPayload:
        outcome = await actions.create_purchase_order(
            info.context.db,
            viewer=info.context.viewer,
            account_id=decode_optional_id(input.account_id, "Account", "accountId"),
            details=input.details(),
            idempotency_key=input.idempotency_key,
        )
        return await _payload(info, outcome)

    @strawberry.mutation(
        description="Change a DRAFT; lines given replace every line. Purchasers (own account) "
        "and SP roles."
    )
    async def update_purchase_order(
        self,
        info: Info,
        input: Annotated[
            UpdatePurchaseOrderInput, strawberry.argument(description="The draft and changes.")
        ],
    ) -> PurchaseOrderPayload:
        outcome = await actions.update_purchase_order(
            info.context.db,
            viewer=info.context.viewer,
            po_id=decode_id(input.id, "PurchaseOrder", "id"),
            expected_version=input.expected_version,
            details=input.details(),
        )
        return await _payload(info, outcome)

    @strawberry.mutation(
        description="DRAFT to SUBMITTED, after the plausibility checks (BAD_USER_INPUT lists "
        "every problem). Purchasers (own account) and SP roles."
    )
    async def submit_purchase_order(
        self,
        info: Info,
        input: Annotated[TransitionInput, strawberry.argument(description="The draft to submit.")],
    ) -> PurchaseOrderPayload:
        return await _simple(info, input, actions.submit_purchase_order)

    @strawberry.mutation(description="SUBMITTED to ACCEPTED; assigns the PO number. SP roles.")
    async def accept_purchase_order(
        self,
        info: Info,
        input: Annotated[TransitionInput, strawberry.argument(description="The PO to accept.")],
    ) -> PurchaseOrderPayload:
        return await _simple(info, input, actions.accept_purchase_order)

    @strawberry.mutation(description="SUBMITTED to REJECTED, with a reason. SP roles.")
    async def reject_purchase_order(
        self,
        info: Info,
        input: Annotated[
            ReasonInput, strawberry.argument(description="The PO to reject, and why.")
        ],
    ) -> PurchaseOrderPayload:
        outcome = await actions.reject_purchase_order(
            info.context.db,
            viewer=info.context.viewer,
            po_id=decode_id(input.id, "PurchaseOrder", "id"),
            expected_version=input.expected_version,
            reason=input.reason,
        )
        return await _payload(info, outcome)

    @strawberry.mutation(
        description="REJECTED back to DRAFT. Purchasers (own account) and SP roles."
    )
    async def reopen_purchase_order(
        self,
        info: Info,
        input: Annotated[TransitionInput, strawberry.argument(description="The PO to reopen.")],
    ) -> PurchaseOrderPayload:
        return await _simple(info, input, actions.reopen_purchase_order)

    @strawberry.mutation(
        description="To CANCELLED: purchasers (own account) from DRAFT, SUBMITTED or REJECTED; "
        "SP roles also from ACCEPTED, and from PROVISIONING until SIMs are assigned."
    )
    async def cancel_purchase_order(
        self,
        info: Info,
        input: Annotated[OptionalReasonInput, strawberry.argument(description="The PO to cancel.")],
    ) -> PurchaseOrderPayload:
        outcome = await actions.cancel_purchase_order(
            info.context.db,
            viewer=info.context.viewer,
            po_id=decode_id(input.id, "PurchaseOrder", "id"),
            expected_version=input.expected_version,
            reason=input.reason,
        )
        return await _payload(info, outcome)

    @strawberry.mutation(
        description="ACCEPTED to PROVISIONING: reserves stock in warehouse sales orders "
        "(INSUFFICIENT_STOCK when short). SP roles."
    )
    async def start_purchase_order_provisioning(
        self,
        info: Info,
        input: Annotated[TransitionInput, strawberry.argument(description="The PO to provision.")],
    ) -> PurchaseOrderPayload:
        return await _simple(info, input, actions.start_provisioning)

    @strawberry.mutation(
        description="Attach SIM identities to the lines of a PROVISIONING PO. SP roles."
    )
    async def assign_purchase_order_sims(
        self,
        info: Info,
        input: Annotated[
            AssignPurchaseOrderSimsInput, strawberry.argument(description="The PO and its SIMs.")
        ],
    ) -> PurchaseOrderPayload:
        outcome = await actions.assign_sims(
            info.context.db,
            viewer=info.context.viewer,
            po_id=decode_id(input.id, "PurchaseOrder", "id"),
            expected_version=input.expected_version,
            assignments=input.to_domain(),
        )
        return await _payload(info, outcome)

    @strawberry.mutation(
        description="PROVISIONING to READY, once every line is fully assigned. SP roles."
    )
    async def mark_purchase_order_ready(
        self,
        info: Info,
        input: Annotated[TransitionInput, strawberry.argument(description="The PO to mark ready.")],
    ) -> PurchaseOrderPayload:
        return await _simple(info, input, actions.mark_ready)

    @strawberry.mutation(
        description="READY to SHIPPED, with carrier and tracking number. SP roles."
    )
    async def ship_purchase_order(
        self,
        info: Info,
        input: Annotated[
            ShipPurchaseOrderInput, strawberry.argument(description="The PO and its shipment.")
        ],
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

    @strawberry.mutation(
        description="SHIPPED to CLOSED: the purchaser (own account) confirms receipt."
    )
    async def confirm_purchase_order_receipt(
        self,
        info: Info,
        input: Annotated[TransitionInput, strawberry.argument(description="The PO that arrived.")],
    ) -> PurchaseOrderPayload:
        return await _simple(info, input, actions.confirm_receipt)
