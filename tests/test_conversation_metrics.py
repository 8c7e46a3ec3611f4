"""metrics' message figures, reproduced from the stored rows with our own SQL.

Contract: metrics are "computed from the stored history of queue entries, invites and
messages, so an analyst can reproduce them with SQL"; first response is measured from the
thread's latest assignment to the first PUBLIC AGENT message after it. The percentile is the
nearest-rank one the other metrics figures use (the contract does not name a method).
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import AgentHandle, Org
from tests.conversation_support import (
    MESSAGE_TABLE,
    Conv,
    figures,
    manual_queue,
    posted,
    queued,
    resolve,
    rows,
)
from tests.queue_support import claim

METRICS = """query($from: DateTime!, $to: DateTime!) { metrics(from: $from, to: $to) {
  agentMessages visitorMessages averageFirstResponseSeconds p90FirstResponseSeconds } }"""


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def reproduce(org: Org, start: datetime, end: datetime) -> dict[str, Any]:
    """The four figures over [start, end), from the message and queue_entry rows."""
    messages = await rows(
        org, f"SELECT thread_id, sender_kind, visibility, created_at FROM {MESSAGE_TABLE} WHERE org_id = ?", org.id
    )
    entries = await rows(
        org, "SELECT thread_id, assigned_at FROM queue_entry WHERE org_id = ? AND assigned_at IS NOT NULL", org.id
    )
    inside = [m for m in messages if start <= m[3] < end]
    latest: dict[int, datetime] = {}
    for thread_id, assigned_at in entries:
        latest[thread_id] = max(assigned_at, latest.get(thread_id, assigned_at))
    durations = []
    for thread_id, assigned_at in latest.items():
        if not start <= assigned_at < end:
            continue
        answers = [
            m[3] for m in messages if m[0] == thread_id and m[1:3] == ("AGENT", "PUBLIC") and m[3] >= assigned_at
        ]
        # A thread nobody has answered yet has no first response: it is left out of both figures.
        if answers:
            durations.append((min(answers) - assigned_at).total_seconds())
    ordered = sorted(durations)
    return {
        "agentMessages": sum(1 for m in inside if m[1:3] == ("AGENT", "PUBLIC")),
        "visitorMessages": sum(1 for m in inside if m[1] == "VISITOR"),
        "averageFirstResponseSeconds": sum(ordered) / len(ordered) if ordered else None,
        "p90FirstResponseSeconds": ordered[math.ceil(0.9 * len(ordered)) - 1] if ordered else None,
        "durations": ordered,
    }


async def _taken(org: Org, agent: AgentHandle, conv: Conv, entry_id: str | None = None) -> None:
    assert (await claim(org, agent, entry_id or conv.entry_id))["userErrors"] == []


async def _history(org: Org) -> tuple[list[Conv], datetime]:
    """Five conversations: answered at different pace, one answered again after a reopen, one
    never answered, one never assigned; notes, bot and system messages that are no response.
    Also a moment in the middle: after the last assignment, before the last answers."""
    queue = await manual_queue(org)
    ann, bob = await org.create_agent("Ann"), await org.create_agent("Bob")
    convs = [await queued(org, queue) for _ in range(5)]
    one, two, three, four, five = convs
    await posted(org, org.token("service"), one.thread_id, "bot: please wait")
    await _taken(org, ann, one)
    await posted(org, one.visitor_token, one.thread_id, "hello")
    await posted(org, ann.token, one.thread_id, "note", visibility="INTERNAL")
    await posted(org, org.token("admin"), one.thread_id, "system notice")
    await _taken(org, bob, two)
    await _taken(org, ann, three)
    await _taken(org, ann, four)
    await asyncio.sleep(0.4)
    await posted(org, ann.token, one.thread_id, "ann: hi")
    await posted(org, ann.token, one.thread_id, "ann: again")
    await posted(org, ann.token, three.thread_id, "ann: first time")
    await resolve(org, ann, three.thread_id)
    await posted(org, three.visitor_token, three.thread_id, "reopening")
    await asyncio.sleep(0.3)
    await _taken(org, bob, three, (await figures(org, three.thread_id))["queueEntry"]["id"])
    await asyncio.sleep(0.3)
    middle = datetime.now(UTC)
    await asyncio.sleep(0.3)
    await posted(org, bob.token, two.thread_id, "bob: hi")
    await posted(org, bob.token, three.thread_id, "bob: second time")
    await posted(org, four.visitor_token, four.thread_id, "anyone?")
    await posted(org, five.visitor_token, five.thread_id, "still waiting")
    return convs, middle


async def test_message_figures_are_the_stored_history(org: Org, other_org: Org) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    convs, middle = await _history(org)
    end = datetime.now(UTC) + timedelta(minutes=1)
    expected = await reproduce(org, start, end)
    durations = expected.pop("durations")
    # The history is what it was written to be: three answered threads, four visitor and five agent PUBLIC.
    assert (expected["agentMessages"], expected["visitorMessages"], len(durations)) == (5, 4, 3), expected
    got = (await org.data(METRICS, {"from": iso(start), "to": iso(end)}, token=org.token("analyst")))["metrics"]
    assert (got["agentMessages"], got["visitorMessages"]) == (expected["agentMessages"], expected["visitorMessages"])
    for name in ("averageFirstResponseSeconds", "p90FirstResponseSeconds"):
        assert got[name] == pytest.approx(expected[name], abs=0.05), (name, got, expected, durations)
    # Per thread, the wire agrees with the rows: firstResponseAt minus the latest assignment.
    from_wire = []
    for conv in convs:
        view = await figures(org, conv.thread_id)
        if view["firstResponseAt"] is not None:
            assigned = when(view["queueEntry"]["assignedAt"])
            from_wire.append((when(view["firstResponseAt"]) - assigned).total_seconds())
    assert sorted(from_wire) == pytest.approx(durations, abs=0.05)
    # Periods that split the history: [from, to) for messages, and for threads by their latest assignment.
    for period in ((start, middle), (middle, end)):
        part = await reproduce(org, *period)
        part.pop("durations")
        got = await org.data(METRICS, {"from": iso(period[0]), "to": iso(period[1])}, token=org.token("admin"))
        got = got["metrics"]
        assert (got["agentMessages"], got["visitorMessages"]) == (part["agentMessages"], part["visitorMessages"])
        for name in ("averageFirstResponseSeconds", "p90FirstResponseSeconds"):
            assert got[name] == pytest.approx(part[name], abs=0.05), (period, name, got, part)
    assert (await reproduce(org, middle, end))["averageFirstResponseSeconds"] is None  # no assignment after middle
    # Periods that hold none of it, and another organization: nothing.
    before = {"from": iso(start - timedelta(hours=1)), "to": iso(start)}
    empty = (await org.data(METRICS, before, token=org.token("admin")))["metrics"]
    theirs = await other_org.data(METRICS, {"from": iso(start), "to": iso(end)}, token=other_org.token("analyst"))
    for figures_ in (empty, theirs["metrics"]):
        assert figures_ == {
            "agentMessages": 0,
            "visitorMessages": 0,
            "averageFirstResponseSeconds": None,
            "p90FirstResponseSeconds": None,
        }
