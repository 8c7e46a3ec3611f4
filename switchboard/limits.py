"""Query limits: depth, aliases and estimated cost, refused before execution."""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_COST = 50_000


def query_limit_rules() -> list[Any]:
    """Strawberry extensions enforcing the limits (filled in with the query-limits work)."""
    return []
