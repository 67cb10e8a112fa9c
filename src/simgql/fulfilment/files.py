"""Generic-format files: extract a warehouse's batch, load dispatch and error reports."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from simgql.db import fulfilment as repo
from simgql.db import purchase_orders as po_repo
from simgql.db.engine import Database
from simgql.db.models import (
    Account,
    AppliedFile,
    Product,
    PurchaseOrder,
    SalesOrder,
    SalesOrderBatch,
    SalesOrderLine,
    Sim,
    StatusEvent,
    utcnow,
)
from simgql.domain.errors import BadUserInput, DomainError, NotFound
from simgql.domain.fulfilment import SalesOrderStatus
from simgql.domain.model import SYSTEM_ACTOR, SimIdentity
from simgql.fulfilment.actions import ReportedItem, apply_dispatch, apply_error

REQUEST_SCHEMA = "sales-order-request.schema.json"
DISPATCH_SCHEMA = "sales-order-dispatch.schema.json"
MAX_FILE_BYTES = 50 * 1024 * 1024


@cache
def schema(name: str) -> dict[str, Any]:
    text = resources.files("simgql.fulfilment").joinpath("schemas", name).read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@dataclass(frozen=True)
class FileProblem:
    record: int | None  # index in `reports`/`orders`; None for the file as a whole
    where: str
    reason: str

    def __str__(self) -> str:
        place = f"record {self.record}" if self.record is not None else "file"
        return f"{place} at {self.where}: {self.reason}"


class FileRejected(Exception):
    """A file that is refused as a whole, with every problem found in it."""

    def __init__(self, problems: list[FileProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the file")
        self.problems = problems


def schema_problems(document: Any, name: str) -> list[FileProblem]:
    validator = jsonschema.Draft202012Validator(
        schema(name), format_checker=jsonschema.FormatChecker()
    )
    problems = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        path = list(error.absolute_path)
        record = path[1] if len(path) > 1 and isinstance(path[1], int) else None
        where = "/" + "/".join(str(p) for p in path)
        problems.append(FileProblem(record, where, error.message))
    return problems


async def extract(db: Database, *, warehouse_code: str) -> dict[str, Any]:
    """The warehouse's generated orders not yet extracted, as one request document.

    The batches it contains are closed: orders generated later go into a new batch.
    """
    async with db.write() as session:
        warehouse = await repo.get_warehouse_by_code(session, code=warehouse_code)
        if warehouse is None:
            raise NotFound("Warehouse")
        batches = list(
            (
                await session.execute(
                    select(SalesOrderBatch)
                    .where(
                        SalesOrderBatch.warehouse_id == warehouse.id,
                        SalesOrderBatch.extracted_at.is_(None),
                    )
                    .order_by(SalesOrderBatch.created_at)
                    .with_for_update()
                )
            ).scalars()
        )
        now = utcnow()
        orders = []
        if batches:
            rows = (
                await session.execute(
                    select(SalesOrder, PurchaseOrder, Account.code)
                    .join(PurchaseOrder, PurchaseOrder.id == SalesOrder.purchase_order_id)
                    .join(Account, Account.id == SalesOrder.account_id)
                    .where(
                        SalesOrder.batch_id.in_([b.id for b in batches]),
                        SalesOrder.status == SalesOrderStatus.AWAITING_DISPATCH,
                    )
                    .order_by(SalesOrder.created_at, SalesOrder.id)
                )
            ).all()
            lines = await repo.lines_by_sales_order_ids(session, ids=[so.id for so, _, _ in rows])
            codes = dict((await session.execute(select(Product.id, Product.code))).all())
            for so, po, account_code in rows:
                orders.append(
                    {
                        "salesOrderId": str(so.id),
                        "purchaseOrderNumber": po.number,
                        "account": account_code,
                        "requestedShipDate": po.requested_ship_date.isoformat()
                        if po.requested_ship_date
                        else None,
                        "delivery": {
                            "recipient": po.ship_recipient,
                            "company": po.ship_company,
                            "street": po.ship_street,
                            "city": po.ship_city,
                            "postalCode": po.ship_postal_code,
                            "region": po.ship_region,
                            "country": po.ship_country,
                            "phone": po.ship_phone,
                        },
                        "lines": [
                            {"productCode": codes[x.product_id], "quantity": x.quantity}
                            for x in lines[so.id]
                        ],
                    }
                )
            for batch in batches:
                batch.extracted_at = now
    return {
        "format": "simgql.sales-order-request",
        "version": 1,
        "warehouse": warehouse_code,
        "extractedAt": now.isoformat(),
        "batches": [str(b.id) for b in batches],
        "orders": orders,
    }


@dataclass
class LoadReport:
    already_loaded: bool = False
    dispatched: int = 0
    errors: int = 0
    unchanged: int = 0
    events: list[StatusEvent] = field(default_factory=list)


def _parse_time(value: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


async def _same_dispatch(session: Any, so: SalesOrder, items: list[dict[str, str]]) -> bool:
    """Whether a COMPLETE order already holds exactly these SIMs (a repeated report)."""
    held = {
        (s.iccid, s.imsi, s.msisdn)
        for s in (
            await session.execute(
                select(Sim)
                .join(SalesOrderLine, SalesOrderLine.purchase_order_line_id == Sim.line_id)
                .where(SalesOrderLine.sales_order_id == so.id)
            )
        ).scalars()
    }
    return {(i["iccid"], i["imsi"], i["msisdn"]) for i in items} <= held


async def load(db: Database, *, content: bytes) -> LoadReport:
    """Apply a dispatch report file all or nothing; the same file twice changes nothing."""
    if len(content) > MAX_FILE_BYTES:
        raise FileRejected([FileProblem(None, "/", "the file is larger than 50 MiB")])
    digest = hashlib.sha256(content).hexdigest()
    try:
        document = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FileRejected([FileProblem(None, "/", f"not a JSON document: {exc}")]) from None
    problems = schema_problems(document, DISPATCH_SCHEMA)
    if problems:
        raise FileRejected(problems)
    reports: list[dict[str, Any]] = document["reports"]
    for i, r in enumerate(reports):
        if r["outcome"] == "DISPATCHED" and _parse_time(r["dispatchedAt"]) is None:
            problems.append(
                FileProblem(i, f"/reports/{i}/dispatchedAt", "not a timestamp with offset")
            )
    seen: dict[str, int] = {}
    for i, r in enumerate(reports):
        if r["salesOrderId"] in seen:
            problems.append(
                FileProblem(
                    i,
                    f"/reports/{i}/salesOrderId",
                    f"also reported in record {seen[r['salesOrderId']]}",
                )
            )
        seen.setdefault(r["salesOrderId"], i)
    if problems:
        raise FileRejected(problems)

    report = LoadReport()
    pending: list[StatusEvent] = []
    async with db.write() as session:
        try:
            # Claimed first: a second load of this file waits here, then finds it loaded.
            async with session.begin_nested():
                session.add(AppliedFile(sha256=digest, kind="dispatch", records=len(reports)))
                await session.flush()
        except IntegrityError:
            return LoadReport(already_loaded=True)
        warehouse = await repo.get_warehouse_by_code(session, code=document["warehouse"])
        if warehouse is None:
            raise FileRejected([FileProblem(None, "/warehouse", "unknown warehouse")])
        ids = [uuid.UUID(r["salesOrderId"]) for r in reports]
        known = await repo.sales_orders_by_ids(session, ids=ids)
        # Lock every PO of the file up front, in one order, before any sales order.
        await repo.lock_purchase_orders(
            session, ids=[so.purchase_order_id for so in known.values()]
        )
        for i, r in enumerate(reports):
            where = f"/reports/{i}"
            found = known.get(ids[i])
            if found is None or found.warehouse_id != warehouse.id:
                problems.append(
                    FileProblem(i, f"{where}/salesOrderId", "no such sales order of this warehouse")
                )
                continue
            po = await session.get(PurchaseOrder, found.purchase_order_id)
            so = await repo.get_sales_order(session, sales_order_id=found.id, lock=True)
            assert po is not None
            assert so is not None
            try:
                if r["outcome"] == "DISPATCHED":
                    if so.status == SalesOrderStatus.COMPLETE and await _same_dispatch(
                        session, so, r["items"]
                    ):
                        report.unchanged += 1
                        continue
                    pending += await apply_dispatch(
                        session,
                        po=po,
                        so=so,
                        items=[
                            ReportedItem(
                                None,
                                x["productCode"],
                                SimIdentity(x["iccid"], x["imsi"], x["msisdn"]),
                            )
                            for x in r["items"]
                        ],
                        carrier=r["carrier"],
                        tracking_number=r["trackingNumber"],
                        dispatched_at=_parse_time(r["dispatchedAt"]) or utcnow(),
                        actor=f"{SYSTEM_ACTOR}:file",
                        prefix=f"{where}/items",
                    )
                    report.dispatched += 1
                else:
                    if so.status == SalesOrderStatus.ERROR and so.error_reason == r["reason"]:
                        report.unchanged += 1
                        continue
                    pending += await apply_error(
                        session, po=po, so=so, reason=r["reason"], actor=f"{SYSTEM_ACTOR}:file"
                    )
                    report.errors += 1
            except BadUserInput as exc:
                problems += [FileProblem(i, f.field, f.message) for f in exc.fields]
            except DomainError as exc:
                problems.append(FileProblem(i, where, exc.message))
        if problems:
            raise FileRejected(problems)
        report.events = await po_repo.record_events(session, pending)
    return report
