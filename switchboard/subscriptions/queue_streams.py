"""queuePosition and queueStats.

queuePosition: visitors watch only their own thread's entry (FORBIDDEN otherwise);
agents, admins and the service any entry of their organization. The stream
takes its places from the process's ``QueueWatchHub`` (no query per update) and
ends after ASSIGNED, CANCELLED or OVERFLOWED.

queueStats: admins, analysts and supervisors. The figures come from the
process's ``QueueStatsHub``: computed once per queue per window for all local
subscribers when the queue, an agent or a thread of the organization changes,
at most ``STATS_PER_SECOND`` times a second, and every
``STATS_REFRESH_SECONDS`` while entries wait (the longest wait grows).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry
from graphql import GraphQLError

from switchboard import ids
from switchboard.context import Context
from switchboard.domain.enums import Role
from switchboard.errors import BadInput, Forbidden
from switchboard.models import Queue as QueueRow
from switchboard.models import QueueEntry as QueueEntryRow
from switchboard.resolvers.common import arg_pk
from switchboard.resolvers.queues import stats_of
from switchboard.schema.events import QueuePositionUpdate
from switchboard.schema.types import InfoT, QueueStats
from switchboard.subscriptions.queue_feature import HUB, STATS_HUB
from switchboard.subscriptions.queue_watch import QueueStatsHub, QueueWatchHub

WATCHERS = (Role.AGENT, Role.ADMIN, Role.SERVICE, Role.VISITOR)


def _not_found(what: str) -> GraphQLError:
    return GraphQLError(f"{what} not found", extensions={"code": "NOT_FOUND"})


async def _entry_to_watch(ctx: Context, queue_entry_id: str | None, thread_id: str | None) -> QueueEntryRow:
    principal = ctx.require(*WATCHERS)
    visitor = principal.role is Role.VISITOR
    if queue_entry_id is not None:
        entry = await ctx.tenant.get(QueueEntryRow, arg_pk(queue_entry_id, "QueueEntry"))
        if entry is not None and visitor and entry.thread_id != principal.thread_id:
            raise Forbidden("visitors may only watch their own thread")
        if entry is None:
            raise _not_found("queue entry")
        return entry
    if thread_id is None and not visitor:
        raise BadInput("give queueEntryId or threadId")
    thread_pk = arg_pk(thread_id, "Thread") if thread_id is not None else principal.thread_id
    if visitor and thread_pk != principal.thread_id:
        raise Forbidden("visitors may only watch their own thread")
    found = await ctx.tenant.q(QueueEntryRow).filter(thread_id=thread_pk).order_by("-enqueued_at", "-id").first()
    if found is None:
        raise _not_found("queue entry of this thread")
    return found


async def queue_position(
    info: InfoT, queue_entry_id: str | None, thread_id: str | None
) -> AsyncIterator[QueuePositionUpdate]:
    """The entry's stream, once the caller may watch it (refused before it starts otherwise)."""
    ctx = info.context
    entry = await _entry_to_watch(ctx, queue_entry_id, thread_id)
    hub: QueueWatchHub = ctx.services.extensions[HUB]
    positions = _positions(hub, ctx.principal.org, entry.queue_id, entry.id, entry.thread_id)
    # The connection may live for hours: keep nothing per request beyond the slot.
    ctx.reset_loaders()
    return positions


async def _positions(
    hub: QueueWatchHub, org: str, queue_id: int, entry_id: int, thread_id: int
) -> AsyncIterator[QueuePositionUpdate]:
    entry_gid = strawberry.ID(ids.encode("QueueEntry", entry_id))
    thread_gid = strawberry.ID(ids.encode("Thread", thread_id))
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
    principal = ctx.require(Role.ADMIN, Role.ANALYST, Role.AGENT)
    if principal.role is Role.AGENT and not await ctx.is_supervisor():
        raise Forbidden("only supervisors among agents may watch queue stats")
    pk = arg_pk(queue_id, "Queue")
    if await ctx.tenant.get(QueueRow, pk) is None:
        raise _not_found("queue")
    ctx.reset_loaders()
    return _stats(ctx.services.extensions[STATS_HUB], principal.org, pk)


async def _stats(hub: QueueStatsHub, org: str, queue_pk: int) -> AsyncIterator[QueueStats]:
    slot = hub.watch(org, queue_pk)
    try:
        while True:
            yield stats_of(await slot.next())
    finally:
        hub.unwatch(slot)
