"""The outbox: the events of one transaction, written into the log inside it.

At the end of the transaction one
``UPDATE event_counter SET value = value + n ... RETURNING value`` hands the
events their sequence numbers. That row lock is taken last and held until
commit, so commits happen in seq order: whoever can see seq N can see every seq
below it, which is what makes cursor replay gapless. A row whose order is its
event's (a message) is stamped with that seq here too (``add(..., stamp=...)``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tortoise.models import Model

from switchboard.events.codec import BusEvent, payload_of
from switchboard.events.types import Event
from switchboard.models import Event as EventRow

_NEXT_SEQ_SQL = "UPDATE event_counter SET value = value + {n} WHERE id = 1 RETURNING value"


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
        n = len(self.drafts)
        rows = await connection.execute_query_dict(_NEXT_SEQ_SQL.format(n=n))
        first = int(rows[0]["value"]) - n + 1
        now = datetime.now(UTC)
        events = [BusEvent(seq=first + offset, at=now, event=draft) for offset, draft in enumerate(self.drafts)]
        # One multi-row INSERT: the counter lock is held until commit, keep it short.
        await EventRow.bulk_create(
            [
                EventRow(
                    seq=e.seq,
                    org_id=e.org,
                    topic=e.topic.value,
                    kind=e.kind,
                    payload=payload_of(e.event),
                    created_at=now,
                    **e.columns(),
                )
                for e in events
            ],
            using_db=connection,
        )
        for index, (model, pk) in self.stamps.items():
            await model.filter(id=pk).using_db(connection).update(seq=events[index].seq)
        self.drafts.clear()
        self.stamps.clear()
        return events
