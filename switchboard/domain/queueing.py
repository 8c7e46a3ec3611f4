"""The queue: transfer requests, order, assignment, claims, cancellation, overflow, reopen.

Every function runs inside the caller's transaction (``atomic``) and writes its
events into the outbox. Each change to the WAITING set of a queue emits exactly
one event on topic "queue" (ENTRY_ADDED, ENTRY_ASSIGNED, ENTRY_CANCELLED,
ENTRY_OVERFLOWED) keyed by the queue, so a process can recompute the queue's
order once per change for all its watchers. Thread events (QUEUED, ASSIGNED,
STATUS_CHANGED, COLLABORATOR_LEFT) go through ``collaboration.thread_event`` and
carry the same snapshot as the collaboration feature's, so a replay renders
like the live event; those that can take places away say whose (``revoked``).

Handing an ACTIVE thread to a queue (``requestTransfer`` with a queue on a
thread that has a primary; the contract is silent on the rest):

* every open invite of the thread becomes CANCELLED (reason ``queued``), like
  on resolve: its inviter no longer owns the thread, and a TRANSFER invite
  accepted later would take the thread from whoever routing gives it to;
* the primary leaves (COLLABORATOR_LEFT, their slot frees up for routing);
* the other collaborators stay while the thread waits, so the agent who gets
  it inherits the helpers and their context (one of them may get it; their
  collaboration seat then becomes a primary seat);
* if the entry ends without an agent (CANCELLED, OVERFLOWED: the thread goes
  back to the bot) the remaining collaborators become inactive, listed in
  STATUS_CHANGED's ``revoked``, so no seat stays tied to a thread no human serves.

Races are settled by conditional updates, which PostgreSQL re-checks after
waiting for a concurrent writer: an entry leaves WAITING at most once
(``... WHERE status = 'WAITING'``) and an agent never exceeds capacity
(``... WHERE active_thread_count < max_concurrent_threads``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import F

from switchboard.domain import invites
from switchboard.domain import validation as v
from switchboard.domain.collaboration import end_place, free_thread, thread_event
from switchboard.domain.enums import (
    PRIORITY_RANK,
    AgentStatus,
    CollaboratorRole,
    ErrorCode,
    Permission,
    Priority,
    QueueEntryStatus,
    RoutingStrategy,
    ThreadStatus,
    TransferTrigger,
    VisitorTier,
)
from switchboard.domain.estimates import can_serve
from switchboard.errors import DomainError, invalid, not_found
from switchboard.models import Agent, Collaborator, Queue, QueueEntry, Thread, Visitor
from switchboard.subscriptions.outbox import Outbox
from switchboard.tenancy import Tenant

# Queue order: priority, then first come first served (id breaks exact ties).
ORDER = ("priority_rank", "enqueued_at", "id")
WAITING = QueueEntryStatus.WAITING
ENDED_KIND = {
    QueueEntryStatus.ASSIGNED: "ENTRY_ASSIGNED",
    QueueEntryStatus.CANCELLED: "ENTRY_CANCELLED",
    QueueEntryStatus.OVERFLOWED: "ENTRY_OVERFLOWED",
}
RATE_WINDOW = timedelta(hours=1)
PRIORITY_TIERS = (VisitorTier.VIP, VisitorTier.ENTERPRISE)
TRANSCRIPT_MAX = 1000
CONTEXT_EXTRA_MAX = 20_000
CLAIM_CANDIDATES = 50


class EntryTaken(DomainError):
    """The entry left WAITING before this change could take it (nothing was written yet)."""

    def __init__(self) -> None:
        super().__init__(ErrorCode.CONFLICT, "the entry is no longer waiting", ["input", "queueEntryId"])


@dataclass
class TransferRequest:
    thread_id: int
    queue_id: int | None = None
    priority: Priority | None = None
    trigger: TransferTrigger = TransferTrigger.VISITOR_REQUEST
    reason: str | None = None
    required_skills: list[str] | None = None
    # The bot's hand-over, as plain JSON (validated here).
    context: dict[str, Any] | None = None


@dataclass
class Requester:
    """Who asks, as far as the queue rules care (the role was checked by the resolver)."""

    agent_id: int | None = None
    visitor: bool = False


# ---------------------------------------------------------------- small rules


def effective_priority(requested: Priority | None, tier: VisitorTier) -> Priority:
    """The requested priority (NORMAL by default), at least HIGH for VIP and ENTERPRISE."""
    priority = requested or Priority.NORMAL
    if tier in PRIORITY_TIERS and PRIORITY_RANK[priority] > PRIORITY_RANK[Priority.HIGH]:
        return Priority.HIGH
    return priority


def max_wait_seconds(queue: Queue, tier: VisitorTier) -> int:
    return queue.vip_max_wait_seconds if tier in PRIORITY_TIERS else queue.max_wait_seconds


def clean_context(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """The bot's context, bounded like every other input."""
    if raw is None:
        return None
    path = ["input", "context"]
    out: dict[str, Any] = {}
    summary = v.text(raw.get("summary"), [*path, "summary"], limit=v.MESSAGE_MAX)
    if summary is not None:
        out["summary"] = summary
    if raw.get("sentiment") is not None:
        out["sentiment"] = raw["sentiment"]
    for name in ("intents", "tags"):
        values = v.skills(raw.get(name), [*path, name])
        out[name] = values or []
    lines = raw.get("transcript") or []
    if len(lines) > TRANSCRIPT_MAX:
        raise invalid(f"at most {TRANSCRIPT_MAX} transcript lines allowed, got {len(lines)}", [*path, "transcript"])
    out["transcript"] = [
        {
            "from": v.required_text(line["from"], [*path, "transcript", str(i), "from"]),
            "text": v.text(line["text"], [*path, "transcript", str(i), "text"], limit=v.MESSAGE_MAX) or "",
            "at": line["at"].isoformat() if line.get("at") else None,
        }
        for i, line in enumerate(lines)
    ]
    confidence = raw.get("confidence")
    if confidence is not None:
        if not 0.0 <= confidence <= 1.0:
            raise invalid(f"confidence must be between 0 and 1, got {confidence}", [*path, "confidence"])
        out["confidence"] = confidence
    if raw.get("extra") is not None:
        size = len(json.dumps(raw["extra"]))
        if size > CONTEXT_EXTRA_MAX:
            raise invalid(f"extra is {size} characters of JSON; at most {CONTEXT_EXTRA_MAX}", [*path, "extra"])
        if not v.storable_json(raw["extra"]):
            message = "extra contains a NUL character, an unpaired surrogate or a non-finite number"
            raise invalid(message, [*path, "extra"])
        out["extra"] = raw["extra"]
    return out


