"""Many clients racing on a few POs of one tenant, on PostgreSQL: afterwards everything adds up.

40 concurrent clients (the tenant's purchasers, two agents, the tenant's warehouse system, and
the sales order request job) send a few hundred requests at the same 8 POs, in 4 rounds of
fresh POs: every transition,
edits, SIM assignments from one shared pool of identities (so two POs race for the same
ICCID), warehouse dispatches, with and without `expectedVersion`. The stock is short on
purpose, so provisioning races for the last units. Then, for every PO:

- its history (the PO's own rows, `salesOrderStatus` null) is a path through LIFECYCLE: it
  starts with creation, each row starts where the previous one ended, each step is a row of
  the table, and the last row ends in the PO's status;
- no two successful mutations of a PO returned the same version;
- no line holds more SIMs than it ordered, and no ICCID, IMSI or MSISDN is in the system twice;
- the stock is never negative, never more reserved than on hand, reserved is exactly what the
  open sales orders hold, and on hand went down by exactly what was dispatched;
- every refusal was INVALID_TRANSITION, CONFLICT, BAD_USER_INPUT or INSUFFICIENT_STOCK.

The test runs on the session's PostgreSQL database only (SQLite serialises every writer, so
there is nothing to race): it builds its own app and client on `postgres_url`, the way
tests/conftest.py builds the shared one. It prints how many requests it sent (`-s`).
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from simgql.app import create_app
from simgql.db import models
from simgql.db.engine import Database
from simgql.domain.lifecycle import LIFECYCLE
from simgql.domain.model import PurchaseOrderStatus, Role
from simgql.fulfilment.job import run_once
from simgql.settings import Settings
from tests.client import Actor, GraphQLClient, Result
from tests.conftest import SECRET
from tests.factories import ADDRESS_INPUT, ADMIN, Tenant, gid, make_po, make_tenant, sims

S = PurchaseOrderStatus
WORKERS = 40
ROUNDS = 4  # each round: 8 fresh POs, every client takes STEPS_PER_ROUND steps at them
STEPS_PER_ROUND = 3
PO_QUANTITY = 2
STOCK_UNITS = 30  # 32 POs of 2 units each: later rounds race for the last units
ALLOWED_REFUSALS = {"INVALID_TRANSITION", "CONFLICT", "BAD_USER_INPUT", "INSUFFICIENT_STOCK"}
OPEN_SALES_ORDER = {"AWAITING_GENERATION", "AWAITING_DISPATCH", "ERROR"}

AGENTS = [Actor(Role.SP_AGENT, "racing-agent-a"), Actor(Role.SP_AGENT, "racing-agent-b")]

PO_FIELDS = "id status version"
READ_PO = """
query($id: ID!) {
  purchaseOrder(id: $id) {
    id status version
    lines { id quantity assignedSimCount product { id code } sims { iccid imsi msisdn } }
    statusHistory { fromStatus toStatus actor salesOrderStatus }
    salesOrders { id status lines { quantity product { id code } } }
  }
}
"""
STOCK = """
query($w: ID) { stock(warehouseId: $w) { product { id } onHand reserved available } }
"""


def _transition(name: str, input_type: str) -> str:
    return (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) "
        f"{{ purchaseOrder {{ {PO_FIELDS} }} }} }}"
    )


MUTATIONS = {
    "update": _transition("updatePurchaseOrder", "UpdatePurchaseOrderInput"),
    "submit": _transition("submitPurchaseOrder", "TransitionInput"),
    "accept": _transition("acceptPurchaseOrder", "TransitionInput"),
    "reject": _transition("rejectPurchaseOrder", "ReasonInput"),
    "reopen": _transition("reopenPurchaseOrder", "TransitionInput"),
    "cancel": _transition("cancelPurchaseOrder", "OptionalReasonInput"),
    "provision": _transition("startPurchaseOrderProvisioning", "TransitionInput"),
    "assign": _transition("assignPurchaseOrderSims", "AssignPurchaseOrderSimsInput"),
    "ready": _transition("markPurchaseOrderReady", "TransitionInput"),
    "ship": _transition("shipPurchaseOrder", "ShipPurchaseOrderInput"),
    "confirm": _transition("confirmPurchaseOrderReceipt", "TransitionInput"),
}
DISPATCH = """
mutation($input: RecordSalesOrderDispatchInput!) {
  recordSalesOrderDispatch(input: $input) { salesOrder { id status } }
}
"""
# Who does what: the purchaser raises, edits, submits, reopens, cancels, confirms; the agents
# everything an agent may; the warehouse dispatches. Weights favour the forward path.
PLAN = [
    ("update", "purchaser", 2),
    ("submit", "purchaser", 3),
    ("submit", "agent", 1),
    ("accept", "agent", 4),
    ("reject", "agent", 1),
    ("reopen", "purchaser", 1),
    ("cancel", "purchaser", 0.5),
    ("cancel", "agent", 0.5),
    ("provision", "agent", 4),
    ("assign", "agent", 3),
    ("dispatch", "warehouse", 6),
    ("ready", "agent", 3),
    ("ship", "agent", 2),
    ("confirm", "purchaser", 2),
    ("job", "system", 2),
]
START = [
    S.DRAFT,
    S.DRAFT,
    S.SUBMITTED,
    S.SUBMITTED,
    S.SUBMITTED,
    S.ACCEPTED,
    S.ACCEPTED,
    S.REJECTED,
]


@dataclass
class Outcome:
    po: str
    action: str
    actor: str
    code: str  # "OK" or the error code
    version: int | None = None


@dataclass
class Race:
    api: GraphQLClient
    db: Database
    tenant: Tenant
    purchasers: list[Actor]
    warehouse: Actor
    pos: list[str]
    identities: list[dict[str, str]]
    outcomes: list[Outcome] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    job_passes: int = 0

    async def run(self, actor: Actor, query: str, variables: dict[str, Any]) -> Result:
        self.requests["sent"] += 1
        return await self.api.run(actor, query, variables)

    async def read(self, po: str) -> dict[str, Any]:
        self.requests["reads"] += 1
        found: dict[str, Any] = (await self.api.run(AGENTS[0], READ_PO, {"id": po})).ok()[
            "purchaseOrder"
        ]
        return found


@pytest.fixture(scope="module")
async def postgres_api(postgres_url: str) -> AsyncIterator[tuple[GraphQLClient, Database]]:
    """An app of its own on the session's PostgreSQL database. Its pool (8 + 8 overflow)
    is smaller than the 40 clients, as in production: requests queue for a connection, and
    the rest of the session's tests keep theirs (PostgreSQL allows 100 by default)."""
    db = Database(postgres_url, pool_size=8)
    settings = Settings(database_url=postgres_url, jwt_secret=SECRET, rate_limit_enabled=False)
    app = create_app(settings, db=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://simgql.test") as http:
        yield GraphQLClient(http, secret=SECRET), db
    await db.dispose()


def _identity_pool(count: int) -> list[dict[str, str]]:
    """SIM identities the racers share, so that two of them can try the same one at once."""
    return [{"iccid": s.iccid, "imsi": s.imsi, "msisdn": s.msisdn} for s in sims(count)]


async def _step(race: Race, rng: random.Random, pos: list[str]) -> None:
    """One client action: read a PO, then act on it as its role would (maybe with a stale
    `expectedVersion`), and record what came back."""
    action, role, _ = rng.choices(PLAN, weights=[w for *_, w in PLAN])[0]
    if action == "job":
        await run_once(race.db)
        race.job_passes += 1
        return
    po_id = rng.choice(pos)
    po = await race.read(po_id)
    actor = {
        "purchaser": rng.choice(race.purchasers),
        "agent": rng.choice(AGENTS),
        "warehouse": race.warehouse,
    }[role]
    if action == "dispatch":
        await _dispatch(race, rng, po, actor)
        return
    payload: dict[str, Any] = {"id": po_id}
    if rng.random() < 0.3:
        payload["expectedVersion"] = po["version"]  # stale by the time it arrives, maybe
    if action == "update":
        payload["lines"] = [{"productId": race.tenant.product_gid(), "quantity": PO_QUANTITY}]
        payload["shippingAddress"] = {**ADDRESS_INPUT, "city": rng.choice(["Hamburg", "Bremen"])}
    elif action == "reject":
        payload["reason"] = "racing rejection"
    elif action == "ship":
        payload |= {"carrier": "DHL", "trackingNumber": f"JD{rng.randrange(10**6)}"}
    elif action == "assign":
        lines = po["lines"] or [{"id": race.tenant.product_gid()}]
        line = rng.choice(lines)
        wanted = rng.randint(1, PO_QUANTITY)
        payload["assignments"] = [
            {"lineId": line["id"], "sims": rng.sample(race.identities, wanted)}
        ]
    result = await race.run(actor, MUTATIONS[action], {"input": payload})
    _record(race, po_id, action, actor, result)


async def _dispatch(race: Race, rng: random.Random, po: dict[str, Any], actor: Actor) -> None:
    waiting = [so for so in po["salesOrders"] if so["status"] == "AWAITING_DISPATCH"]
    if waiting:
        await _dispatch_order(race, rng, po["id"], rng.choice(waiting), actor)


async def _dispatch_order(
    race: Race, rng: random.Random, po_id: str, so: dict[str, Any], actor: Actor
) -> None:
    items = [
        {"productCode": line["product"]["code"], **identity}
        for line in so["lines"]
        for identity in rng.sample(race.identities, line["quantity"])
    ]
    payload = {"salesOrderId": so["id"], "items": items, "carrier": "UPS", "trackingNumber": "1Z"}
    result = await race.run(actor, DISPATCH, {"input": payload})
    _record(race, po_id, "dispatch", actor, result)


async def _warehouse_race(race: Race, rng: random.Random, pos: list[str]) -> None:
    """Every order waiting for dispatch is reported twice at once by the warehouse (a retry
    storm) while an agent cancels the PO or marks it ready by hand."""
    racing = []
    for po_id in pos:
        po = await race.read(po_id)
        for so in po["salesOrders"]:
            if so["status"] != "AWAITING_DISPATCH":
                continue
            agent_action = rng.choice(["cancel", "ready"])
            racing += [
                _dispatch_order(race, rng, po_id, so, race.warehouse),
                _dispatch_order(race, rng, po_id, so, race.warehouse),
                _agent(race, rng.choice(AGENTS), agent_action, po_id),
            ]
    await asyncio.gather(*racing)


async def _agent(race: Race, agent: Actor, action: str, po_id: str) -> None:
    result = await race.run(agent, MUTATIONS[action], {"input": {"id": po_id}})
    _record(race, po_id, action, agent, result)


def _record(race: Race, po: str, action: str, actor: Actor, result: Result) -> None:
    assert result.status == 200, (action, result.body)
    if result.errors:
        assert len(result.errors) == 1, result.body
        race.outcomes.append(Outcome(po, action, actor.sub, result.code))
        return
    data = result.ok()
    version = None
    for value in data.values():
        if "purchaseOrder" in value:
            version = value["purchaseOrder"]["version"]
    race.outcomes.append(Outcome(po, action, actor.sub, "OK", version))


async def _job(race: Race) -> None:
    """The sales order request job, running alongside the clients as a server would run it."""
    for _ in range(STEPS_PER_ROUND * 2):
        await run_once(race.db)
        race.job_passes += 1
        await asyncio.sleep(0.01)


async def _client(race: Race, rng: random.Random, pos: list[str]) -> None:
    for _ in range(STEPS_PER_ROUND):
        await _step(race, rng, pos)


def _allowed_steps() -> set[tuple[S | None, S]]:
    steps: set[tuple[S | None, S]] = {(None, S.DRAFT)}
    for row in LIFECYCLE:
        steps |= {(start, row.to_status) for start in row.from_statuses if start != row.to_status}
    return steps


def _po_history(po: dict[str, Any]) -> list[tuple[S | None, S]]:
    return [
        (S(h["fromStatus"]) if h["fromStatus"] else None, S(h["toStatus"]))
        for h in po["statusHistory"]
        if h["salesOrderStatus"] is None
    ]


async def test_racing_clients_leave_every_po_history_stock_and_sim_consistent(
    postgres_api: tuple[GraphQLClient, Database],
) -> None:
    api, db = postgres_api
    tenant = await make_tenant(db, products=1, stock=STOCK_UNITS)
    purchasers = [
        tenant.purchaser,
        Actor(Role.ENTERPRISE_PURCHASER, f"colleague@{tenant.code}", tenant.code),
    ]
    warehouse = Actor(
        Role.WAREHOUSE, f"wms@{tenant.warehouse_code}", warehouse=tenant.warehouse_code
    )
    race = Race(api, db, tenant, purchasers, warehouse, [], _identity_pool(40))
    rngs = [random.Random(worker) for worker in range(WORKERS)]  # the same choices every run

    for _ in range(ROUNDS):
        pos = [gid(await make_po(db, tenant, status, quantity=PO_QUANTITY)) for status in START]
        race.pos += pos
        await asyncio.gather(*(_client(race, rng, pos) for rng in rngs), _job(race))
        await run_once(db)
        await _warehouse_race(race, rngs[0], pos)
    await run_once(db)  # whatever provisioning left waiting is generated, as the job would

    mutations = sum(race.requests.values()) - race.requests["reads"]
    print(
        f"\nconcurrency invariants: {WORKERS} clients sent {sum(race.requests.values())} requests"
        f" ({mutations} mutations racing, {race.requests['reads']} reads) and ran"
        f" {race.job_passes} job passes;"
        f" outcomes {Counter(o.code for o in race.outcomes).most_common()}"
    )
    assert mutations >= 300
    refusals = Counter(o.code for o in race.outcomes if o.code != "OK")
    assert set(refusals) <= ALLOWED_REFUSALS, refusals
    assert any(o.code == "OK" for o in race.outcomes)

    allowed = _allowed_steps()
    final = {po: await race.read(po) for po in race.pos}
    for po_id, po in final.items():
        history = _po_history(po)
        assert history[0] == (None, S.DRAFT), history
        for (_, previous_to), (start, end) in itertools.pairwise(history):
            assert start == previous_to, history
            assert (start, end) in allowed, ((start, end), history)
        assert history[-1][1] == S(po["status"]), (po["status"], history)

        versions = [o.version for o in race.outcomes if o.po == po_id and o.version is not None]
        assert len(versions) == len(set(versions)), sorted(versions)
        assert all(v <= po["version"] for v in versions), (versions, po["version"])

        for line in po["lines"]:
            assert line["assignedSimCount"] <= line["quantity"], line
            assert len(line["sims"]) == line["assignedSimCount"], line

    held = [
        (kind, sim[kind])
        for po in final.values()
        for line in po["lines"]
        for sim in line["sims"]
        for kind in ("iccid", "imsi", "msisdn")
    ]
    assert len(held) == len(set(held)), Counter(held).most_common(3)
    async with db.read() as session:
        for column in (models.Sim.iccid, models.Sim.imsi, models.Sim.msisdn):
            twice = (
                await session.execute(select(column).group_by(column).having(func.count() > 1))
            ).all()
            assert twice == [], (column, twice)

    stock = (await api.run(ADMIN, STOCK, {"w": None})).ok()["stock"]
    (level,) = [s for s in stock if s["product"]["id"] == tenant.product_gid()]
    assert level["onHand"] >= 0, level
    assert 0 <= level["reserved"] <= level["onHand"], level
    assert level["available"] == level["onHand"] - level["reserved"], level
    sales_orders = [so for po in final.values() for so in po["salesOrders"]]
    reserved = sum(
        line["quantity"]
        for so in sales_orders
        if so["status"] in OPEN_SALES_ORDER
        for line in so["lines"]
    )
    dispatched = sum(
        line["quantity"]
        for so in sales_orders
        if so["status"] == "COMPLETE"
        for line in so["lines"]
    )
    assert level["reserved"] == reserved, (level, reserved)
    assert level["onHand"] == STOCK_UNITS - dispatched, (level, dispatched)
