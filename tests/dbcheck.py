"""Reading a stack's database directly, to prove what was (not) written."""

from __future__ import annotations

import sqlite3
from typing import Any

from tests import servers


async def scalar(stack: servers.Stack, sql: str, *args: Any) -> Any:
    """The first column of the first row of ``sql`` (placeholders written ``?``)."""
    url = stack.database_url
    if url.startswith("sqlite://"):
        with sqlite3.connect(url.split("://", 1)[1], timeout=10) as conn:
            row = conn.execute(sql, args).fetchone()
        return row[0] if row else None
    import asyncpg

    numbered = sql
    for i in range(1, len(args) + 1):
        numbered = numbered.replace("?", f"${i}", 1)
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        return await conn.fetchval(numbered, *args)
    finally:
        await conn.close()


async def count(stack: servers.Stack, table: str, org: str) -> int:
    return int(await scalar(stack, f"SELECT COUNT(*) FROM {table} WHERE org_id = ?", org))


async def rows(stack: servers.Stack, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Every row of ``sql`` (placeholders written ``?``) as tuples."""
    url = stack.database_url
    if url.startswith("sqlite://"):
        with sqlite3.connect(url.split("://", 1)[1], timeout=10) as conn:
            return [tuple(row) for row in conn.execute(sql, args).fetchall()]
    import asyncpg

    numbered = sql
    for i in range(1, len(args) + 1):
        numbered = numbered.replace("?", f"${i}", 1)
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        return [tuple(row) for row in await conn.fetch(numbered, *args)]
    finally:
        await conn.close()
