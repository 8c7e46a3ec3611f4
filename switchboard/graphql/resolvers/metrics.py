"""Analytics (the ``metrics`` query); the figures and their SQL definitions are in ``rules.metrics``.

Who may read them: analysts, admins and the service (the contract lets them
read everything), and agents whose organization role is SUPERVISOR (they run
the floor). Other agents and visitors get FORBIDDEN. A malformed ``queueId``,
a bad period or an oversized series is a top-level BAD_USER_INPUT error; a
``queueId`` of no queue of the caller's organization is NOT_FOUND.
"""

from __future__ import annotations

from datetime import datetime

from strawberry.types.nodes import SelectedField

from switchboard.graphql.errors import BadInput, NotFound
from switchboard.graphql.resolvers.common import arg_pk
from switchboard.graphql.types.analytics import Metrics, QueueMetrics, TriggerCount
from switchboard.graphql.types.base import InfoT
from switchboard.graphql.types.queues import Queue
from switchboard.models import Queue as QueueRow
from switchboard.rules import metrics as rules
from switchboard.rules import policy
from switchboard.services import metrics as service


def _series_bucket(info: InfoT, start: datetime, end: datetime) -> rules.Bucket | None:
    """The bucket of the series the document asks for (directly under ``metrics``), if it is allowed
    over the period: the report then reads the period once for the figures and the series alike.
    A refused one is left to the ``series`` field, which reports it."""
    for metrics_field in info.selected_fields:
        for selection in metrics_field.selections:
            if isinstance(selection, SelectedField) and selection.name == "series":
                bucket = selection.arguments.get("bucket")
                try:
                    chosen = rules.Bucket(getattr(bucket, "value", bucket))
                    rules.bucket_starts(start, end, chosen)
                except (ValueError, rules.PeriodError):
                    return None
                return chosen
    return None


async def metrics(info: InfoT, start: datetime, end: datetime, queue_id: str | None) -> Metrics:
    ctx = info.context
    await ctx.allow(policy.Op.READ_METRICS)
    try:
        start, end = rules.check_period(start, end)
    except rules.PeriodError as exc:
        raise BadInput(str(exc)) from exc
    queue: QueueRow | None = None
    if queue_id is not None:
        queue = await ctx.tenant.get(QueueRow, arg_pk(queue_id, "Queue"))
        if queue is None:
            raise NotFound("queue")
    report = await service.report(ctx.tenant, start, end, queue, _series_bucket(info, start, end))
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
        report=report,
        queue_pk=queue.pk if queue is not None else None,
    )
