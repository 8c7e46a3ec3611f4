"""Switchboard in this process: ASGI calls without a socket, and the SQL statements they run.

The served processes have no statement counter and the shared PostgreSQL has no
``pg_stat_statements`` (it needs ``shared_preload_libraries`` and a restart), so
the benchmark runs the app here on the same database and wraps tortoise's asyncpg
client the way ``tests/test_collaboration_sql.py`` wraps the SQLite one: only the
statements issued on behalf of the recorded request count, not the sweepers'.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any

from starlette.applications import Starlette
from tortoise.backends.asyncpg.client import AsyncpgDBClient

from switchboard.app import create_app
from switchboard.settings import Settings

METHODS = ("execute_query", "execute_query_dict", "execute_insert", "execute_many", "execute_script")
# A statement and its parameters (None for a script).
Statement = tuple[str, Any]
_seen: contextvars.ContextVar[list[Statement] | None] = contextvars.ContextVar("bench_statements", default=None)


@contextlib.asynccontextmanager
async def running(database_url: str, secret: str) -> AsyncIterator[Starlette]:
    """The app with its lifespan (database pool, bus, sweepers) started."""
    app = create_app(Settings(database_url=database_url, jwt_secret=secret, log_level="WARNING"))
    async with app.router.lifespan_context(app):
        yield app


async def post(app: Starlette, query: str, token: str) -> tuple[int, bytes]:
    """POST /graphql straight into the ASGI app: status and body."""
    body = json.dumps({"query": query}).encode()
    headers = [(b"content-type", b"application/json"), (b"authorization", f"Bearer {token}".encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = [{"type": "http.request", "body": body, "more_body": False}]
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        return sent.pop() if sent else {"type": "http.disconnect"}

    async def send(message: Mapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def _counting(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def wrapper(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        seen = _seen.get()
        if seen is not None:
            seen.append((query, args[0] if args else None))
        return await method(self, query, *args, **kwargs)

    return wrapper


@contextlib.contextmanager
def recording() -> Iterator[list[Statement]]:
    """The statements run in this context (and the tasks it starts) until it exits."""
    originals = {name: getattr(AsyncpgDBClient, name) for name in METHODS}
    seen: list[Statement] = []
    reset = _seen.set(seen)
    try:
        for name, method in originals.items():
            setattr(AsyncpgDBClient, name, _counting(method))
        yield seen
    finally:
        _seen.reset(reset)
        for name, method in originals.items():
            setattr(AsyncpgDBClient, name, method)


async def statements(app: Starlette, token: str, bodies: Mapping[str, str]) -> dict[str, list[Statement]]:
    """For each named GraphQL document, the statements of its second run (the first warms caches)."""
    counted: dict[str, list[Statement]] = {}
    for name, query in bodies.items():
        await post(app, query, token)
        with recording() as seen:
            status, body = await post(app, query, token)
        if status != 200 or json.loads(body).get("errors"):
            raise RuntimeError(f"{name}: {status} {body[:500]!r}")
        counted[name] = list(seen)
    return counted
