"""Raw statements of the event log that tortoise's query builder does not express (upserts, one-statement reads)."""

from __future__ import annotations

from typing import Any


def marks(connection: Any, n: int) -> tuple[str, ...]:
    """``n`` parameter markers for ``connection``: asyncpg numbers them, SQLite does not."""
    if connection.capabilities.dialect == "postgres":
        return tuple(f"${i}" for i in range(1, n + 1))
    return ("?",) * n
