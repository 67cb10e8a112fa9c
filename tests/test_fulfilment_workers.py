"""The sales order request job under concurrency and crashes, on PostgreSQL.

Several workers (separate connection pools, separate processes) racing for the same waiting
orders must generate each exactly once; a pass that dies half-way leaves nothing behind and
the next pass picks the orders up. The job also runs inside the server by default, and each
sales-order change reaches the PO's subscribers.

The database is shared by the whole session, so before a race every order already waiting
(from other tests) is generated first: then the orders waiting are exactly this test's.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from simgql.app import create_app
from simgql.db.config import FRAUD_CHECK_REQUIRED, get_config, set_config
from simgql.db.engine import Database
from simgql.db.models import PurchaseOrder, SalesOrder, SalesOrderBatch, StatusEvent, Stock
from simgql.domain.fulfilment import Delivery
from simgql.domain.model import PurchaseOrderStatus, Role
from simgql.events.hub import encode_event_cursor
from simgql.fulfilment.actions import generate_waiting
from simgql.settings import Settings
from tests.client import Actor, GraphQLClient, WsClient
from tests.conftest import SECRET
from tests.factories import AGENT, Tenant, gid, make_po, make_tenant, sims
from tests.server import ServerProcess, running_server

pytestmark = pytest.mark.postgres

S = PurchaseOrderStatus
WAIT_SECONDS = 60


@pytest.fixture(scope="module")
async def pg(postgres_url: str) -> AsyncIterator[Database]:
    database = Database(postgres_url)
    yield database
    await database.dispose()


# --- helpers -----------------------------------------------------------------------------------


def _simgql() -> list[str]:
    script = Path(sys.executable).with_name("simgql")
    return [str(script)] if script.exists() else [sys.executable, "-m", "simgql.cli"]


def _env(postgres_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMGQL_")}
    env.update({"SIMGQL_DATABASE_URL": postgres_url, "SIMGQL_JWT_SECRET": SECRET, **extra})
    return env


async def drain(db: Database) -> None:
    """Generate every order that is waiting now (left over by other tests)."""
    while (await generate_waiting(db, check=None))[0]:
        pass


async def waiting_orders(db: Database, count: int) -> tuple[Tenant, list[PurchaseOrder]]:
    """A fresh tenant with `count` POs in PROVISIONING: one waiting sales order each."""
    tenant = await make_tenant(db)
    pos = [await make_po(db, tenant, S.PROVISIONING, quantity=1) for _ in range(count)]
    return tenant, pos


async def sales_orders_of(db: Database, pos: list[PurchaseOrder]) -> dict[uuid.UUID, str]:
    """Status per sales order of these POs."""
    async with db.read() as session:
        rows = await session.execute(
            select(SalesOrder.id, SalesOrder.status).where(
                SalesOrder.purchase_order_id.in_([p.id for p in pos])
            )
        )
        return dict(rows.all())


async def generation_counts(db: Database, so_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many AWAITING_GENERATION -> AWAITING_DISPATCH history rows each order has."""
    async with db.read() as session:
        rows = await session.execute(
            select(StatusEvent.sales_order_id, func.count())
            .where(
                StatusEvent.sales_order_id.in_(so_ids),
                StatusEvent.sales_order_status == "AWAITING_DISPATCH",
            )
            .group_by(StatusEvent.sales_order_id)
        )
        counted = dict(rows.all())
    return {so_id: counted.get(so_id, 0) for so_id in so_ids}


async def event_count(db: Database, pos: list[PurchaseOrder]) -> int:
    async with db.read() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(StatusEvent)
                .where(StatusEvent.purchase_order_id.in_([p.id for p in pos]))
            )
            or 0
        )


async def versions(db: Database, pos: list[PurchaseOrder]) -> dict[uuid.UUID, int]:
    async with db.read() as session:
        rows = await session.execute(
            select(PurchaseOrder.id, PurchaseOrder.version).where(
                PurchaseOrder.id.in_([p.id for p in pos])
            )
        )
        return dict(rows.all())


async def batch_count(db: Database, warehouse_id: uuid.UUID) -> int:
    async with db.read() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(SalesOrderBatch)
                .where(SalesOrderBatch.warehouse_id == warehouse_id)
            )
            or 0
        )


