"""Reading what wait estimates and queue stats are computed from (the math is ``rules.estimates``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from switchboard.models import Agent, Queue, QueueEntry
from switchboard.rules.enums import AgentStatus, Priority, QueueEntryStatus
from switchboard.rules.estimates import HISTORY_WINDOW, Assignment, OnlineAgent, QueueFigures, WaitBasis, basis_from
from switchboard.rules.estimates import figures as figures_from
from switchboard.services.tenancy import Tenant

HISTORY_ROWS = 2000


async def _recent_assignments(tenant: Tenant, queue_ids: list[int], now: datetime) -> dict[int, list[Assignment]]:
    """Per queue, (assigned_at, agent id, enqueued_at) of its entries assigned within the window, newest
    first, at most ``HISTORY_ROWS`` each: one query for all the queues, capped at ``HISTORY_ROWS`` each
    together; when that cap is reached a busy queue may have pushed a quieter one's rows out, so each
    queue short of its own cap is read again alone (an hour of more than ``HISTORY_ROWS`` assignments)."""
    cap = HISTORY_ROWS * len(queue_ids)
    rows = await _assignments(tenant, queue_ids, now, cap)
    found: dict[int, list[Assignment]] = {pk: [] for pk in queue_ids}
    for queue_id, *assignment in rows:
        if len(found[queue_id]) < HISTORY_ROWS:
            found[queue_id].append(tuple(assignment))  # type: ignore[arg-type]
    if len(queue_ids) > 1 and len(rows) >= cap:
        for pk in [pk for pk, got in found.items() if len(got) < HISTORY_ROWS]:
            found[pk] = [tuple(a) for _, *a in await _assignments(tenant, [pk], now, HISTORY_ROWS)]
    return found


async def _assignments(tenant: Tenant, queue_ids: list[int], now: datetime, limit: int) -> list[Any]:
    return list(
        await tenant.q(QueueEntry)
        .filter(queue_id__in=queue_ids, status=QueueEntryStatus.ASSIGNED, assigned_at__gte=now - HISTORY_WINDOW)
        .order_by("-assigned_at")
        .limit(limit)
        .values_list("queue_id", "assigned_at", "assigned_agent_id", "enqueued_at")
    )


async def _online_agents(tenant: Tenant) -> list[OnlineAgent]:
    rows = (
        await tenant.q(Agent)
        .filter(status=AgentStatus.ONLINE)
        .values_list("skills", "max_concurrent_threads", "active_thread_count")
    )
    return list(rows)  # type: ignore[arg-type]


async def wait_bases(tenant: Tenant, queues: Sequence[Queue], now: datetime) -> dict[int, WaitBasis]:
    """Two queries for any number of queues: their recent assignments and the ONLINE agents."""
    assigned = await _recent_assignments(tenant, [q.id for q in queues], now)
    agents = await _online_agents(tenant)
    return {q.id: basis_from(now, [(at, agent) for at, agent, _ in assigned[q.id]], agents, q.skills) for q in queues}


async def wait_basis(tenant: Tenant, queue: Queue, now: datetime) -> WaitBasis:
    return (await wait_bases(tenant, [queue], now))[queue.id]


async def queues_figures(tenant: Tenant, queues: Sequence[Queue], now: datetime) -> dict[int, QueueFigures]:
    """Three queries for any number of queues: WAITING entries, the last hour's assignments, ONLINE agents."""
    ids = [q.id for q in queues]
    waiting: dict[int, list[tuple[Priority, datetime]]] = {pk: [] for pk in ids}
    for queue_id, priority, enqueued_at in await (
        tenant.q(QueueEntry)
        .filter(queue_id__in=ids, status=QueueEntryStatus.WAITING)
        .values_list("queue_id", "priority", "enqueued_at")
    ):
        waiting[queue_id].append((priority, enqueued_at))
    assigned = await _recent_assignments(tenant, ids, now)
    agents = await _online_agents(tenant)
    return {q.id: figures_from(now, waiting[q.id], assigned[q.id], agents, q.skills) for q in queues}


async def queue_figures(tenant: Tenant, queue: Queue, now: datetime) -> QueueFigures:
    return (await queues_figures(tenant, [queue], now))[queue.id]
