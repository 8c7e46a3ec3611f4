"""Where conversationEvents resumes from when it is given a message's cursor (a ``MessageEdge.cursor``).

A client loads ``Thread.messages`` and subscribes after the newest message it
got. Within a thread, message ids and the seqs of their MessagePosted events
are in the same order (a message and its event are written in one
transaction, under the thread's lock), so the message's place in the event log
is its event's seq: read backwards through the thread's MessagePosted events
(index ``event(thread_id, seq)``), newest first, which is where a client's
cursor usually points.
"""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.events.types import MessageEventKind, Topic
from switchboard.models import Event, Message
from switchboard.services.tenancy import Tenant

SCAN_BATCH = 200


@dataclass(frozen=True)
class Resume:
    """Resume after ``seq``; with None, from the oldest event kept (the message's own was pruned)."""

    seq: int | None
    # Events after the message are gone from the log too: the client must reload.
    expired: bool = False


async def after_message(tenant: Tenant, thread_id: int, message_id: int) -> Resume:
    """Where the thread's events after message ``message_id`` start."""
    oldest_seen: int | None = None
    before: int | None = None
    while True:
        qs = Event.filter(
            org_id=tenant.org, thread_id=thread_id, topic=Topic.THREAD.value, kind=MessageEventKind.MESSAGE_POSTED.value
        )
        if before is not None:
            qs = qs.filter(seq__lt=before)
        rows = await qs.order_by("-seq").limit(SCAN_BATCH)
        for row in rows:
            posted = int((row.payload or {}).get("message_id") or 0)
            if posted <= message_id:
                # Its own event, or (a message written without one) the newest before it.
                return Resume(row.seq)
            oldest_seen = posted
        if len(rows) < SCAN_BATCH:
            break
        before = rows[-1].seq
    # The message's event was pruned, so every event kept came after it. Resuming
    # from the oldest kept skips nothing unless the next message's event went too.
    following = await tenant.q(Message).filter(thread_id=thread_id, id__gt=message_id).order_by("id").first()
    if following is not None and (oldest_seen is None or oldest_seen > following.id):
        return Resume(None, expired=True)
    return Resume(None)
