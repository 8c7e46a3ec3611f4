"""Subscription streams, behind one guard.

The contract closes the socket with 4403 when a subscription is forbidden
(a visitor watching another thread, an agent without a place on a thread).
Over HTTP-less transports there is nothing to close, so the error is raised
as usual there. A resume cursor older than the event log is CURSOR_EXPIRED.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from starlette.websockets import WebSocket, WebSocketState

from switchboard.events.cursors import CursorExpired
from switchboard.graphql.errors import Forbidden, cursor_expired
from switchboard.graphql.streams import collaboration, queues
from switchboard.graphql.types.base import InfoT
from switchboard.graphql.types.events import InviteEvent, QueuePositionUpdate, ThreadEvent
from switchboard.graphql.types.queues import QueueStats

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
    except CursorExpired as exc:
        raise cursor_expired(exc) from exc


def queue_position(
    info: InfoT, queue_entry_id: str | None, thread_id: str | None
) -> AsyncIterator[QueuePositionUpdate]:
    # The busiest stream refuses by itself (only its set-up can be forbidden),
    # which spares every one of its events a pass through ``_guarded``.
    return queues.queue_position(info, queue_entry_id, thread_id, refuse)


def queue_stats(info: InfoT, queue_id: str) -> AsyncIterator[QueueStats]:
    return _guarded(info, queues.queue_stats(info, queue_id))


def invite_events(info: InfoT, after: str | None) -> AsyncIterator[InviteEvent]:
    return _guarded(info, collaboration.invite_events(info, after))


def thread_events(info: InfoT, thread_id: str, after: str | None) -> AsyncIterator[ThreadEvent]:
    return _guarded(info, collaboration.thread_events(info, thread_id, after))