# ---------------------------------------------------------------- reads


async def waiting_order(tenant: Tenant, queue_id: int) -> list[int]:
    """Ids of the queue's WAITING entries in queue order (one indexed query)."""
    rows = (
        await tenant.q(QueueEntry)
        .filter(queue_id=queue_id, status=WAITING)
        .order_by(*ORDER)
        .values_list("id", flat=True)
    )
    return [int(r) for r in rows]  # type: ignore[call-overload]


async def choose_queue(tenant: Tenant, queue_id: int | None, required: Sequence[str]) -> Queue:
    """The named queue; else the one whose skills cover ``required`` most closely; else the default."""
    if queue_id is not None:
        queue = await tenant.get(Queue, queue_id)
        if queue is None:
            raise not_found("queue", ["input", "queueId"])
        return queue
    queues = await tenant.q(Queue).order_by("name")
    if required:
        covering = [q for q in queues if can_serve(q.skills, required)]
        if covering:
            return min(covering, key=lambda q: (len(q.skills or []), not q.is_default, q.name))
    default = next((q for q in queues if q.is_default), None)
    if default is None:
        raise DomainError(ErrorCode.NOT_FOUND, "the organization has no default queue", ["input", "queueId"])
    return default


# ---------------------------------------------------------------- writes


def _queue_event(tenant: Tenant, outbox: Outbox, kind: str, entry: QueueEntry, **payload: Any) -> None:
    outbox.add(
        tenant.org,
        "queue",
        kind,
        queue_id=entry.queue_id,
        entry_id=entry.id,
        payload={"entry_id": entry.id, "thread_id": entry.thread_id, **payload},
    )


