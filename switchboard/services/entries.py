"""Leaving a queue: assignment (routing or a claim), cancellation, overflow.

Races are settled by conditional updates, which PostgreSQL re-checks after
waiting for a concurrent writer: an entry leaves WAITING at most once
(``... WHERE status = 'WAITING'``) and an agent never exceeds capacity
(``... WHERE active_thread_count < max_concurrent_threads``).

If an entry ends without an agent (CANCELLED, OVERFLOWED: the thread goes back
to the bot) the collaborators still on the thread become inactive, listed in
STATUS_CHANGED's ``revoked``, so no seat stays tied to a thread no human serves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise.expressions import F

from switchboard.events.outbox import Outbox
from switchboard.events.types import EntryEventKind, ThreadAssigned, ThreadStatusChanged
from switchboard.models import Agent, Collaborator, Queue, QueueEntry, Thread
from switchboard.rules import queue_order as order
from switchboard.rules.caps import has_capacity
from switchboard.rules.enums import AgentStatus, CollaboratorRole, ErrorCode, Permission, QueueEntryStatus, ThreadStatus
from switchboard.rules.problems import DomainError, conflict, not_found
from switchboard.rules.routing import can_serve
from switchboard.services.places import end_place, thread_snapshot
from switchboard.services.queueing import WAITING, entry_event
from switchboard.services.tenancy import Tenant

ENTRY = ("queue_entry_id",)
ENDED_KIND = {
    QueueEntryStatus.ASSIGNED: EntryEventKind.ENTRY_ASSIGNED,
    QueueEntryStatus.CANCELLED: EntryEventKind.ENTRY_CANCELLED,
    QueueEntryStatus.OVERFLOWED: EntryEventKind.ENTRY_OVERFLOWED,
}
CLAIM_CANDIDATES = 50


class EntryTaken(DomainError):
    """The entry left WAITING before this change could take it (nothing was written yet)."""

    def __init__(self) -> None:
        super().__init__(ErrorCode.CONFLICT, "the entry is no longer waiting", ENTRY)


def _assigned(now: datetime) -> dict[str, datetime | None]:
    return {"assigned_at": now, "first_response_at": None}


async def assign(
    tenant: Tenant,
    outbox: Outbox,
    entry_id: int,
    agent_id: int,
    now: datetime,
    *,
    actor_id: int | None = None,
    statuses: Sequence[AgentStatus] = (AgentStatus.ONLINE,),
) -> QueueEntry:
    """The agent becomes the thread's PRIMARY (ADMIN) and the thread ACTIVE.

    Lock order entry -> thread -> agent; each step is a conditional update, and a
    failed one raises so that the whole transaction rolls back.
    """
    taken = (
        await tenant.q(QueueEntry)
        .filter(id=entry_id, status=WAITING)
        .update(status=QueueEntryStatus.ASSIGNED, assigned_at=now, assigned_agent_id=agent_id, ended_at=now)
    )
    if not taken:
        raise EntryTaken()
    entry = await tenant.get(QueueEntry, entry_id)
    assert entry is not None
    # lastPrimaryAgent stays "the previous primary" (set when a primary leaves or resolves).
    moved = (
        await tenant.q(Thread)
        .filter(id=entry.thread_id, status=ThreadStatus.QUEUED)
        # A new assignment: firstResponseAt waits for this agent's first PUBLIC message.
        .update(status=ThreadStatus.ACTIVE, primary_agent_id=agent_id, updated_at=now, **_assigned(now))
    )
    if not moved:
        raise conflict("the thread is no longer queued", ENTRY)
    seated = (
        await tenant.q(Agent)
        .filter(id=agent_id, status__in=list(statuses), active_thread_count__lt=F("max_concurrent_threads"))
        .update(active_thread_count=F("active_thread_count") + 1, last_assigned_at=now)
    )
    if not seated:
        raise DomainError(ErrorCode.LIMIT_REACHED, "the agent has no free capacity or is unavailable")
    collaborator = await _seat_primary(tenant, entry.thread_id, agent_id, now)
    thread = await tenant.get(Thread, entry.thread_id)
    assert thread is not None
    outbox.add(entry_event(tenant, EntryEventKind.ENTRY_ASSIGNED, entry, agent_id=agent_id))
    outbox.add(
        ThreadAssigned(
            org=tenant.org,
            thread_id=thread.id,
            actor_id=actor_id,
            collaborator_id=collaborator.id,
            agent_id=collaborator.agent_id,
            entry_id=entry.id,
            queue_id=entry.queue_id,
            status=ThreadStatus.ACTIVE,
            previous=ThreadStatus.QUEUED,
            snapshot=thread_snapshot(thread, collaborator),
        )
    )
    return entry


async def _seat_primary(tenant: Tenant, thread_id: int, agent_id: int, now: datetime) -> Collaborator:
    existing = await tenant.q(Collaborator).filter(thread_id=thread_id, agent_id=agent_id, active=True).first()
    if existing is None:
        return await tenant.create(
            Collaborator,
            thread_id=thread_id,
            agent_id=agent_id,
            role=CollaboratorRole.PRIMARY,
            permission=Permission.ADMIN,
            active=True,
            joined_at=now,
        )
    if existing.role is not CollaboratorRole.PRIMARY:
        # Already helping on the thread: the seat moves from collaborations to primary threads.
        await (
            tenant.q(Agent)
            .filter(id=agent_id, active_collaboration_count__gt=0)
            .update(active_collaboration_count=F("active_collaboration_count") - 1)
        )
    existing.role, existing.permission = CollaboratorRole.PRIMARY, Permission.ADMIN
    await existing.save(update_fields=["role", "permission"])
    return existing


async def next_for_agent(tenant: Tenant, agent: Agent, queue_id: int | None) -> list[QueueEntry]:
    """WAITING entries the agent can serve, best first (queue order across queues)."""
    queues = await (tenant.q(Queue).filter(id=queue_id) if queue_id is not None else tenant.q(Queue))
    if queue_id is not None and not queues:
        raise not_found("queue", ("queue_id",))
    servable = {q.id: q for q in queues if can_serve(agent.skills, q.skills)}
    if not servable:
        return []
    rows = (
        await tenant.q(QueueEntry)
        .filter(queue_id__in=list(servable), status=WAITING)
        .order_by(*order.ORDER_COLUMNS)
        .limit(CLAIM_CANDIDATES)
    )
    return [e for e in rows if order.claimable(servable[e.queue_id].routing_strategy, agent.skills, e.required_skills)]


async def claim(
    tenant: Tenant, outbox: Outbox, agent_id: int, entry_id: int | None, queue_id: int | None, now: datetime
) -> QueueEntry:
    """An agent takes a given entry, or the best next one they can serve."""
    agent = await tenant.get(Agent, agent_id)
    if agent is None:
        raise not_found("agent")
    if agent.status is AgentStatus.OFFLINE:
        raise DomainError(ErrorCode.AGENT_UNAVAILABLE, "an OFFLINE agent cannot take threads")
    if not has_capacity(agent.active_thread_count, agent.max_concurrent_threads):
        message = f"already serving {agent.active_thread_count} of {agent.max_concurrent_threads} threads"
        raise DomainError(ErrorCode.LIMIT_REACHED, message)
    statuses = [s for s in AgentStatus if s is not AgentStatus.OFFLINE]
    if entry_id is not None:
        if await tenant.get(QueueEntry, entry_id) is None:
            raise not_found("queue entry", ENTRY)
        return await assign(tenant, outbox, entry_id, agent.id, now, actor_id=agent.id, statuses=statuses)
    for candidate in await next_for_agent(tenant, agent, queue_id):
        try:
            return await assign(tenant, outbox, candidate.id, agent.id, now, actor_id=agent.id, statuses=statuses)
        except EntryTaken:
            # Lost this one to a concurrent claim before writing anything: try the next.
            continue
    raise conflict("no waiting entry is left for you to claim", ())


async def _release_helpers(tenant: Tenant, thread_id: int, now: datetime) -> tuple[int, ...]:
    """The thread went back to the bot: the collaborators still on it leave; their agent ids."""
    rows = await tenant.q(Collaborator).filter(thread_id=thread_id, active=True).order_by("id")
    for row in rows:
        await end_place(tenant, row, now)
    return tuple(row.agent_id for row in rows)


async def end_waiting(
    tenant: Tenant,
    outbox: Outbox,
    entry_id: int,
    status: QueueEntryStatus,
    now: datetime,
    *,
    due_before: datetime | None = None,
) -> QueueEntry | None:
    """CANCELLED or OVERFLOWED: the entry leaves the queue and the thread goes back to the bot.

    Returns None when the entry was no longer WAITING (or not due): nothing changed.
    """
    entry = await tenant.get(QueueEntry, entry_id)
    if entry is None:
        return None
    values: dict[str, Any] = {"status": status, "ended_at": now}
    if status is QueueEntryStatus.OVERFLOWED:
        queue = await tenant.get(Queue, entry.queue_id)
        assert queue is not None
        values["overflow_action"] = queue.overflow_action
    qs = tenant.q(QueueEntry).filter(id=entry_id, status=WAITING)
    if due_before is not None:
        qs = qs.filter(overflow_at__lte=due_before)
    if not await qs.update(**values):
        return None
    entry.update_from_dict(values)
    action = values.get("overflow_action")
    outbox.add(entry_event(tenant, ENDED_KIND[status], entry, overflow_action=action))
    moved = (
        await tenant.q(Thread)
        .filter(id=entry.thread_id, status=ThreadStatus.QUEUED)
        .update(status=ThreadStatus.BOT, updated_at=now)
    )
    thread = await tenant.get(Thread, entry.thread_id) if moved else None
    if thread is not None:
        revoked = await _release_helpers(tenant, thread.id, now)
        outbox.add(
            ThreadStatusChanged(
                org=tenant.org,
                thread_id=thread.id,
                status=ThreadStatus.BOT,
                previous=ThreadStatus.QUEUED,
                entry_id=entry.id,
                revoked=revoked,
                overflow_action=action,
                snapshot=thread_snapshot(thread),
            )
        )
    return entry


async def cancel(tenant: Tenant, outbox: Outbox, entry_id: int, now: datetime) -> QueueEntry:
    entry = await end_waiting(tenant, outbox, entry_id, QueueEntryStatus.CANCELLED, now)
    if entry is None:
        if await tenant.get(QueueEntry, entry_id) is None:
            raise not_found("queue entry", ENTRY)
        raise EntryTaken()
    return entry
