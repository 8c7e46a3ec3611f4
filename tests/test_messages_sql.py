"""Reading conversations costs a fixed number of SQL statements, whatever the page size or number of threads.

The app runs in this process on embedded SQLite with its database client wrapped
to count statements (``test_collaboration_sql``'s fixture, ``tests.sql_support``).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import httpx

from switchboard.models import Agent, Collaborator, Message, Organization, Thread, Visitor
from switchboard.rules import ids
from switchboard.rules.enums import CollaboratorRole, MessageVisibility, Permission, SenderKind, ThreadStatus
from tests.sql_support import counting
from tests.test_collaboration_sql import ORG, _token, app_client

__all__ = ["app_client"]

PAGE = """query($t: ID!, $n: Int!) { thread(id: $t) { id lastVisitorMessageAt
  messages(last: $n) { totalCount pageInfo { hasPreviousPage startCursor }
    edges { cursor node { id body senderKind visibility displayName createdAt author { id name } thread { id } } } }
} }"""
UNREAD = """query { threads(first: 100) { edges { node { id unreadCount
  messages(last: 1) { totalCount edges { cursor node { body displayName author { name } } } } } } } }"""


async def _seed(threads: int, messages: int) -> tuple[str, list[str]]:
    """``threads`` ACTIVE threads of one primary, each with ``messages`` messages of three senders;
    (the primary's id, the threads' ids)."""
    org, _ = await Organization.get_or_create(id=ORG)
    agents = [await Agent.create(org_id=org.id, name=f"A{i}", max_concurrent_threads=100) for i in range(2)]
    seq = await Message.filter(org_id=org.id).count()
    thread_ids: list[str] = []
    for _ in range(threads):
        visitor = await Visitor.create(org_id=org.id, external_id=f"v-{secrets.token_hex(4)}", name="Vic")
        thread = await Thread.create(
            org_id=org.id, visitor_id=visitor.id, status=ThreadStatus.ACTIVE, primary_agent_id=agents[0].id
        )
        thread_ids.append(ids.encode("Thread", thread.id))
        for agent, role in zip(agents, (CollaboratorRole.PRIMARY, CollaboratorRole.EXPERT), strict=True):
            await Collaborator.create(
                org_id=org.id, thread_id=thread.id, agent_id=agent.id, role=role, permission=Permission.ADMIN
            )
        for i in range(messages):
            seq += 1
            kind = (SenderKind.VISITOR, SenderKind.AGENT, SenderKind.BOT)[i % 3]
            await Message.create(
                org_id=org.id,
                thread_id=thread.id,
                sender_kind=kind,
                sender_key=f"agent:{agents[i % 2].id}" if kind is SenderKind.AGENT else f"{kind.value.lower()}:{i}",
                author_id=agents[i % 2].id if kind is SenderKind.AGENT else None,
                visitor_id=visitor.id if kind is SenderKind.VISITOR else None,
                visibility=MessageVisibility.PUBLIC,
                body=f"m{i}",
                created_at=datetime.now(UTC),
                seq=10_000_000 + seq,
            )
    return ids.encode("Agent", agents[0].id), thread_ids


def bodies(connection: dict[str, Any]) -> list[str]:
    return [e["node"]["body"] for e in connection["edges"]]


async def _count(client: httpx.AsyncClient, token: str, query: str, **variables: Any) -> tuple[int, dict[str, Any]]:
    with counting() as seen:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
        )
    body = response.json()
    assert not body.get("errors"), body
    return len(seen), body["data"]


async def test_a_page_of_messages_costs_the_same_whatever_its_size(app_client: httpx.AsyncClient) -> None:
    _, (thread,) = await _seed(1, 150)
    # Warm the process's per-organization caches (the query cost budget's settings) first.
    await _count(app_client, _token("admin", "admin"), PAGE, t=thread, n=1)
    counts: dict[int, int] = {}
    for n in (3, 20, 100):
        count, data = await _count(app_client, _token("admin", "admin"), PAGE, t=thread, n=n)
        messages = data["thread"]["messages"]
        assert len(messages["edges"]) == n and messages["totalCount"] == 150
        assert messages["edges"][-1]["node"]["body"] == "m149" and messages["pageInfo"]["hasPreviousPage"]
        counts[n] = count
    assert len(set(counts.values())) == 1, counts
    assert counts[3] <= 8, counts


async def test_an_inbox_costs_the_same_whatever_the_number_of_threads(app_client: httpx.AsyncClient) -> None:
    counts: dict[int, int] = {}
    for batch, messages in ((2, 3), (20, 12)):
        agent, _ = await _seed(batch, messages)
        await _count(app_client, _token("agent", agent), UNREAD)  # warm the per-organization caches
        count, data = await _count(app_client, _token("agent", agent), UNREAD)
        edges = data["threads"]["edges"]
        own = sum(1 for i in range(messages) if i % 3 == 1 and i % 2 == 0)
        assert [e["node"]["unreadCount"] for e in edges] == [messages - own] * batch
        # The last message of each thread, with its count: one SELECT and one GROUP BY for all of them.
        previews = [(e["node"]["messages"]["totalCount"], bodies(e["node"]["messages"])) for e in edges]
        assert previews == [(messages, [f"m{messages - 1}"])] * batch
        counts[batch] = count
    assert counts[2] == counts[20], counts


SEND = """mutation($i: SendMessageInput!) { sendMessage(input: $i) { message { id } userErrors { code } } }"""


async def test_sending_a_message_costs_a_fixed_number_of_statements(app_client: httpx.AsyncClient) -> None:
    agent, (thread,) = await _seed(1, 0)
    counts = []
    await _count(app_client, _token("agent", agent), PAGE, t=thread, n=1)  # warm the per-organization caches
    for i in range(3):
        variables = {"i": {"threadId": thread, "body": f"hello {i}", "clientMessageId": f"k{i}"}}
        count, data = await _count(app_client, _token("agent", agent), SEND, **variables)
        assert data["sendMessage"]["userErrors"] == []
        counts.append(count)
    last = data["sendMessage"]["message"]["id"]
    # The agent, the thread lock, the places, the insert (a retry's key makes it insert nothing: no
    # lookup first, no savepoint), the thread's update, the counter and the stamp; the events go in
    # one multi-row INSERT through the transaction's bulk path, which this count does not wrap.
    assert len(set(counts)) == 1 and counts[0] <= 7, counts
    # A retry of the last one: the insert does nothing and the first message is read back.
    retried, data = await _count(app_client, _token("agent", agent), SEND, **variables)
    assert data["sendMessage"]["message"]["id"] == last and retried <= 7, retried
