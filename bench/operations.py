"""The measured operations: their GraphQL documents, who sends them, and how answers compare.

Q1 is the enterprise dashboard (a page of the viewer's POs with lines, products and
account); Q2 the Edit Purchase Order view of one PO as an SP agent (everything the schema
offers about it); M1 the create → submit → accept walk. The hand-written baseline does not
parse GraphQL: it answers these two operations by `operationName`, like a persisted query.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

ENTITLEMENTS = "simBillingStatus pricePlan serviceProfile roamingProfile apnGroup"

Q1 = """query Dashboard($first: Int!) {
  purchaseOrders(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node {
        id number status createdAt updatedAt requestedShipDate
        total { amount currency }
        account { id code name }
        lines {
          id quantity
          unitPrice { amount currency }
          product { id code name formFactor }
        }
      }
    }
  }
}"""

Q2 = f"""query EditPurchaseOrder($id: ID!) {{
  purchaseOrder(id: $id) {{
    id number status version createdBy createdAt updatedAt requestedShipDate rejectionReason
    account {{ id code name status defaults {{ {ENTITLEMENTS} }} }}
    shippingAddress {{ recipient company street city postalCode region country phone }}
    overrides {{ {ENTITLEMENTS} }}
    effectiveEntitlements {{ {ENTITLEMENTS} }}
    total {{ amount currency }}
    shipping {{ carrier trackingNumber shippedAt }}
    lines {{
      id quantity assignedSimCount
      unitPrice {{ amount currency }}
      product {{
        id code name description kind formFactor features branding active
        unitPrice {{ amount currency }}
      }}
      sims {{ id iccid imsi msisdn entitlements {{ {ENTITLEMENTS} }} }}
    }}
    statusHistory {{ fromStatus toStatus actor note occurredAt salesOrderStatus }}
    salesOrders {{
      id status
      warehouse {{ code name }}
      lines {{ quantity purchaseOrderLineId product {{ code }} }}
    }}
    availableActions
  }}
}}"""

CREATE = """mutation Create($input: CreatePurchaseOrderInput!) {
  createPurchaseOrder(input: $input) { purchaseOrder { id status version } }
}"""
SUBMIT = """mutation Submit($id: ID!) {
  submitPurchaseOrder(input: {id: $id}) { purchaseOrder { id status version } }
}"""
ACCEPT = """mutation Accept($id: ID!) {
  acceptPurchaseOrder(input: {id: $id}) { purchaseOrder { id status number version } }
}"""

ADDRESS = {
    "recipient": "Jane Doe",
    "street": ["Hafenstrasse 1"],
    "city": "Hamburg",
    "postalCode": "20457",
    "country": "DE",
}


def gid(type_name: str, pk: uuid.UUID | str) -> str:
    """simgql's global ID (base64url of `Type:uuid`, unpadded)."""
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def ungid(value: str) -> str:
    """The uuid part of a global ID (or the value itself when it is not one)."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return value
    _, sep, pk = raw.partition(":")
    return pk if sep else value


@dataclass(frozen=True)
class Request:
    """One HTTP request the load generators replay."""

    name: str
    body: bytes
    token: str


def q1_body(first: int) -> dict[str, Any]:
    return {"query": Q1, "operationName": "Dashboard", "variables": {"first": first}}


def q2_body(po_gid: str) -> dict[str, Any]:
    return {"query": Q2, "operationName": "EditPurchaseOrder", "variables": {"id": po_gid}}


# --------------------------------------------------------------------------- comparing


def summary_q1(data: dict[str, Any]) -> dict[str, Any]:
    """What every server must agree on for Q1: PO ids in order, line counts, product codes."""
    edges = data["purchaseOrders"]["edges"]
    return {
        "po_ids": [ungid(e["node"]["id"]) for e in edges],
        "line_counts": [len(e["node"]["lines"]) for e in edges],
        "product_codes": [
            sorted(ln["product"]["code"] for ln in e["node"]["lines"]) for e in edges
        ],
        "totals": [(e["node"]["total"] or {}).get("amount") for e in edges],
        "total_count": data["purchaseOrders"]["totalCount"],
    }


def summary_q2(data: dict[str, Any]) -> dict[str, Any]:
    """What every server must agree on for Q2."""
    po = data["purchaseOrder"]
    return {
        "id": ungid(po["id"]),
        "status": po["status"],
        "line_counts": len(po["lines"]),
        "product_codes": sorted(ln["product"]["code"] for ln in po["lines"]),
        "sims": sorted(s["iccid"] for ln in po["lines"] for s in ln["sims"]),
        "history": [h["toStatus"] for h in po["statusHistory"]],
        "sales_orders": len(po["salesOrders"]),
    }


def first_difference(a: Any, b: Any, path: str = "$") -> str | None:
    """Where two JSON values differ first (None when equal), for error messages."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}.{key}: only in {'second' if key not in a else 'first'}"
            found = first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r} vs {b!r}"
