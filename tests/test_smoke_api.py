"""The purchase-order happy path over HTTP, on both backends."""

from __future__ import annotations

from simgql.db.engine import Database
from tests.client import GraphQLClient
from tests.factories import ADDRESS_INPUT, AGENT, make_tenant

CREATE = """
mutation($input: CreatePurchaseOrderInput!) {
  createPurchaseOrder(input: $input) {
    purchaseOrder { id number status version availableActions
      lines { id quantity unitPrice { amount currency } product { code } } total { amount } }
  }
}
"""
TRANSITION = """
mutation($id: ID!) { %s(input: {id: $id}) { purchaseOrder { id status number version } } }
"""


async def test_purchaser_raises_and_agent_accepts(api: GraphQLClient, db: Database) -> None:
    tenant = await make_tenant(db, unit_price="2.25")
    created = await api.run(
        tenant.purchaser,
        CREATE,
        {
            "input": {
                "lines": [{"productId": tenant.product_gid(), "quantity": 4}],
                "shippingAddress": ADDRESS_INPUT,
            }
        },
    )
    po = created.ok()["createPurchaseOrder"]["purchaseOrder"]
    assert po["status"] == "DRAFT"
    assert po["number"] is None
    assert po["total"] == {"amount": "9.00"}
    assert po["availableActions"] == ["UPDATE", "SUBMIT", "CANCEL"]

    submitted = (
        await api.run(tenant.purchaser, TRANSITION % "submitPurchaseOrder", {"id": po["id"]})
    ).ok()
    assert submitted["submitPurchaseOrder"]["purchaseOrder"]["status"] == "SUBMITTED"
    accepted = (await api.run(AGENT, TRANSITION % "acceptPurchaseOrder", {"id": po["id"]})).ok()
    po_after = accepted["acceptPurchaseOrder"]["purchaseOrder"]
    assert po_after["status"] == "ACCEPTED"
    assert po_after["number"] > 0
    assert po_after["version"] == 3
