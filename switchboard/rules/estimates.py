"""How long a visitor will wait: from the queue's own recent history.

The basis of an estimate is "seconds per place": how long the queue takes to
move one entry forward. An entry at position p is estimated at p times that,
so the estimate grows with the position and reacts to the queue's real pace.

* With history (entries of this queue assigned in the last hour): the queue
  moved ``n`` entries in the time since the oldest of them was assigned (at
  least a minute), i.e. one entry every ``span / n`` seconds, achieved by the
  ``k`` distinct agents who took them. With ``c`` agents able to serve the queue
  ONLINE now, the pace is scaled by ``k / c`` (more agents now, faster; none
  now, as if one were back).
* Without history (nothing assigned in the last hour): an agent is assumed to
  spend ``FALLBACK_HANDLE_SECONDS`` (300 s) on a conversation, and every ONLINE
  agent able to serve the queue works ``maxConcurrentThreads`` conversations in
  parallel, so one place takes 300 / (their summed capacity) seconds; with no
  such agent ONLINE, 300 s.

An estimate is at least one second per place, so it grows strictly with the
position even when the queue moves faster than a place a second.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from switchboard.rules.enums import Priority
from switchboard.rules.queue_order import ahead_of_newcomer
from switchboard.rules.routing import can_serve

HISTORY_WINDOW = timedelta(hours=1)
MIN_SPAN_SECONDS = 60.0
FALLBACK_HANDLE_SECONDS = 300.0

# (assigned_at, agent id, enqueued_at) of an entry assigned within the window.
Assignment = tuple[datetime, int | None, datetime]
# An ONLINE agent: (skills, max_concurrent_threads, active_thread_count).
OnlineAgent = tuple[Sequence[str] | None, int, int]


@dataclass(frozen=True)
class WaitBasis:
    """What an estimate is computed from; one per queue per recompute."""

    seconds_per_place: float
    from_history: bool
    capable_agents: int
    # ONLINE agents able to serve the queue with a free slot now.
    available_agents: int


def basis_from(
    now: datetime,
    assignments: Sequence[tuple[datetime, int | None]],
    agents: Sequence[OnlineAgent],
    queue_skills: Sequence[str] | None,
) -> WaitBasis:
    """``assignments`` are (assigned_at, agent id) of the window, ``agents`` the ONLINE ones."""
    capable = [(cap, active) for skills, cap, active in agents if can_serve(skills, queue_skills)]
    available = sum(1 for cap, active in capable if active < cap)
    if assignments:
        oldest = min(at for at, _ in assignments)
        span = max((now - oldest).total_seconds(), MIN_SPAN_SECONDS)
        served_by = len({agent for _, agent in assignments if agent is not None}) or 1
        per_place = span / len(assignments) * served_by / max(len(capable), 1)
        return WaitBasis(per_place, True, len(capable), available)
    slots = sum(cap for cap, _ in capable)
    return WaitBasis(FALLBACK_HANDLE_SECONDS / max(slots, 1), False, len(capable), available)


def estimate(basis: WaitBasis, position: int | None) -> int | None:
    """Seconds until an entry at ``position`` is taken; None when it is not waiting."""
    if position is None:
        return None
    # ceil(p * s) never decreases with p; with s < 1 it may stand still, p itself never does.
    return max(position, math.ceil(position * basis.seconds_per_place))


@dataclass(frozen=True)
class QueueFigures:
    """Queue.stats: what a supervisor's wallboard shows."""

    waiting: int
    waiting_by_priority: list[tuple[Priority, int]]
    longest_wait_seconds: int
    average_wait_seconds: float | None
    available_agents: int
    estimated_wait_seconds: int | None


def figures(
    now: datetime,
    waiting: Sequence[tuple[Priority, datetime]],
    assigned: Sequence[Assignment],
    agents: Sequence[OnlineAgent],
    queue_skills: Sequence[str] | None,
) -> QueueFigures:
    """The figures of a queue from its WAITING entries (priority, enqueued_at), recent assignments, ONLINE agents."""
    basis = basis_from(now, [(at, agent) for at, agent, _ in assigned], agents, queue_skills)
    counts = {p: 0 for p in Priority}
    for priority, _ in waiting:
        counts[Priority(priority)] += 1
    oldest = min((at for _, at in waiting), default=None)
    waits = [(at - enqueued).total_seconds() for at, _, enqueued in assigned]
    return QueueFigures(
        waiting=len(waiting),
        waiting_by_priority=[(p, counts[p]) for p in Priority],
        longest_wait_seconds=max(int((now - oldest).total_seconds()), 0) if oldest else 0,
        average_wait_seconds=sum(waits) / len(waits) if waits else None,
        available_agents=basis.available_agents,
        estimated_wait_seconds=estimate(basis, ahead_of_newcomer(counts) + 1),
    )
