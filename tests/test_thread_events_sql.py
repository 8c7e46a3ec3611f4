"""threadEvents' replay reads the thread's events only, not its messages' (counted statements, in process).

A thread's MESSAGE_POSTED events share its log topic but are no thread event:
the replay leaves them out in SQL instead of reading and dropping them. With a
replay batch of 20 rows, a thread of 45 messages and a handful of thread events
is replayed in one read of the log (more when its messages' events are read).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from graphql import ExecutionResult
from starlette.applications import Starlette

from switchboard.events import bus
from switchboard.graphql.context import Context
from switchboard.graphql.schema import schema
from tests.sql_support import record_into
from tests.test_conversation_stream import SEND, _api, _fanout_thread, _fanout_token, fanout_app

__all__ = ["fanout_app"]

THREAD_EVENTS = """subscription($t: ID!, $after: String) { threadEvents(threadId: $t, after: $after) {
  cursor kind thread { id status } } }"""


async def _watch(app: Starlette, thread: str, seen: list[str], got: list[Any]) -> None:
    record_into(seen)
    ctx = Context(app.state.services)
    await ctx.authenticate(f"Bearer {_fanout_token('admin', 'admin')}")
    events = await schema.subscribe(THREAD_EVENTS, variable_values={"t": thread, "after": "e0"}, context_value=ctx)
    assert not isinstance(events, ExecutionResult), events
    async for result in events:
        assert not result.errors and result.data is not None, result.errors
        got.append(result.data["threadEvents"])


async def test_a_thread_events_replay_skips_the_threads_messages_in_sql(
    fanout_app: tuple[Starlette, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = fanout_app
    monkeypatch.setattr(bus, "REPLAY_BATCH", 20)
    thread, visitor, _ = await _fanout_thread(client)
    for i in range(45):
        await _api(client, visitor, SEND, {"i": {"threadId": thread, "body": f"m{i}"}})
    seen: list[str] = []
    got: list[Any] = []
    task = asyncio.create_task(_watch(app, thread, seen, got))
    try:
        for _ in range(100):
            if "ASSIGNED" in {e["kind"] for e in got}:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        kinds = [e["kind"] for e in got]
        assert kinds == ["STATUS_CHANGED", "QUEUED", "ASSIGNED"], kinds
        cursors = [int(e["cursor"][1:]) for e in got]
        assert cursors == sorted(set(cursors)), cursors
        reads = [s for s in seen if 'FROM "event"' in s]
        assert len(reads) == 1, reads
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
