"""A primary hands a thread to a queue: invites, helpers, counters and the thread events it produces."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.collab_support import THREAD_EVENTS, agent_counts, invite_one, join, respond, thread_view
from tests.conftest import AgentHandle, Org
from tests.queue_support import cancel, claim, create_queue, enqueue, transfer
from tests.wsclient import Subscription

# After each test, the contract's invariants hold in its organization.
pytestmark = pytest.mark.usefixtures("check_invariants")

HANDBACK_KINDS = ["INVITE_CHANGED", "INVITE_CHANGED", "COLLABORATOR_LEFT", "QUEUED"]


async def _active(org: Org, primary: AgentHandle, queue: str) -> tuple[str, str]:
    thread_id, entry_id, _ = await enqueue(org, queue_id=queue)
    assert (await claim(org, primary, entry_id=entry_id))["userErrors"] == []
    return thread_id, entry_id


async def _events(sub: Subscription, count: int) -> list[dict[str, Any]]:
    return [(await sub.next(10))["threadEvents"] for _ in range(count)]


async def test_handing_back_cancels_invites_keeps_helpers_and_replays_as_live(org: Org) -> None:
    front = await create_queue(org, "front", routingStrategy="MANUAL")
    billing = await create_queue(org, "billing", routingStrategy="MANUAL")
    ann, exp, tom, obs = [await org.create_agent(n) for n in ("Ann", "Exp", "Tom", "Obs")]
    thread_id, _ = await _active(org, ann, front)
    await join(org, ann, thread_id, exp)
    handover = await invite_one(org, ann, thread_id, tom, type="TRANSFER")
    helper = await invite_one(org, ann, thread_id, obs, type="OBSERVER")
    client = await org.ws(org.token("admin"), server=1)
    try:
        console = await client.subscribe(THREAD_EVENTS, {"t": thread_id})
        await asyncio.sleep(0.3)
        handed = await transfer(org, thread_id, token=ann.token, queueId=billing, trigger="AGENT_REQUEST")
        payload = handed["data"]["requestTransfer"]
        assert payload["userErrors"] == [] and payload["thread"]["status"] == "QUEUED"
        live = await _events(console, 4)
        assert [e["kind"] for e in live] == HANDBACK_KINDS
        assert {e["invite"]["id"]: e["invite"]["status"] for e in live[:2]} == {
            handover["id"]: "CANCELLED",
            helper["id"]: "CANCELLED",
        }
        left = live[2]
        assert left["collaborator"]["agent"]["id"] == ann.id and left["collaborator"]["active"] is False
        assert left["actor"]["id"] == ann.id and left["thread"]["status"] == "QUEUED"
        assert live[3]["thread"]["status"] == "QUEUED"

        view = await thread_view(org, thread_id)
        assert view["primaryAgent"] is None and view["lastPrimaryAgent"] == {"id": ann.id}
        assert [(c["agent"]["id"], c["role"]) for c in view["collaborators"]] == [(exp.id, "EXPERT")]
        assert await agent_counts(org, ann) == (0, 0)
        assert await agent_counts(org, exp) == (0, 1)
        # The stale TRANSFER invite can no longer hand the thread to Tom.
        late = await respond(org, tom, handover["id"])
        assert [e["code"] for e in late["userErrors"]] == ["NOT_ANSWERABLE"]
        assert await agent_counts(org, tom) == (0, 0) and await agent_counts(org, obs) == (0, 0)

        # The helper takes the thread from the queue: their collaboration seat becomes a primary seat.
        taken = await claim(org, exp, entry_id=payload["queueEntry"]["id"])
        assert taken["userErrors"] == []
        assigned = (await console.next(10))["threadEvents"]
        assert assigned["kind"] == "ASSIGNED" and assigned["thread"]["status"] == "ACTIVE"
        assert assigned["collaborator"]["agent"]["id"] == exp.id and assigned["collaborator"]["role"] == "PRIMARY"
        assert await agent_counts(org, exp) == (1, 0)
        live.append(assigned)

        # Resumed from before the hand-back, every event renders as it did live (not as the rows are now).
        everything = await client.subscribe(THREAD_EVENTS, {"t": thread_id, "after": "e0"})
        replayed: list[dict[str, Any]] = []
        while not replayed or replayed[-1]["cursor"] != live[-1]["cursor"]:
            replayed.append((await everything.next(10))["threadEvents"])
        assert replayed[-len(live) :] == live
    finally:
        await client.close()


async def test_a_thread_back_to_the_bot_releases_the_helpers(org: Org) -> None:
    front = await create_queue(org, "front", routingStrategy="MANUAL")
    ann, exp = await org.create_agent("Ann"), await org.create_agent("Exp")
    thread_id, _ = await _active(org, ann, front)
    await join(org, ann, thread_id, exp)
    handed = (await transfer(org, thread_id, token=ann.token, queueId=front))["data"]["requestTransfer"]
    assert handed["userErrors"] == []
    client = await org.ws(exp.token)
    try:
        helper_view = await client.subscribe(THREAD_EVENTS, {"t": thread_id})
        # Let the subscription check the helper's place before the change takes it away.
        await asyncio.sleep(0.3)
        assert (await cancel(org, handed["queueEntry"]["id"]))["data"]["cancelQueueEntry"]["userErrors"] == []
        event = (await helper_view.next(10))["threadEvents"]
        assert event["kind"] == "STATUS_CHANGED" and event["thread"]["status"] == "BOT"
        # The event took the helper's place away: their stream ends with it.
        try:
            await helper_view.next(5)
            raise AssertionError("the helper's stream should have ended")
        except StopAsyncIteration:
            pass
    finally:
        await client.close()
    view = await thread_view(org, thread_id)
    assert view["status"] == "BOT" and view["collaborators"] == []
    assert await agent_counts(org, exp) == (0, 0) and await agent_counts(org, ann) == (0, 0)
