"""The ASGI application: GraphQL over HTTP and WebSocket, health, readiness, metrics."""

from __future__ import annotations

import contextlib
import gc
import html
import logging
import sys
from collections.abc import AsyncIterator
from typing import Any

from redis.exceptions import RedisClusterException, RedisError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard import db, redisconn, serving, web, wsconnection
from switchboard import settings as settings_module
from switchboard.bodylimit import RequestBodyLimit
from switchboard.events.transport import RedisTransport
from switchboard.graphql.context import Context
from switchboard.graphql.schema import schema
from switchboard.graphql_http import GraphQLOverHTTP
from switchboard.observability import Telemetry, TelemetryMiddleware
from switchboard.runtime import process
from switchboard.runtime.process import Services
from switchboard.settings import Settings

log = logging.getLogger(__name__)


class GraphQLEndpoint(GraphQLOverHTTP):
    websocket_adapter_class = wsconnection.WebSocketAdapter  # type: ignore[assignment]
    graphql_transport_ws_handler_class = wsconnection.TransportWSHandler
    graphql_ws_handler_class = wsconnection.LegacyWSHandler

    async def get_context(self, request: Any, response: Any) -> Context:
        services: Services = request.app.state.services
        context = Context(services, request=request)
        await context.authenticate(request.headers.get("authorization"))
        return context

    async def get_root_value(self, request: Any) -> None:
        return None

    async def render_graphql_ide(self, request: Request) -> Response:
        return web.graphiql_page(request)

    async def on_ws_connect(self, context: Context) -> Any:
        await wsconnection.on_connect(context)
        return None


# What ``GET /`` points to.
_LINKS = (
    ("/graphql", "GraphiQL (in a browser) and the GraphQL endpoint (POST, WebSocket)"),
    ("/widget/", "the reference visitor widget (/widget/#token=<visitor token>; embed with /widget/embed.js)"),
    ("/console/", "a small agent-console demo (/console/#token=<agent token>)"),
    ("/healthz", "the process is up"),
    ("/readyz", "the database (and Redis) answer: 200 or 503"),
    ("/metrics", "Prometheus metrics"),
)


async def _index(request: Request) -> Response:
    """A newcomer's landing page: where things are, in HTML for browsers and JSON for the rest."""
    if "text/html" not in request.headers.get("accept", ""):
        return JSONResponse({"name": "Switchboard", "links": {path: what for path, what in _LINKS}})
    items = "".join(f'<li><a href="{path}">{path}</a>: {html.escape(what)}</li>' for path, what in _LINKS)
    return HTMLResponse(
        "<!doctype html><html><head><meta charset='utf-8'><title>Switchboard</title></head><body>"
        f"<h1>Switchboard</h1><p>A GraphQL API for customer-service teams.</p><ul>{items}</ul>"
        "<p>Calls need <code>Authorization: Bearer &lt;token&gt;</code>; "
        "<code>switchboard token --role admin --org ORG</code> prints one.</p></body></html>"
    )


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _readyz(request: Request) -> Response:
    services: Services = request.app.state.services
    checks: dict[str, str] = {}
    try:
        await db.ping()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"down: {type(exc).__name__}"
    extra: dict[str, str] = {}
    if services.redis is not None:
        extra["redis_mode"] = "cluster" if redisconn.is_cluster(services.redis) else "single"
        try:
            await redisconn.ping(services.redis)
            checks["redis"] = "ok"
        except (RedisError, RedisClusterException, OSError) as exc:
            checks["redis"] = f"down: {type(exc).__name__}"
        # Connected, but not (yet again) subscribed to every shard channel: events arrive late, by the poll.
        transport = services.bus.transport
        if isinstance(transport, RedisTransport):
            checks["events"] = "ok" if transport.connected.is_set() else "subscribing"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, **checks, **extra}, status_code=200 if ready else 503)


async def _metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    services.telemetry.events.set(services.bus.dispatched)
    services.telemetry.subscribers.set(services.bus.subscriber_count)
    return PlainTextResponse(services.telemetry.render(), media_type="text/plain; version=0.0.4")


class StartupFailed(Exception):
    """The process cannot start serving; the message is the one line operators see."""


