"""Generic-format files on PostgreSQL: extract a warehouse's batch, load dispatch/error reports.

Through `simgql.fulfilment.files` and through the `simgql sales-orders` command as a
warehouse operator runs it. The last test is the acceptance path end to end: a PO driven
from submission to CLOSED only through the warehouse path, with a real server and the CLI.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from sqlalchemy import func, select

from simgql.api.ids import encode_id
from simgql.app import create_app
from simgql.db.engine import Database
from simgql.db.models import PurchaseOrder, SalesOrder, Sim, StatusEvent, Stock
from simgql.domain.errors import NotFound
from simgql.domain.model import PurchaseOrderStatus
from simgql.fulfilment import files
from simgql.fulfilment.files import FileProblem, FileRejected
from simgql.fulfilment.job import run_once
from simgql.settings import Settings
from tests.client import Actor, GraphQLClient
from tests.conftest import SECRET
from tests.factories import (
    ADDRESS_INPUT,
    ADMIN,
    AGENT,
    Tenant,
    gid,
    make_po,
    make_tenant,
    sims,
    unique,
)
from tests.server import running_server

pytestmark = pytest.mark.postgres

S = PurchaseOrderStatus
REPO_ROOT = Path(__file__).resolve().parent.parent
REQUEST_SCHEMA = REPO_ROOT / "schemas" / "sales-order-request.schema.json"
DISPATCH_SCHEMA = REPO_ROOT / "schemas" / "sales-order-dispatch.schema.json"
WAIT_SECONDS = 60


@pytest.fixture(scope="module")
async def pg(postgres_url: str) -> AsyncIterator[Database]:
    database = Database(postgres_url)
    yield database
    await database.dispose()


@pytest.fixture(scope="module")
async def papi(pg: Database) -> AsyncIterator[GraphQLClient]:
    """The GraphQL API over the PostgreSQL database (in-process; the job is not started)."""
    app = create_app(Settings(database_url=pg.url, jwt_secret=SECRET), db=pg)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://simgql.test") as http:
        yield GraphQLClient(http, secret=SECRET)


# --- helpers -----------------------------------------------------------------------------------


def validate(document: Any, schema_file: Path) -> None:
    schema = json.loads(schema_file.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = [e.message for e in validator.iter_errors(document)]
    assert errors == [], errors


def _simgql() -> list[str]:
    script = Path(sys.executable).with_name("simgql")
    return [str(script)] if script.exists() else [sys.executable, "-m", "simgql.cli"]


async def cli(postgres_url: str, cwd: Path, *args: str) -> tuple[int, str, str]:
    """Run `simgql ARGS` against the PostgreSQL database: exit code, stdout, stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMGQL_")}
    env.update({"SIMGQL_DATABASE_URL": postgres_url, "SIMGQL_JWT_SECRET": SECRET})
    proc = await asyncio.create_subprocess_exec(
        *_simgql(),
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def generated(db: Database, tenant: Tenant, *quantities: int) -> list[PurchaseOrder]:
    """POs of the tenant in PROVISIONING whose sales orders the job has generated."""
    pos = [await make_po(db, tenant, S.PROVISIONING, quantity=q) for q in quantities]
    await run_once(db)
    return pos


def orders_of(document: dict[str, Any], pos: list[PurchaseOrder]) -> list[dict[str, Any]]:
    """The extracted orders of these POs, in the order of `pos`."""
    numbers = [p.number for p in pos]
    found = [o for o in document["orders"] if o["purchaseOrderNumber"] in numbers]
    return sorted(found, key=lambda o: numbers.index(o["purchaseOrderNumber"]))


def dispatched(order: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A DISPATCHED report with fresh identities for exactly what the order asks for."""
    items = [
        {
            "productCode": line["productCode"],
            "iccid": s.iccid,
            "imsi": s.imsi,
            "msisdn": s.msisdn,
        }
        for line in order["lines"]
        for s in sims(line["quantity"])
    ]
    report = {
        "salesOrderId": order["salesOrderId"],
        "outcome": "DISPATCHED",
        "carrier": "DHL",
        "trackingNumber": unique("JD"),
        "dispatchedAt": "2030-05-06T07:08:09+02:00",
        "items": items,
    }
    report.update(changes)
    return report


def failed(order: dict[str, Any], reason: str) -> dict[str, Any]:
    return {"salesOrderId": order["salesOrderId"], "outcome": "ERROR", "reason": reason}


def report_file(warehouse: str, reports: list[dict[str, Any]], **top: Any) -> bytes:
    document = {
        "format": "simgql.sales-order-dispatch",
        "version": 1,
        "warehouse": warehouse,
        "reports": reports,
        **top,
    }
    return json.dumps(document).encode()


async def refused(db: Database, content: bytes) -> list[FileProblem]:
    with pytest.raises(FileRejected) as rejected:
        await files.load(db, content=content)
    assert rejected.value.problems
    return rejected.value.problems


async def state(db: Database, pos: list[PurchaseOrder]) -> dict[str, Any]:
    """Everything a load could change about these POs."""
    ids = [p.id for p in pos]
    async with db.read() as session:
        orders = (
            await session.execute(select(SalesOrder).where(SalesOrder.purchase_order_id.in_(ids)))
        ).scalars()
        so_rows = sorted(
            (str(s.id), s.status, s.error_reason, s.carrier, s.tracking_number, s.batch_id)
            for s in orders
        )
        warehouses = {row[5] for row in so_rows}
        sim_count = await session.scalar(
            select(func.count()).select_from(Sim).where(Sim.purchase_order_id.in_(ids))
        )
        event_count = await session.scalar(
            select(func.count())
            .select_from(StatusEvent)
            .where(StatusEvent.purchase_order_id.in_(ids))
        )
        po_rows = sorted(
            (str(p.id), p.status, p.version)
            for p in (
                await session.execute(select(PurchaseOrder).where(PurchaseOrder.id.in_(ids)))
            ).scalars()
        )
        stock_rows = sorted(
            (str(s.warehouse_id), str(s.product_id), s.on_hand, s.reserved)
            for s in (
                await session.execute(
                    select(Stock).where(
                        Stock.warehouse_id.in_(
                            select(SalesOrder.warehouse_id).where(
                                SalesOrder.purchase_order_id.in_(ids)
                            )
                        )
                    )
                )
            ).scalars()
        )
    assert warehouses  # the POs have sales orders
    return {
        "orders": so_rows,
        "sims": sim_count,
        "events": event_count,
        "pos": po_rows,
        "stock": stock_rows,
    }


async def statuses(db: Database, pos: list[PurchaseOrder]) -> list[str]:
    async with db.read() as session:
        return [
            str(
                await session.scalar(
                    select(SalesOrder.status).where(SalesOrder.purchase_order_id == p.id)
                )
            )
            for p in pos
        ]


async def po_status(db: Database, po: PurchaseOrder) -> str:
    async with db.read() as session:
        return str(
            await session.scalar(select(PurchaseOrder.status).where(PurchaseOrder.id == po.id))
        )


def records(problems: list[FileProblem]) -> set[int | None]:
    return {p.record for p in problems}


# --- extract -----------------------------------------------------------------------------------


async def test_extract_writes_the_generated_orders_in_the_published_format(
    pg: Database,
) -> None:
    tenant = await make_tenant(pg)
    pos = await generated(pg, tenant, 2, 3)
    not_yet = await make_po(pg, tenant, S.PROVISIONING, quantity=1)

    document = await files.extract(pg, warehouse_code=tenant.warehouse_code)

    validate(document, REQUEST_SCHEMA)
    assert document["format"] == "simgql.sales-order-request"
    assert document["warehouse"] == tenant.warehouse_code
    assert len(document["batches"]) == 1
    assert [o["purchaseOrderNumber"] for o in document["orders"]] == [p.number for p in pos]
    for order, quantity in zip(document["orders"], (2, 3), strict=True):
        assert order["account"] == tenant.code
        assert len(order["lines"]) == 1
        assert order["lines"][0]["quantity"] == quantity
        assert order["delivery"]["recipient"] == ADDRESS_INPUT["recipient"]
        assert order["delivery"]["street"] == ADDRESS_INPUT["street"]
        assert order["delivery"]["country"] == "DE"
        assert order["requestedShipDate"] is not None
    assert not_yet.number not in [o["purchaseOrderNumber"] for o in document["orders"]]

    # The batch is closed: the next extract has nothing until more orders are generated.
    empty = await files.extract(pg, warehouse_code=tenant.warehouse_code)
    validate(empty, REQUEST_SCHEMA)
    assert empty["orders"] == []
    assert empty["batches"] == []

    await run_once(pg)
    later = await files.extract(pg, warehouse_code=tenant.warehouse_code)
    validate(later, REQUEST_SCHEMA)
    assert [o["purchaseOrderNumber"] for o in later["orders"]] == [not_yet.number]
    assert later["batches"] != document["batches"]


async def test_extract_of_an_unknown_warehouse_is_not_found(pg: Database) -> None:
    with pytest.raises(NotFound):
        await files.extract(pg, warehouse_code=unique("NOWH-"))


async def test_extract_command_writes_a_valid_file_and_closes_the_batch(
    pg: Database, postgres_url: str, tmp_path: Path
) -> None:
    tenant = await make_tenant(pg)
    pos = await generated(pg, tenant, 4)
    out = tmp_path / "batch.json"

    code, stdout, stderr = await cli(
        postgres_url, tmp_path, "sales-orders", "extract", "--warehouse", tenant.warehouse_code,
        "--out", str(out),
    )  # fmt: skip

    assert code == 0, stderr
    assert f"wrote 1 orders to {out}" in stdout
    document = json.loads(out.read_text())
    validate(document, REQUEST_SCHEMA)
    assert [o["purchaseOrderNumber"] for o in document["orders"]] == [pos[0].number]
    assert document["orders"][0]["lines"][0]["quantity"] == 4

    again = tmp_path / "again.json"
    code, stdout, _ = await cli(
        postgres_url, tmp_path, "sales-orders", "extract", "--warehouse", tenant.warehouse_code,
        "--out", str(again),
    )  # fmt: skip
    assert code == 0
    assert json.loads(again.read_text())["orders"] == []

    missing = tmp_path / "missing.json"
    code, _, stderr = await cli(
        postgres_url, tmp_path, "sales-orders", "extract", "--warehouse", unique("NOWH-"),
        "--out", str(missing),
    )  # fmt: skip
    assert code == 1
    assert "error:" in stderr
    assert "Traceback" not in stderr
    assert not missing.exists()


# --- load: dispatch reports --------------------------------------------------------------------


async def test_a_valid_dispatch_file_completes_the_orders_and_the_pos_become_ready(
    pg: Database, papi: GraphQLClient
) -> None:
    tenant = await make_tenant(pg)
    pos = await generated(pg, tenant, 2, 1)
    document = await files.extract(pg, warehouse_code=tenant.warehouse_code)
    reports = [dispatched(o) for o in orders_of(document, pos)]
    content = report_file(tenant.warehouse_code, reports)
    validate(json.loads(content), DISPATCH_SCHEMA)

    report = await files.load(pg, content=content)

    assert (report.already_loaded, report.dispatched, report.errors) == (False, 2, 0)
    assert await statuses(pg, pos) == ["COMPLETE", "COMPLETE"]
    for po, sent in zip(pos, reports, strict=True):
        assert await po_status(pg, po) == "READY"
        read = await papi.run(
            tenant.viewer,
            """query($id: ID!) { purchaseOrder(id: $id) {
                 status lines { sims { iccid imsi msisdn } }
                 statusHistory { fromStatus toStatus actor salesOrderStatus }
                 salesOrders { status dispatch { carrier trackingNumber dispatchedAt } } } }""",
            {"id": gid(po)},
        )
        seen = read.ok()["purchaseOrder"]
        assert {(s["iccid"], s["imsi"], s["msisdn"]) for s in seen["lines"][0]["sims"]} == {
            (i["iccid"], i["imsi"], i["msisdn"]) for i in sent["items"]
        }
        (so,) = seen["salesOrders"]
        assert so["dispatch"]["trackingNumber"] == sent["trackingNumber"]
        assert so["dispatch"]["dispatchedAt"].startswith("2030-05-06T05:08:09")
        history = [
            (h["salesOrderStatus"], h["toStatus"], h["actor"]) for h in seen["statusHistory"]
        ]
        assert history[-2:] == [
            ("COMPLETE", "PROVISIONING", "system:file"),
            (None, "READY", "system"),
        ]


async def test_the_same_file_loaded_twice_changes_nothing_the_second_time(
    pg: Database, postgres_url: str, tmp_path: Path
) -> None:
    tenant = await make_tenant(pg)
    pos = await generated(pg, tenant, 3)
    (order,) = orders_of(await files.extract(pg, warehouse_code=tenant.warehouse_code), pos)
    reports = [dispatched(order)]
    path = tmp_path / "dispatch.json"
    path.write_bytes(report_file(tenant.warehouse_code, reports))

    code, stdout, stderr = await cli(postgres_url, tmp_path, "sales-orders", "load", str(path))
    assert code == 0, stderr
    assert "applied: 1 dispatched, 0 errors" in stdout
    after_first = await state(pg, pos)

    code, stdout, stderr = await cli(postgres_url, tmp_path, "sales-orders", "load", str(path))
    assert code == 0, stderr
    assert "nothing changed" in stdout
    assert await state(pg, pos) == after_first
    again = await files.load(pg, content=path.read_bytes())
    assert again.already_loaded
    assert await state(pg, pos) == after_first

    # The same reports in a file laid out differently are recognised as already recorded.
    reformatted = json.dumps(json.loads(path.read_bytes()), indent=4).encode()
    repeat = await files.load(pg, content=reformatted)
    assert (repeat.dispatched, repeat.errors, repeat.unchanged) == (0, 0, 1)
    assert repeat.events == []
    assert await state(pg, pos) == after_first
    assert after_first["sims"] == 3


async def test_the_same_file_loaded_twice_at_the_same_moment_is_applied_once(
    pg: Database, postgres_url: str
) -> None:
    tenant = await make_tenant(pg)
    pos = await generated(pg, tenant, 2)
    (order,) = orders_of(await files.extract(pg, warehouse_code=tenant.warehouse_code), pos)
    content = report_file(tenant.warehouse_code, [dispatched(order)])
    first, second = Database(postgres_url), Database(postgres_url)
    try:
        outcomes = await asyncio.gather(
            files.load(first, content=content),
            files.load(second, content=content),
            return_exceptions=True,
        )
    finally:
        await first.dispose()
        await second.dispose()

    # Both loads answer normally: one applied it, the other changed nothing.
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert errors == [], [repr(e) for e in errors]
    reports = [o for o in outcomes if isinstance(o, files.LoadReport)]
    assert sorted(r.dispatched for r in reports) == [0, 1]
    assert await statuses(pg, pos) == ["COMPLETE"]
    assert (await state(pg, pos))["sims"] == 2


async def test_a_file_that_is_not_json_is_refused(pg: Database) -> None:
    for content in (b"{not json", b"\xff\xfe\x00", b""):
        problems = await refused(pg, content)
        assert records(problems) == {None}
        assert "JSON" in problems[0].reason


async def test_schema_violations_in_several_records_are_all_listed_and_nothing_is_applied(
    pg: Database,
) -> None:
    tenant = await make_tenant(pg)
    pos = await generated(pg, tenant, 1, 1, 1, 1, 1, 1)
    orders = orders_of(await files.extract(pg, warehouse_code=tenant.warehouse_code), pos)
    before = await state(pg, pos)
    good = dispatched(orders[0])
    no_carrier = {k: v for k, v in dispatched(orders[1]).items() if k != "carrier"}
    bad_iccid = dispatched(orders[2])
    bad_iccid["items"][0]["iccid"] = "89ABC"
    unknown_outcome = {**dispatched(orders[3]), "outcome": "LOST"}
    error_without_reason = {"salesOrderId": orders[4]["salesOrderId"], "outcome": "ERROR"}
    extra_property = {**dispatched(orders[5]), "colour": "blue"}
    content = report_file(
        tenant.warehouse_code,
        [good, no_carrier, bad_iccid, unknown_outcome, error_without_reason, extra_property],
    )

    problems = await refused(pg, content)

    assert records(problems) == {1, 2, 3, 4, 5}
    assert all(p.where.startswith(f"/reports/{p.record}") for p in problems)
    assert await state(pg, pos) == before


async def test_a_file_of_the_wrong_shape_is_refused_as_a_whole(pg: Database) -> None:
    tenant = await make_tenant(pg)
    pos = await generated(pg, tenant, 1)
    (order,) = orders_of(await files.extract(pg, warehouse_code=tenant.warehouse_code), pos)
    before = await state(pg, pos)

    wrong_format = report_file(tenant.warehouse_code, [dispatched(order)], format="other")
    no_reports = report_file(tenant.warehouse_code, [])
    not_an_object = json.dumps([dispatched(order)]).encode()
    unknown_warehouse = report_file(unique("NOWH-"), [dispatched(order)])

    for content in (wrong_format, no_reports, not_an_object, unknown_warehouse):
        problems = await refused(pg, content)
        assert None in records(problems), problems
    assert await state(pg, pos) == before


async def test_unknown_and_other_warehouses_orders_are_refused_with_their_record(
    pg: Database,
) -> None:
    tenant = await make_tenant(pg)
    other = await make_tenant(pg)
    pos = await generated(pg, tenant, 1)
    theirs = await generated(pg, other, 1)
    (mine,) = orders_of(await files.extract(pg, warehouse_code=tenant.warehouse_code), pos)
    (foreign,) = orders_of(await files.extract(pg, warehouse_code=other.warehouse_code), theirs)
    before = await state(pg, pos + theirs)
    unknown = {**dispatched(mine), "salesOrderId": str(uuid.uuid4())}

    problems = await refused(
        pg,
        report_file(tenant.warehouse_code, [unknown, dispatched(foreign), dispatched(mine)]),
    )

    assert records(problems) == {0, 1}
    assert all("sales order" in p.reason for p in problems)
    assert await state(pg, pos + theirs) == before


async def test_wrong_counts_are_refused_with_the_record_and_nothing_is_applied(
    pg: Database,
) -> None:
    tenant = await make_tenant(pg)
    pos = await generated(pg, tenant, 2, 2, 2)
    orders = orders_of(await files.extract(pg, warehouse_code=tenant.warehouse_code), pos)
    before = await state(pg, pos)
    short = dispatched(orders[1])
    short["items"] = short["items"][:1]
    wrong_product = dispatched(orders[2])
    wrong_product["items"][1]["productCode"] = "NOT-IN-THE-ORDER"

    problems = await refused(
        pg, report_file(tenant.warehouse_code, [dispatched(orders[0]), short, wrong_product])
    )

    assert records(problems) == {1, 2}
    assert any(p.record == 1 and "1 SIMs reported" in p.reason for p in problems)
    assert any(p.record == 2 and "not a product of this order" in p.reason for p in problems)
    assert await state(pg, pos) == before


async def test_duplicate_iccids_within_and_across_records_are_refused(pg: Database) -> None:
    tenant = await make_tenant(pg)
    pos = await generated(pg, tenant, 2, 1, 1)
    orders = orders_of(await files.extract(pg, warehouse_code=tenant.warehouse_code), pos)
    before = await state(pg, pos)
    within = dispatched(orders[0])
    within["items"][1]["iccid"] = within["items"][0]["iccid"]
    first = dispatched(orders[1])
    across = dispatched(orders[2])
    across["items"][0]["iccid"] = first["items"][0]["iccid"]

    problems = await refused(pg, report_file(tenant.warehouse_code, [within, first, across]))

    assert records(problems) == {0, 2}
    assert any(p.record == 0 and "duplicate" in p.reason.lower() for p in problems)
    assert any(p.record == 2 and "in use" in p.reason for p in problems)
    assert await state(pg, pos) == before


async def test_identities_already_in_the_system_are_refused(pg: Database) -> None:
    tenant = await make_tenant(pg)
    pos = await generated(pg, tenant, 1, 1)
    orders = orders_of(await files.extract(pg, warehouse_code=tenant.warehouse_code), pos)
    earlier = dispatched(orders[0])
    await files.load(pg, content=report_file(tenant.warehouse_code, [earlier]))
    before = await state(pg, pos[1:])
    reused = dispatched(orders[1])
    reused["items"][0]["msisdn"] = earlier["items"][0]["msisdn"]

    problems = await refused(pg, report_file(tenant.warehouse_code, [reused]))

    assert records(problems) == {0}
    assert any("MSISDN is already in use" in p.reason for p in problems)
    assert await state(pg, pos[1:]) == before


async def test_one_good_and_one_bad_record_refuses_both_and_the_fixed_file_applies_both(
    pg: Database,
) -> None:
    tenant = await make_tenant(pg)
    pos = await generated(pg, tenant, 1, 1)
    orders = orders_of(await files.extract(pg, warehouse_code=tenant.warehouse_code), pos)
    before = await state(pg, pos)
    good, bad = dispatched(orders[0]), dispatched(orders[1])
    broken = {**bad, "items": [{**bad["items"][0], "imsi": "26201"}]}

    problems = await refused(pg, report_file(tenant.warehouse_code, [good, broken]))

    assert records(problems) == {1}
    assert await state(pg, pos) == before
    assert await statuses(pg, pos) == ["AWAITING_DISPATCH", "AWAITING_DISPATCH"]

    report = await files.load(pg, content=report_file(tenant.warehouse_code, [good, bad]))
    assert report.dispatched == 2
    assert await statuses(pg, pos) == ["COMPLETE", "COMPLETE"]


async def test_the_same_order_twice_in_one_file_is_refused(pg: Database) -> None:
    tenant = await make_tenant(pg)
    pos = await generated(pg, tenant, 1)
    (order,) = orders_of(await files.extract(pg, warehouse_code=tenant.warehouse_code), pos)
    before = await state(pg, pos)

    problems = await refused(
        pg, report_file(tenant.warehouse_code, [dispatched(order), failed(order, "oops")])
    )

    assert records(problems) == {1}
    assert "record 0" in problems[0].reason
    assert await state(pg, pos) == before


async def test_a_dispatch_without_a_timestamp_offset_is_refused(pg: Database) -> None:
    tenant = await make_tenant(pg)
    pos = await generated(pg, tenant, 1)
    (order,) = orders_of(await files.extract(pg, warehouse_code=tenant.warehouse_code), pos)
    before = await state(pg, pos)

    for when in ("2030-05-06T07:08:09", "yesterday"):
        problems = await refused(
            pg, report_file(tenant.warehouse_code, [dispatched(order, dispatchedAt=when)])
        )
        assert records(problems) == {0}
    assert await state(pg, pos) == before


async def test_load_command_lists_every_problem_and_applies_nothing(
    pg: Database, postgres_url: str, tmp_path: Path
) -> None:
    tenant = await make_tenant(pg)
    pos = await generated(pg, tenant, 1, 1)
    orders = orders_of(await files.extract(pg, warehouse_code=tenant.warehouse_code), pos)
    before = await state(pg, pos)
    short = dispatched(orders[0])
    short["items"] = []
    unknown = {**dispatched(orders[1]), "salesOrderId": str(uuid.uuid4())}
    path = tmp_path / "bad.json"
    path.write_bytes(report_file(tenant.warehouse_code, [dispatched(orders[1]), short, unknown]))

    code, stdout, stderr = await cli(postgres_url, tmp_path, "sales-orders", "load", str(path))

    assert code == 1
    assert "refused, nothing applied" in stderr
    assert "record 1" in stderr
    assert "Traceback" not in stderr
    assert "applied:" not in stdout
    assert await state(pg, pos) == before

    path.write_bytes(report_file(tenant.warehouse_code, [dispatched(orders[1]), unknown]))
    code, _, stderr = await cli(postgres_url, tmp_path, "sales-orders", "load", str(path))
    assert code == 1
    assert "record 1" in stderr
    assert "record 0" not in stderr
    assert await state(pg, pos) == before

    missing = tmp_path / "missing.json"
    code, _, stderr = await cli(postgres_url, tmp_path, "sales-orders", "load", str(missing))
    assert code == 1
    assert "error:" in stderr
    assert "Traceback" not in stderr


# --- load: error reports -----------------------------------------------------------------------


async def test_an_error_report_puts_the_order_in_error_and_a_retry_sends_it_to_the_next_batch(
    pg: Database, papi: GraphQLClient
) -> None:
    tenant = await make_tenant(pg)
    pos = await generated(pg, tenant, 2)
    (order,) = orders_of(await files.extract(pg, warehouse_code=tenant.warehouse_code), pos)
    content = report_file(tenant.warehouse_code, [failed(order, "SIM trays damaged")])
    validate(json.loads(content), DISPATCH_SCHEMA)

    report = await files.load(pg, content=content)

    assert (report.dispatched, report.errors) == (0, 1)
    so_id = encode_id("SalesOrder", uuid.UUID(order["salesOrderId"]))
    read = await papi.run(
        AGENT, "query($id: ID!) { salesOrder(id: $id) { status error } }", {"id": so_id}
    )
    assert read.ok()["salesOrder"] == {"status": "ERROR", "error": "SIM trays damaged"}
    assert await po_status(pg, pos[0]) == "PROVISIONING"
    after = await state(pg, pos)
    assert (await files.load(pg, content=content)).already_loaded
    same_again = json.dumps(json.loads(content), indent=1).encode()
    assert (await files.load(pg, content=same_again)).unchanged == 1
    assert await state(pg, pos) == after

    # A dispatch for the failed order is refused; the agent retries it instead.
    assert records(await refused(pg, report_file(tenant.warehouse_code, [dispatched(order)]))) == {
        0
    }
    retried = await papi.run(
        AGENT,
        "mutation($id: ID!) { retrySalesOrder(input: {salesOrderId: $id}) "
        "{ salesOrder { status } } }",
        {"id": so_id},
    )
    assert retried.ok()["retrySalesOrder"]["salesOrder"]["status"] == "AWAITING_GENERATION"
    await run_once(pg)
    (again,) = orders_of(await files.extract(pg, warehouse_code=tenant.warehouse_code), pos)
    assert again["salesOrderId"] == order["salesOrderId"]
    await files.load(pg, content=report_file(tenant.warehouse_code, [dispatched(again)]))
    assert await po_status(pg, pos[0]) == "READY"


# --- the acceptance path -----------------------------------------------------------------------

PO_VIEW = """
query($id: ID!) {
  purchaseOrder(id: $id) {
    id number status version
    lines { quantity assignedSimCount sims { iccid imsi msisdn entitlements { pricePlan } } }
    statusHistory { fromStatus toStatus actor salesOrderStatus }
    salesOrders { id status warehouse { code } }
  }
}
"""


async def test_a_po_goes_from_submission_to_closed_only_through_the_warehouse_path(
    pg: Database, postgres_url: str, tmp_path: Path
) -> None:
    tenant = await make_tenant(pg, stock=2)
    with running_server(tmp_path, database_url=postgres_url, jwt_secret=SECRET) as server:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.port}", timeout=30
        ) as http:
            api = GraphQLClient(http, secret=SECRET)

            async def run(actor: Actor, query: str, **variables: Any) -> dict[str, Any]:
                return (await api.run(actor, query, variables)).ok()

            async def view(actor: Actor) -> dict[str, Any]:
                po: dict[str, Any] = (await run(actor, PO_VIEW, id=po_id))["purchaseOrder"]
                return po

            async def step(actor: Actor, mutation: str, **fields: Any) -> str:
                done = await run(
                    actor,
                    f"mutation($input: {mutation[1]}!) {{ {mutation[0]}(input: $input) "
                    "{ purchaseOrder { status } } }",
                    input={"id": po_id, **fields},
                )
                status: str = done[mutation[0]]["purchaseOrder"]["status"]
                return status

            # A second warehouse holds most of the product: the PO will be split in two.
            extra = (
                await run(
                    ADMIN,
                    "mutation($input: CreateWarehouseInput!) "
                    "{ createWarehouse(input: $input) { warehouse { id code } } }",
                    input={"code": unique("WH-"), "name": "Overflow"},
                )
            )["createWarehouse"]["warehouse"]
            await run(
                ADMIN,
                "mutation($input: SetStockInput!) { setStock(input: $input) { warehouse { id } } }",
                input={"warehouseId": extra["id"], "productId": tenant.product_gid(0), "onHand": 4},
            )

            created = await run(
                tenant.purchaser,
                "mutation($input: CreatePurchaseOrderInput!) "
                "{ createPurchaseOrder(input: $input) { purchaseOrder { id status } } }",
                input={
                    "lines": [{"productId": tenant.product_gid(0), "quantity": 6}],
                    "shippingAddress": ADDRESS_INPUT,
                },
            )
            po_id = created["createPurchaseOrder"]["purchaseOrder"]["id"]
            transition = "TransitionInput"
            assert await step(tenant.purchaser, ("submitPurchaseOrder", transition)) == "SUBMITTED"
            assert await step(AGENT, ("acceptPurchaseOrder", transition)) == "ACCEPTED"
            plan = await run(
                AGENT,
                "query($id: ID!) { fulfilmentPlan(purchaseOrderId: $id) "
                "{ feasible shipments { warehouse { code } quantity } } }",
                id=po_id,
            )
            assert plan["fulfilmentPlan"]["feasible"] is True
            assert sorted(
                (s["warehouse"]["code"], s["quantity"]) for s in plan["fulfilmentPlan"]["shipments"]
            ) == sorted([(extra["code"], 4), (tenant.warehouse_code, 2)])

            # Stock check and allocation; the server's own job generates the orders.
            start = ("startPurchaseOrderProvisioning", transition)
            assert await step(AGENT, start) == "PROVISIONING"
            deadline = time.monotonic() + WAIT_SECONDS
            while {so["status"] for so in (await view(AGENT))["salesOrders"]} != {
                "AWAITING_DISPATCH"
            }:
                assert time.monotonic() < deadline, "the server never generated the orders"
                await asyncio.sleep(0.1)
            number = (await view(AGENT))["number"]

            # Each warehouse extracts its batch and reports what it dispatched.
            sent: dict[str, list[dict[str, str]]] = {}
            for code in (extra["code"], tenant.warehouse_code):
                batch = tmp_path / f"{code}-batch.json"
                rc, _, err = await cli(
                    postgres_url, tmp_path, "sales-orders", "extract", "--warehouse", code,
                    "--out", str(batch),
                )  # fmt: skip
                assert rc == 0, err
                document = json.loads(batch.read_text())
                validate(document, REQUEST_SCHEMA)
                (order,) = document["orders"]
                assert order["purchaseOrderNumber"] == number
                assert order["account"] == tenant.code
                report = dispatched(order)
                sent[code] = report["items"]
                reply = tmp_path / f"{code}-dispatch.json"
                reply.write_bytes(report_file(code, [report]))
                validate(json.loads(reply.read_bytes()), DISPATCH_SCHEMA)
                rc, out, err = await cli(postgres_url, tmp_path, "sales-orders", "load", str(reply))
                assert rc == 0, err
                assert "applied: 1 dispatched" in out

                if code == extra["code"]:
                    # Half dispatched: SIMs exist, the enterprise does not see them yet.
                    halfway = await view(tenant.viewer)
                    assert halfway["status"] == "PROVISIONING"
                    assert halfway["lines"][0]["sims"] == []
                    assert len((await view(AGENT))["lines"][0]["sims"]) == 4

            ready = await view(tenant.viewer)
            assert ready["status"] == "READY"
            last = [h for h in ready["statusHistory"] if h["salesOrderStatus"] is None][-1]
            assert (last["fromStatus"], last["toStatus"], last["actor"]) == (
                "PROVISIONING",
                "READY",
                "system",
            )
            expected = {
                (i["iccid"], i["imsi"], i["msisdn"]) for items in sent.values() for i in items
            }
            assert len(expected) == 6
            assert {
                (s["iccid"], s["imsi"], s["msisdn"]) for s in ready["lines"][0]["sims"]
            } == expected
            assert {s["entitlements"]["pricePlan"] for s in ready["lines"][0]["sims"]} == {"PP-S"}

            ship = ("shipPurchaseOrder", "ShipPurchaseOrderInput")
            assert await step(AGENT, ship, carrier="DHL", trackingNumber="JD0042") == "SHIPPED"
            confirm = ("confirmPurchaseOrderReceipt", transition)
            assert await step(tenant.purchaser, confirm) == "CLOSED"

            closed = await view(tenant.viewer)
            assert [
                (h["fromStatus"], h["toStatus"])
                for h in closed["statusHistory"]
                if h["salesOrderStatus"] is None
            ] == [
                (None, "DRAFT"),
                ("DRAFT", "SUBMITTED"),
                ("SUBMITTED", "ACCEPTED"),
                ("ACCEPTED", "PROVISIONING"),
                ("PROVISIONING", "READY"),
                ("READY", "SHIPPED"),
                ("SHIPPED", "CLOSED"),
            ]
            assert {so["status"] for so in closed["salesOrders"]} == {"COMPLETE"}
            assert len(closed["lines"][0]["sims"]) == 6

            # The warehouse re-sending its file later changes nothing.
            reply = tmp_path / f"{extra['code']}-dispatch.json"
            rc, out, _ = await cli(postgres_url, tmp_path, "sales-orders", "load", str(reply))
            assert rc == 0
            assert "nothing changed" in out
            assert await view(tenant.viewer) == closed
