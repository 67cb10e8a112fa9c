"""The "Edit Purchase Order" demo view: one PO at `/demo/po/{id}`, live, in plain HTML and JS.

The page is a static skeleton plus `static/demo/po.js` (no framework, no build step) and
`static/demo/po.css`, served by simgql under `/demo/static/`. The script reads the bearer
token from the URL fragment (`/demo/po/<id>#token=<JWT>`: a fragment never reaches the
server; it is removed from the address bar and kept in the tab's `sessionStorage` so a reload
still works), fetches the PO with one query over `POST /graphql`, renders it (status,
account, lines and SIMs, shipping, sales orders, history) and shows a button per entry of
`availableActions`. The note-only transitions run on a click (with `expectedVersion`);
reject, cancel and ship ask for their text first; `UPDATE` and `ASSIGN_SIMS` are shown
disabled with a hint (they need more input than a button gives). Errors are shown with their
`extensions.code` in the status line.

It follows the PO with a native WebSocket speaking `graphql-transport-ws` on `/graphql`:
`connection_init` carries `{authorization: "Bearer <JWT>"}`, the subscription is
`purchaseOrderStatusChanged(id:, after:)` with the last cursor seen, every event re-fetches
the PO, and a closed socket reconnects with exponential backoff, resuming after that cursor.

The page's Content-Security-Policy allows nothing but this server: scripts, styles and
connections (`connect-src 'self'` covers same-origin `ws://`/`wss://`); no inline script or
style, and Trusted Types with no policy, so the script cannot write HTML from strings.
"""

from __future__ import annotations

import html
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from simgql.api.ids import parse_id

STATIC_DIR = Path(__file__).resolve().parent / "static" / "demo"
STATIC_PATH = "/demo/static"
PAGE_PATH = "/demo/po/{id}"
GRAPHQL_PATH = "/graphql"
SCRIPTS = ("po.js",)
STYLESHEETS = ("po.css",)

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def demo_po_html(
    po_id: str, *, static_path: str = STATIC_PATH, graphql_path: str = GRAPHQL_PATH
) -> str:
    """The page skeleton for the PO `po_id`; `po.js` fills it in."""
    base = html.escape(static_path.rstrip("/"), quote=True)
    body = (
        f'data-po-id="{html.escape(po_id, quote=True)}" '
        f'data-graphql="{html.escape(graphql_path, quote=True)}"'
    )
    styles = "\n".join(f'    <link rel="stylesheet" href="{base}/{name}">' for name in STYLESHEETS)
    scripts = "\n".join(f'    <script src="{base}/{name}"></script>' for name in SCRIPTS)
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="referrer" content="no-referrer">
    <title>Purchase order - simgql demo</title>
    <link rel="icon" href="data:,">
{styles}
  </head>
  <body {body}>
    <header>
      <h1>Edit Purchase Order</h1>
      <p id="connection" data-state="offline">not connected</p>
    </header>
    <p id="status" role="status" aria-live="polite"></p>
    <p class="note-field">
      <label for="note">Note for the next action (optional)</label>
      <input id="note" type="text" maxlength="500" autocomplete="off">
    </p>
    <main id="po"><p>Loading the purchase order...</p></main>
    <noscript>This page needs JavaScript.</noscript>
{scripts}
  </body>
</html>
"""


def demo_routes(static_path: str = STATIC_PATH) -> list[BaseRoute]:
    """The demo page and its assets: put them in the app's routes (before `/graphql`)."""

    async def demo_po_page(request: Request) -> Response:
        """The page for any PurchaseOrder global ID (whether the viewer may see it is the
        API's answer, given to the script)."""
        po_id = str(request.path_params["id"])
        parsed = parse_id(po_id) if len(po_id) <= 200 else None
        if parsed is None or parsed[0] != "PurchaseOrder":
            return PlainTextResponse("not a purchase order id", status_code=404)
        return HTMLResponse(demo_po_html(po_id, static_path=static_path), headers=PAGE_HEADERS)

    return [
        Route(PAGE_PATH, demo_po_page, methods=["GET"], name="demo-po"),
        Mount(static_path, app=StaticFiles(directory=STATIC_DIR), name="demo-static"),
    ]
