"""Routing preferences and wait estimates as plain functions (no server, no database)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from switchboard.rules.enums import Priority, RoutingStrategy, VisitorTier
from switchboard.rules.estimates import FALLBACK_HANDLE_SECONDS, basis_from, estimate
from switchboard.rules.queue_order import effective_priority
from switchboard.rules.routing import Candidate, hybrid_score, preference

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def agent(
    pk: int,
    active: int = 0,
    capacity: int = 5,
    skills: tuple[str, ...] = (),
    idle: float | None = None,
    history: int = 0,
) -> Candidate:
    last = None if idle is None else NOW - timedelta(seconds=idle)
    return Candidate(pk, frozenset(skills), active, capacity, last, history)


def ids(found: list[Candidate]) -> list[int]:
    return [c.id for c in found]


def test_round_robin_prefers_never_assigned_then_longest_idle() -> None:
    pool = [agent(1, idle=10), agent(2, idle=300), agent(3), agent(4, idle=60)]
    assert ids(preference(RoutingStrategy.ROUND_ROBIN, pool, [], [], NOW)) == [3, 2, 4, 1]


def test_least_busy_takes_the_lowest_load_and_skips_full_agents() -> None:
    pool = [agent(1, active=2), agent(2, active=0), agent(3, active=1), agent(4, active=5)]
    assert ids(preference(RoutingStrategy.LEAST_BUSY, pool, [], [], NOW)) == [2, 3, 1]


def test_queue_skills_always_required_entry_skills_only_for_skill_based() -> None:
    pool = [agent(1, skills=("billing",)), agent(2, skills=("billing", "german")), agent(3)]
    assert ids(preference(RoutingStrategy.SKILL_BASED, pool, ["billing"], ["german"], NOW)) == [2]
    assert ids(preference(RoutingStrategy.LEAST_BUSY, pool, ["billing"], ["german"], NOW)) == [1, 2]


def test_hybrid_weights_skills_history_load_availability() -> None:
    skilled_busy = agent(1, active=3, skills=("vip",), idle=0)
    idle_unskilled = agent(2, active=0, idle=None)
    assert round(hybrid_score(skilled_busy, ["vip"], 0, NOW), 3) == round(0.4 + 0.2 * 0.4, 3)
    assert hybrid_score(idle_unskilled, ["vip"], 0, NOW) == 0.2 + 0.1
    assert ids(preference(RoutingStrategy.HYBRID, [idle_unskilled, skilled_busy], [], ["vip"], NOW)) == [1, 2]
    veteran = agent(3, history=10, idle=0)
    newcomer = agent(4, history=0, idle=0)
    assert ids(preference(RoutingStrategy.HYBRID, [newcomer, veteran], [], [], NOW)) == [3, 4]


def test_sticky_preferred_agent_leads_when_eligible() -> None:
    pool = [agent(1, active=0), agent(2, active=4)]
    assert ids(preference(RoutingStrategy.LEAST_BUSY, pool, [], [], NOW, preferred=2)) == [2, 1]
    full = [agent(1), agent(2, active=5)]
    assert ids(preference(RoutingStrategy.LEAST_BUSY, full, [], [], NOW, preferred=2)) == [1]


def test_vip_and_enterprise_get_at_least_high() -> None:
    assert effective_priority(None, VisitorTier.NORMAL) is Priority.NORMAL
    assert effective_priority(Priority.LOW, VisitorTier.VIP) is Priority.HIGH
    assert effective_priority(None, VisitorTier.ENTERPRISE) is Priority.HIGH
    assert effective_priority(Priority.URGENT, VisitorTier.VIP) is Priority.URGENT


def test_estimate_fallback_without_history_scales_with_online_capacity() -> None:
    nobody = basis_from(NOW, [], [], [])
    assert not nobody.from_history and nobody.seconds_per_place == FALLBACK_HANDLE_SECONDS
    two_agents = basis_from(NOW, [], [(["billing"], 5, 0), (["billing"], 5, 5), ([], 5, 0)], ["billing"])
    assert two_agents.seconds_per_place == FALLBACK_HANDLE_SECONDS / 10
    assert two_agents.capable_agents == 2 and two_agents.available_agents == 1
    assert [estimate(two_agents, p) for p in (1, 2, 3)] == [30, 60, 90]
    assert estimate(two_agents, None) is None


def test_estimate_from_history_follows_the_queue_pace() -> None:
    # 6 entries taken by 2 agents over the last 10 minutes: one every 100 s with 2 agents.
    history = [(NOW - timedelta(seconds=600 - 100 * i), 1 + i % 2) for i in range(6)]
    same = basis_from(NOW, history, [([], 5, 1), ([], 5, 1)], [])
    assert same.from_history and round(same.seconds_per_place) == 100
    doubled = basis_from(NOW, history, [([], 5, 1)] * 4, [])
    assert round(doubled.seconds_per_place) == 50
    third, fourth = estimate(same, 3), estimate(same, 4)
    assert third == 300 and fourth is not None and fourth > third


def test_estimate_grows_strictly_with_position_even_for_a_fast_queue() -> None:
    # 2000 entries a minute: far less than a second per place.
    burst = [(NOW - timedelta(seconds=30), 1)] * 2000
    fast = basis_from(NOW, burst, [([], 5, 0)], [])
    assert fast.seconds_per_place < 1
    waits = [w for p in range(1, 50) if (w := estimate(fast, p)) is not None]
    assert len(waits) == 49 and all(b > a for a, b in itertools.pairwise(waits))
