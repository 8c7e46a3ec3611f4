"""Reading a conversation costs a fixed number of SQL statements, whatever the page size or depth.

As in test_collaboration_sql.py, the app runs in this process (httpx's ASGI transport,
embedded SQLite) and the statements issued on behalf of each request are counted by
wrapping the database client. The history is written over the API (sendMessage), not
with the implementation's models.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.sql_support import counting, sign, sql_app

SECRET = "conv-sql-secret-" + "x" * 20
ORG = "org-conv-sql"

FIELDS = (
    """id senderKind visibility body displayName clientMessageId createdAt author { id name } thread { id status }"""
)
PAGE = f"""query($t: ID!, $first: Int, $after: String, $last: Int, $before: String) {{ thread(id: $t) {{
  messages(first: $first, after: $after, last: $last, before: $before) {{ COUNT
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} edges {{ cursor node {{ {FIELDS} }} }} }} }} }}"""
THREAD_LIST = """query($n: Int) { threads(first: $n) { edges { node { id unreadCount lastVisitorMessageAt
  firstResponseAt } } } }"""
PREVIEWS = """query($n: Int) { threads(first: $n) { edges { node { id
  messages(last: 1) { totalCount edges { node { body displayName author { name } } } } } } } }"""


def _token(role: str, sub: str, **extra: Any) -> str:
    return sign(SECRET, ORG, role, sub, **extra)


@pytest_asyncio.fixture
async def app_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    async with sql_app(tmp_path, monkeypatch, SECRET) as (_, client):
        yield client


async def _call(client: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
    )
    body = response.json()
    assert not body.get("errors"), body
    return dict(body["data"])


async def _counted(
    client: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]
) -> tuple[list[str], dict[str, Any]]:
    with counting() as seen:
        data = await _call(client, token, query, variables)
    return seen, data


async def _thread(client: httpx.AsyncClient, agent_token: str, queue_id: str, n: int) -> tuple[str, str]:
    """An ACTIVE thread of the agent's: (thread id, visitor token)."""
    started = await _call(
        client,
        _token("service", "bot"),
        """mutation($x: String!) { startThread(input: {visitor: {externalId: $x, name: "Vera"}}) {
             thread { id } visitorToken } }""",
        {"x": f"v-{n}"},
    )
    thread_id = started["startThread"]["thread"]["id"]
    moved = await _call(
        client,
        _token("service", "bot"),
        "mutation($t: ID!, $q: ID!) { requestTransfer(input: {threadId: $t, queueId: $q}) { queueEntry { id } } }",
        {"t": thread_id, "q": queue_id},
    )
    entry = moved["requestTransfer"]["queueEntry"]["id"]
    taken = await _call(
        client,
        agent_token,
        "mutation($e: ID!) { claimQueueEntry(input: {queueEntryId: $e}) { userErrors { code } } }",
        {"e": entry},
    )
    assert taken["claimQueueEntry"]["userErrors"] == []
    return thread_id, started["startThread"]["visitorToken"]


async def _world(client: httpx.AsyncClient, threads: int) -> tuple[str, list[tuple[str, str]]]:
    admin = _token("admin", "admin")
    made = await _call(
        client, admin, 'mutation { createAgent(input: {name: "Ann", maxConcurrentThreads: 50}) { agent { id } } }', {}
    )
    agent_token = _token("agent", made["createAgent"]["agent"]["id"])
    await _call(client, agent_token, "mutation { setAgentStatus(input: {status: ONLINE}) { agent { id } } }", {})
    queue = await _call(
        client, admin, 'mutation { createQueue(input: {name: "q", routingStrategy: MANUAL}) { queue { id } } }', {}
    )
    queue_id = queue["createQueue"]["queue"]["id"]
    return agent_token, [await _thread(client, agent_token, queue_id, n) for n in range(threads)]


async def _send(client: httpx.AsyncClient, token: str, thread_id: str, body: str, visibility: str = "PUBLIC") -> None:
    data = await _call(
        client,
        token,
        "mutation($i: SendMessageInput!) { sendMessage(input: $i) { message { id } userErrors { code } } }",
        {"i": {"threadId": thread_id, "body": body, "visibility": visibility, "clientMessageId": body}},
    )
    assert data["sendMessage"]["userErrors"] == [], data


async def _fill(client: httpx.AsyncClient, agent: str, thread: tuple[str, str], count: int) -> None:
    admin = _token("admin", "admin")
    for i in range(count):
        if i % 4 == 0:
            await _send(client, thread[1], thread[0], f"visitor {i}")
        elif i % 4 == 1:
            await _send(client, agent, thread[0], f"agent {i}")
        elif i % 4 == 2:
            await _send(client, agent, thread[0], f"note {i}", "INTERNAL")
        else:
            await _send(client, admin, thread[0], f"system {i}")


