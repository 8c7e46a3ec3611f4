"""Queues: provisioning, reads, transfer requests, claims (issue #4 for the latter)."""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.domain import queue_config
from switchboard.domain.enums import QueueEntryStatus, Role
from switchboard.models import Queue as QueueRow
from switchboard.models import QueueEntry as QueueEntryRow
from switchboard.resolvers.common import arg_pk, input_pk, run
from switchboard.schema.inputs import (
    CancelQueueEntryInput,
    ClaimQueueEntryInput,
    CreateQueueInput,
    QueueEntryFilter,
    ReopenThreadInput,
    RequestTransferInput,
    UpdateQueueInput,
)
from switchboard.schema.payloads import (
    QueueEntryPayload,
    QueuePayload,
    RequestTransferPayload,
    ThreadPayload,
    errors_of,
)
from switchboard.schema.types import InfoT, Queue, QueueEntryConnection, QueueStats

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
        qs = qs.filter(name=name)
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
    raise NotImplementedError("issue #4")


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
    raise NotImplementedError("issue #4")


async def queue_stats(info: InfoT, row: QueueRow) -> QueueStats:
    raise NotImplementedError("issue #4")


async def entry_place(info: InfoT, row: QueueEntryRow) -> Place:
    raise NotImplementedError("issue #4")


async def request_transfer(info: InfoT, data: RequestTransferInput) -> RequestTransferPayload:
    raise NotImplementedError("issue #4")


async def cancel_queue_entry(info: InfoT, data: CancelQueueEntryInput) -> QueueEntryPayload:
    raise NotImplementedError("issue #4")


async def claim_queue_entry(info: InfoT, data: ClaimQueueEntryInput) -> QueueEntryPayload:
    raise NotImplementedError("issue #4")


async def reopen_thread(info: InfoT, data: ReopenThreadInput) -> ThreadPayload:
    raise NotImplementedError("issue #4")
