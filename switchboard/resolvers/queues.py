"""Queues: provisioning, reads, transfer requests, claims, cancellation, reopen.

Who may call (contract section 2, and the choices it leaves open):
- requestTransfer into a queue: the service (any thread), the visitor (their own
  thread, from the bot), the thread's primary agent (hand it to a department),
  admins. With toAgentId it is the collaboration feature's TRANSFER invite.
- cancelQueueEntry: the visitor (their own entry), the service, admins.
- claimQueueEntry: agents.
- reopenThread: the service and admins for any thread; among agents, supervisors
  and the thread's last primary (others get FORBIDDEN_ACTION).
- queueEntries: staff roles; a visitor sees only their own thread's entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from switchboard.domain import estimates, queue_config, queueing, validation
from switchboard.domain.enums import ErrorCode, QueueEntryStatus, Role
from switchboard.domain.pagination import paginate
from switchboard.errors import DomainError, Forbidden, Problem
from switchboard.models import Queue as QueueRow
from switchboard.models import QueueEntry as QueueEntryRow
from switchboard.models import Thread as ThreadRow
from switchboard.resolvers.common import arg_pk, arg_text, input_pk, optional_input_pk, run, to_connection
from switchboard.resolvers.threads import visible_entries
from switchboard.schema.inputs import (
    CancelQueueEntryInput,
    ClaimQueueEntryInput,
    CreateQueueInput,
    QueueEntryFilter,
    ReopenThreadInput,
    RequestTransferInput,
    TransferContextInput,
    UpdateQueueInput,
)
from switchboard.schema.payloads import (
    QueueEntryPayload,
    QueuePayload,
    RequestTransferPayload,
    ThreadPayload,
    errors_of,
)
from switchboard.schema.types import (
    InfoT,
    PriorityCount,
    Queue,
    QueueEntry,
    QueueEntryConnection,
    QueueEntryEdge,
    QueueStats,
    Thread,
)

STAFF = (Role.AGENT, Role.ADMIN, Role.ANALYST, Role.SERVICE)


@dataclass
class Place:
    position: int | None
    queue_length: int
    estimated_wait_seconds: int | None


def _fields(data: CreateQueueInput | UpdateQueueInput) -> queue_config.QueueFields:
    return queue_config.QueueFields(
        name=data.name,
        skills=data.skills,
        routing_strategy=data.routing_strategy,
        max_wait_seconds=data.max_wait_seconds,
        vip_max_wait_seconds=data.vip_max_wait_seconds,
        overflow_action=data.overflow_action,
        sticky_agent=data.sticky_agent,
        is_default=data.is_default,
    )


async def create_queue(info: InfoT, data: CreateQueueInput) -> QueuePayload:
    ctx = info.context
    ctx.require(Role.ADMIN)
    row, problems = await run(ctx, lambda outbox: queue_config.create(ctx.tenant, outbox, _fields(data)))
    return QueuePayload(queue=Queue.from_model(row) if row else None, user_errors=errors_of(problems))


async def update_queue(info: InfoT, data: UpdateQueueInput) -> QueuePayload:
    ctx = info.context
    ctx.require(Role.ADMIN)

    async def work(outbox):  # type: ignore[no-untyped-def]
        pk = input_pk(data.queue_id, "Queue", ["input", "queueId"])
        return await queue_config.update(ctx.tenant, outbox, pk, _fields(data))

    row, problems = await run(ctx, work)
    return QueuePayload(queue=Queue.from_model(row) if row else None, user_errors=errors_of(problems))


async def queues(info: InfoT) -> list[Queue]:
    ctx = info.context
    ctx.require(*STAFF)
    return [Queue.from_model(row) for row in await ctx.tenant.q(QueueRow).order_by("name")]


async def queue(info: InfoT, id: str | None, name: str | None) -> Queue | None:
    ctx = info.context
    ctx.require(*STAFF)
    qs = ctx.tenant.q(QueueRow)
    if id is not None:
        qs = qs.filter(id=arg_pk(id, "Queue"))
    if name is not None:
        qs = qs.filter(name=arg_text(name, "name"))
    if id is None and name is None:
        return None
    row = await qs.first()
    return Queue.from_model(row) if row else None


async def queue_entries(
    info: InfoT,
    flt: QueueEntryFilter | None,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> QueueEntryConnection:
    ctx = info.context
    qs = await visible_entries(ctx, ctx.tenant.q(QueueEntryRow))
    if flt is not None:
        if flt.queue_id is not None:
            qs = qs.filter(queue_id=arg_pk(flt.queue_id, "Queue"))
        if flt.status:
            qs = qs.filter(status__in=list(flt.status))
        if flt.priority:
            qs = qs.filter(priority__in=list(flt.priority))
        if flt.trigger:
            qs = qs.filter(trigger__in=list(flt.trigger))
        if flt.enqueued_after is not None:
            qs = qs.filter(enqueued_at__gte=flt.enqueued_after)
        if flt.enqueued_before is not None:
            qs = qs.filter(enqueued_at__lt=flt.enqueued_before)
    page = await paginate(qs.order_by(*queueing.ORDER), first=first, after=after, last=last, before=before)
    return to_connection(page, QueueEntryConnection, QueueEntryEdge, QueueEntry.from_model)


async def queue_entries_of(
    info: InfoT,
    row: QueueRow,
    status: list[QueueEntryStatus] | None,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> QueueEntryConnection:
    ctx = info.context
    qs = await visible_entries(ctx, ctx.tenant.q(QueueEntryRow).filter(queue_id=row.id))
    if status:
        qs = qs.filter(status__in=list(status))
    page = await paginate(qs.order_by(*queueing.ORDER), first=first, after=after, last=last, before=before)
    return to_connection(page, QueueEntryConnection, QueueEntryEdge, QueueEntry.from_model)


def stats_of(figures: estimates.QueueFigures) -> QueueStats:
    return QueueStats(
        waiting=figures.waiting,
        waiting_by_priority=[PriorityCount(priority=p, count=n) for p, n in figures.waiting_by_priority],
        longest_wait_seconds=figures.longest_wait_seconds,
        average_wait_seconds=figures.average_wait_seconds,
        available_agents=figures.available_agents,
        estimated_wait_seconds=figures.estimated_wait_seconds,
    )


async def queue_stats(info: InfoT, row: QueueRow) -> QueueStats:
    ctx = info.context
    ctx.require(*STAFF, Role.VISITOR)
    return stats_of(await estimates.queue_figures(ctx.tenant, row, datetime.now(UTC)))


async def entry_place(info: InfoT, row: QueueEntryRow) -> Place:
    """Position, length and estimate from one ordered query per queue per request."""
    loaders = info.context.loaders
    order: list[int] = await loaders.queue_order.load(row.queue_id)
    if row.status is not QueueEntryStatus.WAITING or row.id not in order:
        return Place(None, len(order), None)
    position = order.index(row.id) + 1
    basis = await loaders.queue_wait_basis.load(row.queue_id)
    return Place(position, len(order), estimates.estimate(basis, position) if basis else None)


def _context_json(data: TransferContextInput | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return {
        "summary": data.summary,
        "sentiment": data.sentiment.value if data.sentiment is not None else None,
        "intents": data.intents,
        "tags": data.tags,
        "transcript": [{"from": line.from_, "text": line.text, "at": line.at} for line in data.transcript or []],
        "confidence": data.confidence,
        "extra": data.extra,
    }


async def _fresh_entry(info: InfoT, pk: int | None) -> QueueEntry | None:
    # Routing may have taken the entry right after commit: show it as it is now.
    row = await info.context.tenant.get(QueueEntryRow, pk) if pk is not None else None
    return QueueEntry.from_model(row) if row else None


async def _fresh_thread(info: InfoT, pk: int | None) -> Thread | None:
    row = await info.context.tenant.get(ThreadRow, pk) if pk is not None else None
    return Thread.from_model(row) if row else None


async def request_transfer(info: InfoT, data: RequestTransferInput) -> RequestTransferPayload:
    ctx = info.context
    principal = ctx.require(Role.SERVICE, Role.VISITOR, Role.AGENT, Role.ADMIN)
    if data.to_agent_id is not None:
        if data.queue_id is not None:
            problem = Problem(ErrorCode.INVALID, "give toAgentId or queueId, not both", ["input", "queueId"])
            return RequestTransferPayload(thread=None, queue_entry=None, invite=None, user_errors=errors_of([problem]))
        if principal.role is Role.VISITOR:
            raise Forbidden("visitors may transfer only into a queue")
        try:
            # Not used by an agent-to-agent transfer, but bad input is refused, not ignored.
            validation.skills(data.required_skills, ["input", "requiredSkills"])
            queueing.clean_context(_context_json(data.context))
        except DomainError as exc:
            return RequestTransferPayload(
                thread=None, queue_entry=None, invite=None, user_errors=errors_of([exc.problem])
            )
        from switchboard.resolvers import collaboration

        return await collaboration.request_agent_transfer(info, data)
    try:
        thread_pk = input_pk(data.thread_id, "Thread", ["input", "threadId"])
    except DomainError as exc:
        return RequestTransferPayload(thread=None, queue_entry=None, invite=None, user_errors=errors_of([exc.problem]))
    if principal.role is Role.VISITOR and thread_pk != principal.thread_id:
        raise Forbidden("visitors may only transfer their own thread")
    if principal.role is Role.AGENT:
        await ctx.require_agent()
    who = queueing.Requester(agent_id=principal.agent_id, visitor=principal.role is Role.VISITOR)

    async def work(outbox):  # type: ignore[no-untyped-def]
        request = queueing.TransferRequest(
            thread_id=thread_pk,
            queue_id=optional_input_pk(data.queue_id, "Queue", ["input", "queueId"]),
            priority=data.priority,
            trigger=data.trigger,
            reason=data.reason,
            required_skills=data.required_skills,
            context=_context_json(data.context),
        )
        thread, entry, _ = await queueing.request_transfer(ctx.tenant, outbox, request, who, datetime.now(UTC))
        # Routing runs on enqueue, and the primary's slot may just have freed up.
        ctx.services.after_capacity_change(outbox, ctx.tenant.org)
        return thread.id, entry.id

    result, problems = await run(ctx, work)
    if result is None:
        return RequestTransferPayload(thread=None, queue_entry=None, invite=None, user_errors=errors_of(problems))
    return RequestTransferPayload(
        thread=await _fresh_thread(info, result[0]),
        queue_entry=await _fresh_entry(info, result[1]),
        invite=None,
        user_errors=[],
    )


async def cancel_queue_entry(info: InfoT, data: CancelQueueEntryInput) -> QueueEntryPayload:
    ctx = info.context
    principal = ctx.require(Role.VISITOR, Role.SERVICE, Role.ADMIN)
    try:
        pk = input_pk(data.queue_entry_id, "QueueEntry", ["input", "queueEntryId"])
    except DomainError as exc:
        return QueueEntryPayload(queue_entry=None, user_errors=errors_of([exc.problem]))
    if principal.role is Role.VISITOR:
        row = await ctx.tenant.get(QueueEntryRow, pk)
        if row is not None and row.thread_id != principal.thread_id:
            raise Forbidden("visitors may only cancel their own thread's entry")

    async def work(outbox):  # type: ignore[no-untyped-def]
        entry = await queueing.cancel(ctx.tenant, outbox, pk, datetime.now(UTC))
        return entry.id

    result, problems = await run(ctx, work)
    return QueueEntryPayload(queue_entry=await _fresh_entry(info, result), user_errors=errors_of(problems))


async def claim_queue_entry(info: InfoT, data: ClaimQueueEntryInput) -> QueueEntryPayload:
    ctx = info.context
    agent = await ctx.require_agent()

    async def work(outbox):  # type: ignore[no-untyped-def]
        entry_pk = optional_input_pk(data.queue_entry_id, "QueueEntry", ["input", "queueEntryId"])
        queue_pk = optional_input_pk(data.queue_id, "Queue", ["input", "queueId"])
        entry = await queueing.claim(ctx.tenant, outbox, agent.id, entry_pk, queue_pk, datetime.now(UTC))
        return entry.id

    result, problems = await run(ctx, work)
    return QueueEntryPayload(queue_entry=await _fresh_entry(info, result), user_errors=errors_of(problems))


async def reopen_thread(info: InfoT, data: ReopenThreadInput) -> ThreadPayload:
    """The bot integration (a visitor writes again) or an admin; the contract gives agents no reopen."""
    ctx = info.context
    principal = ctx.require(Role.SERVICE, Role.ADMIN)

    async def work(outbox):  # type: ignore[no-untyped-def]
        pk = input_pk(data.thread_id, "Thread", ["input", "threadId"])
        thread, _, _ = await queueing.reopen(ctx.tenant, outbox, pk, data.priority, datetime.now(UTC))
        ctx.services.after_capacity_change(outbox, principal.org)
        return thread.id

    result, problems = await run(ctx, work)
    return ThreadPayload(thread=await _fresh_thread(info, result), user_errors=errors_of(problems))
