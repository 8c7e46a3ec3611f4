"""queuePosition and queueStats (issue #4)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from switchboard.schema.events import QueuePositionUpdate
from switchboard.schema.types import InfoT, QueueStats


async def queue_position(
    info: InfoT, queue_entry_id: str | None, thread_id: str | None
) -> AsyncIterator[QueuePositionUpdate]:
    raise NotImplementedError("issue #4")
    yield


async def queue_stats(info: InfoT, queue_id: str) -> AsyncIterator[QueueStats]:
    raise NotImplementedError("issue #4")
    yield
