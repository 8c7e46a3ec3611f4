"""The conversation's write side and reads over the wire, on both stacks: sendMessage, Thread.messages,
markThreadRead / unreadCount, firstResponseAt and the message figures of metrics."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from tests import dbcheck
from tests.collab_support import RESOLVE, active_thread, codes, join, pk_of, settings
from tests.conftest import AgentHandle, Org

SEND = """mutation($i: SendMessageInput!) { sendMessage(input: $i) {
  message { id senderKind visibility body clientMessageId displayName author { id } thread { id } }
  thread { id status lastVisitorMessageAt firstResponseAt } userErrors { field message code } } }"""
MESSAGES = """query($t: ID!, $first: Int, $after: String, $last: Int, $before: String, $v: [MessageVisibility!]) {
  thread(id: $t) { messages(first: $first, after: $after, last: $last, before: $before, visibility: $v) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id body visibility senderKind displayName author { id name } } } } } }"""
MARK = """mutation($i: MarkThreadReadInput!) { markThreadRead(input: $i) {
  thread { id unreadCount } userErrors { field code } } }"""
UNREAD = """query($t: ID!) { thread(id: $t) { unreadCount } }"""


async def send(org: Org, token: str, thread: str, body: str, **extra: Any) -> dict[str, Any]:
    data = await org.data(SEND, {"i": {"threadId": thread, "body": body, **extra}}, token=token)
    return data["sendMessage"]  # type: ignore[no-any-return]


async def send_raw(org: Org, token: str, thread: str, body: str) -> dict[str, Any]:
    """sendMessage with the JSON written by hand: a lone surrogate travels as its \\u escape."""
    payload = json.dumps({"query": SEND, "variables": {"i": {"threadId": thread, "body": body}}})
    response = await org.http.post(
        f"{org.stack.url()}/graphql",
        content=payload.encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["sendMessage"]  # type: ignore[no-any-return]


async def sent(org: Org, token: str, thread: str, body: str, **extra: Any) -> dict[str, Any]:
    payload = await send(org, token, thread, body, **extra)
    assert not payload["userErrors"], payload["userErrors"]
    return payload["message"]  # type: ignore[no-any-return]


async def page(org: Org, token: str, thread: str, **args: Any) -> dict[str, Any]:
    data = await org.data(MESSAGES, {"t": thread, **args}, token=token)
    return data["thread"]["messages"]  # type: ignore[no-any-return]


def bodies(conn: dict[str, Any]) -> list[str]:
    return [e["node"]["body"] for e in conn["edges"]]


async def visitor_thread(org: Org, primary: AgentHandle) -> tuple[str, str]:
    """An ACTIVE thread served by ``primary`` and its visitor's token."""
    thread = await active_thread(org, primary)
    visitor = await org.data("query($t: ID!) { thread(id: $t) { visitor { id } } }", {"t": thread})
    return thread, org.token("visitor", sub=visitor["thread"]["visitor"]["id"], thread=thread)


