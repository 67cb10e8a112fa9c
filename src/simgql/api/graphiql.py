"""Our GraphiQL page: every asset is served by simgql itself, so it works with no internet.

Strawberry's own page loads GraphiQL and React from a CDN and stays blank offline. This one
loads the standalone browser builds vendored in `static/graphiql/` (see the README there for
versions and licences), served under `/graphql/static/` by `static_mount()`. The headers
editor starts with a bearer-token placeholder (or the token passed in the URL fragment as
`#token=...`, which never reaches the server); the tabs hold example operations for each role.
Subscriptions go over `graphql-transport-ws` on the page's own URL, with the headers editor's
`Authorization` sent in `connection_init`.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static" / "graphiql"
STATIC_PATH = "/graphql/static"
TOKEN_PLACEHOLDER = "<paste a token from 'simgql serve --demo'>"

SCRIPTS = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "simgql-graphiql.js",
)
STYLESHEETS = ("graphiql.min.css", "simgql-graphiql.css")

# What the page may load and where it may connect: only this server. GraphiQL and React set
# inline styles, so styles need 'unsafe-inline'; scripts do not (the page's configuration is
# a JSON data block, not code). `connect-src 'self'` covers same-origin ws:// and wss://.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


@dataclass(frozen=True)
class ExampleTab:
    """One GraphiQL tab: who it is for, the document and its variables."""

    roles: str
    query: str
    variables: dict[str, Any] | None = None


EXAMPLE_TABS: tuple[ExampleTab, ...] = (
    ExampleTab(
        roles="any role (ENTERPRISE_VIEWER, ENTERPRISE_PURCHASER, SP_AGENT, ...)",
        query="""\
# simgql GraphiQL. Put a bearer token in the Headers tab
# below ('simgql serve --demo' prints one per role; or open
# /graphql#token=<token>), then press the run button.
# The other tabs: a mutation per role, a live subscription.
#
# Any role. Enterprise roles see their own account,
# service-provider roles see every account.
query MyOrders {
  me {
    role
    sub
    account {
      code
      name
    }
  }
  purchaseOrders(first: 10) {
    totalCount
    edges {
      node {
        id
        number
        status
        version
        total {
          amount
          currency
        }
        availableActions
      }
    }
  }
  products(first: 10) {
    edges {
      node {
        id
        code
        name
        unitPrice {
          amount
          currency
        }
      }
    }
  }
}
""",
    ),
    ExampleTab(
        roles="ENTERPRISE_PURCHASER",
        query="""\
# ENTERPRISE_PURCHASER token. Put a product id from the
# first tab in the variables, run CreateOrder (the run
# button asks which operation), put the new PO's id in
# "id" and run SubmitOrder. The same idempotencyKey returns
# the first PO instead of a second one: change it per PO.
mutation CreateOrder($input: CreatePurchaseOrderInput!) {
  createPurchaseOrder(input: $input) {
    purchaseOrder {
      id
      status
      version
      total {
        amount
        currency
      }
      availableActions
    }
  }
}

mutation SubmitOrder($id: ID!) {
  submitPurchaseOrder(input: {id: $id}) {
    purchaseOrder {
      id
      status
      version
      availableActions
    }
  }
}
""",
        variables={
            "input": {
                "lines": [{"productId": "<a product id from the first tab>", "quantity": 10}],
                "shippingAddress": {
                    "recipient": "Jane Doe",
                    "company": "Acme Logistics GmbH",
                    "street": ["Hafenstrasse 1"],
                    "city": "Hamburg",
                    "postalCode": "20457",
                    "country": "DE",
                },
                "idempotencyKey": "graphiql-example-1",
            },
            "id": "<the id CreateOrder returned>",
        },
    ),
    ExampleTab(
        roles="SP_AGENT",
        query="""\
# SP_AGENT token. Run SubmittedOrders, put one PO's id in
# the variables, run AcceptOrder (it assigns the PO number).
# Give expectedVersion to refuse a PO changed meanwhile.
query SubmittedOrders {
  purchaseOrders(first: 20, filter: {status: [SUBMITTED]}) {
    edges {
      node {
        id
        status
        version
        createdAt
        account {
          code
        }
      }
    }
  }
}

mutation AcceptOrder($id: ID!, $expectedVersion: Int) {
  acceptPurchaseOrder(input: {id: $id, expectedVersion: $expectedVersion}) {
    purchaseOrder {
      id
      number
      status
      version
      availableActions
    }
  }
}
""",
        variables={"id": "<a SUBMITTED purchase order id>", "expectedVersion": None},
    ),
    ExampleTab(
        roles="any role",
        query="""\
# Any role: live events of every PO your token may see,
# over a WebSocket. Start it, run a mutation in another tab
# or window, and watch the events arrive. Set "after" to an
# event's cursor to replay everything since that event.
subscription OrderEvents($statuses: [PurchaseOrderStatus!], $after: String) {
  purchaseOrderEvents(statuses: $statuses, after: $after) {
    cursor
    fromStatus
    toStatus
    actor
    note
    occurredAt
    purchaseOrder {
      id
      number
      status
      account {
        code
      }
    }
  }
}
""",
        variables={"statuses": None, "after": None},
    ),
)


def default_headers(token: str = TOKEN_PLACEHOLDER) -> str:
    """The headers editor's text: an Authorization header with `token`."""
    return json.dumps({"Authorization": f"Bearer {token}"}, indent=2)


def page_config() -> dict[str, Any]:
    """What `simgql-graphiql.js` boots GraphiQL with (JSON, embedded in the page)."""
    headers = default_headers()
    return {
        "tokenPlaceholder": TOKEN_PLACEHOLDER,
        "defaultHeaders": headers,
        "tabs": [
            {
                "query": tab.query,
                "variables": None if tab.variables is None else json.dumps(tab.variables, indent=2),
                "headers": headers,
            }
            for tab in EXAMPLE_TABS
        ],
    }


def _json_for_script(value: object) -> str:
    """JSON that cannot end the `<script>` element holding it."""
    text = json.dumps(value)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def graphiql_html(*, static_path: str = STATIC_PATH) -> str:
    """The GraphiQL page; every script and stylesheet comes from `static_path` on this server."""
    base = html.escape(static_path.rstrip("/"), quote=True)
    styles = "\n".join(f'    <link rel="stylesheet" href="{base}/{name}">' for name in STYLESHEETS)
    scripts = "\n".join(f'    <script src="{base}/{name}"></script>' for name in SCRIPTS)
    config = _json_for_script(page_config())
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="referrer" content="no-referrer">
    <title>simgql GraphiQL</title>
    <link rel="icon" href="data:,">
{styles}
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL...</div>
    <noscript>GraphiQL needs JavaScript.</noscript>
    <script type="application/json" id="simgql-graphiql-config">{config}</script>
{scripts}
  </body>
</html>
"""


def graphiql_response(*, static_path: str = STATIC_PATH) -> HTMLResponse:
    """The page as a response, with a Content-Security-Policy that keeps it on this server."""
    return HTMLResponse(
        graphiql_html(static_path=static_path),
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache",
        },
    )


def static_mount(path: str = STATIC_PATH) -> Mount:
    """Serve the vendored GraphiQL assets under `path` (put it before the `/graphql` route)."""
    return Mount(path, app=StaticFiles(directory=STATIC_DIR), name="graphiql-static")
