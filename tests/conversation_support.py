"""Helpers for the conversation tests (issue 10): documents, conversations in each status, stored rows.

Written from the contract (README "Who may call" and "Conversation", schema.graphql),
not from the implementation: the only things read from the database are row counts
and the columns the metrics test reproduces its figures from.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests import dbcheck
from tests.collab_support import RESOLVE, pk_of
from tests.conftest import AgentHandle, Org
from tests.queue_support import claim, create_queue, transfer
from tests.wsclient import Subscription

MESSAGE_TABLE = "message"

MESSAGE_FIELDS = """id senderKind visibility body displayName clientMessageId createdAt
  author { id name } thread { id }"""
SEND = f"""mutation($i: SendMessageInput!) {{ sendMessage(input: $i) {{
  message {{ {MESSAGE_FIELDS} }} thread {{ id status }} userErrors {{ field message code }} }} }}"""
MESSAGES = f"""query($t: ID!, $first: Int, $after: String, $last: Int, $before: String, $v: [MessageVisibility!]) {{
  thread(id: $t) {{ id messages(first: $first, after: $after, last: $last, before: $before, visibility: $v) {{
    totalCount pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
    edges {{ cursor node {{ {MESSAGE_FIELDS} }} }} }} }} }}"""
NODE = f"query($id: ID!) {{ node(id: $id) {{ id ... on Message {{ {MESSAGE_FIELDS} }} }} }}"
NODES = f"query($ids: [ID!]!) {{ nodes(ids: $ids) {{ id ... on Message {{ {MESSAGE_FIELDS} }} }} }}"
CONVERSATION = f"""subscription($t: ID!, $after: String) {{ conversationEvents(threadId: $t, after: $after) {{
  cursor kind typingName typing status at message {{ {MESSAGE_FIELDS} }} }} }}"""
TYPING = """mutation($i: SetTypingInput!) { setTyping(input: $i) { ok userErrors { field message code } } }"""
MARK_READ = """mutation($i: MarkThreadReadInput!) { markThreadRead(input: $i) {
  thread { id unreadCount } userErrors { field message code } } }"""
THREAD_FIGURES = """query($t: ID!) { thread(id: $t) { id status unreadCount lastVisitorMessageAt firstResponseAt
  resolvedAt queueEntry { id status attempt assignedAt assignedAgent { id } } primaryAgent { id } } }"""


@dataclass
class Conv:
    """A conversation: its thread, the visitor's token and name."""

    thread_id: str
    visitor_token: str
    visitor_id: str
    visitor_name: str
    entry_id: str | None = None


async def start(org: Org, name: str | None = None) -> Conv:
    """A new BOT thread whose visitor has a name (the name a visitor's messages show)."""
    name = name or f"Vera {secrets.token_hex(2)}"
    data = await org.data(
        """mutation($i: StartThreadInput!) { startThread(input: $i) {
             thread { id visitor { id } } visitorToken userErrors { message } } }""",
        {"i": {"visitor": {"externalId": f"v-{secrets.token_hex(5)}", "name": name}}},
        token=org.token("service"),
    )
    payload = data["startThread"]
    assert not payload["userErrors"], payload
    thread = payload["thread"]
    return Conv(thread["id"], payload["visitorToken"], thread["visitor"]["id"], name)


async def manual_queue(org: Org, **fields: Any) -> str:
    return await create_queue(org, f"manual-{secrets.token_hex(3)}", routingStrategy="MANUAL", **fields)


async def queued(org: Org, queue_id: str | None = None, name: str | None = None) -> Conv:
    """A new thread waiting in a MANUAL queue (nobody takes it by themselves)."""
    conv = await start(org, name)
    queue_id = queue_id or await manual_queue(org)
    body = await transfer(org, conv.thread_id, queueId=queue_id)
    assert not body.get("errors"), body
    payload = body["data"]["requestTransfer"]
    assert not payload["userErrors"], payload
    conv.entry_id = payload["queueEntry"]["id"]
    return conv


async def active(org: Org, primary: AgentHandle, queue_id: str | None = None, name: str | None = None) -> Conv:
    """A new ACTIVE thread whose primary is ``primary`` (queued, then claimed)."""
    conv = await queued(org, queue_id, name)
    taken = await claim(org, primary, entry_id=conv.entry_id)
    assert taken["userErrors"] == [], taken
    return conv


async def resolve(org: Org, by: AgentHandle | None, thread_id: str) -> None:
    token = by.token if by is not None else org.token("admin")
    data = await org.data(RESOLVE, {"i": {"threadId": thread_id}}, token=token)
    assert data["resolveThread"]["userErrors"] == [], data
    assert data["resolveThread"]["thread"]["status"] == "RESOLVED"


async def send(
    org: Org,
    token: str,
    thread_id: str,
    body: str = "hello",
    visibility: str | None = None,
    client_message_id: str | None = None,
    server: int = 0,
) -> dict[str, Any]:
    """sendMessage's whole response (data and errors)."""
    payload: dict[str, Any] = {"threadId": thread_id, "body": body}
    if visibility is not None:
        payload["visibility"] = visibility
    if client_message_id is not None:
        payload["clientMessageId"] = client_message_id
    return await org.gql(SEND, {"i": payload}, token=token, server=server)


