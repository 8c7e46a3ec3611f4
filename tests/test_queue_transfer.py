"""requestTransfer into queues, queue order, limits, cancellation and who may do what."""

from __future__ import annotations

import pytest

from tests.conftest import Org
from tests.queue_support import (
    agent_row,
    cancel,
    claim,
    create_queue,
    enqueue,
    entry,
    refused,
    transfer,
    update_settings,
    watch,
)

# After each test, the contract's invariants hold in its organization.
pytestmark = pytest.mark.usefixtures("check_invariants")


async def test_bot_transfer_stores_context_and_queues(org: Org) -> None:
    await create_queue(org, "support", routingStrategy="MANUAL")
    thread_id, _ = await org.start_thread()
    context = {
        "summary": "Card declined twice",
        "sentiment": "NEGATIVE",
        "intents": ["payment_failed"],
        "tags": ["billing"],
        "transcript": [
            {"from": "visitor", "text": "my card is declined", "at": "2024-05-01T10:00:00Z"},
            {"from": "bot", "text": "let me get a human"},
        ],
        "confidence": 0.31,
        "extra": {"orderId": "A-17", "attempts": [1, 2]},
    }
    body = await transfer(
        org, thread_id, trigger="LOW_CONFIDENCE", reason="bot gave up", requiredSkills=["billing"], context=context
    )
    payload = body["data"]["requestTransfer"]
    assert payload["userErrors"] == []
    assert payload["thread"] == {"id": thread_id, "status": "QUEUED", "transferCount": 1}
    queued = payload["queueEntry"]
    assert queued["status"] == "WAITING" and queued["priority"] == "NORMAL"
    assert queued["trigger"] == "LOW_CONFIDENCE" and queued["reason"] == "bot gave up"
    assert queued["requiredSkills"] == ["billing"] and queued["attempt"] == 1
    assert queued["position"] == 1 and queued["queueLength"] == 1 and queued["estimatedWaitSeconds"] > 0
    assert queued["queue"]["name"] == "support"

    reader = await org.create_agent("Reader", role="SUPERVISOR")
    data = await org.data(
        """query($id: ID!) { thread(id: $id) { status queueEntry { id trigger }
             context { summary sentiment intents tags confidence extra transcript { from text at } } } }""",
        {"id": thread_id},
        token=reader.token,
    )
    thread = data["thread"]
    assert thread["status"] == "QUEUED" and thread["queueEntry"]["id"] == queued["id"]
    got = thread["context"]
    assert got["summary"] == "Card declined twice" and got["sentiment"] == "NEGATIVE"
    assert got["intents"] == ["payment_failed"] and got["tags"] == ["billing"] and got["confidence"] == 0.31
    assert got["extra"] == {"orderId": "A-17", "attempts": [1, 2]}
    assert [line["from"] for line in got["transcript"]] == ["visitor", "bot"]
    assert got["transcript"][0]["at"].startswith("2024-05-01T10:00:00")


async def test_queue_choice_named_then_skills_then_default(org: Org) -> None:
    general = await create_queue(org, "general", routingStrategy="MANUAL", isDefault=True)
    billing = await create_queue(org, "billing", routingStrategy="MANUAL", skills=["billing"])
    await create_queue(org, "billing-de", routingStrategy="MANUAL", skills=["billing", "german"])

    _, by_skill, _ = await enqueue(org, requiredSkills=["billing"])
    _, by_default, _ = await enqueue(org, requiredSkills=["astrology"])
    _, named, _ = await enqueue(org, queue_id=general, requiredSkills=["billing"])
    assert (await entry(org, by_skill))["queue"]["id"] == billing
    assert (await entry(org, by_default))["queue"]["id"] == general
    assert (await entry(org, named))["queue"]["id"] == general


async def test_one_waiting_entry_per_thread_and_vip_priority(org: Org) -> None:
    await create_queue(org, "q", routingStrategy="MANUAL")
    thread_id, _ = await org.start_thread(tier="VIP")
    first = (await transfer(org, thread_id, priority="LOW"))["data"]["requestTransfer"]
    assert first["queueEntry"]["priority"] == "HIGH"
    again = (await transfer(org, thread_id))["data"]["requestTransfer"]
    assert again["queueEntry"] is None and [e["code"] for e in again["userErrors"]] == ["CONFLICT"]
    _, urgent, _ = await enqueue(org, tier="ENTERPRISE", priority="URGENT")
    assert (await entry(org, urgent))["priority"] == "URGENT"


