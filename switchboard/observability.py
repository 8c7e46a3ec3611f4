"""Metrics (Prometheus) and the structured operation log."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

log = logging.getLogger("switchboard.operations")


class Telemetry:
    """One registry per app, so that several apps in one process (tests) stay apart."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "switchboard_http_requests_total", "HTTP requests", ["method", "path", "status"], registry=self.registry
        )
        self.http_latency = Histogram(
            "switchboard_http_request_seconds", "HTTP request latency", ["path"], registry=self.registry
        )
        self.operations = Counter(
            "switchboard_graphql_operations_total", "GraphQL operations", ["type", "name"], registry=self.registry
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

    @contextlib.contextmanager
    def open_websocket(self) -> Iterator[None]:
        """Counts a WebSocket as open for as long as the block runs."""
        self.websockets.inc()
        try:
            yield
        finally:
            self.websockets.dec()

    def render(self) -> bytes:
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
        route = path if path in ("/graphql", "/healthz", "/readyz", "/metrics") else "other"
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.telemetry.http_requests.labels(scope.get("method", ""), route, str(status)).inc()
            self.telemetry.http_latency.labels(route).observe(time.perf_counter() - started)


class OperationLog(SchemaExtension):
    """One log line per operation: name, type, duration, error count."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ec = self.execution_context
        elapsed = time.perf_counter() - started
        try:
            op_type = ec.operation_type.value
        except Exception:
            op_type = "unknown"
        name = ec.operation_name or "anonymous"
        errors = len(ec.errors or []) if hasattr(ec, "errors") else 0
        if ec.result is not None and getattr(ec.result, "errors", None):
            errors = len(ec.result.errors or [])
        telemetry: Telemetry | None = _telemetry(ec.context)
        if telemetry is not None and op_type != "subscription":
            telemetry.operations.labels(op_type, name[:60]).inc()
            telemetry.operation_latency.labels(op_type).observe(elapsed)
            if errors:
                telemetry.operation_errors.labels(op_type).inc()
        # logfmt: one greppable line per operation.
        log.info("operation=%s type=%s duration_ms=%.2f errors=%d", name, op_type, elapsed * 1000, errors)


def _telemetry(context: Any) -> Telemetry | None:
    services = getattr(context, "services", None)
    return getattr(services, "telemetry", None) if services is not None else None
