"""Input limits shared by every mutation: a clear INVALID userError, nothing written."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from switchboard.errors import invalid

NAME_MAX = 200
MESSAGE_MAX = 2000
SKILLS_MAX = 50
# NUL cannot be stored in PostgreSQL text or jsonb, and a lone surrogate cannot be
# encoded as UTF-8: both would fail deep in the driver as an internal error.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: str) -> bool:
    """Whether ``value`` can be stored (and searched for) on every backend."""
    return _UNSTORABLE.search(value) is None


def storable_json(value: Any) -> bool:
    """Whether every string (keys included) of a JSON value is ``storable``, every number finite."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return all(storable_json(k) and storable_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(storable_json(item) for item in value)
    if isinstance(value, float):
        # 1e400 parses as infinity, which jsonb refuses.
        return math.isfinite(value)
    return True


def text(value: str | None, field: Sequence[str], *, limit: int = NAME_MAX, required: bool = False) -> str | None:
    """Trimmed text within ``limit`` characters; empty counts as absent unless required."""
    if value is None:
        if required:
            raise invalid(f"{field[-1]} is required", list(field))
        return None
    if len(value) > limit:
        raise invalid(f"{field[-1]} is {len(value)} characters; at most {limit} allowed", list(field))
    if not storable(value):
        raise invalid(f"{field[-1]} contains a NUL character or an unpaired surrogate", list(field))
    stripped = value.strip()
    if required and not stripped:
        raise invalid(f"{field[-1]} must not be blank", list(field))
    return stripped or None


def required_text(value: str, field: Sequence[str], *, limit: int = NAME_MAX) -> str:
    result = text(value, field, limit=limit, required=True)
    assert result is not None
    return result


def number(value: int | None, field: Sequence[str], low: int, high: int) -> int | None:
    if value is None:
        return None
    if not low <= value <= high:
        raise invalid(f"{field[-1]} must be between {low} and {high}, got {value}", list(field))
    return value


def skills(values: Sequence[str] | None, field: Sequence[str]) -> list[str] | None:
    """Distinct, trimmed, case-preserving skill names."""
    if values is None:
        return None
    if len(values) > SKILLS_MAX:
        raise invalid(f"at most {SKILLS_MAX} skills allowed, got {len(values)}", list(field))
    out: list[str] = []
    for i, value in enumerate(values):
        name = required_text(value, [*field, str(i)], limit=100)
        if name not in out:
            out.append(name)
    return out