async def test_priority_then_first_come_first_served(org: Org) -> None:
    queue = await create_queue(org, "ordered", routingStrategy="MANUAL")
    made = {}
    for name, priority in (("n1", "NORMAL"), ("low", "LOW"), ("urgent", "URGENT"), ("n2", "NORMAL"), ("high", "HIGH")):
        made[name] = (await enqueue(org, priority=priority))[1]
    data = await org.data(
        """query($q: ID!) { queueEntries(filter: {queueId: $q, status: [WAITING]}) {
             totalCount edges { node { id position queueLength estimatedWaitSeconds } } } }""",
        {"q": queue},
    )
    nodes = [e["node"] for e in data["queueEntries"]["edges"]]
    assert data["queueEntries"]["totalCount"] == 5
    assert [n["id"] for n in nodes] == [made[k] for k in ("urgent", "high", "n1", "n2", "low")]
    assert [n["position"] for n in nodes] == [1, 2, 3, 4, 5]
    assert {n["queueLength"] for n in nodes} == {5}
    waits = [n["estimatedWaitSeconds"] for n in nodes]
    assert waits == sorted(waits) and len(set(waits)) == 5

    stats = await org.data(
        """query($q: ID!) { node(id: $q) { ... on Queue { stats { waiting longestWaitSeconds availableAgents
             estimatedWaitSeconds waitingByPriority { priority count } }
             entries(first: 2) { edges { node { id } } } } } }""",
        {"q": queue},
    )
    figures = stats["node"]["stats"]
    assert figures["waiting"] == 5 and figures["availableAgents"] == 0
    assert {p["priority"]: p["count"] for p in figures["waitingByPriority"]} == {
        "URGENT": 1,
        "HIGH": 1,
        "NORMAL": 2,
        "LOW": 1,
    }
    # A NORMAL entry joining now would be 5th: behind urgent, high and both normals.
    assert figures["estimatedWaitSeconds"] == waits[3] + (waits[3] - waits[2])
    assert [e["node"]["id"] for e in stats["node"]["entries"]["edges"]] == [made["urgent"], made["high"]]


async def test_attempt_limit_and_visitor_rate_limit(org: Org) -> None:
    await create_queue(org, "q", routingStrategy="MANUAL")
    await update_settings(org, maxTransferAttempts=2, transferRateLimitPerVisitorPerHour=3)
    thread_id, _ = await org.start_thread(external_id="repeat-visitor")
    for _ in range(2):
        payload = (await transfer(org, thread_id))["data"]["requestTransfer"]
        assert payload["userErrors"] == []
        assert (await cancel(org, payload["queueEntry"]["id"]))["data"]["cancelQueueEntry"]["userErrors"] == []
    third = (await transfer(org, thread_id))["data"]["requestTransfer"]
    assert [e["code"] for e in third["userErrors"]] == ["RATE_LIMITED"] and third["queueEntry"] is None

    # The same visitor on a new thread: two requests this hour already, one more allowed.
    other, _ = await org.start_thread(external_id="repeat-visitor")
    assert (await transfer(org, other))["data"]["requestTransfer"]["userErrors"] == []
    fresh, _ = await org.start_thread(external_id="repeat-visitor")
    limited = (await transfer(org, fresh))["data"]["requestTransfer"]
    assert [e["code"] for e in limited["userErrors"]] == ["RATE_LIMITED"]


async def test_cancel_returns_the_thread_to_the_bot(org: Org) -> None:
    await create_queue(org, "q", routingStrategy="MANUAL")
    _, first, visitor = await enqueue(org)
    _, second, _ = await enqueue(org)
    body = await cancel(org, first, token=visitor)
    assert body["data"]["cancelQueueEntry"] == {"queueEntry": {"id": first, "status": "CANCELLED"}, "userErrors": []}
    gone = await entry(org, first)
    assert gone["position"] is None and gone["thread"]["status"] == "BOT"
    assert (await entry(org, second))["position"] == 1
    twice = (await cancel(org, first))["data"]["cancelQueueEntry"]
    assert [e["code"] for e in twice["userErrors"]] == ["CONFLICT"]


