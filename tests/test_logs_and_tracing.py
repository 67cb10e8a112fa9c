"""Structured logs with request id, user and operation; OpenTelemetry spans per operation."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from simgql.app import create_app
from simgql.db.engine import Database
from simgql.logs import JsonFormatter, RequestContext, TextFormatter, new_request_id
from simgql.settings import Settings
from tests.client import GraphQLClient
from tests.conftest import SECRET
from tests.factories import AGENT, make_tenant
from tests.server import ServerProcess, running_server

ME = "query WhoAmI { me { sub role } }"


@pytest.fixture(scope="module")
def json_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    with running_server(
        tmp_path_factory.mktemp("logs"),
        database_url=database_url,
        jwt_secret=SECRET,
        log_format="json",
        log_level="info",
    ) as proc:
        yield proc


def records(server: ServerProcess) -> list[dict[str, Any]]:
    lines = [line for line in server.output().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line must be JSON


def wait_for_record(server: ServerProcess, **wanted: Any) -> dict[str, Any]:
    for _ in range(50):
        for record in records(server):
            if all(record.get(k) == v for k, v in wanted.items()):
                return record
        time.sleep(0.1)
    raise AssertionError(f"no log record with {wanted}:\n{server.output()[-3000:]}")


def post(server: ServerProcess, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(server.http_url, json=body, headers=headers, timeout=10)


def test_each_operation_is_one_json_record_with_request_id_user_and_operation(
    json_server: ServerProcess,
) -> None:
    token = GraphQLClient(httpx.AsyncClient(), secret=SECRET).token(AGENT)
    response = post(
        json_server,
        {"query": ME, "operationName": "WhoAmI"},
        authorization=f"Bearer {token}",
        **{"x-request-id": "trace-me-1"},
    )

    assert response.status_code == 200
    assert response.headers["x-request-id"] == "trace-me-1"
    record = wait_for_record(json_server, request_id="trace-me-1", logger="simgql.operations")
    assert record["user"] == AGENT.sub
    assert record["operation"] == "WhoAmI"
    assert record["operation_type"] == "query"
    assert record["outcome"] == "ok"
    assert record["level"] == "info"
    assert isinstance(record["duration_ms"], float)
    assert token not in json_server.output()


def test_a_refused_operation_is_logged_with_its_error_code_and_no_user(
    json_server: ServerProcess,
) -> None:
    response = post(
        json_server,
        {"query": ME, "operationName": "WhoAmI"},
        authorization="Bearer forged.token.here",
        **{"x-request-id": "forged-1"},
    )

    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    record = wait_for_record(json_server, request_id="forged-1", logger="simgql.operations")
    assert record["outcome"] == "UNAUTHENTICATED"
    assert "user" not in record
    assert "forged.token.here" not in json_server.output()


@pytest.mark.parametrize("offered", [None, "", "has space", "x" * 129], ids=repr)
def test_without_a_sane_request_id_the_server_makes_one(
    json_server: ServerProcess, offered: str | None
) -> None:
    headers = {} if offered is None else {"x-request-id": offered}
    response = post(json_server, {"query": "{ __typename }"}, **headers)
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_text_format_appends_the_context() -> None:
    record = logging.makeLogRecord({"name": "simgql", "levelname": "INFO", "msg": "hello"})
    record.request_id, record.user, record.operation = "r1", "u1", None
    line = TextFormatter().format(record)
    assert line.endswith("hello [request_id=r1 user=u1]")


def test_json_format_keeps_extras_and_exceptions() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.makeLogRecord(
            {"name": "simgql", "levelname": "ERROR", "msg": "failed %s", "args": ("x",)}
        )
        record.exc_info = sys.exc_info()
    record.order = 7
    RequestContext().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "failed x"
    assert entry["order"] == 7
    assert "ValueError: boom" in entry["exception"]
    assert "request_id" not in entry  # outside a request


def test_request_ids_are_kept_only_when_sane() -> None:
    assert new_request_id("abc-DEF_1.2:3") == "abc-DEF_1.2:3"
    assert new_request_id("a b") != "a b"
    assert new_request_id(None) != new_request_id(None)


# --- tracing ---------------------------------------------------------------------------


@pytest.fixture
async def traced(db: Database, settings: Settings) -> Any:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(settings, db=db, tracer_provider=provider)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://simgql.test") as http:
        yield GraphQLClient(http, secret=SECRET), exporter


async def test_an_operation_is_a_server_span_continuing_the_callers_trace(traced: Any) -> None:
    client, exporter = traced
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = await client.http.post(
        client.path,
        json={"query": ME, "operationName": "WhoAmI"},
        headers={
            "authorization": f"Bearer {client.token(AGENT)}",
            "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
            "x-request-id": "span-1",
        },
    )

    assert response.status_code == 200
    spans = {s.name: s for s in exporter.get_finished_spans()}
    operation = spans["query WhoAmI"]
    assert operation.kind is SpanKind.SERVER
    assert format(operation.context.trace_id, "032x") == trace_id
    assert operation.attributes["graphql.operation.name"] == "WhoAmI"
    assert operation.attributes["enduser.role"] == "SP_AGENT"
    assert operation.attributes["simgql.outcome"] == "ok"
    assert operation.attributes["simgql.request_id"] == "span-1"
    for step in ("graphql.parse", "graphql.validate", "graphql.execute"):
        assert spans[step].parent is not None
        assert spans[step].parent.span_id == operation.context.span_id
    # Documents and tokens may hold customer data: never on a span.
    assert all("query" not in key for key in operation.attributes)


async def test_a_refused_operation_span_carries_its_code(traced: Any, db: Database) -> None:
    client, exporter = traced
    tenant = await make_tenant(db)
    result = await client.run(
        tenant.viewer,
        'mutation Cancel { cancelPurchaseOrder(input: {id: "nope"}) { purchaseOrder { id } } }',
    )

    assert result.codes == ["BAD_USER_INPUT"]
    span = next(s for s in exporter.get_finished_spans() if s.name == "mutation Cancel")
    assert span.attributes["simgql.outcome"] == "BAD_USER_INPUT"


def test_without_opentelemetry_nothing_is_added(monkeypatch: pytest.MonkeyPatch) -> None:
    from simgql import tracing

    monkeypatch.setattr(tracing, "available", lambda: False)
    assert tracing.tracing_extensions("auto") == []
    assert tracing.tracing_extensions("off") == []
    with pytest.raises(RuntimeError, match="opentelemetry"):
        tracing.tracing_extensions("console")


def test_the_console_mode_installs_an_sdk_provider() -> None:
    from simgql import tracing

    assert isinstance(tracing.tracer_provider_for("console"), TracerProvider)
    assert tracing.tracer_provider_for("auto") is None


def test_auto_traces_only_into_a_provider_the_process_has(monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry import trace

    from simgql import tracing

    assert tracing.tracing_extensions("auto") == []  # the API's default: nowhere to send
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: TracerProvider())
    assert len(tracing.tracing_extensions("auto")) == 1
