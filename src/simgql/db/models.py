"""SQLAlchemy models: the tables of simgql."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Sequence,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from simgql.db.types import UtcDateTime, money_amount

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Big integer ids that SQLite still treats as its auto-incrementing rowid.
AutoId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# PO numbers on PostgreSQL; SQLite uses the `counters` table under its single-writer lock.
PO_NUMBER_SEQUENCE = Sequence("po_number_seq", start=100001, metadata=Base.metadata)
PO_NUMBER_START = 100001


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    default_sim_billing_status: Mapped[str | None] = mapped_column(String(32))
    default_price_plan: Mapped[str | None] = mapped_column(String(64))
    default_service_profile: Mapped[str | None] = mapped_column(String(64))
    default_roaming_profile: Mapped[str | None] = mapped_column(String(64))
    default_apn_group: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class CatalogueEntry(Base):
    """One value an account may pick when it overrides a default (price plan, profile, …)."""

    __tablename__ = "catalogue_entries"
    __table_args__ = (UniqueConstraint("account_id", "kind", "code"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(64))


class Product(Base):
    __tablename__ = "products"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16))
    form_factor: Mapped[str] = mapped_column(String(16))
    features: Mapped[list[str]] = mapped_column(JSON, default=list)
    branding: Mapped[str | None] = mapped_column(String(200))
    unit_price: Mapped[Decimal] = mapped_column(money_amount())
    currency: Mapped[str] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class ProductAssignment(Base):
    """A product offered to an account, with optional order-quantity bounds."""

    __tablename__ = "product_assignments"
    __table_args__ = (UniqueConstraint("account_id", "product_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    min_quantity: Mapped[int | None] = mapped_column(Integer)
    max_quantity: Mapped[int | None] = mapped_column(Integer)


class ConfigItem(Base):
    """A run-time configuration item, e.g. `po.allowAccountDefaultOverride`."""

    __tablename__ = "config_items"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Counter(Base):
    """Named counters for databases without sequences (SQLite); updated under its write lock."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class PurchaseOrder(Base):
    __tablename__ = "purchase_orders"
    __table_args__ = (
        UniqueConstraint("created_by", "idempotency_key"),
        Index("ix_purchase_orders_account_created", "account_id", "created_at", "id"),
        Index("ix_purchase_orders_created", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    number: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    ship_recipient: Mapped[str | None] = mapped_column(String(200))
    ship_company: Mapped[str | None] = mapped_column(String(200))
    ship_street: Mapped[list[str] | None] = mapped_column(JSON)
    ship_city: Mapped[str | None] = mapped_column(String(200))
    ship_postal_code: Mapped[str | None] = mapped_column(String(200))
    ship_region: Mapped[str | None] = mapped_column(String(200))
    ship_country: Mapped[str | None] = mapped_column(String(2))
    ship_phone: Mapped[str | None] = mapped_column(String(200))
    requested_ship_date: Mapped[dt.date | None] = mapped_column()

    override_sim_billing_status: Mapped[str | None] = mapped_column(String(32))
    override_price_plan: Mapped[str | None] = mapped_column(String(64))
    override_service_profile: Mapped[str | None] = mapped_column(String(64))
    override_roaming_profile: Mapped[str | None] = mapped_column(String(64))
    override_apn_group: Mapped[str | None] = mapped_column(String(64))

    rejection_reason: Mapped[str | None] = mapped_column(Text)
    cancellation_reason: Mapped[str | None] = mapped_column(Text)
    carrier: Mapped[str | None] = mapped_column(String(200))
    tracking_number: Mapped[str | None] = mapped_column(String(200))
    shipped_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class PurchaseOrderLine(Base):
    __tablename__ = "purchase_order_lines"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    purchase_order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("purchase_orders.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    # Snapshot of the product's price, taken when the PO is submitted.
    unit_price: Mapped[Decimal | None] = mapped_column(money_amount())
    currency: Mapped[str | None] = mapped_column(String(3))


class StatusEvent(Base):
    """One status transition of a PO: its history row and its event (transactional outbox).

    `id` is the event cursor; `published_at` is set once the event reached the broadcaster.
    """

    __tablename__ = "po_status_events"
    __table_args__ = (Index("ix_po_status_events_po", "purchase_order_id", "id"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    purchase_order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("purchase_orders.id", ondelete="CASCADE")
    )
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    # Set when the event is a sales order's status change (the PO's status stays).
    sales_order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    sales_order_status: Mapped[str | None] = mapped_column(String(24))
    occurred_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, index=True)


class Sim(Base):
    __tablename__ = "sims"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    iccid: Mapped[str] = mapped_column(String(20), unique=True)
    imsi: Mapped[str] = mapped_column(String(15), unique=True)
    msisdn: Mapped[str] = mapped_column(String(15), unique=True)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    purchase_order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("purchase_orders.id", ondelete="CASCADE"), index=True
    )
    line_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("purchase_order_lines.id", ondelete="CASCADE"), index=True
    )
    sim_billing_status: Mapped[str | None] = mapped_column(String(32))
    price_plan: Mapped[str | None] = mapped_column(String(64))
    service_profile: Mapped[str | None] = mapped_column(String(64))
    roaming_profile: Mapped[str | None] = mapped_column(String(64))
    apn_group: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Warehouse(Base):
    __tablename__ = "warehouses"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Stock(Base):
    """Units of one product in one warehouse; `reserved` are promised to sales orders."""

    __tablename__ = "stock"
    __table_args__ = (UniqueConstraint("warehouse_id", "product_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warehouses.id", ondelete="CASCADE"))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)


class SalesOrderBatch(Base):
    """The generated orders of one warehouse that travel in one extract file."""

    __tablename__ = "sales_order_batches"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warehouses.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    extracted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class SalesOrder(Base):
    __tablename__ = "sales_orders"
    __table_args__ = (Index("ix_sales_orders_status_created", "status", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    purchase_order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("purchase_orders.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    warehouse_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("warehouses.id"), index=True)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sales_order_batches.id"))
    status: Mapped[str] = mapped_column(String(24))
    fraud_check: Mapped[str | None] = mapped_column(String(16))
    fraud_reason: Mapped[str | None] = mapped_column(Text)
    error_reason: Mapped[str | None] = mapped_column(Text)
    carrier: Mapped[str | None] = mapped_column(String(200))
    tracking_number: Mapped[str | None] = mapped_column(String(200))
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class SalesOrderLine(Base):
    __tablename__ = "sales_order_lines"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    sales_order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sales_orders.id", ondelete="CASCADE"), index=True
    )
    purchase_order_line_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("purchase_order_lines.id", ondelete="CASCADE")
    )
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)


class Charge(Base):
    """What a dispatched sales-order line is billed: price snapshot times quantity."""

    __tablename__ = "charges"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    sales_order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sales_orders.id"), index=True)
    sales_order_line_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sales_order_lines.id"), unique=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(money_amount())
    amount: Mapped[Decimal] = mapped_column(money_amount())
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class AppliedFile(Base):
    """A generic-format file that was loaded, by content hash: loading it again is a no-op."""

    __tablename__ = "applied_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    records: Mapped[int] = mapped_column(Integer)
    applied_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
