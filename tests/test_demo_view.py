"""The Edit Purchase Order demo view at `/demo/po/{id}`: its page, its assets, a real browser.

The browser test drives Debian's `chromium` over the DevTools protocol with the helpers of
`tests/test_graphiql.py` (no downloaded browser). It opens a SUBMITTED PO with an agent's
token in the URL fragment, changes the PO through the API and watches the page follow
without a reload, clicks the page's buttons (answering its prompts) and checks the PO through
the API, drops the page's WebSocket and checks that it resumes after the last cursor, and
asserts that every request stayed on 127.0.0.1. Outside CI a missing `chromium` skips it;
with `CI=true` it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from graphql import parse, validate

from simgql.api.auth import mint_token
from simgql.api.demo_view import CONTENT_SECURITY_POLICY, STATIC_DIR, demo_po_html
from simgql.api.ids import encode_id
from simgql.api.schema import schema
from simgql.db.engine import Database
from simgql.domain.model import PurchaseOrderStatus, Role
from tests.client import Actor, GraphQLClient
from tests.conftest import IN_CI, SECRET
from tests.factories import ADMIN, AGENT, gid, make_po, make_tenant, sims
from tests.server import ServerProcess, running_server
from tests.test_graphiql import (
    STEP_TIMEOUT,
    Browser,
    asset_urls,
    start_chromium,
    stop_chromium,
)

S = PurchaseOrderStatus


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(
        tmp_path_factory.mktemp("demo-view"),
        database_url=database_url,
        jwt_secret=SECRET,
        ws_keep_alive_seconds="1",
    ) as proc:
        yield proc


@pytest.fixture
async def remote(server: ServerProcess) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http:
        yield GraphQLClient(http, secret=SECRET)


# --- the page and its assets -------------------------------------------------------------


def test_page_and_assets_are_served_locally_with_a_strict_policy(server: ServerProcess) -> None:
    po_id = encode_id("PurchaseOrder", uuid.uuid4())
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http:
        page = http.get(f"/demo/po/{po_id}")
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers.get("content-security-policy", "")
        assert csp == CONTENT_SECURITY_POLICY
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["default-src"] == "'none'"
        for name in ("script-src", "style-src", "connect-src"):
            assert directives[name] == "'self'", (name, csp)
        assert "unsafe" not in csp
        assert page.headers.get("cache-control") == "no-store"
        assert "://" not in page.text  # nothing absolute: no CDN, no other host
        assert "<script>" not in page.text  # no inline script
        assert "<style" not in page.text  # no inline style
        assert "style=" not in page.text
        assert f'data-po-id="{po_id}"' in page.text

        urls = [u for u in asset_urls(page.text) if not u.startswith("data:")]
        assert sorted(urls) == ["/demo/static/po.css", "/demo/static/po.js"]
        for url in urls:
            asset = http.get(url)
            assert asset.status_code == 200, url
            assert asset.content == (STATIC_DIR / url.rsplit("/", 1)[1]).read_bytes()
            kind = asset.headers["content-type"]
            assert ("javascript" in kind) if url.endswith(".js") else ("text/css" in kind), kind
        assert http.get("/demo/static/nope.js").status_code == 404
        assert http.get("/demo/static/../demo_view.py").status_code == 404
        # Only purchase order IDs get a page.
        assert http.get("/demo/po/not-an-id").status_code == 404
        assert http.get(f"/demo/po/{encode_id('Account', uuid.uuid4())}").status_code == 404


def test_page_escapes_the_id_it_embeds() -> None:
    page = demo_po_html('"><script>alert(1)</script>')
    assert "<script>alert" not in page
    assert "&quot;&gt;&lt;script&gt;" in page


def test_the_script_is_small_plain_and_never_writes_html() -> None:
    script = (STATIC_DIR / "po.js").read_text(encoding="utf-8")
    assert len(script.splitlines()) < 400
    for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert forbidden not in script, forbidden
    assert "://" not in script.replace('"wss://"', "").replace('"ws://"', "")
    assert script.isascii()


def _js_strings(source: str) -> list[str]:
    """The double-quoted string literals of a piece of JavaScript, decoded."""
    parts, i = [], 0
    while (i := source.find('"', i)) >= 0:
        j = i + 1
        while source[j] != '"':
            j += 2 if source[j] == "\\" else 1
        parts.append(json.loads(source[i : j + 1]))
        i = j + 1
    return parts


def test_the_scripts_operations_are_valid_against_the_schema() -> None:
    script = (STATIC_DIR / "po.js").read_text(encoding="utf-8")
    for marker in ("var PO_QUERY =", "var SUBSCRIPTION ="):
        start = script.index(marker)
        document = "".join(_js_strings(script[start : script.index(";\n", start)]))
        assert not validate(schema._schema, parse(document)), document
    # Every mutation a button runs exists, with the input type the script gives it.
    mutations = schema._schema.mutation_type
    assert mutations is not None
    for mutation, input_type in (
        ("submitPurchaseOrder", "TransitionInput"),
        ("acceptPurchaseOrder", "TransitionInput"),
        ("reopenPurchaseOrder", "TransitionInput"),
        ("startPurchaseOrderProvisioning", "TransitionInput"),
        ("markPurchaseOrderReady", "TransitionInput"),
        ("confirmPurchaseOrderReceipt", "TransitionInput"),
        ("rejectPurchaseOrder", "ReasonInput"),
        ("cancelPurchaseOrder", "OptionalReasonInput"),
        ("shipPurchaseOrder", "ShipPurchaseOrderInput"),
    ):
        line = next(x for x in script.splitlines() if f'mutation: "{mutation}"' in x)
        assert (f'input: "{input_type}"' in line) or (
            input_type == "TransitionInput" and "input:" not in line
        ), line
        assert str(mutations.fields[mutation].args["input"].type) == f"{input_type}!"


# --- headless Chromium -------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium: missing, it skips the test outside CI and fails it in CI."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "chromium is not installed (Debian: apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


class DemoBrowser(Browser):
    """The GraphiQL test's browser, also recording the page's WebSocket frames and answering
    its `prompt()` dialogs from a queue."""

    def __init__(self, ws: Any, proc: Any, shots: Path | None = None) -> None:
        self.frames_sent: list[dict[str, Any]] = []
        self.frames_received: list[dict[str, Any]] = []
        self.answers: list[str] = []
        self.prompts: list[str] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        super().__init__(ws, proc, shots)

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                message = json.loads(raw)
                if "id" in message:
                    future = self.pending.pop(message["id"], None)
                    if future is not None and not future.done():
                        future.set_result(message)
                    continue
                method, params = message.get("method"), message.get("params", {})
                if method == "Network.requestWillBeSent":
                    self.requested.append(params["request"]["url"])
                elif method == "Network.webSocketCreated":
                    self.requested.append(params["url"])
                elif method in ("Network.webSocketFrameSent", "Network.webSocketFrameReceived"):
                    frames = self.frames_sent if method.endswith("Sent") else self.frames_received
                    with contextlib.suppress(ValueError):
                        frames.append(json.loads(params["response"]["payloadData"]))
                elif method == "Page.javascriptDialogOpening":
                    self.prompts.append(params["message"])
                    answer = self.answers.pop(0) if self.answers else None
                    reply = {"accept": answer is not None, "promptText": answer or ""}
                    # Answered from a task: this loop must go on reading the reply.
                    task = asyncio.create_task(self.send("Page.handleJavaScriptDialog", reply))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
                elif method == "Runtime.exceptionThrown":
                    details = params["exceptionDetails"]
                    self.exceptions.append(
                        str(details.get("exception", {}).get("description") or details["text"])
                    )

    def subscribes(self) -> list[dict[str, Any]]:
        return [m for m in self.frames_sent if m.get("type") == "subscribe"]

    def cursors(self) -> list[str]:
        """The cursors of the events the page received, in order."""
        return [
            m["payload"]["data"]["purchaseOrderStatusChanged"]["cursor"]
            for m in self.frames_received
            if m.get("type") == "next" and (m.get("payload") or {}).get("data")
        ]

    async def close_websockets(self) -> int:
        """Close every open WebSocket of the page, as a dropped connection would; how many."""
        proto = await self.send("Runtime.evaluate", {"expression": "WebSocket.prototype"})
        found = await self.send(
            "Runtime.queryObjects", {"prototypeObjectId": proto["result"]["objectId"]}
        )
        closed = await self.send(
            "Runtime.callFunctionOn",
            {
                "objectId": found["objects"]["objectId"],
                "functionDeclaration": "function () {"
                " const open = this.filter(ws => ws.readyState === WebSocket.OPEN);"
                " open.forEach(ws => ws.close(4000, 'dropped by the test'));"
                " return open.length; }",
                "returnByValue": True,
            },
        )
        return int(closed["result"]["value"])


@contextlib.asynccontextmanager
async def headless_chromium(executable: str, tmp: Path) -> AsyncIterator[DemoBrowser]:
    proc, url = await asyncio.to_thread(start_chromium, executable, tmp)
    try:
        async with websockets.connect(url, max_size=None) as ws:
            browser = DemoBrowser(ws, proc, tmp)
            try:
                await browser.open_page()
                yield browser
            finally:
                with contextlib.suppress(Exception):
                    browser.session = None
                    await asyncio.wait_for(browser.send("Browser.close"), 5)
                browser.reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await browser.reader
    finally:
        await asyncio.to_thread(stop_chromium, proc)


async def until(check: Callable[[], bool], what: str) -> None:
    """Wait for a condition on the test's side, for at most one browser step."""
    deadline = time.monotonic() + STEP_TIMEOUT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


