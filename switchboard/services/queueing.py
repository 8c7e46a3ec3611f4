"""Joining a queue: transfer requests, hand-backs, reopening. (Leaving it: ``entries``.)

Every function runs inside the caller's transaction (``atomic``) and writes its
typed events into the outbox. Each change to the WAITING set of a queue emits
exactly one ``EntryChanged`` keyed by the queue, so a process can recompute the
queue's order once per change for all its watchers. Thread events (QUEUED,
ASSIGNED, STATUS_CHANGED, COLLABORATOR_LEFT) carry the thread's snapshot, so a
replay renders like the live event; those that can take places away say whose
(``revoked``).

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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from switchboard.events.outbox import Outbox
from switchboard.events.types import CollaboratorLeft, EntryChanged, EntryEventKind, ThreadQueued
from switchboard.models import Collaborator, Organization, Queue, QueueEntry, Thread, Visitor
from switchboard.rules import policy
from switchboard.rules import queue_order as order
from switchboard.rules import validation as v
from switchboard.rules.enums import ErrorCode, Priority, QueueEntryStatus, ThreadStatus, TransferTrigger
from switchboard.rules.problems import DomainError, conflict, forbidden, not_found
from switchboard.services.invite_changes import cancel_open_invites
from switchboard.services.places import CLOSED_THREAD, THREAD, end_place, free_thread, thread_snapshot
from switchboard.services.tenancy import Tenant

WAITING = QueueEntryStatus.WAITING
RATE_WINDOW = timedelta(hours=1)


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


async def waiting_orders(tenant: Tenant, queue_ids: Sequence[int]) -> dict[int, list[int]]:
    """Per queue, the ids of its WAITING entries in queue order (one indexed query for all the queues)."""
    rows = (
        await tenant.q(QueueEntry)
        .filter(queue_id__in=list(queue_ids), status=WAITING)
        .order_by(*order.ORDER_COLUMNS)
        .values_list("queue_id", "id")
    )
    found: dict[int, list[int]] = {pk: [] for pk in queue_ids}
    for queue_id, pk in rows:
        found[int(queue_id)].append(int(pk))
    return found


async def waiting_order(tenant: Tenant, queue_id: int) -> list[int]:
    return (await waiting_orders(tenant, [queue_id]))[queue_id]


async def choose_queue(tenant: Tenant, queue_id: int | None, required: list[str]) -> Queue:
    """The named queue; else the one whose skills cover ``required`` most closely; else the default."""
    if queue_id is not None:
        queue = await tenant.get(Queue, queue_id)
        if queue is None:
            raise not_found("queue", ("queue_id",))
        return queue
    queues = {q.id: q for q in await tenant.q(Queue).order_by("name")}
    choices = [order.QueueChoice(q.id, q.name, tuple(q.skills or ()), q.is_default) for q in queues.values()]
    chosen = order.choose_queue(choices, required)
    if chosen is None:
        raise DomainError(ErrorCode.NOT_FOUND, "the organization has no default queue", ("queue_id",))
    return queues[chosen.id]


def entry_event(tenant: Tenant, kind: EntryEventKind, entry: QueueEntry, **extra: Any) -> EntryChanged:
    return EntryChanged(
        org=tenant.org,
        kind=kind,
        queue_id=entry.queue_id,
        entry_id=entry.id,
        thread_id=entry.thread_id,
        status=entry.status,
        **extra,
    )


async def hand_back(
    tenant: Tenant, outbox: Outbox, thread: Thread, actor_id: int | None, now: datetime
) -> Collaborator | None:
    """An ACTIVE thread goes to a queue: open invites CANCELLED, the primary leaves (see the module doc).

    Returns the primary's (now inactive) place; the caller saves the thread.
    """
    await cancel_open_invites(tenant, outbox, thread, actor_id=actor_id, reason="queued")
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


@dataclass
class Joining:
    """A new WAITING entry's terms."""

    queue: Queue
    priority: Priority
    trigger: TransferTrigger
    reason: str | None
    required_skills: list[str]
    attempt: int
    preferred_agent_id: int | None = None


