"""Metrics (Prometheus) and the structured operation log."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterator
from typing import Any

from graphql import FieldNode, GraphQLSchema, OperationDefinitionNode
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from switchboard import documents, redisconn

log = logging.getLogger("switchboard.operations")

# Every label value comes from a fixed set, whatever clients send: the routes
# and methods we serve, the operation types, and the root fields of the schema.
ROUTES = ("/graphql", "/healthz", "/readyz", "/metrics")
METHODS = ("GET", "POST", "OPTIONS", "HEAD")
OTHER = "other"
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")


class RedisFallbacks(Collector):
    """``switchboard_redis_fallbacks_total{what}``: answers degraded because Redis was away (``redisconn``)."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "switchboard_redis_fallbacks",
            "Operations that fell back to a degraded mode because Redis did not serve them, by operation",
            labels=["what"],
        )
        for what, count in sorted(redisconn.FALLBACKS.items()):
            family.add_metric([what], count)
        yield family


class Telemetry:
    """One registry per app, so that several apps in one process (tests) stay apart."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(RedisFallbacks())
        # Each metric's child per label values (``child``): prometheus_client's ``labels`` checks the
        # values and takes a lock on every call, a few times per request. Every label has few values
        # (methods, routes, statuses, operation types, root fields of the schema or "other").
        self._children: dict[tuple[Any, ...], Any] = {}
        self.http_requests = Counter(
            "switchboard_http_requests_total", "HTTP requests", ["method", "path", "status"], registry=self.registry
        )
        self.http_latency = Histogram(
            "switchboard_http_request_seconds", "HTTP request latency", ["path"], registry=self.registry
        )
        self.operations = Counter(
            "switchboard_graphql_operations_total",
            "GraphQL operations by type and first root field (other: a field the schema does not have)",
            ["type", "field"],
            registry=self.registry,
        )
        self.operation_errors = Counter(
            "switchboard_graphql_errors_total",
            "GraphQL operations that returned errors",
            ["type"],
            registry=self.registry,
        )
        self.operation_latency = Histogram(
            "switchboard_graphql_operation_seconds", "GraphQL operation latency", ["type"], registry=self.registry
        )
        self.websockets = Gauge("switchboard_websockets_open", "Open WebSocket connections", registry=self.registry)
        self.events = Gauge(
            "switchboard_events_dispatched", "Events dispatched by this process since start", registry=self.registry
        )
        self.subscribers = Gauge(
            "switchboard_event_subscribers", "Live event subscribers in this process", registry=self.registry
        )
        self.document_cache_entries = Gauge(
            "switchboard_document_cache_entries", "Parsed documents cached in this process", registry=self.registry
        )
        self.document_cache_bytes = Gauge(
            "switchboard_document_cache_bytes",
            f"Bytes of query text of the cached documents (at most {documents.CACHE_BYTES})",
            registry=self.registry,
        )
        # Behind one port, ``switchboard serve --workers N`` answers from N processes; every
        # per-process figure above needs the process it came from to be read (or summed) right.
        self.process = Info("switchboard_process", "The server process that answered", registry=self.registry)

    def child(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, looked up once per label values."""
        key = (id(metric), *values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    @contextlib.contextmanager
    def open_websocket(self) -> Iterator[None]:
        """Counts a WebSocket as open for as long as the block runs."""
        self.websockets.inc()
        try:
            yield
        finally:
            self.websockets.dec()

    def render(self) -> bytes:
        entries, size = documents.cache_usage()
        self.document_cache_entries.set(entries)
        self.document_cache_bytes.set(size)
        self.process.info({"pid": str(os.getpid())})
        return generate_latest(self.registry)


class TelemetryMiddleware:
    """Counts HTTP requests and open WebSockets (pure ASGI: no buffering of bodies)."""

    def __init__(self, app: ASGIApp, telemetry: Telemetry) -> None:
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            with self.telemetry.open_websocket():
                await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        path = scope.get("path", "")
        route = path if path in ROUTES else OTHER
        method = scope.get("method", "")
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            method_label = method if method in METHODS else OTHER
            telemetry = self.telemetry
            telemetry.child(telemetry.http_requests, method_label, route, str(status)).inc()
            telemetry.child(telemetry.http_latency, route).observe(time.perf_counter() - started)


class OperationLog(SchemaExtension):
    """One log line per operation: name, type, first root field, duration, error count."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ec = self.execution_context
        elapsed = time.perf_counter() - started
        try:
            op_type = ec.operation_type.value
        except Exception:
            op_type = "unknown"
        field = root_field(ec)
        errors = len(ec.result.errors or []) if ec.result is not None else len(ec.pre_execution_errors or [])
        telemetry: Telemetry | None = _telemetry(ec.context)
        if telemetry is not None and op_type != "subscription":
            telemetry.child(telemetry.operations, op_type, field).inc()
            telemetry.child(telemetry.operation_latency, op_type).observe(elapsed)
            if errors:
                telemetry.child(telemetry.operation_errors, op_type).inc()
        # logfmt: one greppable line per operation; the name is the client's, so only a GraphQL name is written.
        name = ec.operation_name or "anonymous"
        name = name if _NAME.fullmatch(name) else "invalid"
        log.info(
            "operation=%s type=%s field=%s duration_ms=%.2f errors=%d", name, op_type, field, elapsed * 1000, errors
        )


def root_field(ec: ExecutionContext) -> str:
    """The first field the operation selects at its root, when the schema has it; else ``other``."""
    document = ec.graphql_document
    if document is None:
        return OTHER
    name = ec.operation_name
    operation = next(
        (
            d
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode) and (name is None or (d.name and d.name.value == name))
        ),
        None,
    )
    selection = operation.selection_set.selections[0] if operation and operation.selection_set.selections else None
    if operation is None or not isinstance(selection, FieldNode):
        return OTHER
    schema: GraphQLSchema = ec.schema._schema
    root = schema.get_root_type(operation.operation)
    field = selection.name.value
    return field if root is not None and (field in root.fields or field == "__typename") else OTHER


def _telemetry(context: Any) -> Telemetry | None:
    services = getattr(context, "services", None)
    return getattr(services, "telemetry", None) if services is not None else None
