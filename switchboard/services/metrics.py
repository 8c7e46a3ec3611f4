"""Analytics reads: the period's rows, read once with only the columns needed.

The figures and their SQL definitions are in ``switchboard.rules.metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

from switchboard.models import Invite, Queue, QueueEntry, Thread
from switchboard.rules.enums import InviteStatus, QueueEntryStatus, TransferTrigger
from switchboard.rules.metrics import (
    Bucket,
    EntryFigures,
    EntryRow,
    InviteFigures,
    InviteRow,
    Point,
    bucket_starts,
    entry_figures,
    invite_figures,
    per_queue,
    ratio,
    series,
    trigger_counts,
    utc,
)
from switchboard.services.tenancy import Tenant


def _entries_query(tenant: Tenant, start: datetime, end: datetime, queue_pk: int | None) -> QuerySet[QueueEntry]:
    qs = tenant.q(QueueEntry).filter(enqueued_at__gte=start, enqueued_at__lt=end)
    return qs.filter(queue_id=queue_pk) if queue_pk is not None else qs


async def load_entries(tenant: Tenant, start: datetime, end: datetime, queue_pk: int | None) -> list[EntryRow]:
    rows = await _entries_query(tenant, start, end, queue_pk).values_list(
        "queue_id", "status", "trigger", "enqueued_at", "assigned_at"
    )
    return [
        EntryRow(
            queue_id=int(queue_id),
            status=QueueEntryStatus(status),
            trigger=TransferTrigger(trigger),
            enqueued_at=utc(enqueued_at),
            assigned_at=utc(assigned_at) if assigned_at is not None else None,
        )
        for queue_id, status, trigger, enqueued_at, assigned_at in rows
    ]


async def load_invites(tenant: Tenant, start: datetime, end: datetime) -> list[InviteRow]:
    rows = await (
        tenant.q(Invite)
        .filter(created_at__gte=start, created_at__lt=end)
        .values_list("status", "created_at", "responded_at")
    )
    return [
        InviteRow(
            status=InviteStatus(status),
            created_at=utc(created_at),
            responded_at=utc(responded_at) if responded_at is not None else None,
        )
        for status, created_at, responded_at in rows
    ]


async def thread_counts(tenant: Tenant, start: datetime, end: datetime, queue_pk: int | None) -> tuple[int, int]:
    """Threads started in the period, and how many of them were ever queued (in ``queue_pk``)."""
    started = tenant.q(Thread).filter(created_at__gte=start, created_at__lt=end)
    queued_threads = tenant.q(QueueEntry)
    if queue_pk is not None:
        queued_threads = queued_threads.filter(queue_id=queue_pk)
    total = await started.count()
    if total == 0:
        return 0, 0
    transferred = await started.filter(id__in=Subquery(queued_threads.values("thread_id"))).count()
    return total, transferred


@dataclass
class Report:
    start: datetime
    end: datetime
    threads_started: int
    threads_transferred: int
    entries: EntryFigures
    invites: InviteFigures
    triggers: list[tuple[TransferTrigger, int]]
    queues: list[tuple[Queue, EntryFigures]] = field(default_factory=list)

    @property
    def transfer_rate(self) -> float | None:
        return ratio(self.threads_transferred, self.threads_started)

    @property
    def transfer_success_rate(self) -> float | None:
        return ratio(self.entries.assigned, self.entries.transfers_requested)


async def report(tenant: Tenant, start: datetime, end: datetime, queue: Queue | None) -> Report:
    """Every figure but the series, for a period already checked by ``check_period``."""
    queue_pk = queue.pk if queue is not None else None
    entries = await load_entries(tenant, start, end, queue_pk)
    invites = await load_invites(tenant, start, end)
    started, transferred = await thread_counts(tenant, start, end, queue_pk)
    queues = [queue] if queue is not None else list(await tenant.q(Queue).order_by("name", "id"))
    figures = per_queue(entries, [q.pk for q in queues])
    return Report(
        start=start,
        end=end,
        threads_started=started,
        threads_transferred=transferred,
        entries=entry_figures(entries),
        invites=invite_figures(invites),
        triggers=trigger_counts(entries),
        queues=[(q, figures[q.pk]) for q in queues],
    )


async def series_points(
    tenant: Tenant, start: datetime, end: datetime, bucket: Bucket, queue_pk: int | None
) -> list[Point]:
    bucket_starts(start, end, bucket)  # refuse an oversized series before reading anything
    entries = await load_entries(tenant, start, end, queue_pk)
    invites = await load_invites(tenant, start, end)
    return series(entries, invites, start, end, bucket)