async def test_who_posts_what(org: Org, other_org: Org) -> None:
    primary, watcher, coach, stranger = [await org.create_agent(n) for n in ("Prim", "Obs", "Guide", "Str")]
    thread, visitor = await visitor_thread(org, primary)
    await join(org, primary, thread, watcher, type="OBSERVER")
    await join(org, primary, thread, coach, type="GUIDE", permission="WRITE")
    note = await sent(org, primary.token, thread, "internal note", visibility="INTERNAL")
    assert (note["senderKind"], note["visibility"], note["author"]) == ("AGENT", "INTERNAL", {"id": primary.id})
    assert (await sent(org, visitor, thread, "hello"))["senderKind"] == "VISITOR"
    assert (await sent(org, org.token("admin"), thread, "system says", visibility="INTERNAL"))["senderKind"] == "SYSTEM"
    assert (await sent(org, coach.token, thread, "coaching", visibility="INTERNAL"))["author"] == {"id": coach.id}
    assert codes(await send(org, coach.token, thread, "to the visitor")) == [
        ("FORBIDDEN_ACTION", ["input", "threadId"])
    ]
    assert codes(await send(org, watcher.token, thread, "x", visibility="INTERNAL"))[0][0] == "FORBIDDEN_ACTION"
    assert codes(await send(org, org.token("service"), thread, "bot")) == [("CONFLICT", ["input", "threadId"])]
    assert codes(await send(org, stranger.token, thread, "x"))[0][0] == "FORBIDDEN_ACTION"
    foreign = await other_org.create_agent("Far")
    assert codes(await send(other_org, foreign.token, thread, "x"))[0][0] == "NOT_FOUND"
    for token, visibility in (
        (visitor, "INTERNAL"),
        (org.token("analyst"), "PUBLIC"),
        (org.token("service"), "INTERNAL"),
    ):
        body = await org.gql(SEND, {"i": {"threadId": thread, "body": "x", "visibility": visibility}}, token=token)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    other_thread, _ = await org.start_thread()
    body = await org.gql(SEND, {"i": {"threadId": other_thread, "body": "x"}}, token=visitor)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Refusals wrote nothing: four messages on the thread.
    assert (await page(org, org.token("admin"), thread))["totalCount"] == 4


async def test_a_permission_change_takes_effect_on_the_next_message(org: Org) -> None:
    primary, expert = await org.create_agent("Prim"), await org.create_agent("Exp")
    thread = await active_thread(org, primary)
    collaborator = await join(org, primary, thread, expert, type="EXPERT", permission="WRITE")
    await sent(org, expert.token, thread, "I can write")
    changed = await org.data(
        "mutation($i: ChangePermissionInput!) { changePermission(input: $i) { userErrors { code } } }",
        {"i": {"threadId": thread, "agentId": expert.id, "permission": "READ"}},
        token=primary.token,
    )
    assert not changed["changePermission"]["userErrors"], collaborator
    assert codes(await send(org, expert.token, thread, "now I cannot"))[0][0] == "FORBIDDEN_ACTION"


async def test_the_visitor_sees_public_messages_under_one_name(org: Org) -> None:
    await settings(org, serviceName="Acme Help")
    primary = await org.create_agent("Ada Agent")
    thread, visitor = await visitor_thread(org, primary)
    await sent(org, visitor, thread, "hi")
    await sent(org, primary.token, thread, "hello there")
    note = await sent(org, primary.token, thread, "secret", visibility="INTERNAL")
    seen = await page(org, visitor, thread)
    assert bodies(seen) == ["hi", "hello there"] and seen["totalCount"] == 2
    names = [(e["node"]["displayName"], e["node"]["author"]) for e in seen["edges"]]
    assert names == [("Visitor", None), ("Acme Help", None)]
    assert (await page(org, visitor, thread, v=["INTERNAL"]))["edges"] == []
    hidden = await org.data("query($id: ID!) { node(id: $id) { id } }", {"id": note["id"]}, token=visitor)
    assert hidden["node"] is None
    agents = await page(org, primary.token, thread)
    assert bodies(agents) == ["hi", "hello there", "secret"]
    assert agents["edges"][1]["node"]["displayName"] == "Ada Agent"
    assert agents["edges"][1]["node"]["author"]["name"] == "Ada Agent"


async def test_a_retry_returns_the_first_message(org: Org) -> None:
    primary = await org.create_agent("Prim")
    thread, visitor = await visitor_thread(org, primary)
    key = f"k-{secrets.token_hex(4)}"
    first = await sent(org, visitor, thread, "once", clientMessageId=key)
    again = await sent(org, visitor, thread, "once (retried)", clientMessageId=key)
    assert again["id"] == first["id"] and again["body"] == "once" and again["clientMessageId"] == key
    # The same key from another sender is another message.
    other = await sent(org, primary.token, thread, "mine", clientMessageId=key)
    assert other["id"] != first["id"]
    assert (await page(org, primary.token, thread))["totalCount"] == 2
    events = await dbcheck.scalar(
        org.stack, "SELECT COUNT(*) FROM event WHERE org_id = ? AND kind = 'MESSAGE_POSTED'", org.id
    )
    assert events == 2


