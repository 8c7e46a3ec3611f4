"""Counting the SQL statements a request (or a stream) runs: one in-process app on SQLite per test.

Every statement the SQLite client runs is recorded into the list of the task that runs it
(a context variable: tasks started inside ``counting`` or after ``record_into`` inherit it),
so that concurrent work of other tasks is not counted. The tests assert counts, not time.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from starlette.applications import Starlette
from tortoise.backends.sqlite.client import SqliteClient

from switchboard.app import create_app
from switchboard.settings import Settings

_statements: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("sql_statements", default=None)
_METHODS = ("execute_query", "execute_query_dict", "execute_insert", "execute_many")


def _counting(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def wrapper(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        seen = _statements.get()
        if seen is not None:
            seen.append(query)
        return await method(self, query, *args, **kwargs)

    return wrapper


@asynccontextmanager
async def sql_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret: str
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """An app on a fresh SQLite file with its statements counted, and an HTTP client on it."""
    for name in _METHODS:
        monkeypatch.setattr(SqliteClient, name, _counting(getattr(SqliteClient, name)))
    app = create_app(Settings(database_url=f"sqlite://{tmp_path / 'sql.db'}", jwt_secret=secret))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://switchboard") as client:
            yield app, client


@contextmanager
def counting() -> Iterator[list[str]]:
    """The statements run inside the block by this task (and the tasks it starts there)."""
    seen: list[str] = []
    reset = _statements.set(seen)
    try:
        yield seen
    finally:
        _statements.reset(reset)


def record_into(seen: list[str]) -> None:
    """From now on, this task's statements (a subscriber's task of its own) go into ``seen``."""
    _statements.set(seen)


def sign(secret: str, org: str, role: str, sub: str, **claims: Any) -> str:
    now = int(time.time())
    body = {"sub": sub, "org": org, "role": role, "iat": now, "exp": now + 600, **claims}
    return jwt.encode(body, secret, algorithm="HS256")