def outcome(response: dict[str, Any]) -> str:
    """ "ok", the top-level error code, or the userErrors' codes joined by commas."""
    if response.get("errors"):
        return str(response["errors"][0]["extensions"]["code"])
    payload = response["data"]["sendMessage"]
    if payload["userErrors"]:
        return ",".join(e["code"] for e in payload["userErrors"])
    assert payload["message"] is not None, payload
    return "ok"


async def posted(org: Org, token: str, thread_id: str, body: str = "hello", **kw: Any) -> dict[str, Any]:
    """A message that must be accepted."""
    response = await send(org, token, thread_id, body, **kw)
    assert outcome(response) == "ok", response
    return dict(response["data"]["sendMessage"]["message"])


async def typing(
    org: Org, token: str, thread_id: str, visibility: str = "PUBLIC", is_typing: bool = True, server: int = 0
) -> dict[str, Any]:
    return await org.gql(
        TYPING,
        {"i": {"threadId": thread_id, "typing": is_typing, "visibility": visibility}},
        token=token,
        server=server,
    )


async def page(org: Org, thread_id: str, token: str | None = None, server: int = 0, **args: Any) -> dict[str, Any]:
    data = await org.data(MESSAGES, {"t": thread_id, **args}, token=token, server=server)
    assert data["thread"] is not None, data
    return dict(data["thread"]["messages"])


def bodies(connection: dict[str, Any]) -> list[str]:
    return [e["node"]["body"] for e in connection["edges"]]


async def figures(org: Org, thread_id: str, token: str | None = None) -> dict[str, Any]:
    return dict((await org.data(THREAD_FIGURES, {"t": thread_id}, token=token))["thread"])


# ---------------------------------------------------------------- stored rows


async def stored(org: Org) -> tuple[int, int]:
    """(message rows, event rows) of the organization: what a refused request must leave unchanged."""
    return (
        await dbcheck.count(org.stack, MESSAGE_TABLE, org.id),
        await dbcheck.count(org.stack, "event", org.id),
    )


async def rows(org: Org, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Every row of ``sql`` (placeholders ``?``), datetimes as aware UTC on both backends."""
    url = org.stack.database_url
    if url.startswith("sqlite://"):
        import sqlite3

        with sqlite3.connect(url.split("://", 1)[1], timeout=10) as conn:
            found = [tuple(r) for r in conn.execute(sql, args).fetchall()]
    else:
        import asyncpg

        for i in range(1, len(args) + 1):
            sql = sql.replace("?", f"${i}", 1)
        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        try:
            found = [tuple(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()
    return [tuple(_utc(v) for v in row) for row in found]


def _utc(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in " T":
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


async def delete_events(org: Org) -> None:
    """Remove the organization's event rows, as the retention sweep does with old ones."""
    await _execute(org, "DELETE FROM event WHERE org_id = ?", org.id)


async def set_thread_status(org: Org, thread_id: str, status: str) -> None:
    """No mutation closes a thread for good (CLOSED); the operator's tooling writes it."""
    await _execute(org, "UPDATE thread SET status = ? WHERE id = ?", status, pk_of(thread_id))


async def age_resolution(org: Org, thread_id: str, seconds: int) -> None:
    """Pretend the thread was resolved ``seconds`` earlier than it was."""
    resolved = datetime.now(UTC) - timedelta(seconds=seconds)
    await _execute(org, "UPDATE thread SET resolved_at = ? WHERE id = ?", resolved, pk_of(thread_id))


async def _execute(org: Org, sql: str, *args: Any) -> None:
    url = org.stack.database_url
    if url.startswith("sqlite://"):
        import sqlite3

        values = [a.isoformat(sep=" ") if isinstance(a, datetime) else a for a in args]
        with sqlite3.connect(url.split("://", 1)[1], timeout=10) as conn:
            conn.execute(sql, values)
        return
    import asyncpg

    for i in range(1, len(args) + 1):
        sql = sql.replace("?", f"${i}", 1)
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


def missing_thread_id() -> str:
    """A well-formed Thread ID that names no row."""
    return base64.urlsafe_b64encode(f"Thread:{9_000_000_000 + secrets.randbelow(10**6)}".encode()).decode().rstrip("=")


# ---------------------------------------------------------------- streams


async def events(sub: Subscription, count: int, within: float = 10.0) -> list[dict[str, Any]]:
    return [(await sub.next(within))["conversationEvents"] for _ in range(count)]


async def listening(*subs: Subscription) -> list[dict[str, Any]]:
    """The first event of each stream opened without ``after``: the thread's current state.

    It is a STATUS_CHANGED with the thread's status and a cursor; everything committed after
    it comes on the stream (replayed from that cursor, then live), so once it is here the test
    may act. Typing is live only, never replayed: a test of typing also waits for ``typing_ready``.
    """
    states = [(await sub.next(10))["conversationEvents"] for sub in subs]
    for state in states:
        assert state["kind"] == "STATUS_CHANGED" and state.get("message") is None, state
        assert state.get("cursor", "-") and state.get("status", "-") and state.get("typing") is None, state
    return states


async def typing_ready() -> None:
    """Typing is never replayed: give streams that sent their state a moment to be registered on the bus."""
    await asyncio.sleep(0.4)


async def outside_minute_edge() -> None:
    """Start a burst at least 10 s before the wall clock's next minute (a fixed-window limiter's edge)."""
    left = 60 - time.time() % 60
    if left < 10:
        await asyncio.sleep(left + 0.2)
