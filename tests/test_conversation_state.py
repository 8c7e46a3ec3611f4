"""conversationEvents without ``after`` sends the thread's current state first, then goes on from it.

A client decides to subscribe, and a status change commits before the server
has registered its stream: without a first state that change would be lost to
the client (it is neither in what it loaded nor on a stream that starts live).
The first event is a STATUS_CHANGED with the thread's status and the cursor of
the newest event committed when that status was read; the stream then goes on
from that cursor, replayed then live, with no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from graphql import ExecutionResult
from starlette.applications import Starlette

from switchboard.graphql.context import Context
from switchboard.graphql.schema import schema
from switchboard.services import conversation
from tests.conftest import Org
from tests.conversation_support import CONVERSATION, active, events, listening, posted, resolve
from tests.test_conversation_stream import _api, _fanout_thread, fanout_app

__all__ = ["fanout_app"]

RESOLVE = "mutation($i: ResolveThreadInput!) { resolveThread(input: $i) { thread { status } } }"


def _brief(event: dict[str, Any]) -> tuple[str, str | None]:
    if event["kind"] == "MESSAGE":
        return ("MESSAGE", event["message"]["body"])
    return (event["kind"], event["status"])


async def test_a_status_committed_before_the_stream_opens_is_its_first_event(org: Org) -> None:
    ann = await org.create_agent("Ann")
    conv = await active(org, ann)
    await posted(org, conv.visitor_token, conv.thread_id, "before")
    # Committed on one process just before the widget subscribes on the other.
    await resolve(org, ann, conv.thread_id)
    client = await org.ws(conv.visitor_token, server=1)
    try:
        sub = await client.subscribe(CONVERSATION, {"t": conv.thread_id})
        [state] = await listening(sub)
        assert state["status"] == "RESOLVED", state
        # Nothing from before the state is sent again (the message, the resolve).
        await sub.nothing(0.6)
        await posted(org, conv.visitor_token, conv.thread_id, "it broke again", server=0)
        tail = await events(sub, 2)
        assert sorted(_brief(e) for e in tail) == [("MESSAGE", "it broke again"), ("STATUS_CHANGED", "QUEUED")]
        await sub.nothing(0.6)
    finally:
        await client.close()
    # The state's cursor resumes gaplessly: exactly what came after it, with the same cursors.
    client = await org.ws(conv.visitor_token, server=0)
    try:
        resumed = await client.subscribe(CONVERSATION, {"t": conv.thread_id, "after": state["cursor"]})
        assert await events(resumed, 2) == tail
        await resumed.nothing(0.6)
    finally:
        await client.close()


async def _watch(app: Starlette, token: str, thread: str, got: list[dict[str, Any]]) -> None:
    ctx = Context(app.state.services)
    await ctx.authenticate(f"Bearer {token}")
    query = "subscription($t: ID!) { conversationEvents(threadId: $t) { cursor kind status } }"
    stream = await schema.subscribe(query, variable_values={"t": thread}, context_value=ctx)
    assert not isinstance(stream, ExecutionResult), stream
    async for result in stream:
        assert not result.errors and result.data is not None, result
        got.append(result.data["conversationEvents"])


async def test_a_change_committed_between_the_state_and_the_registration_comes_next(
    fanout_app: tuple[Starlette, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The widest window: the thread is resolved right after the stream read its state, before it is
    on the bus. The resolve must come as the next event, once."""
    app, client = fanout_app
    thread, visitor, staff = await _fanout_thread(client)
    read = conversation.thread_head
    resolved: list[dict[str, Any]] = []

    async def then_resolve(*args: Any) -> conversation.Head | None:
        head = await read(*args)
        resolved.append(await _api(client, staff[1], RESOLVE, {"i": {"threadId": thread}}))
        return head

    monkeypatch.setattr(conversation, "thread_head", then_resolve)
    got: list[dict[str, Any]] = []
    task = asyncio.create_task(_watch(app, visitor, thread, got))
    try:
        for _ in range(300):
            if len(got) >= 2:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        assert resolved and resolved[0]["resolveThread"]["thread"]["status"] == "RESOLVED", resolved
        assert [(e["kind"], e["status"]) for e in got] == [("STATUS_CHANGED", "ACTIVE"), ("STATUS_CHANGED", "RESOLVED")]
        assert int(got[0]["cursor"][1:]) < int(got[1]["cursor"][1:]), got
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
