"""Generated documentation: the configuration table and the lifecycle diagrams.

Everything here renders text from the code that defines the behaviour (the `Settings` class,
`LIFECYCLE`, `SALES_ORDER_STEPS`), so the docs cannot drift from it unnoticed:
`tests/test_docs.py` compares the committed docs with what these functions render now.

The rendered text lives in the docs between markers::

    <!-- generated:NAME -->
    ...
    <!-- /generated:NAME -->

`python -m simgql.docs` (from the repository root) rewrites every marked section;
`python -m simgql.docs --check` only reports the stale ones. Only `main()` touches files.
"""

from __future__ import annotations

import argparse
import re
import sys
import types
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo

from simgql.domain.fulfilment import OPEN_STATUSES, SALES_ORDER_STEPS, SalesOrderStatus
from simgql.domain.lifecycle import LIFECYCLE, PURCHASER_AND_SP, TERMINAL_STATUSES, Transition
from simgql.domain.model import PurchaseOrderStatus, Role
from simgql.settings import Settings

ENV_PREFIX = "SIMGQL_"

# One line per setting: what it does. A setting without a line here makes the docs test fail.
DESCRIPTIONS: dict[str, str] = {
    "database_url": (
        "database: `postgresql://…` (asyncpg) in production, SQLite embedded; plain "
        "`postgresql://`, `postgres://` and `sqlite://` URLs get the async driver"
    ),
    "broadcast_url": (
        "broadcast channel that wakes the other processes for subscriptions: `memory://` "
        "(one process), `redis://…` or `postgres://…`"
    ),
    "env": (
        "`development` or `production`; `production` refuses to start with the demo secret, "
        "a short secret or no way to verify tokens (see security.md)"
    ),
    "jwt_secret": (
        "HMAC (HS256) secret of the bearer tokens, at least 32 bytes in production; `serve` "
        "warns while it is the demo secret"
    ),
    "jwt_algorithms": (
        'JSON list of the accepted token algorithms, e.g. `["RS256"]` with an identity '
        "provider; `none` is never accepted"
    ),
    "jwt_issuer": "required `iss` of every token; unset: not checked",
    "jwt_audience": (
        "required `aud` of every token; unset: tokens that name an audience are refused"
    ),
    "jwt_jwks": (
        "public keys for RS/PS/ES/EdDSA tokens: a JWKS file path or the JSON document; "
        "restart to rotate keys"
    ),
    "jwt_leeway_seconds": "clock skew allowed on `exp`, `nbf` and `iat` (at most 300)",
    "https": (
        "the service is reached over HTTPS (a TLS proxy): responses carry Strict-Transport-Security"
    ),
    "host": "address `simgql serve` listens on (`--host` overrides it)",
    "port": "port `simgql serve` listens on (`--port` overrides it)",
    "allowed_origins": (
        "JSON list of other origins whose pages may call the API (CORS) and open WebSockets "
        "(same-origin pages and non-browser clients always may)"
    ),
    "db_pool_size": (
        "PostgreSQL connections: the pool opens up to twice this many, on demand, and keeps them"
    ),
    "ws_keep_alive_seconds": "keep-alive / ping interval on WebSockets",
    "ws_connection_init_timeout_seconds": (
        "time a WebSocket client has to send `connection_init` (else closed with 4408)"
    ),
    "max_subscriptions_per_connection": "subscription operations allowed on one WebSocket",
    "subscriber_queue_size": (
        "events a subscription may fall behind before it is dropped with `RATE_LIMITED`"
    ),
    "event_poll_seconds": "safety-net poll of the event log when the broadcast channel is quiet",
    "broker_heartbeat_seconds": (
        "broadcast heartbeat interval; three missed heartbeats rebuild the connection"
    ),
    "sales_order_job": (
        "the sales order request job inside `serve`: `immediate` (woken by provisioning "
        "and retries, and on the interval), `scheduled` (interval only) or `off`"
    ),
    "sales_order_job_interval_seconds": "how often the request job looks for waiting orders",
    "fraud_check": (
        "`package.module:callable` of a custom fraud check; unset: the built-in deny lists"
    ),
    "max_query_depth": "deepest field nesting an operation may have (`QUERY_TOO_COMPLEX`)",
    "max_query_aliases": "aliases one operation may use (`QUERY_TOO_COMPLEX`)",
    "max_query_directives": "directives one operation may use (`QUERY_TOO_COMPLEX`)",
    "max_query_cost": (
        "estimated cost one operation may have: 1 per field, a list's selection counted once "
        "per item of its page (`QUERY_TOO_COMPLEX`)"
    ),
    "max_query_tokens": "lexical tokens one query document may have (`QUERY_TOO_COMPLEX`)",
    "introspection": "whether `__schema` / `__type` introspection is allowed",
    "max_body_bytes": "largest HTTP request body accepted (larger: 400)",
    "execution_timeout_seconds": (
        "longest an HTTP operation may run before it is stopped (`QUERY_TOO_COMPLEX`)"
    ),
    "compiled_execution": (
        "run queries through compiled plans (same answers, less CPU); `false`: always the "
        "standard executor"
    ),
    "gc_gen0_threshold": (
        "allocations between collections of Python's youngest generation (`0`: Python's "
        "default, 700); fewer collections, less CPU per request"
    ),
    "rate_limit_enabled": "whether each caller's operations are rate limited by their cost",
    "rate_limit_per_second": "cost units a caller's bucket refills per second",
    "rate_limit_burst": "cost units a caller's bucket holds when full",
    "rate_limit_url": (
        "`redis://…` to share the rate-limit buckets between processes; unset: per process"
    ),
    "sql_echo": "log every SQL statement (SQLAlchemy `echo`)",
    "log_level": "log level: `debug`, `info`, `warning`, `error` or `critical`",
    "log_format": (
        "`text` (a line per record) or `json` (one JSON object per line with time, level, "
        "logger, message, `request_id`, `user`, `operation`; for log pipelines)"
    ),
    "tracing": (
        "OpenTelemetry: `auto` (trace into the process's provider when `opentelemetry-api` "
        "is installed), `console`, `otlp` (standard `OTEL_EXPORTER_OTLP_*` variables) or "
        "`off`; see docs/observability.md"
    ),
}

