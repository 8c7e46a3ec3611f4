"""A visitor's message to a RESOLVED thread: within the window it reopens the thread like reopenThread
(back through the queue, sticky agent first, never to an agent who is gone); later, switched off,
or on a CLOSED thread it is refused (CONFLICT) and nothing is written."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.collab_support import pk_of
from tests.conftest import AgentHandle, Org
from tests.conversation_support import (
    CONVERSATION,
    age_resolution,
    events,
    figures,
    listening,
    manual_queue,
    outcome,
    queued,
    resolve,
    rows,
    send,
    set_thread_status,
    stored,
)
from tests.queue_support import agent_row, claim, create_queue, eventually, update_settings


async def _assigned(org: Org, thread_id: str, attempt: int) -> bool:
    entry = (await figures(org, thread_id))["queueEntry"]
    return bool(entry and entry["attempt"] == attempt and entry["status"] == "ASSIGNED")


async def _make_unavailable(org: Org, ann: AgentHandle, how: str) -> None:
    """Ann is gone (OFFLINE) or at her maxConcurrentThreads (3) with threads of another queue."""
    if how == "offline":
        await org.set_status(ann, "OFFLINE")
    elif how == "full":
        manual = await manual_queue(org)
        for _ in range(2):
            other = await queued(org, manual)
            assert (await claim(org, ann, other.entry_id))["userErrors"] == []
        assert (await agent_row(org, ann))["activeThreadCount"] == 3


@pytest.mark.parametrize("ann_state", ["online", "offline", "full"])
async def test_a_message_within_the_window_reopens_sticky_agent_first(org: Org, ann_state: str) -> None:
    care = await create_queue(org, "care", routingStrategy="LEAST_BUSY", stickyAgent=True)
    ann = await org.create_agent("Ann", maxConcurrentThreads=3)
    conv = await queued(org, care)
    await queued(org, care)  # Ann is busier than Bob will be: only stickiness sends the thread back to her
    await eventually(lambda: _assigned(org, conv.thread_id, 1))
    bob = await org.create_agent("Bob", maxConcurrentThreads=3)
    client = await org.ws(org.token("admin"), server=1)
    try:
        sub = await client.subscribe(CONVERSATION, {"t": conv.thread_id})
        await listening(sub)
        await resolve(org, ann, conv.thread_id)
        await _make_unavailable(org, ann, ann_state)
        response = await send(org, conv.visitor_token, conv.thread_id, "one more thing", server=0)
        assert outcome(response) == "ok", response
        payload = response["data"]["sendMessage"]
        assert payload["thread"]["status"] in ("QUEUED", "ACTIVE"), payload
        await eventually(lambda: _assigned(org, conv.thread_id, 2))
        seen = await events(sub, 4)
        await sub.nothing(0.6)
    finally:
        await client.close()
    view = await figures(org, conv.thread_id)
    # Sticky first, but never to an agent who is gone or has no room.
    expected = ann if ann_state == "online" else bob
    assert view["status"] == "ACTIVE" and view["primaryAgent"] == {"id": expected.id}
    assert view["queueEntry"]["assignedAgent"] == {"id": expected.id}
    assert (await agent_row(org, bob))["activeThreadCount"] == (0 if ann_state == "online" else 1)
    _check_reopen_events(seen, payload["message"]["id"])


def _check_reopen_events(seen: list[dict[str, Any]], message_id: str) -> None:
    """RESOLVED, then the message and QUEUED (one transaction: either order), then ACTIVE."""
    assert (seen[0]["kind"], seen[0]["status"]) == ("STATUS_CHANGED", "RESOLVED"), seen
    middle = {(e["kind"], e["status"], (e["message"] or {}).get("id")) for e in seen[1:3]}
    assert middle == {("MESSAGE", None, message_id), ("STATUS_CHANGED", "QUEUED", None)}, seen
    assert (seen[3]["kind"], seen[3]["status"]) == ("STATUS_CHANGED", "ACTIVE"), seen
    assert all(e["cursor"] for e in seen) and len({e["cursor"] for e in seen}) == 4


async def test_the_visitor_sees_the_reopen_on_their_stream(org: Org) -> None:
    queue = await manual_queue(org)
    ann = await org.create_agent("Ann")
    conv = await queued(org, queue)
    await org.data(
        "mutation($e: ID!) { claimQueueEntry(input: {queueEntryId: $e}) { userErrors { code } } }",
        {"e": conv.entry_id},
        token=ann.token,
    )
    await resolve(org, ann, conv.thread_id)
    await update_settings(org, reopenOnVisitorMessageSeconds=3600)
    await age_resolution(org, conv.thread_id, 1800)
    client = await org.ws(conv.visitor_token, server=1)
    try:
        sub = await client.subscribe(CONVERSATION, {"t": conv.thread_id})
        await listening(sub)
        response = await send(org, conv.visitor_token, conv.thread_id, "it broke again", server=0)
        assert outcome(response) == "ok", response
        # A MANUAL queue: the reopened thread waits there.
        assert response["data"]["sendMessage"]["thread"]["status"] == "QUEUED"
        seen = await events(sub, 2)
        await sub.nothing(0.6)
    finally:
        await client.close()
    kinds = {(e["kind"], e["status"]) for e in seen}
    assert kinds == {("MESSAGE", None), ("STATUS_CHANGED", "QUEUED")}, seen
    message = next(e["message"] for e in seen if e["kind"] == "MESSAGE")
    assert (message["body"], message["senderKind"], message["author"]) == ("it broke again", "VISITOR", None)
    view = await figures(org, conv.thread_id)
    assert view["status"] == "QUEUED" and view["primaryAgent"] is None
    assert (view["queueEntry"]["attempt"], view["queueEntry"]["status"]) == (2, "WAITING")


async def _refused_on_resolved(org: Org, conv_thread: str, token: str) -> None:
    before = await stored(org)
    entry_before = (await figures(org, conv_thread))["queueEntry"]
    response = await send(org, token, conv_thread, "hello again?")
    assert outcome(response) == "CONFLICT", response
    assert response["data"]["sendMessage"]["message"] is None
    assert await stored(org) == before
    view = await figures(org, conv_thread)
    assert view["queueEntry"] == entry_before and view["lastVisitorMessageAt"] is None


async def test_too_late_switched_off_or_closed_is_a_conflict(org: Org) -> None:
    queue = await manual_queue(org)
    ann = await org.create_agent("Ann", maxConcurrentThreads=5)
    threads = []
    for _ in range(3):
        conv = await queued(org, queue)
        await org.data(
            "mutation($e: ID!) { claimQueueEntry(input: {queueEntryId: $e}) { userErrors { code } } }",
            {"e": conv.entry_id},
            token=ann.token,
        )
        await resolve(org, ann, conv.thread_id)
        threads.append(conv)
    late, closed, switched_off = threads
    # Past the default window (86,400 s).
    await age_resolution(org, late.thread_id, 86_400 + 120)
    await _refused_on_resolved(org, late.thread_id, late.visitor_token)
    assert (await figures(org, late.thread_id))["status"] == "RESOLVED"
    # The bot's place is BOT and QUEUED: a RESOLVED thread is not the bot's to reopen either.
    await _refused_on_resolved(org, switched_off.thread_id, org.token("service"))
    # CLOSED is final, even moments after it ended.
    await set_thread_status(org, closed.thread_id, "CLOSED")
    await _refused_on_resolved(org, closed.thread_id, closed.visitor_token)
    assert (await figures(org, closed.thread_id))["status"] == "CLOSED"
    # Switched off: 0 means never.
    await update_settings(org, reopenOnVisitorMessageSeconds=0)
    await _refused_on_resolved(org, switched_off.thread_id, switched_off.visitor_token)
    assert (await figures(org, switched_off.thread_id))["status"] == "RESOLVED"


@pytest.mark.postgres_only
async def test_racing_messages_reopen_once(org: Org) -> None:
    """Two messages of the visitor (two tabs) race to a RESOLVED thread on two processes: both are kept,
    the thread is queued once (one new entry, one STATUS_CHANGED)."""
    queue = await manual_queue(org)
    ann = await org.create_agent("Ann")
    conv = await queued(org, queue)
    await org.data(
        "mutation($e: ID!) { claimQueueEntry(input: {queueEntryId: $e}) { userErrors { code } } }",
        {"e": conv.entry_id},
        token=ann.token,
    )
    await resolve(org, ann, conv.thread_id)
    client = await org.ws(org.token("admin"))
    try:
        sub = await client.subscribe(CONVERSATION, {"t": conv.thread_id})
        await listening(sub)
        responses = await asyncio.gather(
            *(send(org, conv.visitor_token, conv.thread_id, f"tab {i}", server=i) for i in range(4))
        )
        assert [outcome(r) for r in responses] == ["ok"] * 4, responses
        seen = await events(sub, 5)
        await sub.nothing(0.8)
    finally:
        await client.close()
    kinds = sorted((e["kind"], e["status"]) for e in seen)
    assert kinds == [("MESSAGE", None)] * 4 + [("STATUS_CHANGED", "QUEUED")], seen
    view = await figures(org, conv.thread_id)
    assert view["status"] == "QUEUED"
    assert (view["queueEntry"]["attempt"], view["queueEntry"]["status"]) == (2, "WAITING")
    waiting = await rows(
        org,
        "SELECT COUNT(*) FROM queue_entry WHERE org_id = ? AND thread_id = ? AND status = 'WAITING'",
        org.id,
        pk_of(conv.thread_id),
    )
    assert waiting == [(1,)]