async def assert_generated_exactly_once(db: Database, pos: list[PurchaseOrder]) -> None:
    statuses = await sales_orders_of(db, pos)
    assert len(statuses) == len(pos)
    assert set(statuses.values()) == {"AWAITING_DISPATCH"}
    counts = await generation_counts(db, list(statuses))
    assert set(counts.values()) == {1}, counts


class FraudCheckSwitch:
    """`salesOrder.fraudCheckRequired` on for a while (a custom check only runs then)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.before: Any = None

    async def __aenter__(self) -> None:
        async with self.db.write() as session:
            self.before = await get_config(session, key=FRAUD_CHECK_REQUIRED)
            await set_config(session, key=FRAUD_CHECK_REQUIRED, value=True)

    async def __aexit__(self, *exc: object) -> None:
        async with self.db.write() as session:
            await set_config(session, key=FRAUD_CHECK_REQUIRED, value=self.before)


def write_check_module(directory: Path, name: str, body: str) -> Path:
    """A custom fraud check module the worker processes import (SIMGQL_FRAUD_CHECK)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.py").write_text(textwrap.dedent(body))
    return directory


# --- two workers racing ------------------------------------------------------------------------


def _worker_in_its_own_loop(url: str, barrier: threading.Barrier, limit: int) -> list[uuid.UUID]:
    """One worker with its own event loop and connection pool; the orders it generated.

    Its first fraud check waits for the other worker's: both are then inside their passes,
    each holding the orders it claimed, at the same time.
    """

    async def main() -> list[uuid.UUID]:
        db = Database(url)
        arrived = False

        def check(_delivery: Delivery) -> str | None:
            nonlocal arrived
            if not arrived:
                arrived = True
                barrier.wait()
            return None

        generated: list[uuid.UUID] = []
        try:
            while True:
                handled, events = await generate_waiting(db, check=check, limit=limit)
                generated += [e.sales_order_id for e in events if e.sales_order_id is not None]
                if handled == 0:
                    return generated
        finally:
            await db.dispose()

    return asyncio.run(main())


async def test_two_workers_in_one_process_never_generate_an_order_twice(
    pg: Database, postgres_url: str
) -> None:
    await drain(pg)
    _, pos = await waiting_orders(pg, 30)
    mine = set(await sales_orders_of(pg, pos))
    barrier = threading.Barrier(2, timeout=WAIT_SECONDS)

    first, second = await asyncio.gather(
        asyncio.to_thread(_worker_in_its_own_loop, postgres_url, barrier, 10),
        asyncio.to_thread(_worker_in_its_own_loop, postgres_url, barrier, 10),
    )

    assert not barrier.broken
    assert set(first) & mine, "the first worker generated none of the orders"
    assert set(second) & mine, "the second worker generated none of the orders"
    assert not set(first) & set(second)
    assert len(first) == len(set(first))
    assert len(second) == len(set(second))
    assert mine <= set(first) | set(second)
    await assert_generated_exactly_once(pg, pos)


BARRIER_CHECK = """
    import os
    import time
    from pathlib import Path

    _arrived = False


    def check(delivery):
        # Both worker processes meet here, inside their first pass, before going on.
        global _arrived
        if not _arrived:
            _arrived = True
            here = Path(os.environ["SIMGQL_TEST_BARRIER_DIR"])
            (here / str(os.getpid())).touch()
            deadline = time.monotonic() + 60
            while len(list(here.iterdir())) < 2:
                if time.monotonic() > deadline:
                    raise RuntimeError("the other worker never arrived")
                time.sleep(0.05)
        return None
"""


