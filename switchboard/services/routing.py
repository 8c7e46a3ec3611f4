"""The routing pass: assign WAITING entries to free capacity, in queue order.

The preferences are pure (``rules.routing``); this reads the candidates and
claims each entry and the agent's capacity with conditional updates, so
several processes never assign an entry twice or fill an agent over capacity.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from tortoise.expressions import F, Q
from tortoise.functions import Count

from switchboard.events.bus import EventBus
from switchboard.models import Agent, Queue, QueueEntry
from switchboard.rules import queue_order as order
from switchboard.rules.enums import AgentStatus, ErrorCode, QueueEntryStatus, RoutingStrategy
from switchboard.rules.problems import DomainError
from switchboard.rules.routing import HISTORY_DAYS, Candidate, ranked_for_entry
from switchboard.services import entries
from switchboard.services.tenancy import Tenant
from switchboard.services.transaction import atomic

log = logging.getLogger(__name__)

PASS_ENTRIES = 200
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
    waiting = tenant.q(QueueEntry).filter(status=QueueEntryStatus.WAITING).filter(wanted).order_by(*order.ORDER_COLUMNS)
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
    for c in pool:
        c.history = history.get((queue.id, c.id), 0)
    ranked = ranked_for_entry(
        queue.routing_strategy, pool, queue.skills or [], entry.required_skills or [], now, entry.preferred_agent_id
    )
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
            await entries.assign(tenant, outbox, entry_id, agent_id, datetime.now(UTC))
    except entries.EntryTaken:
        return "entry"
    except DomainError as exc:
        return "agent" if exc.problem.code is ErrorCode.LIMIT_REACHED else "entry"
    except Exception as exc:
        # A deadlock victim or a lost connection: the next pass (at most a second away) retries.
        log.warning("routing entry %s to agent %s failed: %s", entry_id, agent_id, exc)
        return "error"
    return "assigned"
