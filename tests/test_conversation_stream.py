"""conversationEvents and setTyping over the wire, on both stacks (two processes on PostgreSQL + Redis).

Resume after a cursor with no gap and no duplicate, on another process; the
visitor's view (no INTERNAL message or typing, no agent's identity or name);
typing throttled to one event per sender and thread per 2 s across processes
(counted: the events before a later message); a refused subscription is that
operation's error and the socket's other subscription goes on.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from graphql import ExecutionResult
from starlette.applications import Starlette

from switchboard.graphql.context import Context
from switchboard.graphql.schema import schema
from tests.collab_support import RESOLVE, join, settings
from tests.conftest import AgentHandle, Org
from tests.conversation_support import listening
from tests.queue_support import claim, create_queue, transfer
from tests.sql_support import record_into, sign, sql_app
from tests.wsclient import GraphQLWS, Subscription

EVENTS = """subscription($t: ID!, $after: String) { conversationEvents(threadId: $t, after: $after) {
  cursor kind at status typing typingName
  message { id body visibility senderKind displayName author { id name } thread { id status } } } }"""
SEND = """mutation($i: SendMessageInput!) { sendMessage(input: $i) {
  message { id } userErrors { code message } } }"""
TYPING = """mutation($i: SetTypingInput!) { setTyping(input: $i) { ok userErrors { code message } } }"""
MESSAGES = """query($t: ID!) { thread(id: $t) { messages(last: 50) { edges { cursor node { body } } } } }"""


@dataclass
class Conversation:
    thread: str
    visitor: str
    primary: AgentHandle


async def conversation(org: Org, visitor_name: str = "Vic") -> Conversation:
    """An ACTIVE thread: started with a named visitor, queued in a MANUAL queue, claimed by a new primary."""
    primary = await org.create_agent("Prim")
    started = await org.data(
        """mutation($i: StartThreadInput!) { startThread(input: $i) { thread { id } visitorToken } }""",
        {"i": {"visitor": {"externalId": f"v-{secrets.token_hex(4)}", "name": visitor_name}}},
        token=org.token("service"),
    )
    thread, visitor = started["startThread"]["thread"]["id"], started["startThread"]["visitorToken"]
    queue = await create_queue(org, f"manual-{secrets.token_hex(3)}", routingStrategy="MANUAL")
    queued = (await transfer(org, thread, queueId=queue))["data"]["requestTransfer"]
    assert queued["userErrors"] == [], queued
    taken = await claim(org, primary, entry_id=queued["queueEntry"]["id"])
    assert taken["userErrors"] == [], taken
    return Conversation(thread, visitor, primary)


async def say(org: Org, token: str, thread: str, body: str, visibility: str = "PUBLIC", server: int = 0) -> str:
    data = await org.data(
        SEND, {"i": {"threadId": thread, "body": body, "visibility": visibility}}, token=token, server=server
    )
    payload = data["sendMessage"]
    assert payload["userErrors"] == [], payload
    return str(payload["message"]["id"])


async def typing(
    org: Org, token: str, thread: str, visibility: str = "PUBLIC", on: bool = True, server: int = 0
) -> dict[str, Any]:
    data = await org.data(
        TYPING, {"i": {"threadId": thread, "typing": on, "visibility": visibility}}, token=token, server=server
    )
    return dict(data["setTyping"])


async def watch(client: GraphQLWS, thread: str, after: str | None = None) -> Subscription:
    sub = await client.subscribe(EVENTS, {"t": thread, "after": after})
    if after is None:
        # The thread's state comes first: what is committed after it comes on the stream.
        await listening(sub)
    # Typing is live only: give the stream a moment to be registered on the bus before acting.
    await asyncio.sleep(0.3)
    return sub


async def take(sub: Subscription, count: int) -> list[dict[str, Any]]:
    return [(await sub.next(10))["conversationEvents"] for _ in range(count)]


async def until_message(sub: Subscription, body: str, limit: int = 30) -> list[dict[str, Any]]:
    """Every event up to and including the message with ``body``."""
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        event = (await sub.next(10))["conversationEvents"]
        seen.append(event)
        if event["kind"] == "MESSAGE" and event["message"]["body"] == body:
            return seen
    raise AssertionError(f"no message {body!r} in {seen}")


def described(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [
        (e["kind"], e["message"]["body"] if e["kind"] == "MESSAGE" else e["status"] or e["typingName"]) for e in events
    ]


# ---------------------------------------------------------------- resume


async def test_resuming_after_a_cursor_replays_what_was_missed_in_order_then_goes_live(org: Org) -> None:
    conv = await conversation(org)
    agent_ws = await org.ws(conv.primary.token, server=0)
    try:
        console = await watch(agent_ws, conv.thread)
        await say(org, conv.visitor, conv.thread, "hello", server=0)
        await say(org, conv.primary.token, conv.thread, "hi, how can I help", server=1)
        await say(org, conv.primary.token, conv.thread, "note: VIP", "INTERNAL", server=1)
        seen = await take(console, 3)
        assert described(seen) == [("MESSAGE", "hello"), ("MESSAGE", "hi, how can I help"), ("MESSAGE", "note: VIP")]
        assert all(e["cursor"] for e in seen)
    finally:
        await agent_ws.close()
    first = seen[0]["cursor"]
    # While nobody watches: a message, then the thread is resolved.
    await say(org, conv.visitor, conv.thread, "still there?", server=1)
    resolved = await org.data(RESOLVE, {"i": {"threadId": conv.thread}}, token=conv.primary.token)
    assert resolved["resolveThread"]["userErrors"] == []

    visitor_ws = await org.ws(conv.visitor, server=1)
    admin_ws = await org.ws(org.token("admin"), server=1)
    try:
        widget = await watch(visitor_ws, conv.thread, after=first)
        replayed = await take(widget, 3)
        assert described(replayed) == [
            ("MESSAGE", "hi, how can I help"),
            ("MESSAGE", "still there?"),
            ("STATUS_CHANGED", "RESOLVED"),
        ]
        # Later cursors, each one once.
        cursors = [first, *(e["cursor"] for e in replayed)]
        assert len(set(cursors)) == 4 and cursors == sorted(cursors, key=lambda c: int(c[1:]))
        admin = await watch(admin_ws, conv.thread, after=first)
        assert described(await take(admin, 4)) == [
            ("MESSAGE", "hi, how can I help"),
            ("MESSAGE", "note: VIP"),
            ("MESSAGE", "still there?"),
            ("STATUS_CHANGED", "RESOLVED"),
        ]
        # Then live, on both, from the other process.
        await say(org, org.token("admin"), conv.thread, "we are closed today", server=0)
        assert described(await take(widget, 1)) == [("MESSAGE", "we are closed today")]
        assert described(await take(admin, 1)) == [("MESSAGE", "we are closed today")]
        await widget.nothing(0.5)
    finally:
        await visitor_ws.close()
        await admin_ws.close()


async def test_a_message_cursor_from_the_thread_resumes_right_after_that_message(org: Org) -> None:
    conv = await conversation(org)
    await say(org, conv.visitor, conv.thread, "one")
    await say(org, conv.primary.token, conv.thread, "two")
    edges = (await org.data(MESSAGES, {"t": conv.thread}, token=conv.visitor))["thread"]["messages"]["edges"]
    assert [e["node"]["body"] for e in edges] == ["one", "two"]
    await say(org, conv.visitor, conv.thread, "three", server=1)
    client = await org.ws(conv.visitor, server=1)
    try:
        widget = await watch(client, conv.thread, after=edges[-1]["cursor"])
        assert described(await take(widget, 1)) == [("MESSAGE", "three")]
        await widget.nothing(0.5)
    finally:
        await client.close()


async def test_a_plain_agents_stream_ends_with_the_event_that_took_their_place(org: Org) -> None:
    conv = await conversation(org)
    client = await org.ws(conv.primary.token, server=1)
    try:
        console = await watch(client, conv.thread)
        await say(org, conv.visitor, conv.thread, "bye")
        resolved = await org.data(RESOLVE, {"i": {"threadId": conv.thread}}, token=org.token("admin"))
        assert resolved["resolveThread"]["userErrors"] == []
        assert described(await take(console, 2)) == [("MESSAGE", "bye"), ("STATUS_CHANGED", "RESOLVED")]
        try:
            await console.next(10)
        except StopAsyncIteration:
            pass
        else:
            raise AssertionError("the stream went on after the agent lost their place")
    finally:
        await client.close()


async def test_the_visitor_sees_the_thread_queued_then_taken_by_an_agent(org: Org) -> None:
    agent = await org.create_agent("Prim")
    thread, visitor = await org.start_thread()
    client = await org.ws(visitor, server=1)
    try:
        widget = await watch(client, thread)
        await say(org, visitor, thread, "I need a human", server=0)
        queue = await create_queue(org, f"manual-{secrets.token_hex(3)}", routingStrategy="MANUAL")
        queued = (await transfer(org, thread, queueId=queue))["data"]["requestTransfer"]
        assert queued["userErrors"] == [], queued
        assert (await claim(org, agent, entry_id=queued["queueEntry"]["id"]))["userErrors"] == []
        seen = await take(widget, 3)
        assert described(seen) == [
            ("MESSAGE", "I need a human"),
            ("STATUS_CHANGED", "QUEUED"),
            ("STATUS_CHANGED", "ACTIVE"),
        ]
        assert all(e["cursor"] and e["message"] is None for e in seen[1:])
    finally:
        await client.close()


# ---------------------------------------------------------------- what the visitor sees


async def test_the_visitor_never_sees_internal_notes_internal_typing_or_an_agents_name(org: Org) -> None:
    conv = await conversation(org, visitor_name="Vic")
    await settings(org, serviceName="Acme Help")
    chief = await org.create_agent("Chief", role="SUPERVISOR")
    visitor_ws = await org.ws(conv.visitor, server=0)
    chief_ws = await org.ws(chief.token, server=1)
    try:
        widget = await watch(visitor_ws, conv.thread)
        console = await watch(chief_ws, conv.thread)
        # The primary writes a note (INTERNAL typing, then the note), then answers the visitor.
        assert await typing(org, conv.primary.token, conv.thread, "INTERNAL", server=1) == {
            "ok": True,
            "userErrors": [],
        }
        await say(org, conv.primary.token, conv.thread, "they are a VIP", "INTERNAL", server=1)
        await say(org, conv.primary.token, conv.thread, "Hello Vic!", server=0)

        seen = await until_message(widget, "Hello Vic!")
        assert len(seen) == 1, seen
        message = seen[0]["message"]
        assert message["author"] is None and message["displayName"] == "Acme Help"
        assert message["senderKind"] == "AGENT" and message["visibility"] == "PUBLIC"
        assert message["thread"] == {"id": conv.thread, "status": "ACTIVE"}

        staff = await until_message(console, "Hello Vic!")
        assert [(e["kind"], e["typingName"], e["typing"]) for e in staff[:1]] == [("TYPING", "Prim", True)]
        assert staff[0]["cursor"] is None
        assert described(staff[1:]) == [("MESSAGE", "they are a VIP"), ("MESSAGE", "Hello Vic!")]
        assert staff[2]["message"]["author"] == {"id": conv.primary.id, "name": "Prim"}
        assert staff[2]["message"]["displayName"] == "Prim"

        # The visitor types: the supervisor sees the visitor's name; the visitor gets no echo.
        assert (await typing(org, conv.visitor, conv.thread, server=1))["ok"] is True
        event = (await take(console, 1))[0]
        assert (event["kind"], event["typingName"], event["cursor"]) == ("TYPING", "Vic", None)
        # PUBLIC typing of an agent reaches the visitor under the service's name.
        chief_typing = await typing(org, chief.token, conv.thread, "INTERNAL")
        assert chief_typing["ok"] is True
        await asyncio.sleep(0.3)
        await say(org, conv.visitor, conv.thread, "thanks", server=0)
        assert described(await until_message(widget, "thanks")) == [("MESSAGE", "thanks")]
        await typing(org, org.token("admin"), conv.thread, "PUBLIC", server=1)
        event = (await take(widget, 1))[0]
        assert (event["kind"], event["typingName"], event["typing"]) == ("TYPING", "Acme Help", True)
        assert event["message"] is None and event["cursor"] is None
    finally:
        await visitor_ws.close()
        await chief_ws.close()


async def test_who_may_type(org: Org, other_org: Org) -> None:
    conv = await conversation(org)
    other = await conversation(org)
    other_thread = (await conversation(other_org)).thread
    refused = await org.gql(TYPING, {"i": {"threadId": conv.thread, "visibility": "INTERNAL"}}, token=conv.visitor)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    elsewhere = await org.gql(TYPING, {"i": {"threadId": other.thread}}, token=conv.visitor)
    assert elsewhere["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    analyst = await org.gql(TYPING, {"i": {"threadId": conv.thread}}, token=org.token("analyst"))
    assert analyst["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Agents whose place does not let them post (none, or READ): FORBIDDEN_ACTION, and nothing goes out.
    outsider = await org.create_agent("Out")
    watcher = await org.create_agent("Watcher")
    await join(org, conv.primary, conv.thread, watcher, type="OBSERVER")
    for agent, visibility in ((outsider, "PUBLIC"), (watcher, "PUBLIC"), (watcher, "INTERNAL")):
        answer = await typing(org, agent.token, conv.thread, visibility)
        assert answer["ok"] is False and [e["code"] for e in answer["userErrors"]] == ["FORBIDDEN_ACTION"]
    # A thread that is not there (another organization's): NOT_FOUND.
    foreign = await typing(org, outsider.token, other_thread)
    assert [e["code"] for e in foreign["userErrors"]] == ["NOT_FOUND"]


# ---------------------------------------------------------------- typing, throttled across processes


async def test_typing_goes_out_once_per_sender_and_thread_per_two_seconds_across_processes(org: Org) -> None:
    conv = await conversation(org)
    chief = await org.create_agent("Chief", role="SUPERVISOR")
    client = await org.ws(chief.token, server=0)
    try:
        console = await watch(client, conv.thread)
        bursts = [typing(org, conv.primary.token, conv.thread, server=i % 2) for i in range(10)]
        bursts += [typing(org, conv.visitor, conv.thread, on=i % 2 == 0, server=i % 2) for i in range(6)]
        began = time.monotonic()
        answers = await asyncio.gather(*bursts)
        took = time.monotonic() - began
        # Every call is accepted, whether it went out or was dropped.
        assert all(a == {"ok": True, "userErrors": []} for a in answers)
        await say(org, conv.primary.token, conv.thread, "done typing", server=1)
        seen = await until_message(console, "done typing")
        typings = Counter(e["typingName"] for e in seen if e["kind"] == "TYPING")
        # One event per sender (the primary, the visitor) whatever the number of calls and processes;
        # a burst that a loaded machine stretched past the window may have opened one more window.
        windows = 1 + int(took // 2.0)
        assert set(typings) == {"Prim", "Vic"} and max(typings.values()) <= windows, (typings, took)
    finally:
        await client.close()


# ---------------------------------------------------------------- refusals


async def test_a_refused_subscription_is_its_own_error_and_the_socket_goes_on(org: Org, other_org: Org) -> None:
    conv = await conversation(org)
    other = await conversation(org)
    foreign = await conversation(other_org)
    client = await org.ws(conv.visitor, server=1)
    try:
        mine = await watch(client, conv.thread)
        assert await (await client.subscribe(EVENTS, {"t": other.thread})).refusal() == "FORBIDDEN"
        assert await (await client.subscribe(EVENTS, {"t": foreign.thread})).refusal() == "NOT_FOUND"
        assert await (await client.subscribe(EVENTS, {"t": conv.thread, "after": "x1"})).refusal() == "BAD_USER_INPUT"
        await say(org, conv.primary.token, conv.thread, "still here", server=0)
        assert described(await take(mine, 1)) == [("MESSAGE", "still here")]
    finally:
        await client.close()
    outsider = await org.create_agent("Out")
    analyst = org.token("analyst")
    for token, code in ((outsider.token, "FORBIDDEN"), (analyst, "FORBIDDEN"), (org.token("service"), "FORBIDDEN")):
        client = await org.ws(token)
        try:
            assert await (await client.subscribe(EVENTS, {"t": conv.thread})).refusal() == code
        finally:
            await client.close()


# ---------------------------------------------------------------- fan-out cost (in process, statements counted)

FANOUT_SECRET = "fanout-secret-" + "x" * 24
FANOUT_ORG = "org-fanout"


def _fanout_token(role: str, sub: str, **claims: Any) -> str:
    return sign(FANOUT_SECRET, FANOUT_ORG, role, sub, **claims)


@pytest_asyncio.fixture
async def fanout_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    async with sql_app(tmp_path, monkeypatch, FANOUT_SECRET) as app_and_client:
        yield app_and_client


async def _api(client: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
    )
    body = response.json()
    assert not body.get("errors"), body
    return dict(body["data"])


async def _fanout_thread(client: httpx.AsyncClient) -> tuple[str, str, list[str]]:
    """An ACTIVE thread: (its id, the visitor's token, tokens of agents who may watch it)."""
    admin = _fanout_token("admin", "admin")
    agents = []
    for name, role in (("Prim", "AGENT"), ("Chief", "SUPERVISOR")):
        made = await _api(
            client,
            admin,
            "mutation($i: CreateAgentInput!) { createAgent(input: $i) { agent { id } } }",
            {"i": {"name": name, "role": role}},
        )
        agent_id = made["createAgent"]["agent"]["id"]
        agents.append(_fanout_token("agent", agent_id))
        await _api(client, agents[-1], "mutation { setAgentStatus(input: {status: ONLINE}) { agent { id } } }", {})
    started = await _api(
        client,
        _fanout_token("service", "bot"),
        "mutation($i: StartThreadInput!) { startThread(input: $i) { thread { id } visitorToken } }",
        {"i": {"visitor": {"externalId": f"v-{secrets.token_hex(3)}", "name": "Vic"}}},
    )
    thread = started["startThread"]["thread"]["id"]
    queue = await _api(
        client,
        admin,
        "mutation($i: CreateQueueInput!) { createQueue(input: $i) { queue { id } } }",
        {"i": {"name": f"manual-{secrets.token_hex(3)}", "routingStrategy": "MANUAL"}},
    )
    queued = await _api(
        client,
        admin,
        "mutation($i: RequestTransferInput!) { requestTransfer(input: $i) { queueEntry { id } } }",
        {"i": {"threadId": thread, "queueId": queue["createQueue"]["queue"]["id"]}},
    )
    entry = queued["requestTransfer"]["queueEntry"]["id"]
    await _api(
        client,
        agents[0],
        "mutation($i: ClaimQueueEntryInput!) { claimQueueEntry(input: $i) { queueEntry { id } } }",
        {"i": {"queueEntryId": entry}},
    )
    return thread, started["startThread"]["visitorToken"], [admin, *agents]


async def _subscriber(app: Starlette, token: str, thread: str, seen: list[str], got: list[dict[str, Any]]) -> None:
    """One subscriber of its own connection (its own context), its statements counted into ``seen``."""
    record_into(seen)
    ctx = Context(app.state.services)
    await ctx.authenticate(f"Bearer {token}")
    stream = await schema.subscribe(EVENTS, variable_values={"t": thread}, context_value=ctx)
    assert not isinstance(stream, ExecutionResult), stream
    async for result in stream:
        assert not result.errors, result.errors
        assert result.data is not None
        got.append(result.data["conversationEvents"])


async def _fanout_statements(app: Starlette, client: httpx.AsyncClient, subscribers: int) -> int:
    """Statements run on behalf of ``subscribers`` watchers (visitor, admin, agents) while one message reaches them."""
    thread, visitor, staff = await _fanout_thread(client)
    tokens = [(visitor, *staff)[i % (1 + len(staff))] for i in range(subscribers)]
    seen: list[str] = []
    got: list[dict[str, Any]] = []
    tasks = [asyncio.create_task(_subscriber(app, token, thread, seen, got)) for token in tokens]
    try:
        # Each stream's first event is the thread's state; then it is registered once its replay ran.
        for _ in range(200):
            if len(got) >= subscribers:
                break
            await asyncio.sleep(0.02)
        assert [e["kind"] for e in got] == ["STATUS_CHANGED"] * subscribers, got
        await asyncio.sleep(0.5)
        seen.clear()
        got.clear()
        await _api(client, visitor, SEND, {"i": {"threadId": thread, "body": "hello"}})
        for _ in range(200):
            if len(got) >= subscribers:
                break
            await asyncio.sleep(0.02)
        assert [e["message"]["body"] for e in got] == ["hello"] * subscribers
        return len(seen)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_message_costs_the_same_statements_for_one_subscriber_or_twelve(
    fanout_app: tuple[Starlette, httpx.AsyncClient],
) -> None:
    app, client = fanout_app
    one = await _fanout_statements(app, client, 1)
    twelve = await _fanout_statements(app, client, 12)
    # The rows of one message are read once per process, whoever renders it.
    assert one == twelve, (one, twelve)
    # The message with its thread, visitor, organization, author and the thread's primary: one statement.
    assert one == 1, one
