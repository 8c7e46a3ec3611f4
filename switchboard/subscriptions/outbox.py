"""Writing a change and its events in one transaction, publishing after commit.

    async with atomic(bus) as outbox:
        ...change rows...
        outbox.add(org=..., topic="invite", kind="CREATED", invite_id=...)
    # committed: the events are sequenced and on their way to every process

The events are inserted at the end of the transaction, after one
``UPDATE event_counter SET value = value + n ... RETURNING value`` hands out
their sequence numbers. That row lock is taken last and held until commit, so
commits happen in seq order: whoever can see seq N can see every seq below it,
which is what makes cursor replay gapless.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from switchboard.models import Event
from switchboard.subscriptions.events import BusEvent

if TYPE_CHECKING:
    from switchboard.subscriptions.bus import EventBus

log = logging.getLogger(__name__)

_NEXT_SEQ_SQL = "UPDATE event_counter SET value = value + {n} WHERE id = 1 RETURNING value"


@dataclass
class Draft:
    org: str
    topic: str
    kind: str
    thread_id: int | None = None
    invite_id: int | None = None
    queue_id: int | None = None
    entry_id: int | None = None
    actor_id: int | None = None
    audience: list[int] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outbox:
    """Events collected during one transaction."""

    drafts: list[Draft] = field(default_factory=list)
    published: list[BusEvent] = field(default_factory=list)
    # Work to run after commit (routing passes, timers to wake); never inside the transaction.
    after_commit: list[Any] = field(default_factory=list)

    def add(self, org: str, topic: str, kind: str, **values: Any) -> None:
        self.drafts.append(Draft(org=org, topic=topic, kind=kind, **values))

    async def flush(self, connection: Any) -> list[BusEvent]:
        if not self.drafts:
            return []
        n = len(self.drafts)
        rows = await connection.execute_query_dict(_NEXT_SEQ_SQL.format(n=n))
        last = int(rows[0]["value"])
        now = datetime.now(UTC)
        first = last - n + 1
        events = [
            BusEvent(
                seq=first + offset,
                org=draft.org,
                topic=draft.topic,
                kind=draft.kind,
                at=now,
                thread_id=draft.thread_id,
                invite_id=draft.invite_id,
                queue_id=draft.queue_id,
                entry_id=draft.entry_id,
                actor_id=draft.actor_id,
                audience=tuple(draft.audience),
                payload=draft.payload,
            )
            for offset, draft in enumerate(self.drafts)
        ]
        # One multi-row INSERT: the counter lock is held until commit, keep it short.
        await Event.bulk_create(
            [
                Event(
                    seq=e.seq,
                    org_id=e.org,
                    topic=e.topic,
                    kind=e.kind,
                    thread_id=e.thread_id,
                    invite_id=e.invite_id,
                    queue_id=e.queue_id,
                    entry_id=e.entry_id,
                    actor_id=e.actor_id,
                    audience=list(e.audience),
                    payload=e.payload,
                    created_at=now,
                )
                for e in events
            ],
            using_db=connection,
        )
        self.drafts.clear()
        return events


@asynccontextmanager
async def atomic(bus: EventBus | None) -> AsyncIterator[Outbox]:
    """One transaction for a change and its events; publish only after commit."""
    outbox = Outbox()
    async with in_transaction() as connection:
        yield outbox
        outbox.published = await outbox.flush(connection)
    if bus is not None:
        await bus.publish(outbox.published)
    for callback in outbox.after_commit:
        try:
            await callback()
        except Exception:
            # The change is committed; a failed follow-up (a routing pass) is
            # retried by the periodic sweepers, so it must not fail the mutation.
            log.exception("after-commit callback failed")