STATUS = "document.querySelector('#po-status')?.textContent"
HISTORY_ROWS = "document.querySelectorAll('#history tbody tr').length"
STATUS_LINE = "document.querySelector('#status')?"  # followed by `.property`
LIVE = "document.querySelector('#connection')?.dataset.state === 'live'"
ACTIONS = "[...document.querySelectorAll('#actions button')].map(b => b.dataset.action)"


def button(action: str) -> str:
    return f"document.querySelector('#actions button[data-action=\"{action}\"]')"


def text_of(selector: str) -> str:
    return f"(document.querySelector({json.dumps(selector)})?.textContent ?? '')"


async def click(browser: Browser, action: str) -> None:
    await browser.wait_for(f"!!{button(action)} && !{button(action)}.disabled", f"{action}")
    await browser.evaluate(f"{button(action)}.click(), true")


async def read_po(remote: GraphQLClient, po_id: str) -> dict[str, Any]:
    result = await remote.run(
        AGENT,
        "query($id: ID!) { purchaseOrder(id: $id) { status version"
        " shipping { carrier trackingNumber } statusHistory { toStatus salesOrderStatus note }"
        " salesOrders { id status lines { quantity product { id } } } } }",
        {"id": po_id},
    )
    return dict(result.ok()["purchaseOrder"])


