"""Snapshots: the columns of a row that change over its life, as they were at commit.

An event carries them, so that rendering it later (a cursor replay) shows what
the live event showed rather than whatever the row has become since.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from tortoise.models import Model

M = TypeVar("M", bound=Model)

FIELDS: dict[str, tuple[str, ...]] = {
    "thread": ("status", "transfer_count", "primary_agent_id", "last_primary_agent_id", "resolved_at", "updated_at"),
    "collaborator": ("role", "permission", "active", "left_at"),
    "invite": ("status", "expires_at", "responded_at", "response_message", "estimated_seconds", "approved_by_id"),
}


def snapshot(kind: str, row: Model) -> dict[str, Any]:
    """The changing columns of ``row`` as JSON values (see ``FIELDS``)."""
    out: dict[str, Any] = {}
    for name in FIELDS[kind]:
        # A nullable foreign key never set on this instance has no attribute yet.
        value = getattr(row, name, None)
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[name] = value
    return out


def restore(row: M, values: dict[str, Any]) -> M:
    """Put snapshot values back on a freshly loaded ``row`` (the inverse of ``snapshot``)."""
    fields = row._meta.fields_map
    for name, value in values.items():
        field = fields.get(name)
        setattr(row, name, field.to_python_value(value) if field is not None and value is not None else value)
    return row
