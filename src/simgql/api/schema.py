"""The assembled GraphQL schema."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from simgql.api.context import Info
from simgql.api.errors import ErrorShaping
from simgql.api.fulfilment_queries import FulfilmentQueries
from simgql.api.mutations.admin import AdminMutations, Configuration, load_configuration
from simgql.api.mutations.fulfilment import FulfilmentMutations
from simgql.api.mutations.purchase_orders import PurchaseOrderMutations
from simgql.api.queries import Query as BaseQuery
from simgql.api.subscriptions import Subscription
from simgql.api.types import Account, Product, PurchaseOrder, SalesOrder, Sim, Warehouse
from simgql.domain.model import SP_ROLES
from simgql.domain.policy import ensure_role


@strawberry.type
class Query(BaseQuery, FulfilmentQueries):
    @strawberry.field(description="Configuration items (service-provider roles).")
    async def configuration(self, info: Info) -> Configuration:
        ensure_role(info.context.viewer, SP_ROLES, "read the configuration")
        return await load_configuration(info)


@strawberry.type
class Mutation(PurchaseOrderMutations, FulfilmentMutations, AdminMutations):
    pass


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Client errors are not server problems; `ErrorShaping` logs the unexpected ones."""


def build_schema() -> strawberry.Schema:
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Account, Product, PurchaseOrder, Sim, SalesOrder, Warehouse],
        extensions=[
            ErrorShaping,
            lambda: QueryDepthLimiter(max_depth=12),
            lambda: MaxTokensLimiter(max_token_count=5000),
        ],
        config=StrawberryConfig(auto_camel_case=True),
    )


schema = build_schema()