async def _open_database(settings: Settings) -> list[str]:
    """Open the pool (migrating the embedded database first); the migrations applied."""
    try:
        applied = await db.migrate(settings) if settings.embedded else []
        await db.init(settings)
        await db.ping()
    except Exception as exc:
        raise StartupFailed(f"database unreachable ({settings.database_location}): {exc}") from exc
    return applied


class StartupReport:
    """Reports a failed start-up by its one-line reason, not a traceback.

    Starlette hands the server the formatted traceback of a lifespan failure;
    for the failures we expect (``StartupFailed``) the reason alone is clearer.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def send_reason(message: Message) -> None:
            # Starlette sends this from inside its ``except`` block.
            failure = sys.exc_info()[1]
            if message["type"] == "lifespan.startup.failed" and isinstance(failure, StartupFailed):
                message = {"type": message["type"], "message": f"switchboard: {failure}"}
            await send(message)

        await self.app(scope, receive, send_reason)


GC_GEN0_THRESHOLD = 50_000


def _tune_gc() -> None:
    """Keep the collector off the hot path of a process holding many live subscriptions.

    Everything loaded at start-up (modules, schema, pools) lives as long as the
    process: ``gc.freeze`` moves it out of the collector's sight. A larger
    first-generation threshold makes the collector run less often while tens of
    thousands of long-lived subscription objects are alive, so full collections
    (which walk every object) do not stall a fan-out.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


class SwitchboardApp(Starlette):
    """Starlette, with GraphQL WebSockets handed straight to the endpoint.

    A subscription connection lives for hours. Through the middleware stack and
    the router it would keep one suspended frame per layer alive all that time
    and pass every outgoing message through each layer's ``send`` wrapper; none
    of those layers does anything for a WebSocket (CORS and error pages are
    HTTP; strawberry checks the origin itself), so they are skipped. This is
    the only route of the GraphQL WebSocket; other WebSocket paths reach the
    router and are refused there.
    """

    def __init__(self, *, graphql: GraphQLEndpoint, telemetry: Telemetry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._graphql = graphql
        self._telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == scope.get("root_path", "") + "/graphql":
            scope["app"] = self
            with self._telemetry.open_websocket():
                await self._graphql(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


async def _open_redis(settings: Settings) -> redisconn.RedisClient | None:
    """The process's one Redis client (single or cluster, detected), or None without Redis."""
    if not settings.redis_url:
        return None
    try:
        return await redisconn.connect(settings.redis_url, settings.redis_prefix)
    except redisconn.RedisSetupError as exc:
        await db.close()
        raise StartupFailed(str(exc)) from exc


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or settings_module.load()
    telemetry = Telemetry()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        applied = await _open_database(settings)
        client = await _open_redis(settings)
        services = process.build(settings, telemetry, client)
        app.state.services = services
        await process.start(services)
        server = serving.uvicorn_server()
        if server is not None:
            serving.stop_cleanly_on_sigterm(server)
        serving.log_startup(settings, server, applied)
        _tune_gc()
        try:
            yield
        finally:
            await process.stop(services)
            if client is not None:
                await client.aclose()
            await db.close()

    origins = list(settings.allowed_origins)
    endpoint = GraphQLEndpoint(schema, allowed_origins=origins, keep_alive=True, keep_alive_interval=15)
    return SwitchboardApp(
        graphql=endpoint,
        telemetry=telemetry,
        routes=[
            Route("/", _index),
            Route("/graphql", endpoint, methods=["GET", "POST"]),
            Route("/healthz", _healthz),
            Route("/readyz", _readyz),
            Route("/metrics", _metrics),
            *web.client_routes(settings.allowed_origins),
            *web.static_routes(),
        ],
        middleware=[
            Middleware(StartupReport),
            Middleware(TelemetryMiddleware, telemetry=telemetry),
            Middleware(
                CORSMiddleware,
                allow_origins=origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["authorization", "content-type"],
            ),
            Middleware(RequestBodyLimit),
        ],
        lifespan=lifespan,
    )


def app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory`` and ``switchboard serve --workers N``."""
    settings = settings_module.load()
    settings_module.configure_logging(settings)
    return create_app(settings)
