"""Hypothesis strategies and settings shared by the property tests of the rules.

Runs are derandomized (a fixed seed per test) and keep no example database, so CI
sees the same examples every time and nothing is written into the work tree.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from switchboard.rules.enums import AgentStatus, InviteStatus, InviteType, Priority, Role, ThreadStatus, VisitorTier
from switchboard.rules.routing import Candidate

PROPERTIES = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ids = st.integers(min_value=1, max_value=40)
moments = st.integers(min_value=-7 * 86400, max_value=7 * 86400).map(lambda s: NOW + timedelta(seconds=s))
invite_statuses = st.sampled_from(list(InviteStatus))
invite_types = st.sampled_from(list(InviteType))
agent_statuses = st.sampled_from(list(AgentStatus))
priorities = st.sampled_from(list(Priority))
tiers = st.sampled_from(list(VisitorTier))
roles = st.sampled_from(list(Role))
thread_statuses = st.sampled_from(list(ThreadStatus))
skill = st.sampled_from(["billing", "tech", "fr", "de", "vip", "legal"])
skill_sets = st.frozensets(skill, max_size=4)
# Every kind of text a client can send: control characters, NUL, lone surrogates, blanks.
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=260) | st.sampled_from(
    ["", " ", "\x00", "\ud800", "a\x00b", "  x  ", "x" * 200, "x" * 201, "\u00e9" * 200]
)


@st.composite
def candidates(draw: st.DrawFn) -> list[Candidate]:
    """Agents with distinct ids, any load (full ones included) and any last assignment."""
    chosen = draw(st.lists(ids, unique=True, max_size=8))
    pool = []
    for agent_id in chosen:
        capacity = draw(st.integers(0, 6))
        pool.append(
            Candidate(
                id=agent_id,
                skills=draw(skill_sets),
                active=draw(st.integers(0, 7)),
                capacity=capacity,
                last_assigned_at=draw(st.none() | moments.filter(lambda m: m <= NOW)),
                history=draw(st.integers(0, 30)),
            )
        )
    return pool
