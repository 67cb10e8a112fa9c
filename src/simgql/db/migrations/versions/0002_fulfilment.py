"""fulfilment through warehouse sales orders

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 15:30:26.884438
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import simgql.db.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "applied_files",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("applied_at", simgql.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_applied_files")),
    )
    op.create_table(
        "warehouses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", simgql.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warehouses")),
        sa.UniqueConstraint("code", name=op.f("uq_warehouses_code")),
    )
    op.create_table(
        "sales_order_batches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", simgql.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("extracted_at", simgql.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_sales_order_batches_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_order_batches")),
    )
    with op.batch_alter_table("sales_order_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sales_order_batches_warehouse_id"), ["warehouse_id"], unique=False
        )

    op.create_table(
        "stock",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_stock_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_stock_warehouse_id_warehouses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock")),
        sa.UniqueConstraint("warehouse_id", "product_id", name=op.f("uq_stock_warehouse_id")),
    )
    op.create_table(
        "sales_orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("purchase_order_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Uuid(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("fraud_check", sa.String(length=16), nullable=True),
        sa.Column("fraud_reason", sa.Text(), nullable=True),
        sa.Column("error_reason", sa.Text(), nullable=True),
        sa.Column("carrier", sa.String(length=200), nullable=True),
        sa.Column("tracking_number", sa.String(length=200), nullable=True),
        sa.Column("dispatched_at", simgql.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", simgql.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", simgql.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sales_orders_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["sales_order_batches.id"],
            name=op.f("fk_sales_orders_batch_id_sales_order_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_id"],
            ["purchase_orders.id"],
            name=op.f("fk_sales_orders_purchase_order_id_purchase_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_sales_orders_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_orders")),
    )
    with op.batch_alter_table("sales_orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sales_orders_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sales_orders_purchase_order_id"), ["purchase_order_id"], unique=False
        )
        batch_op.create_index(
            "ix_sales_orders_status_created", ["status", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sales_orders_warehouse_id"), ["warehouse_id"], unique=False
        )

    op.create_table(
        "sales_order_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sales_order_id", sa.Uuid(), nullable=False),
        sa.Column("purchase_order_line_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_sales_order_lines_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_line_id"],
            ["purchase_order_lines.id"],
            name=op.f("fk_sales_order_lines_purchase_order_line_id_purchase_order_lines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sales_order_id"],
            ["sales_orders.id"],
            name=op.f("fk_sales_order_lines_sales_order_id_sales_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_order_lines")),
    )
    with op.batch_alter_table("sales_order_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sales_order_lines_sales_order_id"), ["sales_order_id"], unique=False
        )

    op.create_table(
        "charges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sales_order_id", sa.Uuid(), nullable=False),
        sa.Column("sales_order_line_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "unit_price",
            sa.Numeric(precision=18, scale=4).with_variant(
                simgql.db.types._DecimalText(length=40), "sqlite"
            ),
            nullable=False,
        ),
        sa.Column(
            "amount",
            sa.Numeric(precision=18, scale=4).with_variant(
                simgql.db.types._DecimalText(length=40), "sqlite"
            ),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", simgql.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_charges_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_charges_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["sales_order_id"],
            ["sales_orders.id"],
            name=op.f("fk_charges_sales_order_id_sales_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["sales_order_line_id"],
            ["sales_order_lines.id"],
            name=op.f("fk_charges_sales_order_line_id_sales_order_lines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charges")),
        sa.UniqueConstraint("sales_order_line_id", name=op.f("uq_charges_sales_order_line_id")),
    )
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_charges_account_id"), ["account_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_charges_sales_order_id"), ["sales_order_id"], unique=False
        )

    with op.batch_alter_table("po_status_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sales_order_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("sales_order_status", sa.String(length=24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("po_status_events", schema=None) as batch_op:
        batch_op.drop_column("sales_order_status")
        batch_op.drop_column("sales_order_id")

    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_charges_sales_order_id"))
        batch_op.drop_index(batch_op.f("ix_charges_account_id"))

    op.drop_table("charges")
    with op.batch_alter_table("sales_order_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_order_lines_sales_order_id"))

    op.drop_table("sales_order_lines")
    with op.batch_alter_table("sales_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_orders_warehouse_id"))
        batch_op.drop_index("ix_sales_orders_status_created")
        batch_op.drop_index(batch_op.f("ix_sales_orders_purchase_order_id"))
        batch_op.drop_index(batch_op.f("ix_sales_orders_account_id"))

    op.drop_table("sales_orders")
    op.drop_table("stock")
    with op.batch_alter_table("sales_order_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_order_batches_warehouse_id"))

    op.drop_table("sales_order_batches")
    op.drop_table("warehouses")
    op.drop_table("applied_files")
