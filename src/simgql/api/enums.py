"""The domain's enums, exposed to GraphQL under the same names."""

from __future__ import annotations

import strawberry

from simgql.domain import fulfilment, model

PurchaseOrderStatus = strawberry.enum(model.PurchaseOrderStatus)
PurchaseOrderAction = strawberry.enum(model.PurchaseOrderAction)
Role = strawberry.enum(model.Role)
AccountStatus = strawberry.enum(model.AccountStatus)
ProductKind = strawberry.enum(model.ProductKind)
FormFactor = strawberry.enum(model.FormFactor)
SimBillingStatus = strawberry.enum(model.SimBillingStatus)
CatalogueKind = strawberry.enum(model.CatalogueKind)
SalesOrderStatus = strawberry.enum(fulfilment.SalesOrderStatus)
