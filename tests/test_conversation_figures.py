"""Per-agent read marks and unread counts, the visitor's last message, the first response."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.collab_support import join
from tests.conftest import Org
from tests.conversation_support import (
    MARK_READ,
    THREAD_FIGURES,
    active,
    figures,
    manual_queue,
    posted,
    queued,
    resolve,
)
from tests.queue_support import claim


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _unread(org: Org, thread_id: str, token: str, server: int = 0) -> Any:
    data = await org.data(THREAD_FIGURES, {"t": thread_id}, token=token, server=server)
    return data["thread"]["unreadCount"]


async def _mark(org: Org, token: str, thread_id: str, message_id: str | None = None, server: int = 0) -> dict[str, Any]:
    data = await org.data(
        MARK_READ, {"i": {"threadId": thread_id, "messageId": message_id}}, token=token, server=server
    )
    return dict(data["markThreadRead"])


async def test_each_agent_has_their_own_read_mark(org: Org) -> None:
    ann, exp = await org.create_agent("Ann"), await org.create_agent("Exp")
    reader, sue = await org.create_agent("Reader"), await org.create_agent("Sue", role="SUPERVISOR")
    conv = await active(org, ann)
    await join(org, ann, conv.thread_id, exp)
    await join(org, ann, conv.thread_id, reader, type="OBSERVER")
    for i in range(3):
        await posted(org, conv.visitor_token, conv.thread_id, f"visitor {i}")
    await posted(org, ann.token, conv.thread_id, "ann public")
    await posted(org, exp.token, conv.thread_id, "exp note", visibility="INTERNAL")
    # Own messages excluded; INTERNAL notes count for agents.
    assert [await _unread(org, conv.thread_id, a.token) for a in (ann, exp, reader, sue)] == [4, 4, 5, 5]
    # Not agents: null.
    for token in (conv.visitor_token, org.token("admin"), org.token("analyst")):
        assert await _unread(org, conv.thread_id, token) is None
    marked = await _mark(org, ann.token, conv.thread_id, server=1)
    assert marked["userErrors"] == [] and marked["thread"] == {"id": conv.thread_id, "unreadCount": 0}
    assert await _unread(org, conv.thread_id, ann.token, server=0) == 0
    assert await _unread(org, conv.thread_id, exp.token) == 4
    first = await posted(org, conv.visitor_token, conv.thread_id, "visitor again")
    await posted(org, conv.visitor_token, conv.thread_id, "and again")
    await posted(org, ann.token, conv.thread_id, "ann answers")
    assert [await _unread(org, conv.thread_id, a.token) for a in (ann, exp)] == [2, 7]
    marked = await _mark(org, ann.token, conv.thread_id, first["id"])
    assert marked["thread"]["unreadCount"] == 1
    # A READ observer may mark too: reading is all the mark needs.
    assert (await _mark(org, reader.token, conv.thread_id))["thread"]["unreadCount"] == 0
    # Decision (the contract is silent): a mark never moves back. A console tab that is behind marks
    # an older message; the newer ones another tab already read stay read.
    oldest = (
        await org.data(
            "query($t: ID!) { thread(id: $t) { messages(first: 1) { edges { node { id } } } } }",
            {"t": conv.thread_id},
            token=ann.token,
        )
    )["thread"]["messages"]["edges"][0]["node"]["id"]
    assert (await _mark(org, ann.token, conv.thread_id, oldest))["thread"]["unreadCount"] == 1
    assert await _unread(org, conv.thread_id, ann.token, server=1) == 1


async def test_who_may_mark_a_thread_read(org: Org) -> None:
    ann, stranger = await org.create_agent("Ann"), await org.create_agent("Stranger")
    conv = await active(org, ann)
    message = await posted(org, conv.visitor_token, conv.thread_id, "hi")
    body = await org.gql(MARK_READ, {"i": {"threadId": conv.thread_id}}, token=conv.visitor_token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    body = await org.gql(MARK_READ, {"i": {"threadId": conv.thread_id}}, token=org.token("analyst"))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    # An agent who may not read the thread gets a userError and no mark.
    refused = await _mark(org, stranger.token, conv.thread_id, message["id"])
    assert refused["thread"] is None and refused["userErrors"], refused
    # A message of another thread is not a place in this one: a userError, no mark moved.
    other = await active(org, ann)
    elsewhere = await posted(org, other.visitor_token, other.thread_id, "elsewhere")
    wrong = await _mark(org, ann.token, conv.thread_id, elsewhere["id"])
    assert wrong["userErrors"], wrong
    assert await _unread(org, conv.thread_id, ann.token) == 1


async def test_last_visitor_message_and_first_response_follow_the_latest_assignment(org: Org) -> None:
    queue = await manual_queue(org)
    ann, bob = await org.create_agent("Ann"), await org.create_agent("Bob")
    conv = await queued(org, queue)
    start = await figures(org, conv.thread_id)
    assert start["lastVisitorMessageAt"] is None and start["firstResponseAt"] is None
    await posted(org, org.token("service"), conv.thread_id, "the bot answers: not a first response")
    await claim(org, ann, conv.entry_id)
    hello = await posted(org, conv.visitor_token, conv.thread_id, "hello")
    await posted(org, ann.token, conv.thread_id, "a note is no response", visibility="INTERNAL")
    await posted(org, org.token("admin"), conv.thread_id, "nor is the organization's notice")
    assert (await figures(org, conv.thread_id))["firstResponseAt"] is None
    answer = await posted(org, ann.token, conv.thread_id, "hi, Ann here")
    await posted(org, ann.token, conv.thread_id, "second answer")
    view = await figures(org, conv.thread_id)
    assert when(view["firstResponseAt"]) == when(answer["createdAt"])
    assert when(view["lastVisitorMessageAt"]) == when(hello["createdAt"])
    await resolve(org, ann, conv.thread_id)
    again = await posted(org, conv.visitor_token, conv.thread_id, "it broke again")  # reopens: QUEUED
    view = await figures(org, conv.thread_id)
    assert view["status"] == "QUEUED" and when(view["lastVisitorMessageAt"]) == when(again["createdAt"])
    assert (await claim(org, bob, view["queueEntry"]["id"]))["userErrors"] == []
    # Assigned again: no first response yet since the latest assignment.
    assert (await figures(org, conv.thread_id))["firstResponseAt"] is None
    bobs = await posted(org, bob.token, conv.thread_id, "Bob here")
    view = await figures(org, conv.thread_id)
    assert when(view["firstResponseAt"]) == when(bobs["createdAt"])
    assert when(view["queueEntry"]["assignedAt"]) <= when(bobs["createdAt"])
    # The visitor reads the same times (no identity in them).
    mine = await org.data(
        "query($t: ID!) { thread(id: $t) { lastVisitorMessageAt firstResponseAt } }",
        {"t": conv.thread_id},
        token=conv.visitor_token,
    )
    assert when(mine["thread"]["firstResponseAt"]) == when(bobs["createdAt"])


async def test_a_helper_answering_first_is_the_first_response(org: Org) -> None:
    """ "the first PUBLIC AGENT message after the thread's latest assignment": any agent's, not only the primary's."""
    ann, exp = await org.create_agent("Ann"), await org.create_agent("Exp")
    conv = await active(org, ann)
    await join(org, ann, conv.thread_id, exp)
    await posted(org, conv.visitor_token, conv.thread_id, "help")
    await posted(org, exp.token, conv.thread_id, "a note first", visibility="INTERNAL")
    helper = await posted(org, exp.token, conv.thread_id, "Exp here, I can help")
    await posted(org, ann.token, conv.thread_id, "Ann here too")
    assert when((await figures(org, conv.thread_id))["firstResponseAt"]) == when(helper["createdAt"])
