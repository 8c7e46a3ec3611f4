"""Events as they travel: the durable row's public form."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from switchboard.models import Event


@dataclass(frozen=True)
class BusEvent:
    """A committed, sequenced event. ``seq`` is the cursor clients resume from."""

    seq: int
    org: str
    topic: str
    kind: str
    at: datetime
    thread_id: int | None = None
    invite_id: int | None = None
    queue_id: int | None = None
    entry_id: int | None = None
    actor_id: int | None = None
    audience: tuple[int, ...] = ()
    payload: dict[str, Any] = field(default_factory=dict)

    def keys(self) -> list[tuple[str, object]]:
        """Routing keys: a subscriber listening on any of them receives the event."""
        out: list[tuple[str, object]] = [("org", self.org), ("topic", (self.org, self.topic))]
        if self.thread_id is not None:
            out.append(("thread", self.thread_id))
        if self.queue_id is not None:
            out.append(("queue", self.queue_id))
        if self.entry_id is not None:
            out.append(("entry", self.entry_id))
        out.extend(("agent", agent) for agent in self.audience)
        return out

    def to_json(self) -> str:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        data["audience"] = list(self.audience)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> BusEvent:
        data = json.loads(raw)
        data["at"] = datetime.fromisoformat(data["at"])
        data["audience"] = tuple(data.get("audience") or ())
        return cls(**data)

    @classmethod
    def from_row(cls, row: Event) -> BusEvent:
        assert row.seq is not None
        return cls(
            seq=row.seq,
            org=row.org_id,
            topic=row.topic,
            kind=row.kind,
            at=row.created_at,
            thread_id=row.thread_id,
            invite_id=row.invite_id,
            queue_id=row.queue_id,
            entry_id=row.entry_id,
            actor_id=row.actor_id,
            audience=tuple(row.audience or ()),
            payload=dict(row.payload or {}),
        )


MAX_SEQ = 2**63 - 1


def encode_cursor(seq: int) -> str:
    return f"e{seq}"


def decode_cursor(cursor: str) -> int:
    """The seq of a cursor; ``ValueError`` when it is not one of ours."""
    digits = cursor[1:]
    # isdigit() also admits other scripts' digits; a seq is ASCII and fits a BIGINT.
    if not cursor.startswith("e") or len(cursor) > 20 or not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"malformed cursor {cursor!r}")
    if int(digits) > MAX_SEQ:
        raise ValueError(f"malformed cursor {cursor!r}")
    return int(digits)
