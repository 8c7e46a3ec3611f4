"""Safe retries with clientMessageId, and the per-visitor message rate limit, across processes."""

from __future__ import annotations

import asyncio

import pytest

from tests import dbcheck
from tests.conftest import Org
from tests.conversation_support import (
    CONVERSATION,
    MESSAGE_TABLE,
    active,
    events,
    listening,
    outcome,
    outside_minute_edge,
    page,
    posted,
    send,
    start,
    stored,
)
from tests.queue_support import update_settings


async def test_a_retry_returns_the_first_message_and_sends_no_second_event(org: Org) -> None:
    ann = await org.create_agent("Ann")
    conv = await active(org, ann)
    client = await org.ws(org.token("admin"), server=1)
    try:
        sub = await client.subscribe(CONVERSATION, {"t": conv.thread_id})
        await listening(sub)
        first = await posted(org, conv.visitor_token, conv.thread_id, "where is my order?", client_message_id="k-1")
        assert first["clientMessageId"] == "k-1"
        rows = await stored(org)
        # The retry (even with another body, on another process) changes nothing and returns the first message.
        for server, body in ((1, "where is my order?"), (0, "edited on retry")):
            again = await posted(org, conv.visitor_token, conv.thread_id, body, client_message_id="k-1", server=server)
            assert again == first
        assert await stored(org) == rows
        # The key belongs to its sender: the agent's same key is another message; so is another key.
        answer = await posted(org, ann.token, conv.thread_id, "on its way", client_message_id="k-1")
        other = await posted(org, conv.visitor_token, conv.thread_id, "thanks", client_message_id="k-2")
        assert len({first["id"], answer["id"], other["id"]}) == 3
        seen = await events(sub, 3)
        assert [e["message"]["id"] for e in seen] == [first["id"], answer["id"], other["id"]]
        await sub.nothing(0.6)
    finally:
        await client.close()
    # The same key on another thread is another message too (keys are per sender and thread).
    second = await active(org, ann)
    elsewhere = await posted(org, ann.token, second.thread_id, "hello", client_message_id="k-1")
    assert elsewhere["id"] != answer["id"]
    history = await page(org, conv.thread_id, first=10)
    assert [e["node"]["id"] for e in history["edges"]] == [first["id"], answer["id"], other["id"]]
    assert history["totalCount"] == 3


async def test_the_same_key_on_a_refused_message_can_be_used_again(org: Org) -> None:
    """A refused message wrote nothing, so its key is still free (the user fixes the text and resends)."""
    conv = await start(org)
    bad = await send(org, conv.visitor_token, conv.thread_id, "   ", client_message_id="fix-me")
    assert outcome(bad) == "INVALID"
    good = await posted(org, conv.visitor_token, conv.thread_id, "fixed", client_message_id="fix-me")
    assert good["body"] == "fixed"


@pytest.mark.postgres_only
async def test_racing_retries_on_two_processes_make_one_row_and_one_event(org: Org) -> None:
    ann = await org.create_agent("Ann")
    conv = await active(org, ann)
    client = await org.ws(ann.token, server=0)
    try:
        sub = await client.subscribe(CONVERSATION, {"t": conv.thread_id})
        await listening(sub)
        for round_ in range(3):
            key = f"race-{round_}"
            responses = await asyncio.gather(
                *(
                    send(org, conv.visitor_token, conv.thread_id, f"once {round_}", client_message_id=key, server=i)
                    for i in range(8)
                )
            )
            assert [outcome(r) for r in responses] == ["ok"] * 8, responses
            ids = {r["data"]["sendMessage"]["message"]["id"] for r in responses}
            assert len(ids) == 1, responses
            count = await dbcheck.scalar(
                org.stack,
                f"SELECT COUNT(*) FROM {MESSAGE_TABLE} WHERE org_id = ? AND client_message_id = ?",
                org.id,
                key,
            )
            assert count == 1
            event = (await sub.next(10))["conversationEvents"]
            assert event["message"]["id"] == ids.pop()
            await sub.nothing(0.8)
    finally:
        await client.close()
    assert (await page(org, conv.thread_id, first=20))["totalCount"] == 3