async def test_two_worker_processes_started_together_generate_each_order_once(
    pg: Database, postgres_url: str, tmp_path: Path
) -> None:
    await drain(pg)
    # More than one pass (50) holds, so that both processes find orders to claim.
    _, pos = await waiting_orders(pg, 60)
    modules = write_check_module(tmp_path / "mods", "barrier_check", BARRIER_CHECK)
    barrier_dir = tmp_path / "barrier"
    barrier_dir.mkdir()
    env = _env(
        postgres_url,
        SIMGQL_FRAUD_CHECK="barrier_check:check",
        SIMGQL_TEST_BARRIER_DIR=str(barrier_dir),
        PYTHONPATH=os.pathsep.join([str(modules), os.environ.get("PYTHONPATH", "")]),
    )

    async with FraudCheckSwitch(pg):
        procs = [
            await asyncio.create_subprocess_exec(
                *_simgql(),
                "worker",
                "--once",
                env=env,
                cwd=tmp_path,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        outputs = await asyncio.wait_for(
            asyncio.gather(*(p.communicate() for p in procs)), timeout=120
        )

    handled = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
        found = re.search(r"generated (\d+) sales orders", out.decode())
        assert found, out.decode()
        handled.append(int(found.group(1)))
    assert len(list(barrier_dir.iterdir())) == 2  # both were inside a pass at once
    assert all(n > 0 for n in handled), handled
    assert sum(handled) == len(pos)
    await assert_generated_exactly_once(pg, pos)


# --- crashes -----------------------------------------------------------------------------------


async def test_a_pass_that_dies_half_way_leaves_nothing_and_the_next_pass_resumes(
    pg: Database,
) -> None:
    await drain(pg)
    tenant, pos = await waiting_orders(pg, 5)
    events_before = await event_count(pg, pos)
    versions_before = await versions(pg, pos)
    calls = 0

    def dies_on_the_third_order(_delivery: Delivery) -> str | None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("worker crashed")
        return None

    with pytest.raises(RuntimeError, match="worker crashed"):
        await generate_waiting(pg, check=dies_on_the_third_order)

    assert calls == 3  # two orders were generated inside the pass before it died
    assert set((await sales_orders_of(pg, pos)).values()) == {"AWAITING_GENERATION"}
    assert await event_count(pg, pos) == events_before
    assert await versions(pg, pos) == versions_before
    assert await batch_count(pg, tenant.warehouse_id) == 0
    async with pg.read() as session:
        batched = await session.scalar(
            select(func.count())
            .select_from(SalesOrder)
            .where(
                SalesOrder.purchase_order_id.in_([p.id for p in pos]),
                SalesOrder.batch_id.is_not(None),
            )
        )
    assert batched == 0

    await drain(pg)

    await assert_generated_exactly_once(pg, pos)
    assert await batch_count(pg, tenant.warehouse_id) == 1
    assert all(v == versions_before[k] + 1 for k, v in (await versions(pg, pos)).items())


def _pass_paused_at_its_first_order(
    url: str, paused: threading.Event, resume: threading.Event
) -> BaseException | int:
    """One pass of the job that holds still at its first order until `resume` is set."""

    async def main() -> int:
        db = Database(url)
        first = True

        def check(_delivery: Delivery) -> str | None:
            nonlocal first
            if first:
                first = False
                paused.set()
                resume.wait(WAIT_SECONDS)
            return None

        try:
            handled, _ = await generate_waiting(db, check=check)
            return handled
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except Exception as exc:  # reported to the test, which decides
        return exc


async def lock_waiters(db: Database) -> int:
    async with db.read() as session:
        return int(
            await session.scalar(
                text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE NOT l.granted AND a.datname = current_database()"
                )
            )
            or 0
        )


async def test_cancelling_a_po_while_the_job_holds_its_order_waits_instead_of_failing(
    pg: Database, postgres_url: str
) -> None:
    await drain(pg)
    tenant, (first, second) = await waiting_orders(pg, 2)
    app = create_app(Settings(database_url=pg.url, jwt_secret=SECRET), db=pg)
    paused, resume = threading.Event(), threading.Event()
    job = asyncio.ensure_future(
        asyncio.to_thread(_pass_paused_at_its_first_order, postgres_url, paused, resume)
    )
    try:
        assert await asyncio.to_thread(paused.wait, WAIT_SECONDS), "the pass never started"
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://simgql.test", timeout=120
        ) as http:
            api = GraphQLClient(http, secret=SECRET)
            # The agent cancels the second PO while the pass holds both waiting orders.
            cancel = asyncio.ensure_future(
                api.run(
                    AGENT,
                    "mutation($id: ID!) { cancelPurchaseOrder(input: {id: $id}) "
                    "{ purchaseOrder { status } } }",
                    {"id": gid(second)},
                )
            )
            deadline = time.monotonic() + WAIT_SECONDS
            while await lock_waiters(pg) == 0:
                assert not cancel.done(), cancel.result().body
                assert time.monotonic() < deadline, "the cancel never waited for the job"
                await asyncio.sleep(0.05)
            resume.set()
            result = await asyncio.wait_for(cancel, timeout=WAIT_SECONDS)
    finally:
        resume.set()
        await asyncio.wait_for(job, timeout=WAIT_SECONDS)

    assert result.errors == [], result.body
    assert result.ok()["cancelPurchaseOrder"]["purchaseOrder"]["status"] == "CANCELLED"
    await drain(pg)
    assert set((await sales_orders_of(pg, [second])).values()) == {"CANCELLED"}
    await assert_generated_exactly_once(pg, [first])
    async with pg.read() as session:
        reserved = await session.scalar(
            select(Stock.reserved).where(
                Stock.warehouse_id == tenant.warehouse_id,
                Stock.product_id == tenant.product_ids[0],
            )
        )
    assert reserved == 1  # only the first PO's unit is still reserved


