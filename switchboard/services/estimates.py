"""Reading what wait estimates and queue stats are computed from (the math is ``rules.estimates``)."""

from __future__ import annotations

from datetime import datetime

from switchboard.models import Agent, Queue, QueueEntry
from switchboard.rules.enums import AgentStatus, QueueEntryStatus
from switchboard.rules.estimates import HISTORY_WINDOW, Assignment, OnlineAgent, QueueFigures, WaitBasis, basis_from
from switchboard.rules.estimates import figures as figures_from
from switchboard.services.tenancy import Tenant

HISTORY_ROWS = 2000


async def _recent_assignments(tenant: Tenant, queue: Queue, now: datetime) -> list[Assignment]:
    """(assigned_at, agent id, enqueued_at) of the queue's entries assigned within the window."""
    rows = await (
        tenant.q(QueueEntry)
        .filter(queue_id=queue.id, status=QueueEntryStatus.ASSIGNED, assigned_at__gte=now - HISTORY_WINDOW)
        .order_by("-assigned_at")
        .limit(HISTORY_ROWS)
        .values_list("assigned_at", "assigned_agent_id", "enqueued_at")
    )
    return list(rows)  # type: ignore[arg-type]


async def _online_agents(tenant: Tenant) -> list[OnlineAgent]:
    rows = (
        await tenant.q(Agent)
        .filter(status=AgentStatus.ONLINE)
        .values_list("skills", "max_concurrent_threads", "active_thread_count")
    )
    return list(rows)  # type: ignore[arg-type]


async def wait_basis(tenant: Tenant, queue: Queue, now: datetime) -> WaitBasis:
    """Two queries: the queue's recent assignments and the ONLINE agents."""
    assigned = await _recent_assignments(tenant, queue, now)
    agents = await _online_agents(tenant)
    return basis_from(now, [(at, agent) for at, agent, _ in assigned], agents, queue.skills)


async def queue_figures(tenant: Tenant, queue: Queue, now: datetime) -> QueueFigures:
    """Three queries: WAITING entries, the last hour's assignments, ONLINE agents."""
    waiting = (
        await tenant.q(QueueEntry)
        .filter(queue_id=queue.id, status=QueueEntryStatus.WAITING)
        .values_list("priority", "enqueued_at")
    )
    assigned = await _recent_assignments(tenant, queue, now)
    return figures_from(now, waiting, assigned, await _online_agents(tenant), queue.skills)  # type: ignore[arg-type]
