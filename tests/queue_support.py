"""Helpers shared by the queue, routing and transfer tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tests.conftest import AgentHandle, Org
from tests.wsclient import GraphQLWS, Subscription

ENTRY_FIELDS = """id status priority position queueLength estimatedWaitSeconds trigger reason requiredSkills
attempt enqueuedAt assignedAt overflowAction assignedAgent { id } queue { id name }"""

POSITION = """subscription($e: ID, $t: ID) { queuePosition(queueEntryId: $e, threadId: $t) {
  queueEntryId threadId status position queueLength estimatedWaitSeconds overflowAction at } }"""


async def create_queue(org: Org, name: str, **fields: Any) -> str:
    data = await org.data(
        "mutation($i: CreateQueueInput!) { createQueue(input: $i) { queue { id } userErrors { message } } }",
        {"i": {"name": name, **fields}},
    )
    assert not data["createQueue"]["userErrors"], data["createQueue"]["userErrors"]
    return str(data["createQueue"]["queue"]["id"])


async def update_settings(org: Org, **fields: Any) -> None:
    data = await org.data(
        "mutation($i: UpdateSettingsInput!) { updateSettings(input: $i) { userErrors { message } } }", {"i": fields}
    )
    assert not data["updateSettings"]["userErrors"], data["updateSettings"]["userErrors"]


async def transfer(
    org: Org, thread_id: str, *, token: str | None = None, server: int = 0, **fields: Any
) -> dict[str, Any]:
    """requestTransfer's whole response (data and errors)."""
    return await org.gql(
        f"""mutation($i: RequestTransferInput!) {{ requestTransfer(input: $i) {{
              thread {{ id status transferCount }} queueEntry {{ {ENTRY_FIELDS} }}
              userErrors {{ code message field }} }} }}""",
        {"i": {"threadId": thread_id, **fields}},
        token=token if token is not None else org.token("service"),
        server=server,
    )


async def enqueue(
    org: Org, *, queue_id: str | None = None, tier: str | None = None, **fields: Any
) -> tuple[str, str, str]:
    """A new thread queued: (thread id, entry id, visitor token)."""
    thread_id, visitor_token = await org.start_thread(tier=tier)
    if queue_id is not None:
        fields["queueId"] = queue_id
    body = await transfer(org, thread_id, **fields)
    assert not body.get("errors"), body["errors"]
    payload = body["data"]["requestTransfer"]
    assert not payload["userErrors"], payload["userErrors"]
    return thread_id, payload["queueEntry"]["id"], visitor_token


async def entry(org: Org, entry_id: str, server: int = 0) -> dict[str, Any]:
    data = await org.data(
        f"query($id: ID!) {{ node(id: $id) {{ ... on QueueEntry {{ {ENTRY_FIELDS} thread {{ status }} }} }} }}",
        {"id": entry_id},
        server=server,
    )
    return dict(data["node"])


async def agent_row(org: Org, agent: AgentHandle) -> dict[str, Any]:
    data = await org.data(
        "query($id: ID!) { node(id: $id) { ... on Agent { status activeThreadCount maxConcurrentThreads } } }",
        {"id": agent.id},
    )
    return dict(data["node"])


async def claim(
    org: Org, agent: AgentHandle, entry_id: str | None = None, queue_id: str | None = None, server: int = 0
) -> dict[str, Any]:
    data = await org.data(
        """mutation($i: ClaimQueueEntryInput!) { claimQueueEntry(input: $i) {
             queueEntry { id status assignedAgent { id } } userErrors { code message } } }""",
        {"i": {"queueEntryId": entry_id, "queueId": queue_id}},
        token=agent.token,
        server=server,
    )
    return dict(data["claimQueueEntry"])


async def cancel(org: Org, entry_id: str, token: str | None = None, server: int = 0) -> dict[str, Any]:
    return await org.gql(
        """mutation($i: CancelQueueEntryInput!) { cancelQueueEntry(input: $i) {
             queueEntry { id status } userErrors { code message } } }""",
        {"i": {"queueEntryId": entry_id}},
        token=token if token is not None else org.token("service"),
        server=server,
    )


async def watch(client: GraphQLWS, entry_id: str | None = None, thread_id: str | None = None) -> Subscription:
    return await client.subscribe(POSITION, {"e": entry_id, "t": thread_id})


async def update(sub: Subscription, within: float = 10.0) -> dict[str, Any]:
    return dict((await sub.next(within))["queuePosition"])


async def refused(sub: Subscription) -> bool:
    """True when the subscription was refused with an ``error`` message saying FORBIDDEN."""
    return await sub.refusal() == "FORBIDDEN"


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0, every: float = 0.1) -> None:
    deadline = time.monotonic() + within
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(every)


async def metrics(org: Org, server: int = 0) -> dict[str, float]:
    """This process's /metrics as {name: value} (unlabelled samples only)."""
    response = await org.http.get(f"{org.stack.url(server)}/metrics")
    out: dict[str, float] = {}
    for line in response.text.splitlines():
        if line.startswith("#") or "{" in line or " " not in line:
            continue
        name, value = line.rsplit(" ", 1)
        out[name] = float(value)
    return out
