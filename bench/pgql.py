"""Q1 and Q2 as PostGraphile 5 (Amber preset) names them, and their answers in our terms.

PostGraphile derives its schema from the tables: `allPurchaseOrders` with `condition` and
`orderBy`, relations named after foreign keys (`accountByAccountId`,
`purchaseOrderLinesByPurchaseOrderId`), the primary key as `rowId` and a Relay `id`. It has
no computed fields (total, availableActions, effective entitlements, money formatting):
those are left out, so it does less work than the other servers. PostGraphile 5 only offers
`orderBy` on indexed columns, so lines come in their natural order (not by `position`).
Answers are compared by PO ids, line counts, product codes, SIMs and history.
"""

from __future__ import annotations

import uuid
from typing import Any

PG_Q1 = """query Dashboard($account: UUID!, $first: Int!) {
  allPurchaseOrders(first: $first, condition: {accountId: $account},
                    orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node {
        rowId number status createdAt updatedAt requestedShipDate
        accountByAccountId { rowId code name }
        purchaseOrderLinesByPurchaseOrderId {
          nodes {
            rowId quantity unitPrice currency
            productByProductId { rowId code name formFactor unitPrice currency }
          }
        }
      }
    }
  }
}"""

PG_Q2 = """query EditPurchaseOrder($id: UUID!) {
  purchaseOrderByRowId(rowId: $id) {
    rowId number status version createdBy createdAt updatedAt requestedShipDate rejectionReason
    shipRecipient shipCompany shipStreet shipCity shipPostalCode shipRegion shipCountry shipPhone
    overrideSimBillingStatus overridePricePlan overrideServiceProfile overrideRoamingProfile
    overrideApnGroup carrier trackingNumber shippedAt
    accountByAccountId {
      rowId code name status defaultSimBillingStatus defaultPricePlan defaultServiceProfile
      defaultRoamingProfile defaultApnGroup
    }
    purchaseOrderLinesByPurchaseOrderId {
      nodes {
        rowId quantity unitPrice currency
        productByProductId {
          rowId code name description kind formFactor features branding active unitPrice currency
        }
        simsByLineId(orderBy: ICCID_ASC) {
          totalCount
          nodes {
            rowId iccid imsi msisdn simBillingStatus pricePlan serviceProfile roamingProfile
            apnGroup
          }
        }
      }
    }
    poStatusEventsByPurchaseOrderId(orderBy: ROW_ID_ASC) {
      nodes { fromStatus toStatus actor note occurredAt salesOrderStatus }
    }
    salesOrdersByPurchaseOrderId(orderBy: ROW_ID_ASC) {
      nodes {
        rowId status
        warehouseByWarehouseId { code name }
        salesOrderLinesBySalesOrderId(orderBy: ROW_ID_ASC) {
          nodes { quantity purchaseOrderLineId productByProductId { code } }
        }
      }
    }
  }
}"""


def q1_body(account_id: uuid.UUID, first: int) -> dict[str, Any]:
    return {
        "query": PG_Q1,
        "operationName": "Dashboard",
        "variables": {"account": str(account_id), "first": first},
    }


def q2_body(po_id: uuid.UUID) -> dict[str, Any]:
    return {"query": PG_Q2, "operationName": "EditPurchaseOrder", "variables": {"id": str(po_id)}}


def summary_q1(data: dict[str, Any]) -> dict[str, Any]:
    conn = data["allPurchaseOrders"]
    edges = conn["edges"]
    lines = [e["node"]["purchaseOrderLinesByPurchaseOrderId"]["nodes"] for e in edges]
    return {
        "po_ids": [e["node"]["rowId"] for e in edges],
        "line_counts": [len(ls) for ls in lines],
        "product_codes": [sorted(ln["productByProductId"]["code"] for ln in ls) for ls in lines],
        "total_count": conn["totalCount"],
    }


def summary_q2(data: dict[str, Any]) -> dict[str, Any]:
    po = data["purchaseOrderByRowId"]
    lines = po["purchaseOrderLinesByPurchaseOrderId"]["nodes"]
    return {
        "id": po["rowId"],
        "status": po["status"],
        "line_counts": len(lines),
        "product_codes": sorted(ln["productByProductId"]["code"] for ln in lines),
        "sims": sorted(s["iccid"] for ln in lines for s in ln["simsByLineId"]["nodes"]),
        "history": [h["toStatus"] for h in po["poStatusEventsByPurchaseOrderId"]["nodes"]],
        "sales_orders": len(po["salesOrdersByPurchaseOrderId"]["nodes"]),
    }
