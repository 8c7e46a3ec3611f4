"""Who gets a waiting entry: eligibility and the preference order of each strategy.

Pure: fed with plain candidates, it ranks them; the routing pass (services)
reads the candidates and claims the entry with conditional updates.

Eligibility: an agent always needs every skill the queue names. Under
SKILL_BASED they also need every skill the entry requires; HYBRID scores the
entry's skills instead (an agent without them can still win when nobody better
is free); ROUND_ROBIN and LEAST_BUSY are about fairness and ignore them.
HYBRID: skills 40% (share of the entry's required skills), history 30%
(entries of this queue taken in the last 7 days, relative to the best), load
20% (free share of capacity), availability 10% (idle time, full after 10 min).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from switchboard.rules.enums import RoutingStrategy

W_SKILLS, W_HISTORY, W_LOAD, W_AVAILABILITY = 0.4, 0.3, 0.2, 0.1
# An agent idle this long counts as fully available.
IDLE_FULL_SECONDS = 600.0
HISTORY_DAYS = 7


def can_serve(agent_skills: Iterable[str] | None, needed: Iterable[str] | None) -> bool:
    """An agent can serve a queue (or an entry) when they have every skill it names."""
    return set(needed or ()) <= set(agent_skills or ())


@dataclass
class Candidate:
    """An ONLINE agent with free primary capacity, as the routing pass sees it."""

    id: int
    skills: frozenset[str]
    active: int
    capacity: int
    last_assigned_at: datetime | None = None
    # Entries of the queue being routed this agent took recently (HYBRID history).
    history: int = 0

    @property
    def free(self) -> int:
        return self.capacity - self.active

    @property
    def load(self) -> float:
        return self.active / self.capacity if self.capacity else 1.0


def eligible(strategy: RoutingStrategy, agent: Candidate, queue_skills: Iterable[str], required: Iterable[str]) -> bool:
    if agent.free <= 0 or not can_serve(agent.skills, queue_skills):
        return False
    if strategy is RoutingStrategy.SKILL_BASED:
        return can_serve(agent.skills, required)
    return True


def hybrid_score(agent: Candidate, required: Sequence[str], max_history: int, now: datetime) -> float:
    needed = set(required)
    skills = len(needed & agent.skills) / len(needed) if needed else 1.0
    history = agent.history / max_history if max_history else 0.0
    load = 1.0 - agent.load
    if agent.last_assigned_at is None:
        availability = 1.0
    else:
        idle = (now - agent.last_assigned_at).total_seconds()
        availability = min(max(idle, 0.0) / IDLE_FULL_SECONDS, 1.0)
    return W_SKILLS * skills + W_HISTORY * history + W_LOAD * load + W_AVAILABILITY * availability


def _rotation_key(agent: Candidate) -> tuple[int, float, int]:
    # Never assigned first, then the longest since their last assignment.
    stamp = agent.last_assigned_at.timestamp() if agent.last_assigned_at else 0.0
    return (0 if agent.last_assigned_at is None else 1, stamp, agent.id)


def preference(
    strategy: RoutingStrategy,
    candidates: Sequence[Candidate],
    queue_skills: Sequence[str],
    required: Sequence[str],
    now: datetime,
    preferred: int | None = None,
) -> list[Candidate]:
    """Eligible agents, best first; ``preferred`` (sticky last primary) leads when eligible."""
    pool = [a for a in candidates if eligible(strategy, a, queue_skills, required)]
    if strategy is RoutingStrategy.ROUND_ROBIN:
        pool.sort(key=_rotation_key)
    elif strategy is RoutingStrategy.HYBRID:
        top = max((a.history for a in pool), default=0)
        pool.sort(key=lambda a: (-hybrid_score(a, required, top, now), _rotation_key(a)))
    else:
        # LEAST_BUSY, and SKILL_BASED among the skilled: the lowest load first.
        pool.sort(key=lambda a: (a.active, a.load, *_rotation_key(a)))
    if preferred is not None:
        pool.sort(key=lambda a: a.id != preferred)
    return pool


def ranked_for_entry(
    strategy: RoutingStrategy,
    pool: Sequence[Candidate],
    queue_skills: Sequence[str],
    required: Sequence[str],
    now: datetime,
    preferred: int | None,
) -> list[Candidate]:
    """Who to offer an entry to, best first. A MANUAL queue offers only to its sticky agent."""
    if strategy is RoutingStrategy.MANUAL:
        ranked = preference(RoutingStrategy.LEAST_BUSY, pool, queue_skills, required, now, preferred)
        return [c for c in ranked if c.id == preferred]
    return preference(strategy, pool, queue_skills, required, now, preferred)