async def hand_back(
    tenant: Tenant, outbox: Outbox, thread: Thread, actor_id: int | None, now: datetime
) -> Collaborator | None:
    """An ACTIVE thread goes to a queue: open invites CANCELLED, the primary leaves (see the module doc).

    Returns the primary's (now inactive) place; the caller saves the thread.
    """
    await invites.cancel_open_invites(tenant, outbox, thread, actor_id=actor_id, reason="queued")
    agent_id = thread.primary_agent_id
    if agent_id is None:
        return None
    row = await tenant.q(Collaborator).filter(thread_id=thread.id, agent_id=agent_id, active=True).first()
    if row is not None:
        await end_place(tenant, row, now)
    else:
        await free_thread(tenant, agent_id)
    thread.last_primary_agent_id, thread.primary_agent_id = agent_id, None
    return row


async def _release_helpers(tenant: Tenant, thread_id: int, now: datetime) -> list[int]:
    """The thread went back to the bot: the collaborators still on it leave; their agent ids."""
    rows = await tenant.q(Collaborator).filter(thread_id=thread_id, active=True).order_by("id")
    for row in rows:
        await end_place(tenant, row, now)
    return [row.agent_id for row in rows]


async def enqueue(
    tenant: Tenant,
    outbox: Outbox,
    *,
    thread: Thread,
    queue: Queue,
    visitor: Visitor,
    priority: Priority,
    trigger: TransferTrigger,
    reason: str | None,
    required_skills: list[str],
    attempt: int,
    now: datetime,
    preferred_agent_id: int | None = None,
    actor_id: int | None = None,
    leaving: Collaborator | None = None,
) -> QueueEntry:
    """A new WAITING entry; the thread becomes QUEUED (the caller holds the thread's lock).

    ``leaving`` is the place of a primary who handed the thread over (``hand_back``).
    """
    entry = await tenant.create(
        QueueEntry,
        thread_id=thread.id,
        queue_id=queue.id,
        priority=priority,
        priority_rank=PRIORITY_RANK[priority],
        status=WAITING,
        trigger=trigger,
        reason=reason,
        required_skills=required_skills,
        attempt=attempt,
        visitor_id=visitor.id,
        enqueued_at=now,
        overflow_at=now + timedelta(seconds=max_wait_seconds(queue, visitor.tier)),
        preferred_agent_id=preferred_agent_id,
    )
    previous = thread.status
    thread.status = ThreadStatus.QUEUED
    await thread.save()
    _queue_event(tenant, outbox, "ENTRY_ADDED", entry, status=WAITING.value, priority=priority.value)
    if leaving is not None:
        thread_event(
            outbox, thread, "COLLABORATOR_LEFT", actor_id=actor_id, collaborator=leaving, reason="TRANSFERRED_TO_QUEUE"
        )
    thread_event(
        outbox,
        thread,
        "QUEUED",
        actor_id=actor_id,
        status=ThreadStatus.QUEUED.value,
        previous=previous.value,
        entry_id=entry.id,
        queue_id=queue.id,
        revoked=[leaving.agent_id] if leaving is not None else [],
    )
    return entry


async def _lock(tenant: Tenant, thread_id: int) -> tuple[Visitor, Thread]:
    """The thread and its visitor, locked in the order visitor -> thread.

    Every transfer request of a visitor (on any of their threads) and every
    reopen takes the visitor's lock first: the per-visitor rate limit and the
    one-WAITING-entry rule are checked on a stable picture.
    """
    found = await tenant.get(Thread, thread_id)
    if found is None:
        raise not_found("thread", ["input", "threadId"])
    visitor = await tenant.get(Visitor, found.visitor_id, for_update=True)
    thread = await tenant.get(Thread, thread_id, for_update=True)
    assert visitor is not None and thread is not None
    return visitor, thread


