"""What an idle subscription keeps: one keep-alive task for all sockets, one read of the log
position for subscriptions that start together, nothing of their setup kept for life, and
uvicorn's per-socket state trimmed (`LeanWebSocketProtocol`)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn
import websockets
from starlette.types import Receive, Scope, Send

from simgql.api.websocket import WS_PROTOCOL, KeepAlive, LeanWebSocketProtocol, _Gate, _Inbox
from simgql.db import events as event_repo
from simgql.db.engine import Database
from simgql.domain.model import PurchaseOrderStatus
from simgql.events.hub import EventFilter, EventHub
from tests.factories import make_po, make_tenant


class Member:
    """A connection as `KeepAlive` sees it: when it was pinged, and whether sending works."""

    def __init__(self, *, fail: bool = False, hang: bool = False) -> None:
        self.pinged: list[float] = []
        self.fail = fail
        self.hang = hang

    async def send_keep_alive(self) -> None:
        self.pinged.append(asyncio.get_running_loop().time())
        if self.fail:
            raise ConnectionError("the peer went away")
        if self.hang:
            await asyncio.Event().wait()  # a peer that never drains its socket


def keep_alive_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "simgql-ws-keep-alive"]


async def test_keep_alive_pings_every_member_at_its_own_interval_from_one_task() -> None:
    interval = 0.2
    keep_alive = KeepAlive(interval)
    loop = asyncio.get_running_loop()
    first, second = Member(), Member()
    joined = {}
    keep_alive.add(first)
    joined[first] = loop.time()
    await asyncio.sleep(0.1)
    keep_alive.add(second)
    joined[second] = loop.time()
    assert len(keep_alive_tasks()) == 1
    # Wait for three pings each (a busy machine may run late; the schedule must not drift).
    for _ in range(100):
        if min(len(first.pinged), len(second.pinged)) >= 3:
            break
        await asyncio.sleep(0.05)
    for member in (first, second):
        offsets = [t - joined[member] for t in member.pinged]
        assert len(offsets) >= 3, offsets
        for k, offset in enumerate(offsets, start=1):  # never early, and no drift
            assert interval * k - 0.01 <= offset <= interval * k + 1.0, offsets
    keep_alive.discard(first)
    await asyncio.sleep(0.05)  # a ping already on its way may still land
    count, others = len(first.pinged), len(second.pinged)
    await asyncio.sleep(0.5)
    assert len(first.pinged) == count  # gone: no more pings
    assert len(second.pinged) > others  # the other one still is
    keep_alive.discard(second)
    await asyncio.sleep(interval + 0.1)
    assert not keep_alive_tasks()  # nothing to ping: the task ended
    assert len(keep_alive) == 0


async def test_keep_alive_is_not_held_up_by_a_peer_that_fails_or_does_not_drain() -> None:
    keep_alive = KeepAlive(0.05)
    failing, hanging, healthy = Member(fail=True), Member(hang=True), Member()
    for member in (failing, hanging, healthy):
        keep_alive.add(member)
    await asyncio.sleep(0.5)
    assert len(healthy.pinged) >= 4
    assert len(failing.pinged) >= 4  # still tried: its handler ends it, not the pinger
    for member in (failing, hanging, healthy):
        keep_alive.discard(member)
    for task in list(keep_alive._sending):
        task.cancel()


@pytest.fixture
async def pg_db(postgres_url: str) -> AsyncIterator[Database]:
    database = Database(postgres_url)
    yield database
    await database.dispose()


async def test_subscriptions_that_start_together_share_one_read_of_the_log_position(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = EventHub(pg_db, "memory://", poll_interval=300)
    await hub.start()
    real = event_repo.latest_event_id
    reads: list[int] = []
    first_read, gate = asyncio.Event(), asyncio.Event()

    async def counted(session: object) -> int:
        reads.append(len(reads))
        if len(reads) == 1:
            first_read.set()
            await gate.wait()  # hold the first read while more callers arrive
        return await real(session)  # type: ignore[arg-type]

    monkeypatch.setattr(event_repo, "latest_event_id", counted)
    try:
        early = [asyncio.create_task(hub.latest_committed()) for _ in range(20)]
        await asyncio.wait_for(first_read.wait(), 10)
        tenant = await make_tenant(pg_db)
        await make_po(pg_db, tenant, PurchaseOrderStatus.DRAFT)
        # These asked after that commit: they must not be answered by the read in flight.
        late = [asyncio.create_task(hub.latest_committed()) for _ in range(20)]
        await asyncio.sleep(0.05)
        assert not any(task.done() for task in late)
        gate.set()
        answers = await asyncio.gather(*early, *late)
        async with pg_db.read() as session:
            newest = await real(session)
        assert len(reads) == 2  # one read for the first 20, one for the next 20
        assert set(answers[20:]) == {newest}
    finally:
        await hub.stop()


async def test_a_waiting_stream_keeps_neither_its_session_nor_its_replayed_batch(
    pg_db: Database,
) -> None:
    hub = EventHub(pg_db, "memory://", poll_interval=300)
    await hub.start()
    try:
        tenant = await make_tenant(pg_db)
        async with pg_db.read() as session:
            before = await event_repo.latest_event_id(session)
        for _ in range(3):
            await make_po(pg_db, tenant, PurchaseOrderStatus.DRAFT)
        for after in (before, None):
            stream = hub.stream(EventFilter(account_id=tenant.account_id), after=after)
            if after is not None:
                for _ in range(3):
                    await anext(stream)
            waiting = asyncio.create_task(anext(stream))
            await asyncio.sleep(0.1)  # now waiting for live events
            assert not waiting.done()
            kept = stream.ag_frame.f_locals if stream.ag_frame else {}
            assert not {"session", "batch"} & kept.keys(), sorted(kept)
            (sub,) = hub.subscribers
            assert sub.waiter is not None
            assert not sub.queue
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiting
            await stream.aclose()
        assert hub.subscriber_count == 0
    finally:
        await hub.stop()


async def test_inbox_hands_items_over_in_order_and_waits_when_empty() -> None:
    inbox = _Inbox()
    assert inbox.empty()
    getter = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    assert not getter.done()
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    assert await getter == 1
    assert not inbox.empty()
    assert await inbox.get() == 2
    assert inbox.empty()


async def test_gate_holds_every_sender_until_it_opens() -> None:
    gate = _Gate()
    await asyncio.wait_for(gate.wait(), 1)  # open: passes at once
    gate.clear()
    senders = [asyncio.create_task(gate.wait()) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert not any(s.done() for s in senders)
    senders[0].cancel()  # one sender giving up does not release the others
    await asyncio.sleep(0.01)
    assert not any(s.done() for s in senders[1:])
    gate.set()
    await asyncio.wait_for(asyncio.gather(*senders[1:]), 1)
    assert gate.is_set()


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """A WebSocket echo app, to run the protocol on its own."""
    assert scope["type"] == "websocket"
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept", "subprotocol": "echo"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": message["text"]})


async def test_lean_protocol_serves_websockets_and_keeps_no_handshake() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        echo, host="127.0.0.1", port=port, ws=WS_PROTOCOL, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(1000):
            if server.started:
                break
            await asyncio.sleep(0.01)
        url = f"ws://127.0.0.1:{port}/"
        async with websockets.connect(url, subprotocols=["echo"]) as ws:  # type: ignore[list-item]
            for text in ("one", "two", "x" * 100_000):
                await ws.send(text)
                assert await asyncio.wait_for(ws.recv(), 5) == text
            (protocol,) = server.server_state.connections
            assert isinstance(protocol, LeanWebSocketProtocol)
            assert isinstance(protocol.queue, _Inbox)
            assert isinstance(protocol.writable, _Gate)
            assert "request" not in vars(protocol)
            assert "response" not in vars(protocol)
            assert ws.subprotocol == "echo"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)