async def test_a_page_of_messages_costs_the_same_for_5_or_50_and_deep_or_first(app_client: httpx.AsyncClient) -> None:
    agent, threads = await _world(app_client, 1)
    thread_id, visitor = threads[0]
    await _fill(app_client, agent, threads[0], 110)
    query = PAGE.replace("COUNT", "totalCount")
    public = sum(1 for i in range(110) if i % 4 != 2)  # the visitor's connection holds no INTERNAL note
    for who, token, total in (("agent", agent, 110), ("visitor", visitor, public)):
        counts: dict[str, int] = {}
        deep_cursor = None
        for name, args in (
            ("first 5", {"first": 5}),
            ("first 50", {"first": 50}),
            ("last 5", {"last": 5}),
            ("last 50", {"last": 50}),
        ):
            statements, data = await _counted(app_client, token, query, {"t": thread_id, **args})
            connection = data["thread"]["messages"]
            assert connection["totalCount"] == total, (who, name)
            assert len(connection["edges"]) == min(args.get("first", args.get("last", 0)), total)
            counts[name] = len(statements)
            if name == "first 50":
                deep_cursor = connection["pageInfo"]["endCursor"]
        statements, data = await _counted(app_client, token, query, {"t": thread_id, "first": 50, "after": deep_cursor})
        assert data["thread"]["messages"]["edges"], who
        counts["deep 50"] = len(statements)
        assert len(set(counts.values())) == 1, (who, counts)
        assert counts["first 5"] <= 15, (who, counts)


async def test_no_count_runs_unless_totalcount_is_selected(app_client: httpx.AsyncClient) -> None:
    agent, threads = await _world(app_client, 1)
    await _fill(app_client, agent, threads[0], 12)
    statements, data = await _counted(app_client, agent, PAGE.replace("COUNT", ""), {"t": threads[0][0], "first": 5})
    assert len(data["thread"]["messages"]["edges"]) == 5
    assert not [s for s in statements if "count(" in s.lower()], statements


async def _list_costs(client: httpx.AsyncClient, query: str) -> dict[int, int]:
    agent, threads = await _world(client, 12)
    for thread in threads:
        await _fill(client, agent, thread, 4)
    counts: dict[int, int] = {}
    for n in (3, 12):
        statements, data = await _counted(client, agent, query, {"n": n})
        nodes = [e["node"] for e in data["threads"]["edges"]]
        assert len(nodes) == n
        if "unreadCount" in query:
            # Two of the four messages per thread are the agent's own.
            assert all(node["unreadCount"] == 2 and node["firstResponseAt"] for node in nodes)
        else:
            assert all(node["messages"]["totalCount"] == 4 for node in nodes)
            assert all(node["messages"]["edges"][0]["node"]["displayName"] == "Support" for node in nodes)
        counts[n] = len(statements)
    return counts


async def test_a_list_of_conversations_costs_the_same_for_3_or_12_threads(app_client: httpx.AsyncClient) -> None:
    """The console's thread list: each thread's unread count, visitor's last message and first response."""
    counts = await _list_costs(app_client, THREAD_LIST)
    assert counts[3] == counts[12], counts


async def test_last_message_previews_cost_the_same_for_3_or_12_threads(app_client: httpx.AsyncClient) -> None:
    """Each thread's newest message in a list of threads (the console's inbox preview).

    The contract fixes the cost of a page whatever its size ("a deep page costs what the first one
    does"; issue 10: "a fixed number of SQL statements whatever the page size"): the page here is the
    threads page, and a statement per thread for its messages breaks that.
    """
    counts = await _list_costs(app_client, PREVIEWS)
    assert counts[3] == counts[12], counts


async def test_set_typing_reads_the_organization_from_the_cache_and_the_agent_once(
    app_client: httpx.AsyncClient,
) -> None:
    """setTyping is called every few seconds by whoever types: the organization's settings (serviceName,
    reopenOnVisitorMessageSeconds) come from the process's cache, and the agent's row is the one read to
    authenticate the request."""
    agent, threads = await _world(app_client, 1)
    thread_id, visitor = threads[0]
    typing = "mutation($i: SetTypingInput!) { setTyping(input: $i) { ok userErrors { code } } }"
    for token in (agent, visitor):
        seen, data = await _counted(app_client, token, typing, {"i": {"threadId": thread_id, "typing": True}})
        assert data["setTyping"] == {"ok": True, "userErrors": []}, data
        tables = [s.lower() for s in seen]
        assert not [s for s in tables if 'from "organization"' in s], seen
        assert len([s for s in tables if 'from "agent"' in s]) == (1 if token == agent else 0), seen