async def test_visitor_scope(org: Org, other_org: Org) -> None:
    await create_queue(org, "q", routingStrategy="MANUAL")
    mine, my_token = await org.start_thread()
    their_thread, theirs, their_token = await enqueue(org)
    # A visitor queues their own thread, not another's.
    own = (await transfer(org, mine, token=my_token))["data"]["requestTransfer"]
    assert own["userErrors"] == [] and own["queueEntry"]["status"] == "WAITING"
    foreign = await transfer(org, their_thread, token=my_token)
    assert foreign["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Nor cancels another's entry.
    body = await cancel(org, theirs, token=my_token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Nor watches it.
    client = await org.ws(my_token)
    try:
        assert await refused(await watch(client, entry_id=theirs))
    finally:
        await client.close()
    # Their own entry is visible to them, without agent identities.
    data = await org.data(
        "query($id: ID!) { node(id: $id) { ... on QueueEntry { id status } } }", {"id": theirs}, token=their_token
    )
    assert data["node"] == {"id": theirs, "status": "WAITING"}
    hidden = await org.gql("query($id: ID!) { node(id: $id) { id } }", {"id": theirs}, token=my_token)
    assert hidden["data"]["node"] is None
    assert hidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Another organization sees nothing and changes nothing.
    assert (await other_org.data("query($id: ID!) { node(id: $id) { id } }", {"id": theirs}))["node"] is None
    stranger = (await cancel(other_org, theirs))["data"]["cancelQueueEntry"]
    assert [e["code"] for e in stranger["userErrors"]] == ["NOT_FOUND"]
    # Analysts read but do not change.
    analyst = await transfer(org, mine, token=org.token("analyst"))
    assert analyst["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_primary_hands_the_thread_to_a_department(org: Org) -> None:
    await create_queue(org, "front", routingStrategy="LEAST_BUSY")
    billing = await create_queue(org, "billing", routingStrategy="MANUAL", skills=["billing"])
    ann = await org.create_agent("Ann")
    thread_id, entry_id, _ = await enqueue(org)
    assert (await entry(org, entry_id))["assignedAgent"] == {"id": ann.id}
    bob = await org.create_agent("Bob")
    not_primary = (await transfer(org, thread_id, token=bob.token, queueId=billing))["data"]["requestTransfer"]
    assert [e["code"] for e in not_primary["userErrors"]] == ["FORBIDDEN_ACTION"]

    handed = await transfer(org, thread_id, token=ann.token, queueId=billing, trigger="AGENT_REQUEST")
    payload = handed["data"]["requestTransfer"]
    assert payload["userErrors"] == [] and payload["thread"]["status"] == "QUEUED"
    assert payload["queueEntry"]["attempt"] == 2 and payload["queueEntry"]["queue"]["id"] == billing
    assert (await agent_row(org, ann))["activeThreadCount"] == 0
    data = await org.data(
        "query($id: ID!) { thread(id: $id) { primaryAgent { id } lastPrimaryAgent { id } collaborators { id } } }",
        {"id": thread_id},
    )
    assert data["thread"] == {"primaryAgent": None, "lastPrimaryAgent": {"id": ann.id}, "collaborators": []}


async def test_claim_a_given_entry_or_the_best_next(org: Org) -> None:
    queue = await create_queue(org, "manual", routingStrategy="MANUAL")
    ann = await org.create_agent("Ann", maxConcurrentThreads=2)
    _, low, _ = await enqueue(org, priority="LOW")
    _, high, _ = await enqueue(org, priority="HIGH")
    best = await claim(org, ann, queue_id=queue)
    assert best["userErrors"] == []
    assert best["queueEntry"] == {"id": high, "status": "ASSIGNED", "assignedAgent": {"id": ann.id}}
    given = await claim(org, ann, entry_id=low)
    assert given["queueEntry"]["id"] == low and given["userErrors"] == []
    row = await agent_row(org, ann)
    assert row["activeThreadCount"] == 2
    _, third, _ = await enqueue(org)
    full = await claim(org, ann, entry_id=third)
    assert [e["code"] for e in full["userErrors"]] == ["LIMIT_REACHED"]
    data = await org.data(
        """query($id: ID!) { node(id: $id) { ... on QueueEntry { thread { status primaryAgent { id }
             collaborators { role permission agent { id } } } } } }""",
        {"id": high},
    )
    thread = data["node"]["thread"]
    assert thread["status"] == "ACTIVE" and thread["primaryAgent"] == {"id": ann.id}
    assert thread["collaborators"] == [{"role": "PRIMARY", "permission": "ADMIN", "agent": {"id": ann.id}}]
    taken = await claim(org, await org.create_agent("Late"), entry_id=high)
    assert [e["code"] for e in taken["userErrors"]] == ["CONFLICT"]
