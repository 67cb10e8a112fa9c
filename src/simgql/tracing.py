"""OpenTelemetry tracing, when its packages are installed.

One span per GraphQL operation (HTTP or WebSocket), continuing the caller's trace when the
request carries a W3C `traceparent`, with parse, validation and execution as child spans.
Attributes name the operation, its type and outcome, the request id and the caller's role;
never the document, variables or token, which may hold customer data.

`SIMGQL_TRACING`:
- `auto` (default): trace when `opentelemetry-api` is installed and the process has a
  tracer provider when the app is created (e.g. set up by `opentelemetry-instrument`);
  otherwise nothing is added, so an untraced server pays nothing per operation;
- `console`: install the SDK's provider printing spans to stdout (needs `opentelemetry-sdk`);
- `otlp`: install the SDK's provider exporting over OTLP/HTTP to the endpoint of the
  standard `OTEL_EXPORTER_OTLP_*` variables (needs `opentelemetry-exporter-otlp-proto-http`);
- `off`: no tracing.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator
from typing import Any

from strawberry.extensions import SchemaExtension

from simgql import logs

log = logging.getLogger("simgql.tracing")


def available() -> bool:
    return importlib.util.find_spec("opentelemetry") is not None


def tracer_provider_for(mode: str) -> Any:
    """The provider to trace into for this mode; None for the process's global one."""
    if mode in ("auto", "off"):
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError as exc:
        raise RuntimeError(
            f"SIMGQL_TRACING={mode} needs opentelemetry-sdk: pip install 'simgql[tracing]'"
        ) from exc
    provider = TracerProvider(resource=Resource.create({"service.name": "simgql"}))
    if mode == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        return provider
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        raise RuntimeError(
            "SIMGQL_TRACING=otlp needs opentelemetry-exporter-otlp-proto-http"
        ) from exc
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def extension(provider: Any) -> type[SchemaExtension]:
    """The schema extension tracing into `provider` (None: the global provider)."""
    from opentelemetry import propagate, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode

    tracer = trace.get_tracer("simgql", tracer_provider=provider)

    class TraceOperations(SchemaExtension):
        # Spans are started and ended explicitly, never made "current": a subscription's
        # operation outlives the task context it began in, and detaching there would fail.
        span: Any = None

        def on_operation(self) -> Iterator[None]:
            context = self.execution_context.context
            request = getattr(context, "request", None)
            headers = getattr(request, "headers", None)
            parent = propagate.extract(dict(headers)) if headers is not None else None
            span = self.span = tracer.start_span("graphql", context=parent, kind=SpanKind.SERVER)
            rid = logs.request_id.get()
            if rid:
                span.set_attribute("simgql.request_id", rid)
            try:
                yield
            finally:
                self._finish(span)
                span.end()

        def _finish(self, span: Any) -> None:
            execution = self.execution_context
            try:
                kind = execution.operation_type.value
            except RuntimeError:
                kind = "unknown"
            name = execution.operation_name
            span.update_name(f"{kind} {name}" if name else kind)
            span.set_attribute("graphql.operation.type", kind)
            if name:
                span.set_attribute("graphql.operation.name", name)
            viewer = getattr(execution.context, "viewer_or_error", None)
            role = getattr(getattr(viewer, "role", None), "value", None)
            if role:
                span.set_attribute("enduser.role", role)
            result = execution.result
            errors = getattr(result, "errors", None) or execution.pre_execution_errors
            code = str((errors[0].extensions or {}).get("code", "error")) if errors else "ok"
            span.set_attribute("simgql.outcome", code)
            if code == "INTERNAL_SERVER_ERROR":
                span.set_status(Status(StatusCode.ERROR, code))

        def _child(self, name: str) -> Iterator[None]:
            parent = trace.set_span_in_context(self.span) if self.span is not None else None
            child = tracer.start_span(name, context=parent)
            try:
                yield
            finally:
                child.end()

        def on_parse(self) -> Iterator[None]:
            yield from self._child("graphql.parse")

        def on_validate(self) -> Iterator[None]:
            yield from self._child("graphql.validate")

        def on_execute(self) -> Iterator[None]:
            yield from self._child("graphql.execute")

    return TraceOperations


def tracing_extensions(mode: str, provider: Any = None) -> list[type[SchemaExtension]]:
    """What `build_schema` adds for this mode (nothing when OpenTelemetry is absent)."""
    if mode == "off":
        return []
    if not available():
        if mode != "auto":
            raise RuntimeError(f"SIMGQL_TRACING={mode} needs the opentelemetry packages")
        return []
    chosen = provider if provider is not None else tracer_provider_for(mode)
    if chosen is None and not _global_provider_set():
        return []  # `auto` with nowhere to send spans: no per-operation cost at all
    return [extension(chosen)]


def _global_provider_set() -> bool:
    """Whether the process has a real tracer provider (the API's default is a no-op proxy)."""
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    return type(provider).__name__ not in ("ProxyTracerProvider", "NoOpTracerProvider")
