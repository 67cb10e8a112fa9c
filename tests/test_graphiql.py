"""GraphiQL with no internet: our page, its vendored assets, its examples, and a real browser.

The browser test drives Debian's `chromium` (headless, no downloaded browser) over the Chrome
DevTools Protocol, spoken directly with the `websockets` package the tests already use: no
Playwright or Pyppeteer, which would want to download a browser of their own. It loads the
page with a token in the URL fragment, runs the first example tab, runs the subscription tab
and watches an event arrive, and asserts that every request the page made stayed on this
machine. Outside CI a missing `chromium` skips it; with `CI=true` it fails.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import websockets
from graphql import parse, validate

from simgql.api.auth import mint_token
from simgql.api.graphiql import (
    EXAMPLE_TABS,
    STATIC_DIR,
    TOKEN_PLACEHOLDER,
    graphiql_html,
)
from simgql.api.schema import schema
from simgql.db.engine import Database
from simgql.db.migrate import upgrade
from simgql.demo import seed_demo
from simgql.domain.model import Role
from tests.conftest import IN_CI, SECRET
from tests.server import ServerProcess, running_server

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
STEP_TIMEOUT = 30.0  # seconds for any one browser step


def token(role: Role, sub: str, account: str | None = None) -> str:
    return mint_token(secret=SECRET, role=role, sub=sub, account=account)


PURCHASER = token(Role.ENTERPRISE_PURCHASER, "buyer@acme", "ACME")
VIEWER = token(Role.ENTERPRISE_VIEWER, "viewer@acme", "ACME")
AGENT = token(Role.SP_AGENT, "agent.smith")


async def _seed(url: str) -> None:
    await upgrade(url)
    db = Database(url)
    try:
        await seed_demo(db)
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real server on a demo-seeded SQLite database, as `simgql serve --demo` runs."""
    tmp = tmp_path_factory.mktemp("graphiql")
    url = f"sqlite+aiosqlite:///{tmp / 'demo.db'}"
    asyncio.run(_seed(url))
    with running_server(tmp, database_url=url, jwt_secret=SECRET) as proc:
        yield proc


# --- the page and its assets -------------------------------------------------------------


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.urls.append(str(found["src"]))
        if tag == "link" and found.get("href"):
            self.urls.append(str(found["href"]))


def asset_urls(page: str) -> list[str]:
    parser = _Assets()
    parser.feed(page)
    return parser.urls


def test_browser_get_serves_our_page_and_every_asset_locally(server: ServerProcess) -> None:
    base = f"http://127.0.0.1:{server.port}"
    with httpx.Client(base_url=base, timeout=10) as http:
        page = http.get("/graphql", headers={"Accept": "text/html,application/xhtml+xml"})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "simgql GraphiQL" in page.text
        assert "paste a token from" in page.text
        csp = page.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp, csp
        assert "connect-src 'self'" in csp, csp

        urls = asset_urls(page.text)
        assert len(urls) >= 5, urls
        for url in urls:
            if url.startswith("data:"):
                continue
            assert url.startswith("/graphql/static/"), url
            assert not url.startswith("//"), url
            asset = http.get(url)
            assert asset.status_code == 200, url
            assert asset.content, url
            kind = asset.headers["content-type"]
            assert ("javascript" in kind) if url.endswith(".js") else ("text/css" in kind), kind
        assert http.get("/graphql/static/nope.js").status_code == 404
        # JSON clients still get JSON from GET, not the page.
        got = http.get("/graphql", params={"query": "{ __typename }"})
        assert got.json() == {"data": {"__typename": "Query"}}


def test_page_is_self_contained() -> None:
    page = graphiql_html()
    assert "://" not in page  # no CDN, no absolute URL of any kind
    config = page.split('id="simgql-graphiql-config">', 1)[1].split("</script>", 1)[0]
    parsed = json.loads(config)
    assert json.loads(parsed["defaultHeaders"]) == {"Authorization": f"Bearer {TOKEN_PLACEHOLDER}"}
    assert [tab["query"] for tab in parsed["tabs"]] == [tab.query for tab in EXAMPLE_TABS]