# Defaults that would mislead when printed as they are.
_SHOWN_DEFAULTS: dict[str, str] = {
    "jwt_secret": "the public demo secret",
}


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def missing_descriptions(fields: Iterable[str] | None = None) -> list[str]:
    """Settings fields without a line in `DESCRIPTIONS`."""
    names = Settings.model_fields if fields is None else fields
    return [name for name in names if name not in DESCRIPTIONS]


def unknown_descriptions() -> list[str]:
    """Lines in `DESCRIPTIONS` for fields `Settings` no longer has."""
    return [name for name in DESCRIPTIONS if name not in Settings.model_fields]


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and not isinstance(annotation, types.GenericAlias):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _default_value(field: FieldInfo) -> Any:
    return field.get_default(call_default_factory=True, validated_data={})


def _shown_default(name: str, field: FieldInfo, home: str) -> str:
    if name in _SHOWN_DEFAULTS:
        return _SHOWN_DEFAULTS[name]
    value = _default_value(field)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list):
        text = "[]" if not value else repr(value)
    else:
        text = str(value)
    if home and home != "/":
        text = text.replace(home, "~")  # the same table on every machine
    return _code(text)


def _code(text: str) -> str:
    return f"`{text}`"


def _cell(text: str) -> str:
    """Table cell text: pipes escaped (GitHub honours `\\|` inside code spans in tables)."""
    return text.replace("|", "\\|")


def render_config_table(home: str | None = None) -> str:
    """The markdown table of every setting: variable, type, default, meaning."""
    missing = missing_descriptions()
    if missing:
        raise ValueError(
            "settings without a description in simgql.docs.DESCRIPTIONS: " + ", ".join(missing)
        )
    home = str(Path.home()) if home is None else home
    rows = [
        "| variable | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        cells = (
            _code(env_name(name)),
            _code(_type_name(field.annotation)),
            _shown_default(name, field, home),
            DESCRIPTIONS[name],
        )
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(rows)


def _roles(roles: Iterable[Role]) -> str:
    order = list(Role)
    return ", ".join(r.value for r in sorted(roles, key=order.index))


def _guard_name(t: Transition) -> str | None:
    if t.guard is None:
        return None
    return t.guard.__name__.strip("_").replace("_", " ")


def _po_statuses(statuses: Iterable[PurchaseOrderStatus]) -> list[PurchaseOrderStatus]:
    order = list(PurchaseOrderStatus)
    return sorted(statuses, key=order.index)


