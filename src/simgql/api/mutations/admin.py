"""Mutations of the service-provider admin: products, accounts, assignments, configuration."""

from __future__ import annotations

from typing import Annotated

import strawberry

from simgql.api.context import Info
from simgql.api.ids import decode_id
from simgql.api.inputs import (
    AssignProductInput,
    CreateAccountInput,
    CreateProductInput,
    SetAccountCatalogueInput,
    SetConfigurationInput,
    UnassignProductInput,
    UpdateAccountInput,
    UpdateProductInput,
)
from simgql.api.types import Account, Product
from simgql.db.config import (
    ALLOW_OVERRIDE,
    FRAUD_CHECK_REQUIRED,
    FRAUD_DENY_ADDRESS_FRAGMENTS,
    FRAUD_DENY_NAMES,
    get_config,
)
from simgql.db.models import Account as AccountRow
from simgql.domain.errors import NotFound
from simgql.services import admin


@strawberry.type(description="The result of a product mutation.")
class ProductPayload:
    product: Product = strawberry.field(description="The product after the change.")


@strawberry.type(description="The result of an account mutation.")
class AccountPayload:
    account: Account = strawberry.field(description="The account after the change.")


@strawberry.type(description="Configuration items the SP admin may change.")
class Configuration:
    allow_account_default_override: bool = strawberry.field(
        description="po.allowAccountDefaultOverride: may a PO override the account defaults?"
    )
    sales_order_fraud_check_required: bool = strawberry.field(
        description="salesOrder.fraudCheckRequired: check delivery name and address first?"
    )
    sales_order_fraud_deny_names: list[str] = strawberry.field(
        description="salesOrder.fraudDenyNames: recipient or company names that fail the check "
        "(whole names, case-insensitive)."
    )
    sales_order_fraud_deny_address_fragments: list[str] = strawberry.field(
        description="salesOrder.fraudDenyAddressFragments: text that fails the check when the "
        "street, postal code and city contain it (case-insensitive)."
    )


@strawberry.type(description="The result of `setConfiguration`.")
class ConfigurationPayload:
    configuration: Configuration = strawberry.field(
        description="Every configuration item after the change."
    )


async def load_configuration(info: Info) -> Configuration:
    async with info.context.db.read() as session:
        return Configuration(
            allow_account_default_override=bool(await get_config(session, key=ALLOW_OVERRIDE)),
            sales_order_fraud_check_required=bool(
                await get_config(session, key=FRAUD_CHECK_REQUIRED)
            ),
            sales_order_fraud_deny_names=list(await get_config(session, key=FRAUD_DENY_NAMES)),
            sales_order_fraud_deny_address_fragments=list(
                await get_config(session, key=FRAUD_DENY_ADDRESS_FRAGMENTS)
            ),
        )


async def _account_payload(info: Info, account_id: object) -> AccountPayload:
    async with info.context.db.read() as session:
        row = await session.get(AccountRow, account_id)
    if row is None:
        raise NotFound("Account")
    return AccountPayload(account=Account.of(row))


@strawberry.type
class AdminMutations:
    @strawberry.mutation(description="SP_ADMIN: add a SIM Sales Product.")
    async def create_product(
        self,
        info: Info,
        input: Annotated[CreateProductInput, strawberry.argument(description="The new product.")],
    ) -> ProductPayload:
        row = await admin.create_product(
            info.context.db, viewer=info.context.viewer, details=input.details()
        )
        return ProductPayload(product=Product.of(row))

    @strawberry.mutation(description="SP_ADMIN: change a product; fields not given stay.")
    async def update_product(
        self,
        info: Info,
        input: Annotated[
            UpdateProductInput, strawberry.argument(description="The product and changes.")
        ],
    ) -> ProductPayload:
        row = await admin.update_product(
            info.context.db,
            viewer=info.context.viewer,
            product_id=decode_id(input.id, "Product", "id"),
            details=input.details(),
        )
        return ProductPayload(product=Product.of(row))

    @strawberry.mutation(description="SP_ADMIN: onboard an enterprise account.")
    async def create_account(
        self,
        info: Info,
        input: Annotated[CreateAccountInput, strawberry.argument(description="The new account.")],
    ) -> AccountPayload:
        row = await admin.create_account(
            info.context.db, viewer=info.context.viewer, details=input.details()
        )
        return AccountPayload(account=Account.of(row))

    @strawberry.mutation(description="SP_ADMIN: change an account's name, status or defaults.")
    async def update_account(
        self,
        info: Info,
        input: Annotated[
            UpdateAccountInput, strawberry.argument(description="The account and changes.")
        ],
    ) -> AccountPayload:
        row = await admin.update_account(
            info.context.db,
            viewer=info.context.viewer,
            account_id=decode_id(input.id, "Account", "id"),
            details=input.details(),
        )
        return AccountPayload(account=Account.of(row))

    @strawberry.mutation(description="SP_ADMIN: offer a product to an account, with bounds.")
    async def assign_product(
        self,
        info: Info,
        input: Annotated[
            AssignProductInput, strawberry.argument(description="The account, product, bounds.")
        ],
    ) -> AccountPayload:
        account_id = decode_id(input.account_id, "Account", "accountId")
        await admin.assign_product(
            info.context.db,
            viewer=info.context.viewer,
            account_id=account_id,
            product_id=decode_id(input.product_id, "Product", "productId"),
            min_quantity=input.min_quantity,
            max_quantity=input.max_quantity,
        )
        return await _account_payload(info, account_id)

    @strawberry.mutation(description="SP_ADMIN: stop offering a product to an account.")
    async def unassign_product(
        self,
        info: Info,
        input: Annotated[
            UnassignProductInput, strawberry.argument(description="The account and product.")
        ],
    ) -> AccountPayload:
        account_id = decode_id(input.account_id, "Account", "accountId")
        await admin.unassign_product(
            info.context.db,
            viewer=info.context.viewer,
            account_id=account_id,
            product_id=decode_id(input.product_id, "Product", "productId"),
        )
        return await _account_payload(info, account_id)

    @strawberry.mutation(description="SP_ADMIN: replace one list of an account's catalogue.")
    async def set_account_catalogue(
        self,
        info: Info,
        input: Annotated[
            SetAccountCatalogueInput, strawberry.argument(description="The account and list.")
        ],
    ) -> AccountPayload:
        account_id = decode_id(input.account_id, "Account", "accountId")
        await admin.set_catalogue(
            info.context.db,
            viewer=info.context.viewer,
            account_id=account_id,
            kind=input.kind,
            codes=input.codes,
        )
        return await _account_payload(info, account_id)

    @strawberry.mutation(description="SP_ADMIN: change configuration items.")
    async def set_configuration(
        self,
        info: Info,
        input: Annotated[
            SetConfigurationInput, strawberry.argument(description="The items to change.")
        ],
    ) -> ConfigurationPayload:
        admin.require_admin(info.context.viewer, "change configuration")
        await admin.set_configuration(
            info.context.db, viewer=info.context.viewer, items=input.items()
        )
        return ConfigurationPayload(configuration=await load_configuration(info))