async def test_the_page_follows_the_po_live_and_its_buttons_change_it(
    chromium: str,
    server: ServerProcess,
    remote: GraphQLClient,
    db: Database,
    tmp_path: Path,
) -> None:
    tenant = await make_tenant(db, stock=1)  # too little for 2 SIMs: provisioning fails first
    po_id = gid(await make_po(db, tenant, S.SUBMITTED, quantity=2))
    agent_token = remote.token(AGENT)
    base = f"http://127.0.0.1:{server.port}"

    async with asyncio.timeout(180), headless_chromium(chromium, tmp_path) as browser:
        await browser.send("Page.navigate", {"url": f"{base}/demo/po/{po_id}#token={agent_token}"})
        await browser.wait_for(f"{STATUS} === 'SUBMITTED' && !!{button('ACCEPT')}", "SUBMITTED")
        assert sorted(await browser.evaluate(ACTIONS)) == ["ACCEPT", "CANCEL", "REJECT"]
        assert await browser.evaluate(HISTORY_ROWS) == 2  # created, submitted
        assert agent_token not in await browser.evaluate("location.href")
        await browser.evaluate("window.sameDocument = true")
        await browser.wait_for(LIVE, "the live connection")
        await until(lambda: bool(browser.subscribes()), "the subscription")
        first = browser.subscribes()[0]["payload"]
        assert first["variables"] == {"id": po_id, "after": None}
        assert "purchaseOrderStatusChanged" in first["query"]
        auth = [m for m in browser.frames_sent if m.get("type") == "connection_init"]
        assert auth[0]["payload"] == {"authorization": f"Bearer {agent_token}"}
        await asyncio.sleep(1)  # let the subscription reach the server's hub (no cursor yet)
        # The policy's Trusted Types: the page cannot turn strings into HTML.
        assert (
            await browser.evaluate(
                "(() => { try { document.createElement('div').innerHTML = '<b>x</b>';"
                " return 'allowed' } catch (e) { return e.name } })()"
            )
            == "TypeError"
        )

        # Someone else accepts the PO: the page follows, without a reload.
        accepted = await remote.run(
            AGENT,
            'mutation($id: ID!) { acceptPurchaseOrder(input: {id: $id, note: "by the API"})'
            " { purchaseOrder { number } } }",
            {"id": po_id},
        )
        number = accepted.ok()["acceptPurchaseOrder"]["purchaseOrder"]["number"]
        await browser.wait_for(
            f"{STATUS} === 'ACCEPTED' && {HISTORY_ROWS} === 3 && !!{button('START_PROVISIONING')}",
            "ACCEPTED on the page",
        )
        last_row = await browser.evaluate(text_of("#history tbody tr:last-child"))
        assert "SUBMITTED" in last_row, last_row
        assert "by the API" in last_row, last_row
        assert f"Purchase order {number}" in await browser.evaluate(text_of("h2"))

        # A click the API refuses: the error's code in the status line, nothing changed.
        await click(browser, "START_PROVISIONING")
        await browser.wait_for(
            f"{STATUS_LINE}.dataset.code === 'INSUFFICIENT_STOCK'", "INSUFFICIENT_STOCK"
        )
        assert (await read_po(remote, po_id))["status"] == "ACCEPTED"

        # With stock, the same button starts provisioning, with the note typed in the page.
        stocked = await remote.run(
            ADMIN,
            "mutation($input: SetStockInput!) { setStock(input: $input) { warehouse { code } } }",
            {
                "input": {
                    "warehouseId": encode_id("Warehouse", tenant.warehouse_id),
                    "productId": tenant.product_gid(0),
                    "onHand": 100,
                }
            },
        )
        stocked.ok()
        await browser.evaluate("document.querySelector('#note').value = 'clicked in the page'")
        await click(browser, "START_PROVISIONING")
        await browser.wait_for(f"{STATUS} === 'PROVISIONING'", "PROVISIONING on the page")
        po = await read_po(remote, po_id)
        assert po["status"] == "PROVISIONING", po
        changes = [h for h in po["statusHistory"] if h["salesOrderStatus"] is None]
        assert changes[-1] == {
            "toStatus": "PROVISIONING",
            "salesOrderStatus": None,
            "note": "clicked in the page",
        }
        assert await browser.evaluate(f"{STATUS_LINE}.dataset.kind") == "info"
        # Fulfilment: a sales order to the tenant's warehouse, generated by the job.
        await browser.wait_for(
            f"{text_of('#sales-orders')}.includes({json.dumps(tenant.warehouse_code)})"
            f" && {text_of('#sales-orders')}.includes('AWAITING_DISPATCH')",
            "the sales order awaiting dispatch",
        )

        # The connection drops: the page reconnects and resumes after the last cursor.
        before = len(browser.subscribes())
        seen = browser.cursors()
        assert len(seen) >= 3, seen  # accepted, provisioning, sales order generated, ...
        assert await browser.close_websockets() == 1
        await until(lambda: len(browser.subscribes()) > before, "a new subscription")
        resumed = browser.subscribes()[-1]["payload"]["variables"]
        assert resumed == {"id": po_id, "after": seen[-1]}, (resumed, seen)
        await browser.wait_for(LIVE, "the live connection again")

        # The warehouse dispatches: the PO becomes READY by itself, and the page shows it.
        (sales_order,) = po["salesOrders"]
        items = [
            {
                "iccid": s.iccid,
                "imsi": s.imsi,
                "msisdn": s.msisdn,
                "productId": line["product"]["id"],
            }
            for line in sales_order["lines"]
            for s in sims(line["quantity"])
        ]
        warehouse = Actor(
            Role.WAREHOUSE, f"wms@{tenant.warehouse_code}", warehouse=tenant.warehouse_code
        )
        dispatched = await remote.run(
            warehouse,
            "mutation($input: RecordSalesOrderDispatchInput!) {"
            " recordSalesOrderDispatch(input: $input) { salesOrder { status } } }",
            {
                "input": {
                    "salesOrderId": sales_order["id"],
                    "items": items,
                    "carrier": "DHL",
                    "trackingNumber": "WH-1",
                }
            },
        )
        assert dispatched.ok()["recordSalesOrderDispatch"]["salesOrder"]["status"] == "COMPLETE"
        await browser.wait_for(
            f"{STATUS} === 'READY' && !!{button('SHIP')}"
            f" && {text_of('#sales-orders')}.includes('COMPLETE')"
            f" && {text_of('#lines')}.includes({json.dumps(items[0]['iccid'])})",
            "READY with the dispatched SIMs on the page",
        )

        # Ship from the page: it asks for the carrier and the tracking number.
        browser.answers = ["UPS", "1Z999"]
        await click(browser, "SHIP")
        await browser.wait_for(f"{STATUS} === 'SHIPPED'", "SHIPPED on the page")
        assert browser.prompts == ["Carrier", "Tracking number"]
        po = await read_po(remote, po_id)
        assert po["status"] == "SHIPPED"
        assert po["shipping"] == {"carrier": "UPS", "trackingNumber": "1Z999"}
        assert await browser.evaluate(ACTIONS) == []  # the purchaser confirms receipt, not us

        assert await browser.evaluate("window.sameDocument === true")  # never reloaded
        assert not browser.exceptions, browser.exceptions
        requested = browser.requested
        assert f"{base}/demo/static/po.js" in requested, requested
        assert f"ws://127.0.0.1:{server.port}/graphql" in requested, requested
        assert not browser.offsite(), f"requests left 127.0.0.1: {browser.offsite()}"
        for url in requested:
            assert url.startswith((f"{base}/", f"ws://127.0.0.1:{server.port}/", "data:")), url
            assert agent_token not in url  # the token stays in the page


