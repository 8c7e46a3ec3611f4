"""Analytics types: figures computed from the stored history."""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import Enum

import strawberry

from switchboard.graphql.enums import TransferTrigger
from switchboard.graphql.errors import BadInput
from switchboard.graphql.types.base import InfoT
from switchboard.graphql.types.queues import Queue
from switchboard.rules import metrics as rules
from switchboard.rules import policy
from switchboard.services import messages, metrics


@strawberry.enum(description="Width of a metrics series bucket.")
class MetricsBucket(Enum):
    HOUR = "HOUR"
    DAY = "DAY"


@strawberry.type(description="One queue's figures over the period.")
class QueueMetrics:
    queue: Queue = strawberry.field(description="The queue.")
    transfers_requested: int = strawberry.field(description="Entries enqueued in the period.")
    assigned: int = strawberry.field(description="Of those, assigned to an agent.")
    cancelled: int = strawberry.field(description="Of those, cancelled by the visitor or the bot.")
    overflowed: int = strawberry.field(description="Of those, overflowed.")
    average_wait_seconds: float | None = strawberry.field(description="Mean wait of the assigned ones.")
    p90_wait_seconds: float | None = strawberry.field(description="90th percentile wait of the assigned ones.")


@strawberry.type(description="Figures of one bucket of a series.")
class MetricsPoint:
    bucket_start: datetime = strawberry.field(description="Start of the bucket (UTC).")
    transfers_requested: int = strawberry.field(description="Entries enqueued in the bucket.")
    assigned: int = strawberry.field(description="Of those, assigned.")
    average_wait_seconds: float | None = strawberry.field(description="Mean wait of the assigned ones.")
    invites_sent: int = strawberry.field(description="Invites created in the bucket.")
    invites_accepted: int = strawberry.field(description="Of those, accepted.")


@strawberry.type(description="How many transfer requests had one trigger.")
class TriggerCount:
    trigger: TransferTrigger = strawberry.field(description="The trigger.")
    count: int = strawberry.field(description="Transfer requests with it.")


@strawberry.type(description="Figures over [from, to) for the caller's organization.")
class Metrics:
    from_: datetime = strawberry.field(name="from", description="Start of the period (inclusive).")
    to: datetime = strawberry.field(description="End of the period (exclusive).")
    threads_started: int = strawberry.field(description="Threads created in the period.")
    transfer_rate: float | None = strawberry.field(description="Share of started threads that asked for a human.")
    transfers_requested: int = strawberry.field(description="Queue entries created in the period.")
    transfer_success_rate: float | None = strawberry.field(
        description="Share of transfer requests that reached an agent."
    )
    average_wait_seconds: float | None = strawberry.field(description="Mean wait of assigned entries.")
    p90_wait_seconds: float | None = strawberry.field(description="90th percentile wait of assigned entries.")
    abandoned: int = strawberry.field(description="Entries cancelled before an agent took them.")
    overflowed: int = strawberry.field(description="Entries that overflowed.")
    invites_sent: int = strawberry.field(description="Invites created in the period.")
    invite_acceptance_rate: float | None = strawberry.field(description="Share of answered invites that were accepted.")
    average_invite_response_seconds: float | None = strawberry.field(description="Mean time to an answer.")
    invites_expired: int = strawberry.field(description="Invites that expired unanswered.")
    transfers_by_trigger: list[TriggerCount] = strawberry.field(description="Transfer requests per trigger.")
    by_queue: list[QueueMetrics] = strawberry.field(description="Figures per queue.")
    org: strawberry.Private[str]
    queue_pk: strawberry.Private[int | None]
    # The figures read; they hold the series of the bucket the document asked for.
    report: strawberry.Private[metrics.Report | None] = None
    # Figures of the conversation are read only when selected; both first-response figures from one read.
    first_responses: strawberry.Private[asyncio.Task[tuple[float | None, float | None]] | None] = None

    @strawberry.field(description="PUBLIC messages of agents in the period.")
    async def agent_messages(self, info: InfoT) -> int:
        return await messages.agent_message_count(info.context.tenant, self.from_, self.to)

    @strawberry.field(description="Messages of visitors in the period.")
    async def visitor_messages(self, info: InfoT) -> int:
        return await messages.visitor_message_count(info.context.tenant, self.from_, self.to)

    def _first_responses(self, info: InfoT) -> asyncio.Task[tuple[float | None, float | None]]:
        # A task, not its result: the two fields resolve side by side and must share one read.
        if self.first_responses is None:
            read = messages.first_responses(info.context.tenant, self.from_, self.to)
            self.first_responses = asyncio.ensure_future(read)
        return self.first_responses

    @strawberry.field(
        description="From assignment to the agent's first PUBLIC message, over threads assigned in the period."
    )
    async def average_first_response_seconds(self, info: InfoT) -> float | None:
        return (await self._first_responses(info))[0]

    @strawberry.field(description="90th percentile of the same.")
    async def p90_first_response_seconds(self, info: InfoT) -> float | None:
        return (await self._first_responses(info))[1]

    @strawberry.field(description="The period cut into buckets.")
    async def series(self, info: InfoT, bucket: MetricsBucket) -> list[MetricsPoint]:
        ctx = info.context
        await ctx.allow(policy.Op.READ_METRICS)
        chosen = rules.Bucket(bucket.value)
        read = self.report.series(chosen) if self.report is not None else None
        try:
            points = (
                read
                if read is not None
                else await metrics.series_points(ctx.tenant, self.from_, self.to, chosen, self.queue_pk)
            )
        except rules.PeriodError as exc:
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
