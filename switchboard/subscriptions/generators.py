"""Subscription generators: current state first, then live; always clean up in finally."""

from __future__ import annotations

from collections.abc import AsyncIterator

from switchboard.schema.events import InviteEvent, QueuePositionUpdate, ThreadEvent
from switchboard.schema.types import InfoT, QueueStats


async def queue_position(
    info: InfoT, queue_entry_id: str | None, thread_id: str | None
) -> AsyncIterator[QueuePositionUpdate]:
    raise NotImplementedError("issue #4")
    yield


async def invite_events(info: InfoT, after: str | None) -> AsyncIterator[InviteEvent]:
    raise NotImplementedError("issue #3")
    yield


async def thread_events(info: InfoT, thread_id: str, after: str | None) -> AsyncIterator[ThreadEvent]:
    raise NotImplementedError("issue #3")
    yield


async def queue_stats(info: InfoT, queue_id: str) -> AsyncIterator[QueueStats]:
    raise NotImplementedError("issue #4")
    yield