STALL_CHECK = """
    import os
    import time
    from pathlib import Path

    _calls = 0


    def check(delivery):
        # On the third order of the pass: say so, then hang until the test kills us.
        global _calls
        _calls += 1
        if _calls == 3:
            Path(os.environ["SIMGQL_TEST_STALLED_FILE"]).touch()
            time.sleep(120)
        return None
"""


async def test_a_worker_process_killed_mid_pass_leaves_nothing_and_the_orders_are_generated_later(
    pg: Database, postgres_url: str, tmp_path: Path
) -> None:
    await drain(pg)
    _, pos = await waiting_orders(pg, 5)
    events_before = await event_count(pg, pos)
    versions_before = await versions(pg, pos)
    modules = write_check_module(tmp_path / "mods", "stall_check", STALL_CHECK)
    stalled = tmp_path / "stalled"
    env = _env(
        postgres_url,
        SIMGQL_FRAUD_CHECK="stall_check:check",
        SIMGQL_TEST_STALLED_FILE=str(stalled),
        PYTHONPATH=os.pathsep.join([str(modules), os.environ.get("PYTHONPATH", "")]),
    )

    async with FraudCheckSwitch(pg):
        proc = await asyncio.create_subprocess_exec(
            *_simgql(),
            "worker",
            "--once",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + WAIT_SECONDS
            while not stalled.exists():
                assert proc.returncode is None, "the worker ended before the third order"
                assert time.monotonic() < deadline, "the worker never reached the third order"
                await asyncio.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.returncode is None:
                proc.kill()
            await asyncio.wait_for(proc.wait(), timeout=30)
    assert proc.returncode == -signal.SIGKILL

    assert set((await sales_orders_of(pg, pos)).values()) == {"AWAITING_GENERATION"}
    assert await event_count(pg, pos) == events_before
    assert await versions(pg, pos) == versions_before

    # The dead worker's locks go when PostgreSQL notices; then the orders are taken.
    deadline = time.monotonic() + WAIT_SECONDS
    while set((await sales_orders_of(pg, pos)).values()) != {"AWAITING_DISPATCH"}:
        assert time.monotonic() < deadline, "the orders were never generated after the crash"
        await asyncio.wait_for(drain(pg), timeout=WAIT_SECONDS)
        await asyncio.sleep(0.1)
    await assert_generated_exactly_once(pg, pos)


# --- the job inside the server and as a worker -------------------------------------------------

EVENTS_OF_ONE_PO = """
subscription($id: ID!, $after: String) {
  purchaseOrderStatusChanged(id: $id, after: $after) {
    cursor fromStatus toStatus actor salesOrderStatus salesOrder { id status }
    purchaseOrder { id status }
  }
}
"""
SALES_ORDERS_OF_PO = """
query($id: ID!) {
  purchaseOrder(id: $id) {
    status
    salesOrders { id status warehouse { code } lines { quantity product { code } } }
  }
}
"""
DISPATCH = """
mutation($input: RecordSalesOrderDispatchInput!) {
  recordSalesOrderDispatch(input: $input) { salesOrder { status } }
}
"""


@pytest.fixture
def server(postgres_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A real server with every default, the sales order request job included."""
    with running_server(tmp_path, database_url=postgres_url, jwt_secret=SECRET) as proc:
        yield proc


async def last_cursor(db: Database, po: PurchaseOrder) -> str:
    async with db.read() as session:
        last = await session.scalar(
            select(func.max(StatusEvent.id)).where(StatusEvent.purchase_order_id == po.id)
        )
    assert last is not None
    return encode_event_cursor(int(last))


async def test_the_server_generates_orders_by_itself_and_pushes_every_change_to_subscribers(
    pg: Database, server: ServerProcess
) -> None:
    tenant = await make_tenant(pg)
    po = await make_po(pg, tenant, S.ACCEPTED, quantity=2)
    after = await last_cursor(pg, po)
    warehouse = Actor(Role.WAREHOUSE, "wms-bot", warehouse=tenant.warehouse_code)

    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http,
        WsClient(server.ws_url) as ws,
    ):
        remote = GraphQLClient(http, secret=SECRET)
        ack = await ws.init(remote.token(tenant.viewer))
        assert ack["type"] == "connection_ack"
        await ws.subscribe("po", EVENTS_OF_ONE_PO, {"id": gid(po), "after": after})
        started = await remote.run(
            AGENT,
            "mutation($id: ID!) { startPurchaseOrderProvisioning(input: {id: $id}) "
            "{ purchaseOrder { status } } }",
            {"id": gid(po)},
        )
        started.ok()

        # No one runs the job by hand: the server does, as soon as the order waits.
        seen = [
            (await ws.next_payload("po", within=WAIT_SECONDS))["data"]["purchaseOrderStatusChanged"]
            for _ in range(3)
        ]
        read = (await remote.run(AGENT, SALES_ORDERS_OF_PO, {"id": gid(po)})).ok()
        (so,) = read["purchaseOrder"]["salesOrders"]
        assert so["status"] == "AWAITING_DISPATCH"
        items = [
            {"productCode": line["product"]["code"], **s.__dict__}
            for line in so["lines"]
            for s in sims(line["quantity"])
        ]
        dispatched = await remote.run(
            warehouse,
            DISPATCH,
            {
                "input": {
                    "salesOrderId": so["id"],
                    "items": items,
                    "carrier": "UPS",
                    "trackingNumber": "1Z999",
                }
            },
        )
        assert dispatched.ok()["recordSalesOrderDispatch"]["salesOrder"]["status"] == "COMPLETE"
        seen += [
            (await ws.next_payload("po", within=WAIT_SECONDS))["data"]["purchaseOrderStatusChanged"]
            for _ in range(2)
        ]

    assert [(e["fromStatus"], e["toStatus"], e["salesOrderStatus"], e["actor"]) for e in seen] == [
        ("ACCEPTED", "PROVISIONING", None, AGENT.sub),
        ("PROVISIONING", "PROVISIONING", "AWAITING_GENERATION", AGENT.sub),
        ("PROVISIONING", "PROVISIONING", "AWAITING_DISPATCH", "system"),
        ("PROVISIONING", "PROVISIONING", "COMPLETE", "wms-bot"),
        ("PROVISIONING", "READY", None, "system"),
    ]
    assert all(e["salesOrder"]["id"] == so["id"] for e in seen[1:4])
    assert seen[0]["salesOrder"] is None
    assert seen[-1]["purchaseOrder"]["status"] == "READY"
    assert len({e["cursor"] for e in seen}) == 5


async def test_simgql_worker_on_its_own_generates_orders_as_they_come(
    pg: Database, postgres_url: str, tmp_path: Path
) -> None:
    env = _env(postgres_url, SIMGQL_SALES_ORDER_JOB_INTERVAL_SECONDS="0.2")
    proc = await asyncio.create_subprocess_exec(
        *_simgql(),
        "worker",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        _, pos = await waiting_orders(pg, 3)
        deadline = time.monotonic() + WAIT_SECONDS
        while set((await sales_orders_of(pg, pos)).values()) != {"AWAITING_DISPATCH"}:
            assert proc.returncode is None, "the worker stopped"
            assert time.monotonic() < deadline, "the worker never generated the orders"
            await asyncio.sleep(0.1)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), timeout=30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    await assert_generated_exactly_once(pg, pos)
    async with pg.read() as session:
        fraud = set(
            (
                await session.execute(
                    select(SalesOrder.fraud_check).where(
                        SalesOrder.purchase_order_id.in_([p.id for p in pos])
                    )
                )
            ).scalars()
        )
    assert fraud == {"NOT_REQUIRED"}
