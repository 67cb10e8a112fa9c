"""The assembled GraphQL schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from simgql.api import enums  # noqa: F401 - describes the domain's enums before the build
from simgql.api.compiled import CompiledOperations, executor_class
from simgql.api.context import Info
from simgql.api.errors import ErrorShaping
from simgql.api.fulfilment_queries import FulfilmentQueries
from simgql.api.limits import QueryLimits, limit_queries
from simgql.api.mutations.admin import AdminMutations, Configuration, load_configuration
from simgql.api.mutations.fulfilment import FulfilmentMutations
from simgql.api.mutations.purchase_orders import PurchaseOrderMutations
from simgql.api.queries import Query as BaseQuery
from simgql.api.subscriptions import Subscription
from simgql.api.types import Account, Product, PurchaseOrder, SalesOrder, Sim, Warehouse
from simgql.domain.model import SP_ROLES
from simgql.domain.policy import ensure_role
from simgql.observability import RecordMetrics


@strawberry.type(
    description="What a client may read. Every field needs a bearer token; objects of another "
    "tenant answer exactly like ones that do not exist."
)
class Query(BaseQuery, FulfilmentQueries):
    @strawberry.field(description="Configuration items (service-provider roles).")
    async def configuration(self, info: Info) -> Configuration:
        ensure_role(info.context.viewer, SP_ROLES, "read the configuration")
        return await load_configuration(info)


@strawberry.type(
    description="What a client may change. Each mutation takes one `input` and returns a "
    "payload; a refusal is an error with `extensions.code` (FORBIDDEN, NOT_FOUND, "
    "BAD_USER_INPUT, CONFLICT, INVALID_TRANSITION, ...) and changes nothing."
)
class Mutation(PurchaseOrderMutations, FulfilmentMutations, AdminMutations):
    pass


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Client errors are not server problems; `ErrorShaping` logs the unexpected ones."""


def build_schema(
    limits: QueryLimits | None = None,
    *,
    max_tokens: int = 5000,
    introspection: bool = True,
    extra_extensions: Sequence[Any] = (),
    compiled: bool = True,
) -> strawberry.Schema:
    """The schema with its protective extensions; the limits come from the settings.

    `compiled`: queries run through compiled plans (`simgql.api.compiled`) when they can.
    """
    extensions: list[Any] = [
        *extra_extensions,  # outermost: they see the result as the client will
        RecordMetrics,
        ErrorShaping,
        limit_queries(limits or QueryLimits(), max_tokens=max_tokens),
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Account, Product, PurchaseOrder, Sim, SalesOrder, Warehouse],
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
        execution_context_class=executor_class(CompiledOperations() if compiled else None),
    )


schema = build_schema()
