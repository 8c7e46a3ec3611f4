"""conversationEvents' subscribers share an event's rows, never its loaders.

In process (the fan-out fixture of test_conversation_stream): two subscribers of
the same process render one message, each selecting a field the event's rows do
not hold (``thread.queueEntry``). One goes away (its task is cancelled) while
that field's load is under way: the other one's stream must go on. A loader
shared between them would hand the cancellation of the first to the second.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from graphql import ExecutionResult
from starlette.applications import Starlette
from tortoise.backends.sqlite.client import SqliteClient

from switchboard.graphql.context import Context
from switchboard.graphql.schema import schema
from tests.test_conversation_stream import SEND, _api, _fanout_thread, fanout_app

__all__ = ["fanout_app"]

EVENTS = """subscription($t: ID!) { conversationEvents(threadId: $t) {
  kind message { body thread { id queueEntry { id status } } } } }"""


async def _watch(app: Starlette, token: str, thread: str, got: list[Any]) -> None:
    ctx = Context(app.state.services)
    await ctx.authenticate(f"Bearer {token}")
    stream = await schema.subscribe(EVENTS, variable_values={"t": thread}, context_value=ctx)
    assert not isinstance(stream, ExecutionResult), stream
    async for result in stream:
        got.append(result)


def _cancelling(method: Callable[..., Awaitable[Any]], victim: list[asyncio.Task[None]]) -> Callable[..., Any]:
    """Cancels the victim's task as the first queue_entry read starts (the victim is then awaiting it)."""

    async def wrapper(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if victim and "queue_entry" in query:
            victim.pop().cancel()
            await asyncio.sleep(0)
        return await method(self, query, *args, **kwargs)

    return wrapper


async def test_a_subscriber_going_away_mid_render_leaves_the_others_stream_alone(
    fanout_app: tuple[Starlette, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = fanout_app
    thread, visitor, staff = await _fanout_thread(client)
    admin = staff[0]
    victim_got: list[Any] = []
    other_got: list[Any] = []
    victim = asyncio.create_task(_watch(app, admin, thread, victim_got))
    other = asyncio.create_task(_watch(app, admin, thread, other_got))
    try:
        # Each stream sends the thread's state first; then it goes on from the log.
        for _ in range(200):
            if len(victim_got) == len(other_got) == 1:
                break
            await asyncio.sleep(0.02)
        assert [r.data["conversationEvents"]["kind"] for r in victim_got + other_got] == ["STATUS_CHANGED"] * 2
        victim_got.clear()
        other_got.clear()
        await asyncio.sleep(0.5)
        armed = [victim]
        for name in ("execute_query", "execute_query_dict"):
            monkeypatch.setattr(SqliteClient, name, _cancelling(getattr(SqliteClient, name), armed))
        await _api(client, visitor, SEND, {"i": {"threadId": thread, "body": "hello"}})
        for _ in range(200):
            if other_got or other.done():
                break
            await asyncio.sleep(0.02)
        assert not armed, "the victim was never cancelled mid-render"
        assert not other.done(), other
        assert len(other_got) == 1 and not other_got[0].errors, other_got
        assert other_got[0].data is not None
        event = other_got[0].data["conversationEvents"]
        assert event["message"]["body"] == "hello"
        assert event["message"]["thread"]["queueEntry"]["status"] == "ASSIGNED"
        assert victim.cancelled() and victim_got == []
    finally:
        for task in (victim, other):
            task.cancel()
        await asyncio.gather(victim, other, return_exceptions=True)
