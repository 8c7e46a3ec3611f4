"""Subscription streams, one module per feature, behind one entry point.

Each function checks that the caller may open the stream and only then hands
back the stream itself. A refusal (FORBIDDEN, NOT_FOUND, a bad argument) is
raised before the stream starts: graphql-core reports it as the operation's
error, which the WebSocket protocols send as an ``error`` message for that
operation id, leaving the socket and its other subscriptions open (closing
the socket would take those with it, and clients that retry on a close code
would loop).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from switchboard.schema.events import InviteEvent, QueuePositionUpdate, ThreadEvent
from switchboard.schema.types import InfoT, QueueStats
from switchboard.subscriptions import collaboration_streams, queue_streams


async def queue_position(
    info: InfoT, queue_entry_id: str | None, thread_id: str | None
) -> AsyncIterator[QueuePositionUpdate]:
    return await queue_streams.queue_position(info, queue_entry_id, thread_id)


async def queue_stats(info: InfoT, queue_id: str) -> AsyncIterator[QueueStats]:
    return await queue_streams.queue_stats(info, queue_id)


async def invite_events(info: InfoT, after: str | None) -> AsyncIterator[InviteEvent]:
    return await collaboration_streams.invite_events(info, after)


async def thread_events(info: InfoT, thread_id: str, after: str | None) -> AsyncIterator[ThreadEvent]:
    return await collaboration_streams.thread_events(info, thread_id, after)
