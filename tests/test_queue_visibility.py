"""What a plain agent may read of queued and assigned threads (contract section 2)."""

from __future__ import annotations

from tests.conftest import Org
from tests.queue_support import claim, create_queue, enqueue

ENTRY_THREAD = """query($id: ID!) { node(id: $id) { ... on QueueEntry { status
  thread { id status context { summary } } } } }"""
ENTRIES = """query($s: [QueueEntryStatus!]) { queueEntries(filter: {status: $s}) {
  totalCount edges { node { id thread { id } } } } }"""
THREAD = "query($id: ID!) { thread(id: $id) { id context { summary } } }"


async def test_a_waiting_entry_and_its_bot_context_are_readable_to_decide_a_claim(org: Org) -> None:
    queue = await create_queue(org, "manual", routingStrategy="MANUAL")
    reader = await org.create_agent("Reader")
    thread_id, entry_id, _ = await enqueue(org, queue_id=queue, context={"summary": "refund please"})
    data = await org.data(ENTRY_THREAD, {"id": entry_id}, token=reader.token)
    assert data["node"]["thread"] == {"id": thread_id, "status": "QUEUED", "context": {"summary": "refund please"}}
    data = await org.data(THREAD, {"id": thread_id}, token=reader.token)
    assert data["thread"]["context"] == {"summary": "refund please"}


async def test_another_agents_conversation_is_not_readable_through_its_entry(org: Org) -> None:
    queue = await create_queue(org, "manual", routingStrategy="MANUAL")
    owner = await org.create_agent("Owner")
    other = await org.create_agent("Other")
    thread_id, entry_id, _ = await enqueue(org, queue_id=queue, context={"summary": "private"})
    assert not (await claim(org, owner, entry_id))["userErrors"]

    assert (await org.data(ENTRY_THREAD, {"id": entry_id}, token=other.token))["node"] is None
    assert (await org.data(THREAD, {"id": thread_id}, token=other.token))["thread"] is None
    listed = await org.data(ENTRIES, {"s": ["ASSIGNED"]}, token=other.token)
    assert listed["queueEntries"]["totalCount"] == 0

    mine = await org.data(ENTRIES, {"s": ["ASSIGNED"]}, token=owner.token)
    assert [e["node"]["id"] for e in mine["queueEntries"]["edges"]] == [entry_id]
    supervisor = await org.create_agent("Sup", role="SUPERVISOR")
    seen = await org.data(ENTRY_THREAD, {"id": entry_id}, token=supervisor.token)
    assert seen["node"]["thread"]["id"] == thread_id


async def test_agents_may_not_reopen_threads(org: Org) -> None:
    agent = await org.create_agent("Agent")
    thread_id, _ = await org.start_thread()
    body = await org.gql(
        "mutation($i: ReopenThreadInput!) { reopenThread(input: $i) { thread { id } } }",
        {"i": {"threadId": thread_id}},
        token=agent.token,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


VISITOR_THREADS = """query($f: ThreadFilter) { threads(filter: $f) { totalCount edges { node { id } } } }"""


async def test_a_visitor_cannot_learn_which_agent_serves_them_by_filtering(org: Org) -> None:
    """threads(filter: {primaryAgentId / collaboratorAgentId}) matches nothing for a visitor, whatever the agent."""
    queue = await create_queue(org, "manual", routingStrategy="MANUAL")
    serving = await org.create_agent("Serving")
    other = await org.create_agent("Other")
    thread_id, entry_id, visitor_token = await enqueue(org, queue_id=queue)
    assert not (await claim(org, serving, entry_id))["userErrors"]

    own = await org.data(VISITOR_THREADS, {"f": None}, token=visitor_token)
    assert own["threads"] == {"totalCount": 1, "edges": [{"node": {"id": thread_id}}]}
    for name in ("primaryAgentId", "collaboratorAgentId"):
        for agent in (serving, other):
            found = await org.data(VISITOR_THREADS, {"f": {name: agent.id}}, token=visitor_token)
            assert found["threads"] == {"totalCount": 0, "edges": []}, (name, agent.name)
    # Staff still filter by agent.
    staff = await org.data(VISITOR_THREADS, {"f": {"primaryAgentId": serving.id}}, token=org.token("admin"))
    assert staff["threads"]["totalCount"] == 1