async def request_transfer(
    tenant: Tenant, outbox: Outbox, req: TransferRequest, who: Requester, now: datetime
) -> tuple[Thread, QueueEntry, Queue]:
    """requestTransfer into a queue (the toAgentId mode lives with collaboration)."""
    org = await tenant.organization()
    visitor, thread = await _lock(tenant, req.thread_id)
    field = ["input", "threadId"]
    if thread.status in (ThreadStatus.RESOLVED, ThreadStatus.CLOSED):
        raise DomainError(ErrorCode.CONFLICT, f"a {thread.status.value} thread takes no transfers", field)
    if who.agent_id is not None and thread.primary_agent_id != who.agent_id:
        raise DomainError(ErrorCode.FORBIDDEN_ACTION, "only the thread's primary may hand it to a queue", field)
    if (
        thread.status is ThreadStatus.QUEUED
        or await tenant.q(QueueEntry).filter(thread_id=thread.id, status=WAITING).exists()
    ):
        raise DomainError(ErrorCode.CONFLICT, "the thread is already waiting in a queue", field)
    if who.visitor and thread.status is not ThreadStatus.BOT:
        raise DomainError(ErrorCode.CONFLICT, "an agent is already serving this thread", field)
    required = v.skills(req.required_skills, ["input", "requiredSkills"]) or []
    reason = v.text(req.reason, ["input", "reason"], limit=v.MESSAGE_MAX)
    context = clean_context(req.context)
    queue = await choose_queue(tenant, req.queue_id, required)
    attempts = await tenant.q(QueueEntry).filter(thread_id=thread.id).count()
    if attempts >= org.max_transfer_attempts:
        raise DomainError(
            ErrorCode.RATE_LIMITED,
            f"the thread has used its {org.max_transfer_attempts} transfer attempts",
            field,
        )
    recent = await tenant.q(QueueEntry).filter(visitor_id=visitor.id, enqueued_at__gte=now - RATE_WINDOW).count()
    if recent >= org.transfer_rate_limit_per_visitor_per_hour:
        raise DomainError(
            ErrorCode.RATE_LIMITED,
            f"the visitor made {recent} transfer requests in the last hour "
            f"(limit {org.transfer_rate_limit_per_visitor_per_hour})",
            field,
        )
    leaving = None
    if thread.status is ThreadStatus.ACTIVE:
        leaving = await hand_back(tenant, outbox, thread, who.agent_id, now)
    if context is not None:
        thread.context = context
    thread.transfer_count += 1
    entry = await enqueue(
        tenant,
        outbox,
        thread=thread,
        queue=queue,
        visitor=visitor,
        priority=effective_priority(req.priority, visitor.tier),
        trigger=req.trigger,
        reason=reason,
        required_skills=required,
        attempt=attempts + 1,
        now=now,
        actor_id=who.agent_id,
        leaving=leaving,
    )
    return thread, entry, queue


