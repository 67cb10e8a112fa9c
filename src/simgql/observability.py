"""Prometheus metrics of one server process."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from strawberry.extensions import SchemaExtension

from simgql import logs

MAX_OPERATION_NAMES = 200
operations_log = logging.getLogger("simgql.operations")


class Metrics:
    """The process's registry; one per app, so tests and workers never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "simgql_operations",
            "GraphQL operations by name, type and outcome (the first error code, or ok)",
            ["operation", "type", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "simgql_operation_seconds",
            "GraphQL operation time, by type",
            ["type"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.published = Counter(
            "simgql_events_published", "Events handed to the broadcast bus", registry=self.registry
        )
        self.delivered = Counter(
            "simgql_events_delivered", "Events sent to subscribers", registry=self.registry
        )
        self.subscription_executions = Counter(
            "simgql_subscription_executions",
            "Executions of subscription events; identical subscriptions share one per event",
            registry=self.registry,
        )
        self.query_executions = Counter(
            "simgql_query_executions",
            "Query executions by path: compiled, fallback (compiled run abandoned, answered by "
            "the standard executor) or standard (document not compilable)",
            ["path"],
            registry=self.registry,
        )
        self.websockets = Gauge(
            "simgql_websocket_connections", "Open WebSocket connections", registry=self.registry
        )
        self.in_flight = Gauge(
            "simgql_http_requests_in_flight",
            "GraphQL HTTP requests being handled",
            registry=self.registry,
        )
        self.gauges = {
            name: Gauge(name, text, registry=self.registry)
            for name, text in (
                ("simgql_subscriptions", "Live subscriptions on this process"),
                ("simgql_event_log_position", "Last event id handed to subscribers"),
                ("simgql_broker_connected", "1 when the broadcast connection is up"),
                ("simgql_broker_reconnects", "Broadcast connections rebuilt since start"),
                ("simgql_db_connections_in_use", "Database connections checked out of the pool"),
                ("simgql_sales_orders_waiting", "Sales orders awaiting generation (job queue)"),
            )
        }
        self._names: set[str] = set()

    def operation_label(self, name: str | None) -> str:
        """Client-chosen names are bounded: past a limit they are counted as `other`."""
        if not name:
            return "anonymous"
        if name in self._names or len(self._names) < MAX_OPERATION_NAMES:
            self._names.add(name)
            return name[:100]
        return "other"

    def record(self, *, name: str | None, kind: str, outcome: str, seconds: float) -> None:
        self.requests.labels(self.operation_label(name), kind, outcome).inc()
        self.latency.labels(kind).observe(seconds)

    def set(self, name: str, value: float) -> None:
        self.gauges[name].set(value)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class RecordMetrics(SchemaExtension):
    """Counts and times every operation, HTTP and WebSocket alike."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        logs.operation.set(self.execution_context.operation_name)
        yield
        metrics: Metrics | None = getattr(self.execution_context.context, "metrics", None)
        if metrics is None:
            return
        try:
            kind = self.execution_context.operation_type.value
        except RuntimeError:
            kind = "unknown"  # the document did not parse
        result: Any = self.execution_context.result
        errors = getattr(result, "errors", None) or self.execution_context.pre_execution_errors
        outcome = "ok"
        if errors:
            outcome = str((errors[0].extensions or {}).get("code", "error"))
        seconds = time.perf_counter() - started
        name = self.execution_context.operation_name
        metrics.record(name=name, kind=kind, outcome=outcome, seconds=seconds)
        logs.operation.set(name)
        operations_log.info(
            "%s %s: %s in %.1f ms",
            kind,
            name or "(anonymous)",
            outcome,
            seconds * 1000,
            extra={"operation_type": kind, "outcome": outcome, "duration_ms": seconds * 1000},
        )
