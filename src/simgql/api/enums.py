"""The domain's enums, exposed to GraphQL under the same names, with their descriptions.

The domain knows nothing of GraphQL, so the descriptions live here: importing this module
(`simgql.api.schema` does, before it builds the schema) registers each domain enum with
Strawberry and describes the enum and every one of its values.
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

import strawberry
from strawberry.types.enum import has_enum_definition

from simgql.domain import fulfilment, model

E = TypeVar("E", bound=Enum)


def described(cls: type[E], description: str, values: dict[str, str]) -> type[E]:
    """Register `cls` as a GraphQL enum with a description for it and for each value."""
    if set(values) != set(cls.__members__):
        raise ValueError(f"describe exactly the values of {cls.__name__}")
    wrapped = strawberry.enum(cls, description=description)
    if not has_enum_definition(wrapped):  # pragma: no cover - strawberry.enum just set it
        raise TypeError(f"{cls.__name__} is not a strawberry enum")
    for value in wrapped.__strawberry_definition__.values:
        value.description = values[value.name]
    return cls


Role = described(
    model.Role,
    "What the holder of a bearer token may do: the token's `role` claim.",
    {
        "ENTERPRISE_VIEWER": "Reads its own account's products, purchase orders and SIMs, "
        "and subscribes to their events.",
        "ENTERPRISE_PURCHASER": "An enterprise viewer that also raises, edits, submits, "
        "cancels and reopens its account's purchase orders and confirms their receipt.",
        "SP_AGENT": "Service-provider agent: reads every account's data, creates purchase "
        "orders for any account, accepts, rejects, provisions, assigns SIMs and ships.",
        "SP_ADMIN": "Service-provider administrator: an agent that also manages products, "
        "accounts, assignments, catalogues, warehouses, stock and configuration.",
        "WAREHOUSE": "A warehouse system: reads and reports on the sales orders of its own "
        "warehouse (the token's `warehouse` claim).",
    },
)
PurchaseOrderStatus = described(
    model.PurchaseOrderStatus,
    "Where a purchase order is in its lifecycle.",
    {
        "DRAFT": "Being written; editable with `updatePurchaseOrder` until it is submitted.",
        "SUBMITTED": "Passed the plausibility checks; waits for the service provider to "
        "accept or reject it.",
        "ACCEPTED": "Accepted, with its `number`; waits for provisioning.",
        "REJECTED": "Rejected (see `rejectionReason`); may be reopened as a draft.",
        "PROVISIONING": "Being fulfilled: stock is reserved in warehouse sales orders, or an "
        "agent assigns the SIMs.",
        "READY": "Every line has all its SIMs, which the enterprise account can now see; "
        "waits to be shipped.",
        "SHIPPED": "Handed to the carrier (see `shipping`); waits for the purchaser to "
        "confirm receipt.",
        "CLOSED": "The purchaser confirmed receipt. Final.",
        "CANCELLED": "Cancelled before any SIM was assigned to it. Final.",
    },
)
PurchaseOrderAction = described(
    model.PurchaseOrderAction,
    "A change of a purchase order; `availableActions` lists those the viewer may make now.",
    {
        "UPDATE": "Edit the draft (`updatePurchaseOrder`).",
        "SUBMIT": "Submit the draft (`submitPurchaseOrder`).",
        "CANCEL": "Cancel the order (`cancelPurchaseOrder`).",
        "ACCEPT": "Accept it and assign its number (`acceptPurchaseOrder`).",
        "REJECT": "Reject it with a reason (`rejectPurchaseOrder`).",
        "REOPEN": "Turn the rejected order back into a draft (`reopenPurchaseOrder`).",
        "START_PROVISIONING": "Reserve stock and create warehouse sales orders "
        "(`startPurchaseOrderProvisioning`).",
        "ASSIGN_SIMS": "Attach SIM identities to its lines (`assignPurchaseOrderSims`).",
        "MARK_READY": "Mark the fully assigned order ready (`markPurchaseOrderReady`).",
        "SHIP": "Record the shipment (`shipPurchaseOrder`).",
        "CONFIRM_RECEIPT": "Confirm that the SIMs arrived (`confirmPurchaseOrderReceipt`).",
    },
)
AccountStatus = described(
    model.AccountStatus,
    "Whether an enterprise account may order.",
    {
        "ACTIVE": "May create and submit purchase orders.",
        "SUSPENDED": "May read its data, but not create, change or submit purchase orders.",
    },
)
ProductKind = described(
    model.ProductKind,
    "What physical kind of SIM a product is.",
    {
        "SIM_CARD": "A removable SIM card.",
        "SIM_CHIP": "A SIM chip built into the device.",
    },
)
FormFactor = described(
    model.FormFactor,
    "The physical format of a SIM.",
    {
        "MINI_2FF": "Mini SIM (2FF), 25 x 15 mm.",
        "MICRO_3FF": "Micro SIM (3FF), 15 x 12 mm.",
        "NANO_4FF": "Nano SIM (4FF), 12.3 x 8.8 mm.",
        "TRIPLE_CUT": "A card pre-cut for the mini, micro and nano sizes.",
        "MFF2": "Machine-to-machine form factor (MFF2): a chip soldered onto the board.",
        "EUICC": "An embedded SIM whose profiles are provisioned remotely (eUICC).",
    },
)
SimBillingStatus = described(
    model.SimBillingStatus,
    "The billing status a SIM has on the service provider's connectivity platform.",
    {
        "TEST_READY": "May connect for testing before billing starts.",
        "INVENTORY": "Held in stock: not connected and not billed.",
        "ACTIVATION_READY": "May connect; becomes ACTIVATED on first use.",
        "ACTIVATED": "In service and billed.",
        "DEACTIVATED": "Out of service: not connected and not billed.",
    },
)
CatalogueKind = described(
    model.CatalogueKind,
    "One list of an account's catalogue: the values a purchase order may override with.",
    {
        "PRICE_PLAN": "Price plans (`pricePlan`).",
        "SERVICE_PROFILE": "Service profiles (`serviceProfile`).",
        "ROAMING_PROFILE": "Roaming profiles (`roamingProfile`).",
        "APN_GROUP": "APN groups (`apnGroup`).",
    },
)
SalesOrderStatus = described(
    fulfilment.SalesOrderStatus,
    "Where a warehouse sales order is in its life.",
    {
        "AWAITING_GENERATION": "Created with its stock reserved; waits for the sales order "
        "request job (and its fraud check, when that is required).",
        "AWAITING_DISPATCH": "Generated and batched for its warehouse; waits for the "
        "warehouse to report the dispatch or an error.",
        "COMPLETE": "Dispatched: its SIMs are assigned to the purchase order and its stock "
        "consumed. Final.",
        "ERROR": "Failed the fraud check or reported unfulfillable (see `error`); "
        "service-provider roles may retry it (`retrySalesOrder`).",
        "CANCELLED": "Withdrawn with its purchase order, or because the SIMs were assigned "
        "by hand; its stock reservation was released. Final.",
    },
)
