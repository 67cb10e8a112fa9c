"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-30 15:16:43.262042
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import simgql.db.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


PO_NUMBER_START = 100001


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # PO numbers come from a sequence: safe across server processes, never reused.
        op.execute(sa.schema.CreateSequence(sa.Sequence("po_number_seq", start=PO_NUMBER_START)))
    op.create_table(
        "accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("default_sim_billing_status", sa.String(length=32), nullable=True),
        sa.Column("default_price_plan", sa.String(length=64), nullable=True),
        sa.Column("default_service_profile", sa.String(length=64), nullable=True),
        sa.Column("default_roaming_profile", sa.String(length=64), nullable=True),
        sa.Column("default_apn_group", sa.String(length=64), nullable=True),
        sa.Column("created_at", simgql.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("code", name=op.f("uq_accounts_code")),
    )
    op.create_table(
        "config_items",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", simgql.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_config_items")),
    )
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("form_factor", sa.String(length=16), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("branding", sa.String(length=200), nullable=True),
        sa.Column(
            "unit_price",
            sa.Numeric(precision=18, scale=4).with_variant(
                simgql.db.types._DecimalText(length=40), "sqlite"
            ),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", simgql.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("code", name=op.f("uq_products_code")),
    )
    op.create_table(
        "catalogue_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_catalogue_entries_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_entries")),
        sa.UniqueConstraint(
            "account_id", "kind", "code", name=op.f("uq_catalogue_entries_account_id")
        ),
    )
    op.create_table(
        "product_assignments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("min_quantity", sa.Integer(), nullable=True),
        sa.Column("max_quantity", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_product_assignments_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_assignments_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_assignments")),
        sa.UniqueConstraint(
            "account_id", "product_id", name=op.f("uq_product_assignments_account_id")
        ),
    )
    op.create_table(
        "purchase_orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("ship_recipient", sa.String(length=200), nullable=True),
        sa.Column("ship_company", sa.String(length=200), nullable=True),
        sa.Column("ship_street", sa.JSON(), nullable=True),
        sa.Column("ship_city", sa.String(length=200), nullable=True),
        sa.Column("ship_postal_code", sa.String(length=200), nullable=True),
        sa.Column("ship_region", sa.String(length=200), nullable=True),
        sa.Column("ship_country", sa.String(length=2), nullable=True),
        sa.Column("ship_phone", sa.String(length=200), nullable=True),
        sa.Column("requested_ship_date", sa.Date(), nullable=True),
        sa.Column("override_sim_billing_status", sa.String(length=32), nullable=True),
        sa.Column("override_price_plan", sa.String(length=64), nullable=True),
        sa.Column("override_service_profile", sa.String(length=64), nullable=True),
        sa.Column("override_roaming_profile", sa.String(length=64), nullable=True),
        sa.Column("override_apn_group", sa.String(length=64), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("cancellation_reason", sa.Text(), nullable=True),
        sa.Column("carrier", sa.String(length=200), nullable=True),
        sa.Column("tracking_number", sa.String(length=200), nullable=True),
        sa.Column("shipped_at", simgql.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", simgql.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", simgql.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_purchase_orders_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_orders")),
        sa.UniqueConstraint(
            "created_by", "idempotency_key", name=op.f("uq_purchase_orders_created_by")
        ),
        sa.UniqueConstraint("number", name=op.f("uq_purchase_orders_number")),
    )
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_purchase_orders_account_created", ["account_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_purchase_orders_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index("ix_purchase_orders_created", ["created_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_purchase_orders_status"), ["status"], unique=False)

    op.create_table(
        "po_status_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("purchase_order_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("occurred_at", simgql.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("published_at", simgql.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_po_status_events_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_id"],
            ["purchase_orders.id"],
            name=op.f("fk_po_status_events_purchase_order_id_purchase_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_po_status_events")),
    )
    with op.batch_alter_table("po_status_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_po_status_events_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index("ix_po_status_events_po", ["purchase_order_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_po_status_events_published_at"), ["published_at"], unique=False
        )

    op.create_table(
        "purchase_order_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("purchase_order_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "unit_price",
            sa.Numeric(precision=18, scale=4).with_variant(
                simgql.db.types._DecimalText(length=40), "sqlite"
            ),
            nullable=True,
        ),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_purchase_order_lines_product_id_products"),
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_id"],
            ["purchase_orders.id"],
            name=op.f("fk_purchase_order_lines_purchase_order_id_purchase_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_order_lines")),
    )
    with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_purchase_order_lines_purchase_order_id"),
            ["purchase_order_id"],
            unique=False,
        )

    op.create_table(
        "sims",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("iccid", sa.String(length=20), nullable=False),
        sa.Column("imsi", sa.String(length=15), nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("purchase_order_id", sa.Uuid(), nullable=False),
        sa.Column("line_id", sa.Uuid(), nullable=False),
        sa.Column("sim_billing_status", sa.String(length=32), nullable=True),
        sa.Column("price_plan", sa.String(length=64), nullable=True),
        sa.Column("service_profile", sa.String(length=64), nullable=True),
        sa.Column("roaming_profile", sa.String(length=64), nullable=True),
        sa.Column("apn_group", sa.String(length=64), nullable=True),
        sa.Column("created_at", simgql.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sims_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["purchase_order_lines.id"],
            name=op.f("fk_sims_line_id_purchase_order_lines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_sims_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_id"],
            ["purchase_orders.id"],
            name=op.f("fk_sims_purchase_order_id_purchase_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sims")),
        sa.UniqueConstraint("iccid", name=op.f("uq_sims_iccid")),
        sa.UniqueConstraint("imsi", name=op.f("uq_sims_imsi")),
        sa.UniqueConstraint("msisdn", name=op.f("uq_sims_msisdn")),
    )
    with op.batch_alter_table("sims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sims_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sims_line_id"), ["line_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sims_purchase_order_id"), ["purchase_order_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sims_purchase_order_id"))
        batch_op.drop_index(batch_op.f("ix_sims_line_id"))
        batch_op.drop_index(batch_op.f("ix_sims_account_id"))

    op.drop_table("sims")
    with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_order_lines_purchase_order_id"))

    op.drop_table("purchase_order_lines")
    with op.batch_alter_table("po_status_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_po_status_events_published_at"))
        batch_op.drop_index("ix_po_status_events_po")
        batch_op.drop_index(batch_op.f("ix_po_status_events_account_id"))

    op.drop_table("po_status_events")
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_orders_status"))
        batch_op.drop_index("ix_purchase_orders_created")
        batch_op.drop_index(batch_op.f("ix_purchase_orders_account_id"))
        batch_op.drop_index("ix_purchase_orders_account_created")

    op.drop_table("purchase_orders")
    op.drop_table("product_assignments")
    op.drop_table("catalogue_entries")
    op.drop_table("products")
    op.drop_table("counters")
    op.drop_table("config_items")
    op.drop_table("accounts")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.schema.DropSequence(sa.Sequence("po_number_seq")))
