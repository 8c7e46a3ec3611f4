"""Counting the SQL statements a request issues (the app in this process on embedded SQLite).

The database client's methods are wrapped for the test; only statements issued
on behalf of the counted request (a context variable) are kept, not those of the
background sweepers.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from tortoise.backends.sqlite.client import SqliteClient

from switchboard.app import create_app
from switchboard.settings import Settings

SECRET = "sql-support-secret-" + "x" * 20
ORG = "org-sql-support"
_statements: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("sql_support", default=None)


def token(role: str, sub: str, **extra: Any) -> str:
    now = int(time.time())
    claims = {"sub": sub, "org": ORG, "role": role, "iat": now, "exp": now + 600, **extra}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def _counting(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def wrapper(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        seen = _statements.get()
        if seen is not None:
            seen.append(query)
        return await method(self, query, *args, **kwargs)

    return wrapper


@pytest_asyncio.fixture
async def app_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    for name in ("execute_query", "execute_query_dict", "execute_insert", "execute_many"):
        monkeypatch.setattr(SqliteClient, name, _counting(getattr(SqliteClient, name)))
    app = create_app(Settings(database_url=f"sqlite://{tmp_path / 'sql.db'}", jwt_secret=SECRET))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://switchboard") as client:
            yield client


async def counted(
    client: httpx.AsyncClient, bearer: str, query: str, variables: dict[str, Any] | None = None
) -> tuple[list[str], dict[str, Any]]:
    """The statements the request ran, and its whole response body."""
    seen: list[str] = []
    reset = _statements.set(seen)
    try:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {bearer}"},
        )
    finally:
        _statements.reset(reset)
    return seen, dict(response.json())
