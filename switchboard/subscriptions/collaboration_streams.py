"""inviteEvents and threadEvents (issue #3)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from switchboard.schema.events import InviteEvent, ThreadEvent
from switchboard.schema.types import InfoT


async def invite_events(info: InfoT, after: str | None) -> AsyncIterator[InviteEvent]:
    raise NotImplementedError("issue #3")
    yield


async def thread_events(info: InfoT, thread_id: str, after: str | None) -> AsyncIterator[ThreadEvent]:
    raise NotImplementedError("issue #3")
    yield
