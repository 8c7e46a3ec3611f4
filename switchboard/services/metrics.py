"""Analytics reads: the period's entries and invites summed up by the database (``metric_sql``).

The figures and their SQL definitions are in ``switchboard.rules.metrics``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

from switchboard.models import Invite, Queue, QueueEntry, Thread
from switchboard.rules.enums import TransferTrigger
from switchboard.rules.metrics import (
    Bucket,
    EntryFigures,
    EntryGroup,
    InviteFigures,
    InviteGroup,
    Point,
    bucket_starts,
    entry_totals,
    invite_totals,
    queue_totals,
    ratio,
    series_of,
    trigger_totals,
)
from switchboard.services import metric_sql
from switchboard.services.tenancy import Tenant


def _entries_query(tenant: Tenant, start: datetime, end: datetime, queue_pk: int | None) -> QuerySet[QueueEntry]:
    qs = tenant.q(QueueEntry).filter(enqueued_at__gte=start, enqueued_at__lt=end)
    return qs.filter(queue_id=queue_pk) if queue_pk is not None else qs


def _invites_query(tenant: Tenant, start: datetime, end: datetime) -> QuerySet[Invite]:
    return tenant.q(Invite).filter(created_at__gte=start, created_at__lt=end)


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
    # With a bucket: the groups read, by that bucket too, from which its series is made without reading again.
    bucket: Bucket | None = None
    entry_groups: list[EntryGroup] = field(default_factory=list)
    invite_groups: list[InviteGroup] = field(default_factory=list)

    def series(self, bucket: Bucket) -> list[Point] | None:
        """The series by ``bucket`` from the groups read, if they were read by that bucket."""
        if bucket is not self.bucket:
            return None
        return series_of(self.entry_groups, self.invite_groups, self.start, self.end, bucket)

    @property
    def transfer_rate(self) -> float | None:
        return ratio(self.threads_transferred, self.threads_started)

    @property
    def transfer_success_rate(self) -> float | None:
        return ratio(self.entries.assigned, self.entries.transfers_requested)


async def _queues(tenant: Tenant, queue: Queue | None) -> list[Queue]:
    return [queue] if queue is not None else list(await tenant.q(Queue).order_by("name", "id"))


async def report(
    tenant: Tenant, start: datetime, end: datetime, queue: Queue | None, bucket: Bucket | None = None
) -> Report:
    """Every figure for a period already checked by ``check_period``; the series by ``bucket`` (one asked
    for) from the same reads, grouped by that bucket too, instead of a second pass over the period."""
    queue_pk = queue.pk if queue is not None else None
    entries = _entries_query(tenant, start, end, queue_pk)
    if bucket is not None:
        bucket_starts(start, end, bucket)  # refuse an oversized series before reading anything
    # Independent reads, each a scan of its own table: side by side on as many connections.
    groups, p90s, invites, (started, transferred), queues = await asyncio.gather(
        metric_sql.entry_groups(entries, bucket),
        metric_sql.p90_waits(entries),
        metric_sql.invite_groups(_invites_query(tenant, start, end), bucket),
        thread_counts(tenant, start, end, queue_pk),
        _queues(tenant, queue),
    )
    figures = queue_totals(groups, [q.pk for q in queues], {k: v for k, v in p90s.items() if k is not None})
    return Report(
        start=start,
        end=end,
        threads_started=started,
        threads_transferred=transferred,
        entries=entry_totals(groups, p90s.get(None)),
        invites=invite_totals(invites),
        triggers=trigger_totals(groups),
        queues=[(q, figures[q.pk]) for q in queues],
        bucket=bucket,
        entry_groups=groups,
        invite_groups=invites,
    )


async def series_points(
    tenant: Tenant, start: datetime, end: datetime, bucket: Bucket, queue_pk: int | None
) -> list[Point]:
    bucket_starts(start, end, bucket)  # refuse an oversized series before reading anything
    entries, invites = await asyncio.gather(
        metric_sql.entry_groups(_entries_query(tenant, start, end, queue_pk), bucket, detailed=False),
        metric_sql.invite_groups(_invites_query(tenant, start, end), bucket),
    )
    return series_of(entries, invites, start, end, bucket)
