"""Queues: provisioning, reads, claims, cancellation, reopen.

Who may call is the access policy's (``rules.policy``): cancelQueueEntry the
visitor (their own entry), the service and admins; claimQueueEntry agents;
reopenThread the service and admins; queueEntries everyone, within their scope.
"""

from __future__ import annotations

from datetime import UTC, datetime

from switchboard.events.outbox import Outbox
from switchboard.graphql.errors import Forbidden
from switchboard.graphql.inputs import (
    CancelQueueEntryInput,
    ClaimQueueEntryInput,
    CreateQueueInput,
    QueueEntryFilter,
    ReopenThreadInput,
    UpdateQueueInput,
)
from switchboard.graphql.payloads import QueueEntryPayload, QueuePayload, ThreadPayload, errors_of
from switchboard.graphql.resolvers.common import arg_pk, arg_text, input_pk, optional_arg_pk, optional_input_pk, run
from switchboard.graphql.types import base, connections
from switchboard.graphql.types.base import InfoT
from switchboard.graphql.types.connections import QueueEntryConnection
from switchboard.graphql.types.queues import Queue, QueueEntry
from switchboard.graphql.types.threads import Thread
from switchboard.models import Queue as QueueRow
from switchboard.models import QueueEntry as QueueEntryRow
from switchboard.models import Thread as ThreadRow
from switchboard.rules import policy
from switchboard.rules.problems import DomainError
from switchboard.services import entries, listing, queue_config, queueing
from switchboard.services.pagination import keyset_paginate

ENTRY = ("queue_entry_id",)


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
    await ctx.allow(policy.Op.PROVISION)
    row, problems = await run(ctx, lambda outbox: queue_config.create(ctx.tenant, outbox, _fields(data)))
    return QueuePayload(queue=Queue.from_model(row) if row else None, user_errors=errors_of(problems))


async def update_queue(info: InfoT, data: UpdateQueueInput) -> QueuePayload:
    ctx = info.context
    await ctx.allow(policy.Op.PROVISION)

    async def work(outbox: Outbox) -> QueueRow:
        pk = input_pk(data.queue_id, "Queue", ("queue_id",))
        return await queue_config.update(ctx.tenant, outbox, pk, _fields(data))

    row, problems = await run(ctx, work)
    return QueuePayload(queue=Queue.from_model(row) if row else None, user_errors=errors_of(problems))


async def queues(info: InfoT) -> list[Queue]:
    ctx = info.context
    await ctx.allow(policy.Op.READ_QUEUES)
    return [Queue.from_model(row) for row in await ctx.tenant.q(QueueRow).order_by("name")]


async def queue(info: InfoT, id: str | None, name: str | None) -> Queue | None:
    ctx = info.context
    await ctx.allow(policy.Op.READ_QUEUES)
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
    caller = await ctx.allow(policy.Op.READ_THREADS)
    query = listing.EntryQuery()
    if flt is not None:
        query = listing.EntryQuery(
            queue_id=optional_arg_pk(flt.queue_id, "Queue"),
            statuses=flt.status,
            priorities=flt.priority,
            triggers=flt.trigger,
            enqueued_after=flt.enqueued_after,
            enqueued_before=flt.enqueued_before,
        )
    request = base.keyset_args(first, after, last, before, listing.ENTRY_SORT.decode)
    qs = listing.entries(ctx.tenant, policy.entry_scope(caller), query)
    page = await keyset_paginate(qs, request, listing.ENTRY_SORT)
    return connections.entry_connection(page)


async def _fresh_entry(info: InfoT, pk: int | None) -> QueueEntry | None:
    # Routing may have taken the entry right after commit: show it as it is now.
    row = await info.context.tenant.get(QueueEntryRow, pk) if pk is not None else None
    return QueueEntry.from_model(row) if row else None


async def cancel_queue_entry(info: InfoT, data: CancelQueueEntryInput) -> QueueEntryPayload:
    ctx = info.context
    caller = await ctx.allow(policy.Op.CANCEL_ENTRY)
    try:
        pk = input_pk(data.queue_entry_id, "QueueEntry", ENTRY)
    except DomainError as exc:
        return QueueEntryPayload(queue_entry=None, user_errors=errors_of([exc.problem]))
    row = await ctx.tenant.get(QueueEntryRow, pk)
    if row is not None and not policy.may_cancel_entry(caller, row.thread_id):
        raise Forbidden("visitors may only cancel their own thread's entry")

    async def work(outbox: Outbox) -> int:
        return (await entries.cancel(ctx.tenant, outbox, pk, datetime.now(UTC))).id

    result, problems = await run(ctx, work)
    return QueueEntryPayload(queue_entry=await _fresh_entry(info, result), user_errors=errors_of(problems))


async def claim_queue_entry(info: InfoT, data: ClaimQueueEntryInput) -> QueueEntryPayload:
    ctx = info.context
    agent_id = (await ctx.allow(policy.Op.CLAIM)).agent_id
    assert agent_id is not None

    async def work(outbox: Outbox) -> int:
        entry_pk = optional_input_pk(data.queue_entry_id, "QueueEntry", ENTRY)
        queue_pk = optional_input_pk(data.queue_id, "Queue", ("queue_id",))
        entry = await entries.claim(ctx.tenant, outbox, agent_id, entry_pk, queue_pk, datetime.now(UTC))
        return entry.id

    result, problems = await run(ctx, work)
    return QueueEntryPayload(queue_entry=await _fresh_entry(info, result), user_errors=errors_of(problems))


async def reopen_thread(info: InfoT, data: ReopenThreadInput) -> ThreadPayload:
    """The bot integration (a visitor writes again) or an admin; the contract gives agents no reopen."""
    ctx = info.context
    caller = await ctx.allow(policy.Op.REOPEN)

    async def work(outbox: Outbox) -> int:
        pk = input_pk(data.thread_id, "Thread", ("thread_id",))
        thread, _ = await queueing.reopen(ctx.tenant, outbox, pk, data.priority, datetime.now(UTC))
        ctx.services.after_capacity_change(outbox, caller.org)
        return thread.id

    result, problems = await run(ctx, work)
    row = await ctx.tenant.get(ThreadRow, result) if result is not None else None
    return ThreadPayload(thread=Thread.from_model(row) if row else None, user_errors=errors_of(problems))
