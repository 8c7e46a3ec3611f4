"""Committed events (``BusEvent``) and their two wire forms: the log's row and the transport's JSON.

Live-only events (``LiveEvent``: typing) have no seq and no row; they travel
as JSON on the same transport and are told apart by having no ``seq``.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass, fields
from datetime import datetime
from enum import Enum
from typing import Any

from switchboard.events.types import KINDS, LIVE_KINDS, Event, Topic
from switchboard.models import Event as EventRow

COLUMNS = ("thread_id", "invite_id", "queue_id", "entry_id", "actor_id", "audience")


class UnknownEvent(ValueError):
    """A row or message whose topic and kind no event class carries."""


_HINTS: dict[type[Event], dict[str, Any]] = {}


def _hints(cls: type[Event]) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _encode(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    return value


def _decode(hint: Any, raw: Any) -> Any:
    if raw is None:
        return None
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return _decode(args[0], raw)
    if typing.get_origin(hint) is tuple:
        return tuple(raw)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(raw)
    return raw


def columns_of(event: Event) -> dict[str, Any]:
    """The log's column values of ``event`` (None for a column its kind has not)."""
    values = {name: event.column(name) for name in COLUMNS}
    values["audience"] = list(values["audience"] or ())
    return values


def payload_of(event: Event) -> dict[str, Any]:
    """The fields that are not columns of the log, as JSON values."""
    skip = {"org", "kind", *event.columns}
    return {f.name: _encode(getattr(event, f.name)) for f in fields(event) if f.name not in skip}


def build(
    topic: str, kind: str, org: str, columns: dict[str, Any], payload: dict[str, Any], live: bool = False
) -> Event:
    """The typed event of a stored or transported one; ``UnknownEvent`` when no class carries it."""
    try:
        cls = (LIVE_KINDS if live else KINDS)[(Topic(topic), kind)]
    except (KeyError, ValueError) as exc:
        raise UnknownEvent(f"no event of topic {topic!r} and kind {kind!r}") from exc
    hints = _hints(cls)
    values: dict[str, Any] = {"org": org}
    for f in fields(cls):
        if not f.init or f.name == "org":
            continue
        if f.name == "kind":
            values["kind"] = hints["kind"](kind)
        elif f.name in cls.columns:
            if columns.get(f.name) is not None:
                values[f.name] = _decode(hints[f.name], columns[f.name])
        elif f.name in payload:
            values[f.name] = _decode(hints[f.name], payload[f.name])
    return cls(**values)


@dataclass(frozen=True)
class BusEvent:
    """A committed, sequenced event. ``seq`` is the cursor clients resume from."""

    seq: int
    at: datetime
    event: Event

    @property
    def org(self) -> str:
        return self.event.org

    @property
    def topic(self) -> Topic:
        return self.event.topic

    @property
    def kind(self) -> str:
        return str(self.event.kind.value)

    @property
    def thread_id(self) -> int | None:
        return self.event.column("thread_id")

    @property
    def queue_id(self) -> int | None:
        return self.event.column("queue_id")

    @property
    def entry_id(self) -> int | None:
        return self.event.column("entry_id")

    @property
    def audience(self) -> tuple[int, ...]:
        return tuple(self.event.column("audience") or ())

    def keys(self) -> list[tuple[str, object]]:
        """Routing keys: a subscriber listening on any of them receives the event."""
        out: list[tuple[str, object]] = [("org", self.org), ("topic", (self.org, self.topic.value))]
        for name in ("thread", "queue", "entry"):
            value = self.event.column(f"{name}_id")
            if value is not None:
                out.append((name, value))
        out.extend(("agent", agent) for agent in self.audience)
        return out

    def columns(self) -> dict[str, Any]:
        return columns_of(self.event)

    def to_json(self) -> str:
        data = {"seq": self.seq, "at": self.at.isoformat(), "topic": self.topic.value, "kind": self.kind}
        data.update(org=self.org, **self.columns(), payload=payload_of(self.event))
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> BusEvent:
        decoded = decode(raw)
        if not isinstance(decoded, BusEvent):
            raise ValueError("not a committed event")
        return decoded

    @classmethod
    def from_row(cls, row: EventRow) -> BusEvent:
        assert row.seq is not None
        columns = {name: getattr(row, name) for name in COLUMNS}
        event = build(row.topic, row.kind, row.org_id, columns, dict(row.payload or {}))
        return cls(seq=row.seq, at=row.created_at, event=event)


@dataclass(frozen=True)
class LiveEvent:
    """A live-only event: delivered to the subscribers there are at the moment, never stored."""

    at: datetime
    event: Event
    # The process that raised it: it delivered it to its own subscribers already.
    origin: str = ""

    @property
    def org(self) -> str:
        return self.event.org

    @property
    def thread_id(self) -> int | None:
        return self.event.column("thread_id")

    def keys(self) -> list[tuple[str, object]]:
        thread_id = self.thread_id
        return [] if thread_id is None else [("thread", thread_id)]

    def to_json(self) -> str:
        event = self.event
        data: dict[str, Any] = {"at": self.at.isoformat(), "origin": self.origin, "topic": event.topic.value}
        data.update(kind=str(event.kind.value), org=event.org, thread_id=self.thread_id, payload=payload_of(event))
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LiveEvent:
        event = build(data["topic"], data["kind"], data["org"], data, data.get("payload") or {}, live=True)
        return cls(at=datetime.fromisoformat(data["at"]), event=event, origin=str(data.get("origin") or ""))


def decode(raw: str | bytes) -> BusEvent | LiveEvent:
    """A transported event, committed or live (``ValueError``, ``KeyError`` or ``TypeError`` when malformed)."""
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise TypeError("an event is a JSON object")
    if "seq" not in data:
        return LiveEvent.from_dict(data)
    event = build(data["topic"], data["kind"], data["org"], data, data.get("payload") or {})
    return BusEvent(seq=int(data["seq"]), at=datetime.fromisoformat(data["at"]), event=event)
