"""Subscription streams, one module per feature, behind one entry point.

Each function checks that the caller may open the stream and only then hands
back the stream itself. A refusal (FORBIDDEN, NOT_FOUND, a bad argument) is
raised before the stream starts: graphql-core reports it as the operation's
error, which the WebSocket protocols send as an ``error`` message for that
operation id, leaving the socket and its other subscriptions open (closing
the socket would take those with it, and clients that retry on a close code
would loop). A resume cursor older than the event log is CURSOR_EXPIRED.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeVar

from switchboard.events.cursors import CursorExpired
from switchboard.graphql.errors import cursor_expired
from switchboard.graphql.streams import collaboration, conversation, queues
from switchboard.graphql.types.base import InfoT
from switchboard.graphql.types.events import ConversationEvent, InviteEvent, QueuePositionUpdate, ThreadEvent
from switchboard.graphql.types.queues import QueueStats

T = TypeVar("T")


async def _resumable(stream: AsyncIterator[T]) -> AsyncIterator[T]:
    """A stream that resumes from a cursor: one the log no longer reaches is CURSOR_EXPIRED."""
    try:
        async for item in stream:
            yield item
    except CursorExpired as exc:
        raise cursor_expired(exc) from exc


async def queue_position(
    info: InfoT, queue_entry_id: str | None, thread_id: str | None
) -> AsyncIterator[QueuePositionUpdate]:
    return await queues.queue_position(info, queue_entry_id, thread_id)


async def queue_stats(info: InfoT, queue_id: str) -> AsyncIterator[QueueStats]:
    return await queues.queue_stats(info, queue_id)


async def invite_events(info: InfoT, after: str | None) -> AsyncIterator[InviteEvent]:
    return _resumable(await collaboration.invite_events(info, after))


async def thread_events(info: InfoT, thread_id: str, after: str | None) -> AsyncIterator[ThreadEvent]:
    return _resumable(await collaboration.thread_events(info, thread_id, after))


async def conversation_events(info: InfoT, thread_id: str, after: str | None) -> AsyncIterator[ConversationEvent]:
    return _resumable(await conversation.conversation_events(info, thread_id, after))
