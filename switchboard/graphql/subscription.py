"""The Subscription root."""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry

from switchboard.graphql.streams import guard
from switchboard.graphql.types.base import InfoT
from switchboard.graphql.types.events import ConversationEvent, InviteEvent, QueuePositionUpdate, ThreadEvent
from switchboard.graphql.types.queues import QueueStats
from switchboard.graphql.unset import clean


# The resolvers check the caller, then hand strawberry the stream itself: a
# refusal is the operation's error (an ``error`` message on a WebSocket), and
# re-yielding the stream through a generator here would add one more layer to
# every event of every watcher.
@strawberry.type(description="Live streams over graphql-transport-ws (or legacy graphql-ws).")
class Subscription:
    @strawberry.subscription(
        description=(
            "The visitor widget's stream. Sends the current state at once, then every\n"
            "change of position, length, estimate or status. Visitors may only watch\n"
            "their own thread's entry; agents may watch any in their organization."
        )
    )
    async def queue_position(
        self,
        info: InfoT,
        queue_entry_id: strawberry.ID | None = strawberry.UNSET,
        thread_id: strawberry.ID | None = strawberry.UNSET,
    ) -> AsyncIterator[QueuePositionUpdate]:
        return await guard.queue_position(info, clean(queue_entry_id), clean(thread_id))

    @strawberry.subscription(
        description=(
            "Invites addressed to or sent by the calling agent (supervisors also get\n"
            "PENDING_APPROVAL ones of their department). With after: replays every\n"
            "event since that cursor first, then goes live; nothing is skipped."
        )
    )
    async def invite_events(self, info: InfoT, after: str | None = strawberry.UNSET) -> AsyncIterator[InviteEvent]:
        return await guard.invite_events(info, clean(after))

    @strawberry.subscription(description="Changes on one thread, for agents with a permission on it (or supervisors).")
    async def thread_events(
        self, info: InfoT, thread_id: strawberry.ID, after: str | None = strawberry.UNSET
    ) -> AsyncIterator[ThreadEvent]:
        return await guard.thread_events(info, thread_id, clean(after))

    @strawberry.subscription(description="Supervisor wallboard: the queue's stats whenever they change (at most ~4/s).")
    async def queue_stats(self, info: InfoT, queue_id: strawberry.ID) -> AsyncIterator[QueueStats]:
        return await guard.queue_stats(info, queue_id)

    @strawberry.subscription(
        description=(
            "The conversation on one thread as the caller may see it: messages, typing\n"
            "and status changes. Visitors (their own thread) get PUBLIC messages under\n"
            "one service identity; agents who may read the thread get everything. With\n"
            "after: replays every MESSAGE and STATUS_CHANGED since that cursor, in order,\n"
            "then goes live."
        )
    )
    async def conversation_events(
        self, info: InfoT, thread_id: strawberry.ID, after: str | None = strawberry.UNSET
    ) -> AsyncIterator[ConversationEvent]:
        return await guard.conversation_events(info, thread_id, clean(after))
