"""Subscription generators, one module per feature, behind one guard.

The contract closes the socket with 4403 when a subscription is forbidden
(a visitor watching another thread, an agent without a place on a thread).
Over HTTP-less transports there is nothing to close, so the error is raised
as usual there.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from starlette.websockets import WebSocket, WebSocketState

from switchboard.errors import Forbidden
from switchboard.schema.events import InviteEvent, QueuePositionUpdate, ThreadEvent
from switchboard.schema.types import InfoT, QueueStats
from switchboard.subscriptions import collaboration_streams, queue_streams

T = TypeVar("T")
FORBIDDEN_CLOSE_CODE = 4403


async def refuse(info: InfoT, error: Forbidden) -> None:
    """Close the socket with 4403, or raise ``error`` where there is no socket."""
    websocket: Any = info.context.request
    if not isinstance(websocket, WebSocket):
        raise error
    if websocket.application_state is not WebSocketState.DISCONNECTED:
        with contextlib.suppress(RuntimeError):
            await websocket.close(code=FORBIDDEN_CLOSE_CODE, reason="Forbidden")


async def _guarded(info: InfoT, stream: AsyncIterator[T]) -> AsyncIterator[T]:
    try:
        async for item in stream:
            yield item
    except Forbidden as error:
        await refuse(info, error)


def queue_position(
    info: InfoT, queue_entry_id: str | None, thread_id: str | None
) -> AsyncIterator[QueuePositionUpdate]:
    # The busiest stream refuses by itself (only its set-up can be forbidden),
    # which spares every one of its events a pass through ``_guarded``.
    return queue_streams.queue_position(info, queue_entry_id, thread_id, refuse)


def queue_stats(info: InfoT, queue_id: str) -> AsyncIterator[QueueStats]:
    return _guarded(info, queue_streams.queue_stats(info, queue_id))


def invite_events(info: InfoT, after: str | None) -> AsyncIterator[InviteEvent]:
    return _guarded(info, collaboration_streams.invite_events(info, after))


def thread_events(info: InfoT, thread_id: str, after: str | None) -> AsyncIterator[ThreadEvent]:
    return _guarded(info, collaboration_streams.thread_events(info, thread_id, after))
