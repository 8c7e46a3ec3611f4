"""Input rules shared by every change: text, lengths, ranges, storable values.

A value that breaks one raises ``DomainError`` (INVALID) naming its logical
field; nothing is written.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

from switchboard.rules.problems import Field, invalid

NAME_MAX = 200
MESSAGE_MAX = 2000
CLIENT_MESSAGE_ID_MAX = 100
SKILLS_MAX = 50
SKILL_MAX = 100
TRANSCRIPT_MAX = 1000
CONTEXT_EXTRA_MAX = 20_000
# An agent's maxConcurrentThreads and maxConcurrentCollaborations.
CAPACITY_RANGE = (0, 100)
# A queue's maxWaitSeconds and vipMaxWaitSeconds.
WAIT_RANGE = (1, 7 * 24 * 3600)
# Organization setting -> allowed range.
SETTING_RANGES: dict[str, tuple[int, int]] = {
    "invite_expiry_seconds": (1, 86400),
    "collaborator_limit_normal": (0, 50),
    "collaborator_limit_vip": (0, 50),
    "collaborator_limit_urgent": (0, 50),
    "max_transfer_attempts": (1, 100),
    "transfer_rate_limit_per_visitor_per_hour": (1, 10000),
    "invites_per_agent_per_minute": (1, 10000),
    # 0 turns reopening by a visitor's message off; 30 days is the longest a thread waits.
    "reopen_on_visitor_message_seconds": (0, 2_592_000),
    "messages_per_visitor_per_minute": (1, 10000),
    # Below the largest query the cost limit lets through would only refuse it later,
    # so the budget starts at 1 point and the restore rate at 1 point per second.
    "query_cost_budget": (1, 100_000_000),
    "query_cost_restore_per_second": (1, 100_000_000),
}
SETTING_FLAGS = ("cross_department_approval", "unassign_on_resolve")
SETTING_TEXTS = ("service_name",)
# NUL cannot be stored in PostgreSQL text or jsonb, and a lone surrogate cannot be
# encoded as UTF-8: both would fail deep in the driver as an internal error.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def label(field: Field) -> str:
    """How a message names the field: its last part, as clients spell it."""
    last = field[-1]
    return camel(last) if isinstance(last, str) else str(last)


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


def text(value: str | None, field: Field, *, limit: int = NAME_MAX, required: bool = False) -> str | None:
    """Trimmed text within ``limit`` characters; empty counts as absent unless required."""
    if value is None:
        if required:
            raise invalid(f"{label(field)} is required", field)
        return None
    if len(value) > limit:
        raise invalid(f"{label(field)} is {len(value)} characters; at most {limit} allowed", field)
    if not storable(value):
        raise invalid(f"{label(field)} contains a NUL character or an unpaired surrogate", field)
    stripped = value.strip()
    if required and not stripped:
        raise invalid(f"{label(field)} must not be blank", field)
    return stripped or None


def message_body(value: str, field: Field) -> str:
    """A message: 1 to MESSAGE_MAX characters (code points), not only whitespace, storable.

    Kept as written: leading spaces and line breaks may be the message's layout.
    """
    if len(value) > MESSAGE_MAX:
        raise invalid(f"{label(field)} is {len(value)} characters; at most {MESSAGE_MAX} allowed", field)
    if not storable(value):
        raise invalid(f"{label(field)} contains a NUL character or an unpaired surrogate", field)
    if not value.strip():
        raise invalid(f"{label(field)} must not be empty or only whitespace", field)
    return value


def client_key(value: str | None, field: Field) -> str | None:
    """An idempotency key: 1 to CLIENT_MESSAGE_ID_MAX characters, storable, compared exactly (not trimmed)."""
    if value is None:
        return None
    if not 1 <= len(value) <= CLIENT_MESSAGE_ID_MAX:
        raise invalid(f"{label(field)} must be 1 to {CLIENT_MESSAGE_ID_MAX} characters, got {len(value)}", field)
    if not storable(value):
        raise invalid(f"{label(field)} contains a NUL character or an unpaired surrogate", field)
    return value


def required_text(value: str, field: Field, *, limit: int = NAME_MAX) -> str:
    result = text(value, field, limit=limit, required=True)
    assert result is not None
    return result


def number(value: int | None, field: Field, low: int, high: int) -> int | None:
    if value is None:
        return None
    if not low <= value <= high:
        raise invalid(f"{label(field)} must be between {low} and {high}, got {value}", field)
    return value


def skills(values: Sequence[str] | None, field: Field) -> list[str] | None:
    """Distinct, trimmed, case-preserving skill names."""
    if values is None:
        return None
    if len(values) > SKILLS_MAX:
        raise invalid(f"at most {SKILLS_MAX} skills allowed, got {len(values)}", field)
    out: list[str] = []
    for i, value in enumerate(values):
        name = required_text(value, (*field, i), limit=SKILL_MAX)
        if name not in out:
            out.append(name)
    return out


def transfer_context(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """The bot's hand-over (plain JSON), bounded like every other input."""
    if raw is None:
        return None
    path: Field = ("context",)
    out: dict[str, Any] = {}
    summary = text(raw.get("summary"), (*path, "summary"), limit=MESSAGE_MAX)
    if summary is not None:
        out["summary"] = summary
    if raw.get("sentiment") is not None:
        out["sentiment"] = raw["sentiment"]
    for name in ("intents", "tags"):
        out[name] = skills(raw.get(name), (*path, name)) or []
    out["transcript"] = _transcript(raw.get("transcript") or [], (*path, "transcript"))
    confidence = raw.get("confidence")
    if confidence is not None:
        if not 0.0 <= confidence <= 1.0:
            raise invalid(f"confidence must be between 0 and 1, got {confidence}", (*path, "confidence"))
        out["confidence"] = confidence
    if raw.get("extra") is not None:
        out["extra"] = _extra(raw["extra"], (*path, "extra"))
    return out


def _transcript(lines: Sequence[dict[str, Any]], path: Field) -> list[dict[str, Any]]:
    if len(lines) > TRANSCRIPT_MAX:
        raise invalid(f"at most {TRANSCRIPT_MAX} transcript lines allowed, got {len(lines)}", path)
    return [
        {
            "from": required_text(line["from"], (*path, i, "from")),
            "text": text(line["text"], (*path, i, "text"), limit=MESSAGE_MAX) or "",
            "at": line["at"].isoformat() if line.get("at") else None,
        }
        for i, line in enumerate(lines)
    ]


def _extra(extra: Any, path: Field) -> Any:
    size = len(json.dumps(extra))
    if size > CONTEXT_EXTRA_MAX:
        raise invalid(f"extra is {size} characters of JSON; at most {CONTEXT_EXTRA_MAX}", path)
    if not storable_json(extra):
        raise invalid("extra contains a NUL character, an unpaired surrogate or a non-finite number", path)
    return extra
