"""Who gets a waiting entry: eligibility and the order of preference per strategy.

Pure functions over small snapshots, so every strategy is testable without a
database. The routing pass (``switchboard.subscriptions.queue_feature``) feeds
them and then claims the entry and the agent's capacity with conditional updates.

Eligibility: an agent always needs every skill the queue names. Under
SKILL_BASED they also need every skill the entry requires; HYBRID scores the
entry's skills instead (an agent without them can still win when nobody better
is free); ROUND_ROBIN and LEAST_BUSY are about fairness and ignore them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from tortoise.expressions import F, Q
from tortoise.functions import Count

from switchboard.domain import queueing
from switchboard.domain.enums import AgentStatus, ErrorCode, QueueEntryStatus, RoutingStrategy
from switchboard.domain.estimates import can_serve
from switchboard.errors import DomainError
from switchboard.models import Agent, Queue, QueueEntry
from switchboard.subscriptions.outbox import atomic
from switchboard.tenancy import Tenant

if TYPE_CHECKING:
    from switchboard.subscriptions.bus import EventBus

log = logging.getLogger(__name__)

# HYBRID weights (contract): skills 40%, history 30%, load 20%, availability 10%.
W_SKILLS, W_HISTORY, W_LOAD, W_AVAILABILITY = 0.4, 0.3, 0.2, 0.1
# An agent idle this long counts as fully available.
IDLE_FULL_SECONDS = 600.0


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


# ---------------------------------------------------------------- the routing pass

PASS_ENTRIES = 200
HISTORY_DAYS = 7
TRIES_PER_ENTRY = 3


async def _history(tenant: Tenant, queue_ids: list[int], now: datetime) -> dict[tuple[int, int], int]:
    """Per (queue, agent): entries assigned in the last week (HYBRID's history component)."""
    if not queue_ids:
        return {}
    rows = await (
        tenant.q(QueueEntry)
        .filter(queue_id__in=queue_ids, status=QueueEntryStatus.ASSIGNED)
        .filter(assigned_at__gte=now - timedelta(days=HISTORY_DAYS))
        .annotate(n=Count("id"))
        .group_by("queue_id", "assigned_agent_id")
        .values_list("queue_id", "assigned_agent_id", "n")
    )
    return {(int(q), int(a)): int(n) for q, a, n in rows if a is not None}  # type: ignore[misc]


async def route(tenant: Tenant, bus: EventBus | None) -> int:
    """One routing pass for an organization: assign WAITING entries while capacity lasts.

    Entries go in queue order (priority, then enqueue time, across queues), read
    ``PASS_ENTRIES`` at a time for as long as some agent has a free slot, so
    entries nobody can serve at the head never hide servable ones behind them.
    Each assignment is its own short transaction whose conditional updates make
    it safe beside other processes doing the same: a lost race just moves on.
    Returns how many entries this pass assigned.
    """
    now = datetime.now(UTC)
    agents = await tenant.q(Agent).filter(
        status=AgentStatus.ONLINE, active_thread_count__lt=F("max_concurrent_threads")
    )
    if not agents:
        return 0
    queues = {q.id: q for q in await tenant.q(Queue)}
    automatic = [qid for qid, q in queues.items() if q.routing_strategy is not RoutingStrategy.MANUAL]
    # MANUAL queues only take part for sticky offers (reopened threads and their last primary).
    wanted = Q(preferred_agent_id__isnull=False)
    if automatic:
        wanted = wanted | Q(queue_id__in=automatic)
    waiting = tenant.q(QueueEntry).filter(status=QueueEntryStatus.WAITING).filter(wanted).order_by(*queueing.ORDER)
    hybrid = [qid for qid, q in queues.items() if q.routing_strategy is RoutingStrategy.HYBRID]
    history = await _history(tenant, hybrid, now)
    pool = [
        Candidate(a.id, frozenset(a.skills or ()), a.active_thread_count, a.max_concurrent_threads, a.last_assigned_at)
        for a in agents
    ]
    assigned = offset = 0
    while any(c.free > 0 for c in pool):
        entries = await waiting.offset(offset).limit(PASS_ENTRIES)
        taken = 0
        for entry in entries:
            if not any(c.free > 0 for c in pool):
                break
            taken += await _route_entry(tenant, bus, entry, queues[entry.queue_id], pool, history, now)
        assigned += taken
        if len(entries) < PASS_ENTRIES:
            break
        # Assigned entries left WAITING: the rest of the order moved up by as many.
        offset += len(entries) - taken
    return assigned


async def _route_entry(
    tenant: Tenant,
    bus: EventBus | None,
    entry: QueueEntry,
    queue: Queue,
    pool: list[Candidate],
    history: dict[tuple[int, int], int],
    now: datetime,
) -> int:
    """Offer one entry to the best eligible agents in turn; 1 when one of them got it."""
    strategy = queue.routing_strategy
    for c in pool:
        c.history = history.get((queue.id, c.id), 0)
    ranked = preference(
        RoutingStrategy.LEAST_BUSY if strategy is RoutingStrategy.MANUAL else strategy,
        pool,
        queue.skills or [],
        entry.required_skills or [],
        now,
        entry.preferred_agent_id,
    )
    if strategy is RoutingStrategy.MANUAL:
        ranked = [c for c in ranked if c.id == entry.preferred_agent_id]
    for agent in ranked[:TRIES_PER_ENTRY]:
        outcome = await _try_assign(tenant, bus, entry.id, agent.id)
        if outcome == "assigned":
            agent.active += 1
            agent.last_assigned_at = datetime.now(UTC)
            return 1
        if outcome != "agent":
            return 0
        # Someone else filled this agent meanwhile: skip them for the rest of the pass.
        agent.active = agent.capacity
    return 0


async def _try_assign(tenant: Tenant, bus: EventBus | None, entry_id: int, agent_id: int) -> str:
    """ "assigned", "entry" (gone: next entry), "agent" (full: next agent) or "error"."""
    try:
        async with atomic(bus) as outbox:
            await queueing.assign(tenant, outbox, entry_id, agent_id, datetime.now(UTC))
    except queueing.EntryTaken:
        return "entry"
    except DomainError as exc:
        return "agent" if exc.problem.code is ErrorCode.LIMIT_REACHED else "entry"
    except Exception as exc:
        # A deadlock victim or a lost connection: the next pass (at most a second away) retries.
        log.warning("routing entry %s to agent %s failed: %s", entry_id, agent_id, exc)
        return "error"
    return "assigned"
