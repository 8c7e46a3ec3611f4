"""Races for the last seat and for one invite, across two server processes on PostgreSQL.

SQLite runs one process and one transaction at a time, so only the PostgreSQL
stack (two processes, real row locks) can show these races.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.collab_support import (
    INVITE_EVENTS,
    active_thread,
    agent_counts,
    invite,
    invite_one,
    respond,
    settings,
    thread_view,
)
from tests.conftest import Org

# Races need several processes and real row locks: the PostgreSQL stack only.
# After each, the contract's invariants hold in the test's organization.
pytestmark = [pytest.mark.postgres_only, pytest.mark.usefixtures("check_invariants")]


def outcome(payload: dict[str, object]) -> str:
    errors = payload["userErrors"]
    assert isinstance(errors, list)
    return "ok" if not errors else str(errors[0]["code"])


async def test_parallel_invites_for_the_last_seat_have_one_winner(org: Org) -> None:
    primary = await org.create_agent("Prim")
    early = [await org.create_agent(f"E{i}") for i in range(2)]
    racers = [await org.create_agent(f"R{i}") for i in range(12)]
    for round_ in range(2):
        thread = await active_thread(org, primary)
        assert len((await invite(org, primary, thread, *early))["invites"]) == 2
        results = await asyncio.gather(
            *(invite(org, primary, thread, agent, server=i % 2) for i, agent in enumerate(racers))
        )
        tally = Counter("ok" if r["invites"] else r["userErrors"][0]["code"] for r in results)
        assert tally == {"ok": 1, "LIMIT_REACHED": len(racers) - 1}, (round_, tally)
        view = await thread_view(org, thread)
        assert view["invites"]["totalCount"] == 3


@pytest.mark.cap_lowered
async def test_parallel_accepts_for_the_last_seat_have_one_winner(org: Org) -> None:
    primary = await org.create_agent("Prim")
    invitees = [await org.create_agent(f"I{i}") for i in range(5)]
    await settings(org, collaboratorLimitNormal=5)
    thread = await active_thread(org, primary)
    sent = (await invite(org, primary, thread, *invitees))["invites"]
    assert len(sent) == 5
    # The cap is lowered under open invites: one seat is left for five accepts.
    await settings(org, collaboratorLimitNormal=1)
    results = await asyncio.gather(
        *(respond(org, who, inv["id"], server=i % 2) for i, (who, inv) in enumerate(zip(invitees, sent, strict=True)))
    )
    assert Counter(outcome(r) for r in results) == {"ok": 1, "LIMIT_REACHED": 4}
    view = await thread_view(org, thread)
    assert len([c for c in view["collaborators"] if c["role"] != "PRIMARY"]) == 1
    assert sum([(await agent_counts(org, who))[1] for who in invitees]) == 1


async def test_parallel_accepts_respect_the_invitees_own_limit(org: Org) -> None:
    primaries = [await org.create_agent(f"P{i}") for i in range(4)]
    invitee = await org.create_agent("Busy", maxConcurrentCollaborations=1)
    sent = []
    for primary in primaries:
        thread = await active_thread(org, primary)
        sent.append(await invite_one(org, primary, thread, invitee))
    results = await asyncio.gather(*(respond(org, invitee, inv["id"], server=i % 2) for i, inv in enumerate(sent)))
    assert Counter(outcome(r) for r in results) == {"ok": 1, "LIMIT_REACHED": 3}
    assert await agent_counts(org, invitee) == (0, 1)


async def test_parallel_answers_to_one_invite_have_one_winner(org: Org) -> None:
    primary = await org.create_agent("Prim")
    invitee = await org.create_agent("Inv")
    client = await org.ws(primary.token, server=1)
    try:
        events = await client.subscribe(INVITE_EVENTS)
        await asyncio.sleep(0.2)
        for _ in range(3):
            thread = await active_thread(org, primary)
            sent = await invite_one(org, primary, thread, invitee)
            actions = ["ACCEPT", "REJECT"] * 4
            results = await asyncio.gather(
                *(respond(org, invitee, sent["id"], action, server=i % 2) for i, action in enumerate(actions))
            )
            winners = [(a, r) for a, r in zip(actions, results, strict=True) if not r["userErrors"]]
            assert len(winners) == 1, results
            assert Counter(outcome(r) for r in results)["NOT_ANSWERABLE"] == len(actions) - 1
            action, payload = winners[0]
            assert payload["invite"]["status"] == ("ACCEPTED" if action == "ACCEPT" else "REJECTED")
            kinds = [(await events.next())["inviteEvents"]["kind"] for _ in range(2)]
            assert kinds == ["CREATED", "ACCEPTED" if action == "ACCEPT" else "REJECTED"]
            await events.nothing(0.3)
            if action == "ACCEPT":
                await org.data(
                    """mutation($i: LeaveThreadInput!) { leaveThread(input: $i) { userErrors { code } } }""",
                    {"i": {"threadId": thread}},
                    token=invitee.token,
                )
    finally:
        await client.close()