async def enqueue(
    tenant: Tenant,
    outbox: Outbox,
    thread: Thread,
    visitor: Visitor,
    joining: Joining,
    now: datetime,
    *,
    actor_id: int | None = None,
    leaving: Collaborator | None = None,
) -> QueueEntry:
    """A new WAITING entry; the thread becomes QUEUED (the caller holds the thread's lock).

    ``leaving`` is the place of a primary who handed the thread over (``hand_back``).
    """
    queue = joining.queue
    wait = order.max_wait_seconds(queue.max_wait_seconds, queue.vip_max_wait_seconds, visitor.tier)
    entry = await tenant.create(
        QueueEntry,
        thread_id=thread.id,
        queue_id=queue.id,
        priority=joining.priority,
        priority_rank=order.PRIORITY_RANK[joining.priority],
        status=WAITING,
        trigger=joining.trigger,
        reason=joining.reason,
        required_skills=joining.required_skills,
        attempt=joining.attempt,
        visitor_id=visitor.id,
        enqueued_at=now,
        overflow_at=now + timedelta(seconds=wait),
        preferred_agent_id=joining.preferred_agent_id,
    )
    previous = thread.status
    thread.status = ThreadStatus.QUEUED
    await thread.save()
    outbox.add(entry_event(tenant, EntryEventKind.ENTRY_ADDED, entry, priority=joining.priority))
    _queued(tenant, outbox, thread, entry, previous, actor_id, leaving)
    return entry


def _queued(
    tenant: Tenant,
    outbox: Outbox,
    thread: Thread,
    entry: QueueEntry,
    previous: ThreadStatus,
    actor_id: int | None,
    leaving: Collaborator | None,
) -> None:
    """The thread's events of an enqueue: the primary who left (if one did), then QUEUED."""
    if leaving is not None:
        outbox.add(
            CollaboratorLeft(
                org=tenant.org,
                thread_id=thread.id,
                actor_id=actor_id,
                collaborator_id=leaving.id,
                agent_id=leaving.agent_id,
                reason="TRANSFERRED_TO_QUEUE",
                snapshot=thread_snapshot(thread, leaving),
            )
        )
    outbox.add(
        ThreadQueued(
            org=tenant.org,
            thread_id=thread.id,
            actor_id=actor_id,
            status=ThreadStatus.QUEUED,
            previous=previous,
            entry_id=entry.id,
            queue_id=entry.queue_id,
            revoked=(leaving.agent_id,) if leaving is not None else (),
            snapshot=thread_snapshot(thread),
        )
    )


async def _lock(tenant: Tenant, thread_id: int) -> tuple[Visitor, Thread]:
    """The thread and its visitor, locked in the order visitor -> thread.

    Every transfer request of a visitor (on any of their threads) and every
    reopen takes the visitor's lock first: the per-visitor rate limit and the
    one-WAITING-entry rule are checked on a stable picture.
    """
    found = await tenant.get(Thread, thread_id)
    if found is None:
        raise not_found("thread", THREAD)
    visitor = await tenant.get(Visitor, found.visitor_id, for_update=True)
    thread = await tenant.get(Thread, thread_id, for_update=True)
    assert visitor is not None and thread is not None
    return visitor, thread


async def _check_can_queue(tenant: Tenant, caller: policy.Caller, thread: Thread) -> None:
    if thread.status in CLOSED_THREAD:
        raise conflict(f"a {thread.status.value} thread takes no transfers", THREAD)
    if not policy.may_hand_to_queue(caller, thread.primary_agent_id):
        raise forbidden("only the thread's primary may hand it to a queue", THREAD)
    waiting = await tenant.q(QueueEntry).filter(thread_id=thread.id, status=WAITING).exists()
    if thread.status is ThreadStatus.QUEUED or waiting:
        raise conflict("the thread is already waiting in a queue", THREAD)
    if caller.visitor and thread.status is not ThreadStatus.BOT:
        raise conflict("an agent is already serving this thread", THREAD)