async def test_bad_bodies_and_keys_are_refused(org: Org) -> None:
    primary = await org.create_agent("Prim")
    thread = await active_thread(org, primary)
    for body in ("", "   \n\t ", "x" * 2001, "a\x00b", "lone \ud800"):
        assert codes(await send_raw(org, primary.token, thread, body)) == [("INVALID", ["input", "body"])], repr(body)
    for key in ("", "k" * 101):
        refused = await send(org, primary.token, thread, "ok", clientMessageId=key)
        assert codes(refused) == [("INVALID", ["input", "clientMessageId"])]
    assert codes(await send(org, primary.token, "not-an-id", "x"))[0] == ("INVALID", ["input", "threadId"])
    assert (await sent(org, primary.token, thread, "  y" + "x" * 1997))["body"].startswith("  y")
    assert (await page(org, primary.token, thread))["totalCount"] == 1


async def test_pages_both_ways_with_stable_cursors(org: Org) -> None:
    primary = await org.create_agent("Prim")
    thread, visitor = await visitor_thread(org, primary)
    for i in range(7):
        await sent(org, visitor if i % 2 else primary.token, thread, f"m{i}")
    token = primary.token
    head = await page(org, token, thread, first=3)
    assert bodies(head) == ["m0", "m1", "m2"]
    assert head["pageInfo"]["hasNextPage"] and not head["pageInfo"]["hasPreviousPage"]
    rest = await page(org, token, thread, first=10, after=head["pageInfo"]["endCursor"])
    assert bodies(rest) == ["m3", "m4", "m5", "m6"] and not rest["pageInfo"]["hasNextPage"]
    tail = await page(org, token, thread, last=2)
    assert bodies(tail) == ["m5", "m6"] and tail["pageInfo"]["hasPreviousPage"]
    before = await page(org, token, thread, last=3, before=tail["pageInfo"]["startCursor"])
    assert bodies(before) == ["m2", "m3", "m4"] and before["pageInfo"]["hasNextPage"]
    # A cursor stays valid as messages are added.
    await sent(org, token, thread, "m7")
    assert bodies(await page(org, token, thread, first=2, after=head["pageInfo"]["endCursor"])) == ["m3", "m4"]
    body = await org.gql(MESSAGES, {"t": thread, "after": "garbage"}, token=token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body


async def test_a_visitor_message_reopens_a_resolved_thread_unless_switched_off(org: Org) -> None:
    primary = await org.create_agent("Prim")
    thread, visitor = await visitor_thread(org, primary)
    resolved = await org.data(RESOLVE, {"i": {"threadId": thread}}, token=primary.token)
    assert resolved["resolveThread"]["thread"]["status"] == "RESOLVED"
    back = await send(org, visitor, thread, "one more question")
    assert not back["userErrors"] and back["thread"]["status"] in ("QUEUED", "ACTIVE"), back
    assert back["thread"]["lastVisitorMessageAt"] is not None
    # Switched off: refused, and nothing written.
    second, visitor2 = await visitor_thread(org, primary)
    await settings(org, reopenOnVisitorMessageSeconds=0)
    await org.data(RESOLVE, {"i": {"threadId": second}}, token=primary.token)
    assert codes(await send(org, visitor2, second, "hello?")) == [("CONFLICT", ["input", "threadId"])]
    assert (await page(org, org.token("admin"), second))["totalCount"] == 0
    status = await org.data("query($t: ID!) { thread(id: $t) { status } }", {"t": second})
    assert status["thread"]["status"] == "RESOLVED"


async def test_the_visitor_rate_limit(org: Org) -> None:
    await settings(org, messagesPerVisitorPerMinute=3)
    primary = await org.create_agent("Prim")
    thread, visitor = await visitor_thread(org, primary)
    first = await sent(org, visitor, thread, "m0", clientMessageId="k0")
    for i in range(1, 3):
        await sent(org, visitor, thread, f"m{i}")
    assert codes(await send(org, visitor, thread, "too many"))[0][0] == "RATE_LIMITED"
    # A retry writes nothing: it is answered at the limit too.
    assert (await sent(org, visitor, thread, "m0", clientMessageId="k0"))["id"] == first["id"]
    # Agents are not limited by it.
    await sent(org, primary.token, thread, "agents write on")
    assert (await page(org, primary.token, thread))["totalCount"] == 4


async def test_unread_counts_follow_the_read_mark(org: Org) -> None:
    primary, expert = await org.create_agent("Prim"), await org.create_agent("Exp")
    thread, visitor = await visitor_thread(org, primary)
    await join(org, primary, thread, expert, type="EXPERT", permission="WRITE")
    first = await sent(org, visitor, thread, "a")
    await sent(org, visitor, thread, "b")
    await sent(org, primary.token, thread, "c")
    unread = await org.data(UNREAD, {"t": thread}, token=primary.token)
    assert unread["thread"]["unreadCount"] == 2  # their own message is not unread
    assert (await org.data(UNREAD, {"t": thread}, token=expert.token))["thread"]["unreadCount"] == 3
    assert (await org.data(UNREAD, {"t": thread}, token=visitor))["thread"]["unreadCount"] is None
    marked = await org.data(MARK, {"i": {"threadId": thread, "messageId": first["id"]}}, token=primary.token)
    assert marked["markThreadRead"]["thread"]["unreadCount"] == 1
    marked = await org.data(MARK, {"i": {"threadId": thread}}, token=expert.token)
    assert marked["markThreadRead"]["thread"]["unreadCount"] == 0
    # The mark never moves back.
    marked = await org.data(MARK, {"i": {"threadId": thread, "messageId": first["id"]}}, token=expert.token)
    assert marked["markThreadRead"]["thread"]["unreadCount"] == 0
    await sent(org, visitor, thread, "d")
    assert (await org.data(UNREAD, {"t": thread}, token=expert.token))["thread"]["unreadCount"] == 1
    other, _ = await visitor_thread(org, primary)
    stray = await sent(org, primary.token, other, "elsewhere")
    wrong = await org.data(MARK, {"i": {"threadId": thread, "messageId": stray["id"]}}, token=primary.token)
    assert codes(wrong["markThreadRead"]) == [("NOT_FOUND", ["input", "messageId"])]
    body = await org.gql(MARK, {"i": {"threadId": thread}}, token=visitor)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_first_response_and_the_metrics(org: Org) -> None:
    now = datetime.now(UTC)
    primary = await org.create_agent("Prim")
    thread, visitor = await visitor_thread(org, primary)
    await sent(org, visitor, thread, "hello?")
    note = await send(org, primary.token, thread, "looking", visibility="INTERNAL")
    assert note["thread"]["firstResponseAt"] is None
    answer = await send(org, primary.token, thread, "Hi! How can I help?")
    first_at = answer["thread"]["firstResponseAt"]
    assert first_at is not None
    later = await send(org, primary.token, thread, "Still there?")
    assert later["thread"]["firstResponseAt"] == first_at
    figures = await org.data(
        """query($from: DateTime!, $to: DateTime!) { metrics(from: $from, to: $to) {
             agentMessages visitorMessages averageFirstResponseSeconds p90FirstResponseSeconds } }""",
        {"from": (now - timedelta(days=1)).isoformat(), "to": (now + timedelta(days=1)).isoformat()},
        token=org.token("analyst"),
    )
    metrics = figures["metrics"]
    assert (metrics["agentMessages"], metrics["visitorMessages"]) == (2, 1)
    assert metrics["averageFirstResponseSeconds"] is not None and metrics["averageFirstResponseSeconds"] >= 0
    assert metrics["p90FirstResponseSeconds"] == metrics["averageFirstResponseSeconds"]
    assert pk_of(thread) > 0
