"""The domain's enums, exposed to GraphQL under the same names."""

from __future__ import annotations

import strawberry

from simgql.domain import model

PurchaseOrderStatus = strawberry.enum(model.PurchaseOrderStatus)
PurchaseOrderAction = strawberry.enum(model.PurchaseOrderAction)
Role = strawberry.enum(model.Role)
AccountStatus = strawberry.enum(model.AccountStatus)
ProductKind = strawberry.enum(model.ProductKind)
FormFactor = strawberry.enum(model.FormFactor)
SimBillingStatus = strawberry.enum(model.SimBillingStatus)
CatalogueKind = strawberry.enum(model.CatalogueKind)
