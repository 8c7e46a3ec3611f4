"""The outbox: the events of one transaction, written into the log inside it.

At the end of the transaction one upsert of the organization's counter
(``INSERT INTO org_event_counter ... ON CONFLICT (org_id) DO UPDATE SET value =
value + n RETURNING value``) hands the events their sequence numbers. That row
lock is taken last and held until commit, so the commits of one organization
happen in seq order: whoever can see its seq N can see every seq of it below N,
which is what makes cursor replay gapless. Other organizations have rows of
their own: their commits never wait on this one. A row whose order is its
event's (a message) is stamped with that seq here too (``add(..., stamp=...)``).

Everything that does not need the seq (the rows' payloads) is built before the
lock is taken: under it there are only the upsert, one INSERT of the events and
the stamps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tortoise.models import Model

from switchboard.events.codec import BusEvent, columns_of, payload_of
from switchboard.events.sql import marks
from switchboard.events.types import Event
from switchboard.models import Event as EventRow

_NEXT_SEQ_SQL = (
    "INSERT INTO org_event_counter (org_id, value) VALUES ({0}, {1})"
    " ON CONFLICT (org_id) DO UPDATE SET value = org_event_counter.value + excluded.value RETURNING value"
)
_STAMP_SQL = 'UPDATE "{table}" SET seq = {0} WHERE id = {1}'


@dataclass
class Outbox:
    """Events collected during one transaction."""

    drafts: list[Event] = field(default_factory=list)
    published: list[BusEvent] = field(default_factory=list)
    # Work to run after commit (routing passes); never inside the transaction.
    after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    # Rows that take the seq of one of the drafts (a message is ordered by its event): draft index -> row.
    stamps: dict[int, tuple[type[Model], int]] = field(default_factory=dict)

    def add(self, event: Event, stamp: tuple[type[Model], int] | None = None) -> None:
        """Queue ``event``; ``stamp`` (model, pk): that row's ``seq`` column gets the event's seq."""
        if stamp is not None:
            self.stamps[len(self.drafts)] = stamp
        self.drafts.append(event)

    async def flush(self, connection: Any) -> list[BusEvent]:
        """Sequence the drafts and insert them into the log (in the caller's transaction)."""
        if not self.drafts:
            return []
        now = datetime.now(UTC)
        rows = [_row(draft, now) for draft in self.drafts]
        next_seq = _NEXT_SEQ_SQL.format(*marks(connection, 2))
        by_org: dict[str, list[int]] = {}
        for index, draft in enumerate(self.drafts):
            by_org.setdefault(draft.org, []).append(index)
        # From the first upsert to commit, this organization's writers wait: only the log's
        # INSERT and the stamps follow. Several organizations are taken in one order (no deadlock).
        for org in sorted(by_org):
            indexes = by_org[org]
            counted = await connection.execute_query_dict(next_seq, [org, len(indexes)])
            first = int(counted[0]["value"]) - len(indexes) + 1
            for offset, index in enumerate(indexes):
                rows[index].seq = first + offset
        await EventRow.bulk_create(rows, using_db=connection)
        for index, (model, pk) in self.stamps.items():
            stamp = _STAMP_SQL.format(*marks(connection, 2), table=model._meta.db_table)
            await connection.execute_query(stamp, [rows[index].seq, pk])
        events = [BusEvent(seq=int(row.seq or 0), at=now, event=d) for row, d in zip(rows, self.drafts, strict=True)]
        self.drafts.clear()
        self.stamps.clear()
        return events


def _row(draft: Event, now: datetime) -> EventRow:
    """The draft's log row, all but its seq (built before the counter's lock is taken)."""
    return EventRow(
        org_id=draft.org,
        topic=draft.topic.value,
        kind=str(draft.kind.value),
        payload=payload_of(draft),
        created_at=now,
        **columns_of(draft),
    )