async def reopen(
    tenant: Tenant, outbox: Outbox, thread_id: int, priority: Priority | None, now: datetime
) -> tuple[Thread, QueueEntry, Queue]:
    """A RESOLVED thread queues again with the next attempt number.

    On a stickyAgent queue the entry names the last primary, whom routing offers
    it to first; so does a thread that kept its primary on resolve
    (``unassignOnResolve`` off), whatever the queue. While QUEUED the thread has
    no primary. The transfer-attempt limit does not refuse a reopen: the visitor
    came back, and the attempt number still counts on.
    """
    visitor, thread = await _lock(tenant, thread_id)
    if thread.status is not ThreadStatus.RESOLVED:
        message = f"only a RESOLVED thread can be reopened (it is {thread.status.value})"
        raise DomainError(ErrorCode.CONFLICT, message, ["input", "threadId"])
    previous = await tenant.q(QueueEntry).filter(thread_id=thread.id).order_by("-enqueued_at", "-id").first()
    queue = await tenant.get(Queue, previous.queue_id) if previous is not None else None
    if queue is None:
        queue = await choose_queue(tenant, None, [])
    attempts = await tenant.q(QueueEntry).filter(thread_id=thread.id).count()
    kept = thread.primary_agent_id
    preferred = kept or (thread.last_primary_agent_id if queue.sticky_agent else None)
    if kept is not None:
        thread.last_primary_agent_id, thread.primary_agent_id = kept, None
    entry = await enqueue(
        tenant,
        outbox,
        thread=thread,
        queue=queue,
        visitor=visitor,
        priority=effective_priority(priority, visitor.tier),
        trigger=TransferTrigger.VISITOR_REQUEST,
        reason="reopened",
        required_skills=list(previous.required_skills or []) if previous is not None else [],
        attempt=attempts + 1,
        now=now,
        preferred_agent_id=preferred,
    )
    return thread, entry, queue


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
        .update(status=ThreadStatus.ACTIVE, primary_agent_id=agent_id, updated_at=now)
    )
    if not moved:
        raise DomainError(ErrorCode.CONFLICT, "the thread is no longer queued", ["input", "queueEntryId"])
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
    _queue_event(tenant, outbox, "ENTRY_ASSIGNED", entry, status=QueueEntryStatus.ASSIGNED.value, agent_id=agent_id)
    thread_event(
        outbox,
        thread,
        "ASSIGNED",
        actor_id=actor_id,
        collaborator=collaborator,
        entry_id=entry.id,
        queue_id=entry.queue_id,
        status=ThreadStatus.ACTIVE.value,
        previous=ThreadStatus.QUEUED.value,
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
        raise not_found("queue", ["input", "queueId"])
    servable = {q.id: q for q in queues if can_serve(agent.skills, q.skills)}
    if not servable:
        return []
    rows = (
        await tenant.q(QueueEntry)
        .filter(queue_id__in=list(servable), status=WAITING)
        .order_by(*ORDER)
        .limit(CLAIM_CANDIDATES)
    )
    return [
        e
        for e in rows
        if servable[e.queue_id].routing_strategy is not RoutingStrategy.SKILL_BASED
        or can_serve(agent.skills, e.required_skills)
    ]


async def claim(
    tenant: Tenant, outbox: Outbox, agent_id: int, entry_id: int | None, queue_id: int | None, now: datetime
) -> QueueEntry:
    """An agent takes a given entry, or the best next one they can serve."""
    agent = await tenant.get(Agent, agent_id)
    if agent is None:
        raise not_found("agent")
    if agent.status is AgentStatus.OFFLINE:
        raise DomainError(ErrorCode.AGENT_UNAVAILABLE, "an OFFLINE agent cannot take threads")
    if agent.active_thread_count >= agent.max_concurrent_threads:
        message = f"already serving {agent.active_thread_count} of {agent.max_concurrent_threads} threads"
        raise DomainError(ErrorCode.LIMIT_REACHED, message)
    statuses = [s for s in AgentStatus if s is not AgentStatus.OFFLINE]
    if entry_id is not None:
        if await tenant.get(QueueEntry, entry_id) is None:
            raise not_found("queue entry", ["input", "queueEntryId"])
        return await assign(tenant, outbox, entry_id, agent.id, now, actor_id=agent.id, statuses=statuses)
    for candidate in await next_for_agent(tenant, agent, queue_id):
        try:
            return await assign(tenant, outbox, candidate.id, agent.id, now, actor_id=agent.id, statuses=statuses)
        except EntryTaken:
            # Lost this one to a concurrent claim before writing anything: try the next.
            continue
    raise DomainError(ErrorCode.CONFLICT, "no waiting entry is left for you to claim", ["input"])


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
    extra = {"overflow_action": values["overflow_action"].value} if "overflow_action" in values else {}
    _queue_event(tenant, outbox, ENDED_KIND[status], entry, status=status.value, **extra)
    moved = (
        await tenant.q(Thread)
        .filter(id=entry.thread_id, status=ThreadStatus.QUEUED)
        .update(status=ThreadStatus.BOT, updated_at=now)
    )
    thread = await tenant.get(Thread, entry.thread_id) if moved else None
    if thread is not None:
        revoked = await _release_helpers(tenant, thread.id, now)
        thread_event(
            outbox,
            thread,
            "STATUS_CHANGED",
            actor_id=None,
            status=ThreadStatus.BOT.value,
            previous=ThreadStatus.QUEUED.value,
            entry_id=entry.id,
            revoked=revoked,
            **extra,
        )
    return entry


async def cancel(tenant: Tenant, outbox: Outbox, entry_id: int, now: datetime) -> QueueEntry:
    entry = await end_waiting(tenant, outbox, entry_id, QueueEntryStatus.CANCELLED, now)
    if entry is None:
        if await tenant.get(QueueEntry, entry_id) is None:
            raise not_found("queue entry", ["input", "queueEntryId"])
        raise EntryTaken()
    return entry