async def _attempt(tenant: Tenant, org: Organization, thread: Thread, visitor: Visitor, now: datetime) -> int:
    """The number of this transfer request; RATE_LIMITED past the thread's or the visitor's limit."""
    attempts = await tenant.q(QueueEntry).filter(thread_id=thread.id).count()
    if attempts >= org.max_transfer_attempts:
        message = f"the thread has used its {org.max_transfer_attempts} transfer attempts"
        raise DomainError(ErrorCode.RATE_LIMITED, message, THREAD)
    recent = await tenant.q(QueueEntry).filter(visitor_id=visitor.id, enqueued_at__gte=now - RATE_WINDOW).count()
    limit = org.transfer_rate_limit_per_visitor_per_hour
    if recent >= limit:
        message = f"the visitor made {recent} transfer requests in the last hour (limit {limit})"
        raise DomainError(ErrorCode.RATE_LIMITED, message, THREAD)
    return attempts + 1


async def request_transfer(
    tenant: Tenant, outbox: Outbox, caller: policy.Caller, req: TransferRequest, now: datetime
) -> tuple[Thread, QueueEntry]:
    """requestTransfer into a queue (the toAgentId mode is a TRANSFER invite)."""
    org = await tenant.organization()
    visitor, thread = await _lock(tenant, req.thread_id)
    await _check_can_queue(tenant, caller, thread)
    required = v.skills(req.required_skills, ("required_skills",)) or []
    reason = v.text(req.reason, ("reason",), limit=v.MESSAGE_MAX)
    context = v.transfer_context(req.context)
    queue = await choose_queue(tenant, req.queue_id, required)
    attempt = await _attempt(tenant, org, thread, visitor, now)
    leaving = None
    if thread.status is ThreadStatus.ACTIVE:
        leaving = await hand_back(tenant, outbox, thread, caller.agent_id, now)
    if context is not None:
        thread.context = context
    thread.transfer_count += 1
    priority = order.effective_priority(req.priority, visitor.tier)
    joining = Joining(queue, priority, req.trigger, reason, required, attempt)
    entry = await enqueue(tenant, outbox, thread, visitor, joining, now, actor_id=caller.agent_id, leaving=leaving)
    return thread, entry


async def reopen(
    tenant: Tenant, outbox: Outbox, thread_id: int, priority: Priority | None, now: datetime
) -> tuple[Thread, QueueEntry]:
    """A RESOLVED thread queues again with the next attempt number.

    On a stickyAgent queue the entry names the last primary, whom routing offers
    it to first; so does a thread that kept its primary on resolve
    (``unassignOnResolve`` off), whatever the queue. While QUEUED the thread has
    no primary. The transfer-attempt limit does not refuse a reopen: the visitor
    came back, and the attempt number still counts on.
    """
    visitor, thread = await _lock(tenant, thread_id)
    if thread.status is not ThreadStatus.RESOLVED:
        raise conflict(f"only a RESOLVED thread can be reopened (it is {thread.status.value})", THREAD)
    previous = await tenant.q(QueueEntry).filter(thread_id=thread.id).order_by("-enqueued_at", "-id").first()
    queue = await tenant.get(Queue, previous.queue_id) if previous is not None else None
    if queue is None:
        queue = await choose_queue(tenant, None, [])
    attempts = await tenant.q(QueueEntry).filter(thread_id=thread.id).count()
    kept = thread.primary_agent_id
    preferred = kept or (thread.last_primary_agent_id if queue.sticky_agent else None)
    if kept is not None:
        thread.last_primary_agent_id, thread.primary_agent_id = kept, None
    required = list(previous.required_skills or []) if previous is not None else []
    priority = order.effective_priority(priority, visitor.tier)
    joining = Joining(queue, priority, TransferTrigger.VISITOR_REQUEST, "reopened", required, attempts + 1, preferred)
    return thread, await enqueue(tenant, outbox, thread, visitor, joining, now)
