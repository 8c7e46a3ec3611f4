"""Analytics (the ``metrics`` query); the figures and their SQL definitions are in ``domain.metrics``.

Who may read them: analysts, admins and the service (the contract lets them
read everything), and agents whose organization role is SUPERVISOR (they run
the floor). Other agents and visitors get FORBIDDEN. A malformed ``queueId``,
a bad period or an oversized series is a top-level BAD_USER_INPUT error; a
``queueId`` of no queue of the caller's organization is NOT_FOUND.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from graphql import GraphQLError

from switchboard.domain import metrics as domain
from switchboard.domain.enums import Role
from switchboard.errors import BadInput, Forbidden
from switchboard.models import Queue as QueueRow
from switchboard.resolvers.common import arg_pk
from switchboard.schema.analytics import Metrics, MetricsBucket, MetricsPoint, QueueMetrics, TriggerCount
from switchboard.schema.types import InfoT, Queue

if TYPE_CHECKING:
    from switchboard.context import Context

READERS = (Role.ANALYST, Role.ADMIN, Role.SERVICE, Role.AGENT)


async def _authorise(ctx: Context) -> None:
    principal = ctx.require(*READERS)
    if principal.role is Role.AGENT and not await ctx.is_supervisor():
        raise Forbidden("only supervisors among agents may read metrics")


async def metrics(info: InfoT, start: datetime, end: datetime, queue_id: str | None) -> Metrics:
    ctx = info.context
    await _authorise(ctx)
    try:
        start, end = domain.check_period(start, end)
    except domain.PeriodError as exc:
        raise BadInput(str(exc)) from exc
    queue: QueueRow | None = None
    if queue_id is not None:
        queue = await ctx.tenant.get(QueueRow, arg_pk(queue_id, "Queue"))
        if queue is None:
            raise GraphQLError("queue not found", extensions={"code": "NOT_FOUND"})
    report = await domain.report(ctx.tenant, start, end, queue)
    entries, invites = report.entries, report.invites
    return Metrics(
        from_=report.start,
        to=report.end,
        threads_started=report.threads_started,
        transfer_rate=report.transfer_rate,
        transfers_requested=entries.transfers_requested,
        transfer_success_rate=report.transfer_success_rate,
        average_wait_seconds=entries.average_wait_seconds,
        p90_wait_seconds=entries.p90_wait_seconds,
        abandoned=entries.cancelled,
        overflowed=entries.overflowed,
        invites_sent=invites.sent,
        invite_acceptance_rate=invites.acceptance_rate,
        average_invite_response_seconds=invites.average_response_seconds,
        invites_expired=invites.expired,
        transfers_by_trigger=[TriggerCount(trigger=t, count=n) for t, n in report.triggers],
        by_queue=[
            QueueMetrics(
                queue=Queue.from_model(row),
                transfers_requested=f.transfers_requested,
                assigned=f.assigned,
                cancelled=f.cancelled,
                overflowed=f.overflowed,
                average_wait_seconds=f.average_wait_seconds,
                p90_wait_seconds=f.p90_wait_seconds,
            )
            for row, f in report.queues
        ],
        org=ctx.tenant.org,
        queue_pk=queue.pk if queue is not None else None,
    )


async def series(info: InfoT, metrics: Metrics, bucket: MetricsBucket) -> list[MetricsPoint]:
    ctx = info.context
    await _authorise(ctx)
    try:
        points = await domain.series_points(
            ctx.tenant, metrics.from_, metrics.to, domain.Bucket(bucket.value), metrics.queue_pk
        )
    except domain.PeriodError as exc:
        raise BadInput(str(exc)) from exc
    return [
        MetricsPoint(
            bucket_start=p.bucket_start,
            transfers_requested=p.transfers_requested,
            assigned=p.assigned,
            average_wait_seconds=p.average_wait_seconds,
            invites_sent=p.invites_sent,
            invites_accepted=p.invites_accepted,
        )
        for p in points
    ]
