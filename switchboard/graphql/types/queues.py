"""Queues, their entries and their live figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from switchboard import models as m
from switchboard.graphql.enums import (
    OverflowAction,
    Priority,
    QueueEntryStatus,
    RoutingStrategy,
    TransferTrigger,
)
from switchboard.graphql.types import base, connections, threads
from switchboard.graphql.types.agents import Agent, identity
from switchboard.graphql.types.base import InfoT, Node, gid
from switchboard.rules import policy
from switchboard.rules.estimates import QueueFigures, estimate
from switchboard.services import listing

if TYPE_CHECKING:
    from switchboard.graphql.types.connections import QueueEntryConnection
    from switchboard.graphql.types.threads import Thread

ThreadRef = Annotated["Thread", strawberry.lazy("switchboard.graphql.types.threads")]
QueueEntryConnectionRef = Annotated["QueueEntryConnection", strawberry.lazy("switchboard.graphql.types.connections")]


@strawberry.type(description="How many WAITING entries have one priority.")
class PriorityCount:
    priority: Priority = strawberry.field(description="The priority.")
    count: int = strawberry.field(description="WAITING entries with it.")


@strawberry.type(description="A queue's live figures.")
class QueueStats:
    waiting: int = strawberry.field(description="Entries WAITING now.")
    waiting_by_priority: list[PriorityCount] = strawberry.field(description="WAITING entries per priority.")
    longest_wait_seconds: int = strawberry.field(description="How long the oldest WAITING entry has waited.")
    average_wait_seconds: float | None = strawberry.field(description="Mean wait of entries assigned in the last hour.")
    available_agents: int = strawberry.field(description="Agents ONLINE with free capacity who can serve this queue.")
    estimated_wait_seconds: int | None = strawberry.field(description="Estimated wait of a NORMAL entry joining now.")

    @classmethod
    def of(cls, figures: QueueFigures) -> QueueStats:
        return cls(
            waiting=figures.waiting,
            waiting_by_priority=[PriorityCount(priority=p, count=n) for p, n in figures.waiting_by_priority],
            longest_wait_seconds=figures.longest_wait_seconds,
            average_wait_seconds=figures.average_wait_seconds,
            available_agents=figures.available_agents,
            estimated_wait_seconds=figures.estimated_wait_seconds,
        )


WAITING_ONLY = [QueueEntryStatus.WAITING]


@strawberry.type(description="Where threads wait for a human agent.")
class Queue(Node):
    name: str = strawberry.field(description="Unique name within the organization.")
    skills: list[str] = strawberry.field(description="Skills an agent needs to serve this queue.")
    routing_strategy: RoutingStrategy = strawberry.field(description="How entries reach agents.")
    max_wait_seconds: int = strawberry.field(description="Wait after which an entry overflows.")
    vip_max_wait_seconds: int = strawberry.field(description="The same for VIP and ENTERPRISE visitors.")
    overflow_action: OverflowAction = strawberry.field(description="What happens to an overflowed entry.")
    sticky_agent: bool = strawberry.field(
        description="On reopen, offer the thread to its last primary first when that agent can take it."
    )
    is_default: bool = strawberry.field(description="The queue used when requestTransfer names none.")
    row: strawberry.Private[m.Queue]

    @strawberry.field(description="Live figures of this queue.")
    async def stats(self, info: InfoT) -> QueueStats:
        ctx = info.context
        await ctx.allow(policy.Op.READ_QUEUE_STATS)
        ctx.loaders.queue.prime(self.row.id, self.row)
        return QueueStats.of(await ctx.loaders.queue_figures.load(self.row.id))

    @strawberry.field(description="Entries of this queue (WAITING by default), in queue order.")
    async def entries(
        self,
        info: InfoT,
        status: list[QueueEntryStatus] | None = WAITING_ONLY,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
        last: int | None = strawberry.UNSET,
        before: str | None = strawberry.UNSET,
    ) -> QueueEntryConnectionRef:
        ctx = info.context
        caller = await ctx.allow(policy.Op.READ_THREADS)
        request = base.keyset_args(first, after, last, before, listing.ENTRY_SORT.decode)
        key = (self.row.id, tuple(status or ()), policy.entry_scope(caller), request)
        return connections.entry_connection(await ctx.loaders.entry_pages.load(key))

    @classmethod
    def from_model(cls, row: m.Queue) -> Queue:
        return cls(
            id=gid("Queue", row.id),
            name=row.name,
            skills=list(row.skills or []),
            routing_strategy=row.routing_strategy,
            max_wait_seconds=row.max_wait_seconds,
            vip_max_wait_seconds=row.vip_max_wait_seconds,
            overflow_action=row.overflow_action,
            sticky_agent=row.sticky_agent,
            is_default=row.is_default,
            row=row,
        )


@dataclass
class Place:
    position: int | None
    queue_length: int
    estimated_wait_seconds: int | None


async def entry_place(info: InfoT, row: m.QueueEntry) -> Place:
    """Position, length and estimate from one ordered query per queue per request."""
    loaders = info.context.loaders
    order: list[int] = await loaders.queue_order.load(row.queue_id)
    if row.status is not QueueEntryStatus.WAITING or row.id not in order:
        return Place(None, len(order), None)
    position = order.index(row.id) + 1
    basis = await loaders.queue_wait_basis.load(row.queue_id)
    return Place(position, len(order), estimate(basis, position) if basis else None)


@strawberry.type(description="A thread's request for a human, waiting in (or gone from) a queue.")
class QueueEntry(Node):
    priority: Priority = strawberry.field(description="Queue priority.")
    status: QueueEntryStatus = strawberry.field(description="Where the entry is in its life.")
    trigger: TransferTrigger = strawberry.field(description="What made the bot (or someone) ask for a human.")
    reason: str | None = strawberry.field(description="Free text reason.")
    required_skills: list[str] = strawberry.field(description="Skills the serving agent needs.")
    attempt: int = strawberry.field(description="1 for the thread's first transfer request, 2 for the second, ...")
    enqueued_at: datetime = strawberry.field(description="When the entry joined the queue.")
    assigned_at: datetime | None = strawberry.field(description="When an agent got it.")
    overflow_action: OverflowAction | None = strawberry.field(description="Set when the entry OVERFLOWED.")
    row: strawberry.Private[m.QueueEntry]

    @strawberry.field(description="The thread.")
    async def thread(self, info: InfoT) -> ThreadRef:
        return await threads.load_thread(info, self.row.thread_id)

    @strawberry.field(description="The queue.")
    async def queue(self, info: InfoT) -> Queue:
        row = await info.context.loaders.queue.load(self.row.queue_id)
        assert row is not None  # queues are never deleted
        return Queue.from_model(row)

    @strawberry.field(description="1-based place among WAITING entries of the queue; null when not waiting.")
    async def position(self, info: InfoT) -> int | None:
        return (await entry_place(info, self.row)).position

    @strawberry.field(description="WAITING entries in the queue now.")
    async def queue_length(self, info: InfoT) -> int:
        return (await entry_place(info, self.row)).queue_length

    @strawberry.field(description="Estimated seconds until an agent takes this entry; null when not waiting.")
    async def estimated_wait_seconds(self, info: InfoT) -> int | None:
        return (await entry_place(info, self.row)).estimated_wait_seconds

    @strawberry.field(description="The agent who got the entry.")
    async def assigned_agent(self, info: InfoT) -> Agent | None:
        return await identity(info, self.row.assigned_agent_id)

    @classmethod
    def from_model(cls, row: m.QueueEntry) -> QueueEntry:
        return cls(
            id=gid("QueueEntry", row.id),
            priority=row.priority,
            status=row.status,
            trigger=row.trigger,
            reason=row.reason,
            required_skills=list(row.required_skills or []),
            attempt=row.attempt,
            enqueued_at=row.enqueued_at,
            assigned_at=row.assigned_at,
            overflow_action=row.overflow_action,
            row=row,
        )