async def test_a_visitor_is_rate_limited_across_processes(org: Org) -> None:
    await update_settings(org, messagesPerVisitorPerMinute=4)
    ann = await org.create_agent("Ann")
    conv = await active(org, ann)
    neighbour = await active(org, ann)
    await outside_minute_edge()
    for i in range(4):
        await posted(org, conv.visitor_token, conv.thread_id, f"m{i}", server=i)
    before = await stored(org)
    for server in (0, 1):
        limited = await send(org, conv.visitor_token, conv.thread_id, "one too many", server=server)
        assert outcome(limited) == "RATE_LIMITED", limited
        assert limited["data"]["sendMessage"]["message"] is None
    assert await stored(org) == before
    # Another visitor and the agents are not held back by this visitor's limit.
    await posted(org, neighbour.visitor_token, neighbour.thread_id, "me too", server=1)
    for i in range(6):
        await posted(org, ann.token, conv.thread_id, f"agent {i}", server=i)
    assert (await page(org, conv.thread_id, first=50))["totalCount"] == 10


@pytest.mark.postgres_only
async def test_a_burst_across_processes_never_passes_the_limit(org: Org) -> None:
    await update_settings(org, messagesPerVisitorPerMinute=5)
    ann = await org.create_agent("Ann")
    conv = await active(org, ann)
    await outside_minute_edge()
    responses = await asyncio.gather(
        *(send(org, conv.visitor_token, conv.thread_id, f"burst {i}", server=i) for i in range(12))
    )
    verdicts = sorted(outcome(r) for r in responses)
    assert verdicts == ["RATE_LIMITED"] * 7 + ["ok"] * 5, responses
    assert (await page(org, conv.thread_id, first=50))["totalCount"] == 5
    assert (await stored(org))[0] == 5


async def test_a_retry_at_the_limit_still_returns_the_first_message(org: Org) -> None:
    """Decision (the contract is silent on the two rules together): a retry is not a new message, so a
    visitor at the limit whose widget resends an already-stored message gets it back, not RATE_LIMITED."""
    await update_settings(org, messagesPerVisitorPerMinute=3)
    conv = await start(org)
    await outside_minute_edge()
    sent = [
        await posted(org, conv.visitor_token, conv.thread_id, f"m{i}", client_message_id=f"k{i}", server=i)
        for i in range(3)
    ]
    again = await posted(org, conv.visitor_token, conv.thread_id, "m2", client_message_id="k2", server=1)
    assert again == sent[2]
    limited = await send(org, conv.visitor_token, conv.thread_id, "m3", client_message_id="k3")
    assert outcome(limited) == "RATE_LIMITED", limited
    assert (await stored(org))[0] == 3


async def test_the_limit_is_the_visitors_across_their_threads(org: Org) -> None:
    """Per visitor, not per thread: the same visitor (startThread reuses them by externalId) on two threads."""
    await update_settings(org, messagesPerVisitorPerMinute=4)
    started = []
    for _ in range(2):
        data = await org.data(
            """mutation { startThread(input: {visitor: {externalId: "same-person", name: "Vera"}}) {
                 thread { id visitor { id } } visitorToken } }""",
            token=org.token("service"),
        )
        started.append(data["startThread"])
    assert started[0]["thread"]["visitor"] == started[1]["thread"]["visitor"]
    await outside_minute_edge()
    for i in range(4):
        one = started[i % 2]
        await posted(org, one["visitorToken"], one["thread"]["id"], f"m{i}", server=i)
    for one in started:
        limited = await send(org, one["visitorToken"], one["thread"]["id"], "one too many")
        assert outcome(limited) == "RATE_LIMITED", limited


async def test_only_stored_messages_count_toward_the_limit(org: Org) -> None:
    """Decision (the contract counts messages a visitor sends; it is silent on refused ones and retries):
    what wrote nothing (an INVALID body, a retry answered with the first message) spends none of the
    visitor's minute, so a widget that fixes a typo or retries a lost response is not locked out."""
    await update_settings(org, messagesPerVisitorPerMinute=3)
    conv = await start(org)
    await outside_minute_edge()
    first = await posted(org, conv.visitor_token, conv.thread_id, "m0", client_message_id="k0")
    for server in (0, 1):
        assert outcome(await send(org, conv.visitor_token, conv.thread_id, "   ", server=server)) == "INVALID"
        retry = await posted(org, conv.visitor_token, conv.thread_id, "m0", client_message_id="k0", server=server)
        assert retry == first
    for i in (1, 2):
        await posted(org, conv.visitor_token, conv.thread_id, f"m{i}", server=i)
    assert outcome(await send(org, conv.visitor_token, conv.thread_id, "m3")) == "RATE_LIMITED"
    assert (await stored(org))[0] == 3