def test_vendored_assets_carry_their_licences() -> None:
    names = {p.name for p in STATIC_DIR.iterdir()}
    for required in (
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
        "LICENSE.graphiql",
        "LICENSE.react",
        "LICENSE.react-dom",
        "THIRD_PARTY_NOTICES.txt",
    ):
        assert required in names, required
    assert "MIT License" in (STATIC_DIR / "LICENSE.graphiql").read_text()
    total = sum(p.stat().st_size for p in STATIC_DIR.iterdir())
    assert total < 6 * 1024 * 1024, total


# --- the example operations --------------------------------------------------------------


def test_every_example_is_valid_against_the_schema() -> None:
    kinds = set()
    for tab in EXAMPLE_TABS:
        document = parse(tab.query)
        errors = validate(schema._schema, document)
        assert not errors, (tab.roles, errors)
        kinds |= {d.operation.value for d in document.definitions}  # type: ignore[attr-defined]
    assert kinds == {"query", "mutation", "subscription"}


def _tab(operation: str) -> str:
    return next(t.query for t in EXAMPLE_TABS if f" {operation}" in t.query)


def test_examples_work_for_their_roles(server: ServerProcess) -> None:
    """What a person does in GraphiQL, tab by tab, over HTTP with the examples' own text."""

    def run(tok: str, operation: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(
            server.http_url,
            json={"query": _tab(operation), "operationName": operation, "variables": variables},
            headers={"Authorization": f"Bearer {tok}"},
            timeout=10,
        )
        body = response.json()
        assert response.status_code == 200, body
        assert not body.get("errors"), body
        return dict(body["data"])

    assert run(VIEWER, "MyOrders")["me"]["role"] == "ENTERPRISE_VIEWER"
    mine = run(PURCHASER, "MyOrders")
    product = mine["products"]["edges"][0]["node"]["id"]
    create_vars = next(t.variables for t in EXAMPLE_TABS if t.variables and "input" in t.variables)
    assert create_vars is not None
    variables = json.loads(json.dumps(create_vars))
    variables["input"]["lines"][0]["productId"] = product
    variables["input"]["idempotencyKey"] = f"graphiql-test-{time.monotonic_ns()}"
    po = run(PURCHASER, "CreateOrder", variables)["createPurchaseOrder"]["purchaseOrder"]
    assert po["status"] == "DRAFT"
    submitted = run(PURCHASER, "SubmitOrder", {"id": po["id"]})
    assert submitted["submitPurchaseOrder"]["purchaseOrder"]["status"] == "SUBMITTED"
    waiting = run(AGENT, "SubmittedOrders")["purchaseOrders"]["edges"]
    assert po["id"] in [e["node"]["id"] for e in waiting]
    accepted = run(AGENT, "AcceptOrder", {"id": po["id"], "expectedVersion": None})
    assert accepted["acceptPurchaseOrder"]["purchaseOrder"]["status"] == "ACCEPTED"
    assert accepted["acceptPurchaseOrder"]["purchaseOrder"]["number"] is not None


# --- headless Chromium over the DevTools protocol ----------------------------------------


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


class Browser:
    """A headless Chromium and one page, driven over CDP; records the page's requests."""

    def __init__(self, ws: Any, proc: subprocess.Popen[bytes], shots: Path | None = None) -> None:
        self.ws = ws
        self.proc = proc
        self.shots = shots
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.session: str | None = None
        self.requested: list[str] = []
        self.exceptions: list[str] = []
        self.reader = asyncio.create_task(self._read())

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
                elif method == "Runtime.exceptionThrown":
                    details = params["exceptionDetails"]
                    self.exceptions.append(
                        str(details.get("exception", {}).get("description") or details["text"])
                    )

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        number = next(self.ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params or {}}
        if self.session is not None and not method.startswith("Target."):
            message["sessionId"] = self.session
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[number] = future
        await self.ws.send(json.dumps(message))
        reply = await asyncio.wait_for(future, STEP_TIMEOUT)
        if "error" in reply:
            raise AssertionError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    async def open_page(self) -> None:
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        self.session = attached["sessionId"]
        for domain in ("Network", "Page", "Runtime"):
            await self.send(f"{domain}.enable")

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, what: str) -> Any:
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.2)
        shot = await self.screenshot()
        raise AssertionError(
            f"timed out waiting for {what}; page errors: {self.exceptions}; "
            f"requests off this machine: {self.offsite()}; screenshot: {shot}"
        )

    def offsite(self) -> list[str]:
        """Every URL the page asked for that is not on this machine."""
        return [
            url
            for url in self.requested
            if urlsplit(url).scheme not in ("data", "blob", "about")
            and urlsplit(url).hostname not in LOCAL_HOSTS
        ]

    async def screenshot(self) -> Path | None:
        """Save what the page shows now, for a person to look at when a step fails."""
        if self.shots is None:
            return None
        with contextlib.suppress(Exception):
            shot = await self.send("Page.captureScreenshot", {"format": "png"})
            path = self.shots / f"graphiql-{next(self.ids)}.png"
            path.write_bytes(base64.b64decode(shot["data"]))
            return path
        return None


CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--window-size=1280,900",
    # Nothing but this machine resolves: a page that reaches out fails at once (and the
    # request is still recorded, so the test says which).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--remote-debugging-port=0",
)


def start_chromium(executable: str, tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start Chromium; its DevTools URL, from the DevToolsActivePort file it writes when ready."""
    user_data = tmp / "chromium-profile"
    user_data.mkdir()
    log = tmp / "chromium.log"
    args = [executable, *CHROMIUM_FLAGS, f"--user-data-dir={user_data}", "about:blank"]
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy())
    port_file = user_data / "DevToolsActivePort"
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError, ValueError):
            port, path = port_file.read_text().split()[:2]
            return proc, f"ws://127.0.0.1:{int(port)}{path}"
        time.sleep(0.1)
    stop_chromium(proc)
    raise AssertionError(f"chromium did not start: {log.read_text(errors='replace')[-2000:]}")


def stop_chromium(proc: subprocess.Popen[bytes]) -> None:
    """Wait for Chromium to exit (after Browser.close); terminate it, then kill it, if not."""
    for end in (None, proc.terminate, proc.kill):
        if end is not None:
            end()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
            return


@contextlib.asynccontextmanager
async def headless_chromium(executable: str, tmp: Path) -> AsyncIterator[Browser]:
    proc, url = await asyncio.to_thread(start_chromium, executable, tmp)
    try:
        async with websockets.connect(url, max_size=None) as ws:
            browser = Browser(ws, proc, tmp)
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


QUERY_EDITOR = "document.querySelector('.graphiql-query-editor .CodeMirror')"
RESPONSE_EDITOR = "document.querySelector('.graphiql-response .CodeMirror')"
RESPONSE_TEXT = f"({RESPONSE_EDITOR} ? {RESPONSE_EDITOR}.CodeMirror.getValue() : '')"
RUN = "document.querySelector('.graphiql-execute-button').click(), true"
# GraphiQL re-parses the editor 100 ms after a change and picks HTTP or WebSocket from that
# parse: a person pauses that long before pressing run; the test waits for it.
PARSED = (
    f"(() => {{ const cm = {QUERY_EDITOR}.CodeMirror;"
    " return !!cm.documentAST && cm.documentAST.loc?.source?.body === cm.getValue() })()"
)


async def test_graphiql_runs_a_query_and_a_subscription_without_leaving_localhost(
    chromium: str, server: ServerProcess, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{server.port}"
    async with asyncio.timeout(150), headless_chromium(chromium, tmp_path) as browser:
        await browser.send("Page.navigate", {"url": f"{base}/graphql#token={PURCHASER}"})
        await browser.wait_for(
            f"{QUERY_EDITOR} !== null && document.querySelector('.graphiql-execute-button') !== null",
            "the GraphiQL editors",
        )
        # The fragment filled the headers editor, and left the address bar.
        headers = await browser.evaluate(
            "document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror')"
            "?.CodeMirror.getValue()"
        )
        assert PURCHASER in (headers or ""), headers
        assert "#token" not in await browser.evaluate("location.href")
        # The first example tab is a query starting with `me { role ...`: run it as is.
        tab_text = await browser.evaluate(f"{QUERY_EDITOR}.CodeMirror.getValue()")
        assert "query MyOrders" in tab_text

        await browser.evaluate(RUN)
        shown = await browser.wait_for(
            f"{RESPONSE_TEXT}.includes('\"role\"') && {RESPONSE_TEXT}", "the result"
        )
        result = json.loads(shown)
        assert result["data"]["me"]["role"] == "ENTERPRISE_PURCHASER", result
        assert result["data"]["me"]["account"]["code"] == "ACME", result
        product = result["data"]["products"]["edges"][0]["node"]["id"]

        # A plain `{ me { role } }` typed into the editor runs too.
        await browser.evaluate(f"{QUERY_EDITOR}.CodeMirror.setValue('{{ me {{ role }} }}'), true")
        await browser.wait_for(PARSED, "GraphiQL to parse the edited query")
        await browser.evaluate(RUN)
        shown = await browser.wait_for(
            f"(() => {{ try {{ return Object.keys(JSON.parse({RESPONSE_TEXT}).data.me).length === 1"
            f" && {RESPONSE_TEXT} }} catch (e) {{ return false }} }})()",
            "the short result",
        )
        assert json.loads(shown) == {"data": {"me": {"role": "ENTERPRISE_PURCHASER"}}}

        # The subscription tab, over a WebSocket on /graphql with the headers' token.
        await browser.evaluate(
            "[...document.querySelectorAll('.graphiql-tab-button')]"
            ".find(b => b.textContent.includes('OrderEvents')).click(), true"
        )
        await browser.wait_for(
            f"{QUERY_EDITOR}.CodeMirror.getValue().includes('subscription OrderEvents')",
            "the subscription tab",
        )
        await browser.wait_for(PARSED, "GraphiQL to parse the subscription")
        await browser.evaluate(RUN)
        await browser.wait_for(
            "!!document.querySelector('.graphiql-execute-button[aria-label*=\"Stop\"]')",
            "the subscription to start",
        )
        await asyncio.sleep(1)  # let connection_init and subscribe reach the server
        key = f"graphiql-browser-{time.monotonic_ns()}"
        async with httpx.AsyncClient(timeout=10) as http:
            created = await http.post(
                server.http_url,
                headers={"Authorization": f"Bearer {PURCHASER}"},
                json={
                    "query": "mutation($input: CreatePurchaseOrderInput!) { createPurchaseOrder(input: $input) { purchaseOrder { id } } }",
                    "variables": {
                        "input": {
                            "lines": [{"productId": product, "quantity": 1}],
                            "idempotencyKey": key,
                        }
                    },
                },
            )
        po_id = created.json()["data"]["createPurchaseOrder"]["purchaseOrder"]["id"]
        shown = await browser.wait_for(
            f"{RESPONSE_TEXT}.includes({json.dumps(po_id)}) && {RESPONSE_TEXT}", "the live event"
        )
        event = json.loads(shown)["data"]["purchaseOrderEvents"]
        assert event["toStatus"] == "DRAFT", event
        assert event["purchaseOrder"]["id"] == po_id
        await browser.evaluate(RUN)  # stop the subscription

        assert not browser.exceptions, browser.exceptions
        requested = browser.requested
        assert f"{base}/graphql/static/graphiql.min.js" in requested, requested
        assert f"ws://127.0.0.1:{server.port}/graphql" in requested, requested
        assert not browser.offsite(), f"requests left localhost: {browser.offsite()}"