async def test_the_page_without_a_token_or_with_a_bad_one_says_so(
    chromium: str, server: ServerProcess, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{server.port}"
    page = f"{base}/demo/po/{encode_id('PurchaseOrder', uuid.uuid4())}"
    message = f"({STATUS_LINE}.textContent ?? '')"
    async with asyncio.timeout(90), headless_chromium(chromium, tmp_path) as browser:
        await browser.send("Page.navigate", {"url": page})
        await browser.wait_for(
            f"{STATUS_LINE}.dataset.code === 'UNAUTHENTICATED' && {message}.startsWith('No token')",
            "the missing-token message",
        )
        # A token typed into the fragment of the open page restarts it with that token.
        await browser.send("Page.navigate", {"url": f"{page}#token=not-a-jwt"})
        await browser.wait_for(
            f"{STATUS_LINE}.dataset.code === 'UNAUTHENTICATED' && !{message}.startsWith('No token')",
            "UNAUTHENTICATED from the API",
        )
        # A PO the token may not see is answered as one that does not exist.
        agent = mint_token(secret=SECRET, role=Role.SP_AGENT, sub="agent.demo")
        await browser.send("Page.navigate", {"url": f"{page}#token={agent}"})
        await browser.wait_for(f"{STATUS_LINE}.dataset.code === 'NOT_FOUND'", "NOT_FOUND")
        assert await browser.evaluate("location.href") == page
        assert not browser.exceptions, browser.exceptions
        assert not browser.offsite(), browser.offsite()
        # Nothing to follow: no socket was opened.
        assert not [u for u in browser.requested if u.startswith("ws")], browser.requested
