"""queuePosition and queueStats.

queuePosition: visitors watch only their own thread's entry (FORBIDDEN otherwise);
agents, admins and the service any entry of their organization. The stream
takes its places from the process's ``QueueWatchHub`` (no query per update) and
ends after ASSIGNED, CANCELLED or OVERFLOWED.

queueStats: admins, analysts and supervisors. The figures come from the
process's ``QueueStatsHub``: computed once per queue per window for all local
subscribers when the queue, an agent or a thread of the organization changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry

from switchboard.graphql.context import Context
from switchboard.graphql.errors import BadInput, Forbidden, NotFound
from switchboard.graphql.resolvers.common import arg_pk
from switchboard.graphql.types.base import InfoT, gid
from switchboard.graphql.types.events import QueuePositionUpdate
from switchboard.graphql.types.queues import QueueStats
from switchboard.models import Queue as QueueRow
from switchboard.models import QueueEntry as QueueEntryRow
from switchboard.rules import policy
from switchboard.rules.policy import Reach
from switchboard.runtime.positions import QueueWatchHub
from switchboard.runtime.stats import QueueStatsHub

OWN_THREAD_ONLY = "visitors may only watch their own thread"


async def _entry_to_watch(ctx: Context, queue_entry_id: str | None, thread_id: str | None) -> QueueEntryRow:
    caller = await ctx.allow(policy.Op.WATCH_POSITION)
    if queue_entry_id is not None:
        entry = await ctx.tenant.get(QueueEntryRow, arg_pk(queue_entry_id, "QueueEntry"))
        if entry is not None and policy.position_reach(caller, entry.thread_id) is Reach.FORBIDDEN:
            raise Forbidden(OWN_THREAD_ONLY)
        if entry is None:
            raise NotFound("queue entry")
        return entry
    if thread_id is None and not caller.visitor:
        raise BadInput("give queueEntryId or threadId")
    thread_pk = arg_pk(thread_id, "Thread") if thread_id is not None else caller.thread_id
    if policy.position_reach(caller, thread_pk) is Reach.FORBIDDEN:
        raise Forbidden(OWN_THREAD_ONLY)
    found = await ctx.tenant.q(QueueEntryRow).filter(thread_id=thread_pk).order_by("-enqueued_at", "-id").first()
    if found is None:
        raise NotFound("queue entry of this thread")
    return found


async def queue_position(
    info: InfoT, queue_entry_id: str | None, thread_id: str | None
) -> AsyncIterator[QueuePositionUpdate]:
    """The entry's stream, once the caller may watch it (refused before it starts otherwise)."""
    ctx = info.context
    entry = await _entry_to_watch(ctx, queue_entry_id, thread_id)
    positions = _positions(ctx.services.positions, ctx.principal.org, entry.queue_id, entry.id, entry.thread_id)
    # The connection may live for hours: keep nothing per request beyond the slot.
    ctx.reset_loaders()
    return positions


async def _positions(
    hub: QueueWatchHub, org: str, queue_id: int, entry_id: int, thread_id: int
) -> AsyncIterator[QueuePositionUpdate]:
    entry_gid: strawberry.ID = gid("QueueEntry", entry_id)
    thread_gid: strawberry.ID = gid("Thread", thread_id)
    watcher = hub.watch(org, queue_id, entry_id)
    try:
        while True:
            place = await watcher.next()
            yield QueuePositionUpdate(
                queue_entry_id=entry_gid,
                thread_id=thread_gid,
                status=place.status,
                position=place.position,
                queue_length=place.length,
                estimated_wait_seconds=place.estimated_wait_seconds,
                overflow_action=place.overflow_action,
                at=place.at,
            )
            if place.final:
                return
    finally:
        hub.unwatch(watcher)


async def queue_stats(info: InfoT, queue_id: str) -> AsyncIterator[QueueStats]:
    """The queue's figures, once the caller may watch them (refused before they start otherwise)."""
    ctx = info.context
    caller = await ctx.allow(policy.Op.WATCH_QUEUE_STATS)
    pk = arg_pk(queue_id, "Queue")
    if await ctx.tenant.get(QueueRow, pk) is None:
        raise NotFound("queue")
    ctx.reset_loaders()
    return _stats(ctx.services.queue_stats, caller.org, pk)


async def _stats(hub: QueueStatsHub, org: str, queue_pk: int) -> AsyncIterator[QueueStats]:
    slot = hub.watch(org, queue_pk)
    try:
        while True:
            yield QueueStats.of(await slot.next())
    finally:
        hub.unwatch(slot)
