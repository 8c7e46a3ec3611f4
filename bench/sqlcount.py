"""SQL statements Switchboard runs for one request, counted in this process.

The served processes have no statement counter and the shared PostgreSQL has no
``pg_stat_statements`` (it needs ``shared_preload_libraries`` and a restart), so
the app runs here on the same database behind httpx's ASGI transport, with
tortoise's asyncpg client wrapped the way ``tests/test_collaboration_sql.py`` wraps
the SQLite one: only statements issued on behalf of the request are counted, not
those of the background sweepers.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import httpx
from tortoise.backends.asyncpg.client import AsyncpgDBClient

from switchboard.app import create_app
from switchboard.settings import Settings

METHODS = ("execute_query", "execute_query_dict", "execute_insert", "execute_many", "execute_script")
_seen: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("bench_statements", default=None)


def _counting(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def wrapper(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        seen = _seen.get()
        if seen is not None:
            seen.append(query)
        return await method(self, query, *args, **kwargs)

    return wrapper


@contextlib.contextmanager
def _wrapped() -> Iterator[None]:
    originals = {name: getattr(AsyncpgDBClient, name) for name in METHODS}
    try:
        for name, method in originals.items():
            setattr(AsyncpgDBClient, name, _counting(method))
        yield
    finally:
        for name, method in originals.items():
            setattr(AsyncpgDBClient, name, method)


async def statements(database_url: str, secret: str, token: str, bodies: Mapping[str, str]) -> dict[str, list[str]]:
    """For each named GraphQL document, the statements of its second run (the first warms caches)."""
    app = create_app(Settings(database_url=database_url, jwt_secret=secret, log_level="WARNING"))
    counted: dict[str, list[str]] = {}
    headers = {"Authorization": f"Bearer {token}"}
    with _wrapped():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://switchboard", headers=headers) as client:
                for name, query in bodies.items():
                    await client.post("/graphql", json={"query": query})
                    seen: list[str] = []
                    reset = _seen.set(seen)
                    try:
                        response = await client.post("/graphql", json={"query": query})
                    finally:
                        _seen.reset(reset)
                    if response.status_code != 200 or response.json().get("errors"):
                        raise RuntimeError(f"{name}: {response.text[:500]}")
                    counted[name] = seen
    return counted