def render_po_lifecycle() -> str:
    """The PO lifecycle as a Mermaid state diagram, one edge per (row, from-status)."""
    lines = [
        "```mermaid",
        "stateDiagram-v2",
        # Creation is not a transition of the table; `create_purchase_order` checks these roles.
        f"    [*] --> {PurchaseOrderStatus.DRAFT.value}: create by {_roles(PURCHASER_AND_SP)}",
    ]
    for t in LIFECYCLE:
        label = f"{t.action.value} by {_roles(t.roles)}"
        guard = _guard_name(t)
        if guard:
            label += f" if {guard}"
        for source in _po_statuses(t.from_statuses):
            lines.append(f"    {source.value} --> {t.to_status.value}: {label}")
    for status in _po_statuses(TERMINAL_STATUSES):
        lines.append(f"    {status.value} --> [*]")
    lines.append("```")
    return "\n".join(lines)


def render_po_lifecycle_table() -> str:
    """The rows of `LIFECYCLE` as a markdown table (for readers without Mermaid)."""
    rows = ["| action | from | to | roles | only if |", "|---|---|---|---|---|"]
    for t in LIFECYCLE:
        sources = ", ".join(s.value for s in _po_statuses(t.from_statuses))
        rows.append(
            f"| `{t.action.value}` | {sources} | {t.to_status.value} | {_roles(t.roles)} "
            f"| {_guard_name(t) or ''} |"
        )
    return "\n".join(rows)


def render_po_section() -> str:
    return render_po_lifecycle() + "\n\n" + render_po_lifecycle_table()


def render_sales_order_lifecycle() -> str:
    """The sales-order life (`SALES_ORDER_STEPS`) as a Mermaid state diagram."""
    order = list(SalesOrderStatus)
    lines = [
        "```mermaid",
        "stateDiagram-v2",
        # Sales orders are created waiting for the request job (at start of provisioning).
        f"    [*] --> {SalesOrderStatus.AWAITING_GENERATION.value}: start provisioning",
    ]
    for step, (sources, target) in SALES_ORDER_STEPS.items():
        for source in sorted(sources, key=order.index):
            lines.append(f"    {source.value} --> {target.value}: {step.value}")
    for status in order:
        if status not in OPEN_STATUSES:
            lines.append(f"    {status.value} --> [*]")
    lines.append("```")
    return "\n".join(lines)


# (file under docs/, marker name) -> renderer
SECTIONS: dict[tuple[str, str], Callable[[], str]] = {
    ("configuration.md", "config"): render_config_table,
    ("lifecycle.md", "po-lifecycle"): render_po_section,
    ("lifecycle.md", "sales-order-lifecycle"): render_sales_order_lifecycle,
}


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- generated:{name} -->", f"<!-- /generated:{name} -->"


def _section_pattern(name: str) -> re.Pattern[str]:
    start, end = _markers(name)
    return re.compile(re.escape(start) + r"\n(.*?)" + re.escape(end), re.DOTALL)


def extract_section(text: str, name: str) -> str:
    """The text between the markers of `name` (without the final newline)."""
    match = _section_pattern(name).search(text)
    if match is None:
        start, end = _markers(name)
        raise ValueError(f"markers {start} ... {end} not found")
    return match.group(1).removesuffix("\n")


def replace_section(text: str, name: str, content: str) -> str:
    """`text` with the section `name` holding `content`."""
    extract_section(text, name)  # the markers must be there
    start, end = _markers(name)
    return _section_pattern(name).sub(lambda _m: f"{start}\n{content}\n{end}", text, count=1)


def render_file(text: str, file_name: str) -> str:
    """`text` (the content of docs/`file_name`) with each of its sections rendered afresh."""
    for (name_of_file, section), render in SECTIONS.items():
        if name_of_file == file_name:
            text = replace_section(text, section, render())
    return text


def files() -> list[str]:
    return sorted({file_name for file_name, _ in SECTIONS})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simgql.docs", description="Rewrite the generated sections of the docs."
    )
    parser.add_argument("--docs-dir", type=Path, default=Path("docs"), help="default: ./docs")
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 when a section is stale"
    )
    args = parser.parse_args(argv)
    stale = []
    for file_name in files():
        path = args.docs_dir / file_name
        if not path.is_file():
            print(f"error: {path} not found (run from the repository root)", file=sys.stderr)
            return 2
        text = path.read_text(encoding="utf-8")
        fresh = render_file(text, file_name)
        if fresh == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(fresh, encoding="utf-8")
    for path in stale:
        print(f"{'stale' if args.check else 'rewrote'}: {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
