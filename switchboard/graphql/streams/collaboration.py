"""inviteEvents and threadEvents: the caller's share of the event log, replayed then live.

Both streams read ``bus.stream``: with ``after`` it replays the log from that
cursor, then continues live, in order, with no gap and no duplicate, on any
process. Each event is rendered from its rows with its snapshot put back
(``runtime.event_rows``), so a replayed event shows what the live one showed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

from switchboard import models as m
from switchboard.events.bus import ReplayFilter
from switchboard.events.codec import BusEvent
from switchboard.events.cursors import decode_cursor, encode_cursor
from switchboard.events.types import InviteChanged, MessageEventKind, ThreadEvent, Topic
from switchboard.graphql.context import Context
from switchboard.graphql.errors import BadInput, Forbidden, NotFound
from switchboard.graphql.resolvers.common import arg_pk
from switchboard.graphql.types import base
from switchboard.graphql.types.agents import Agent
from switchboard.graphql.types.base import InfoT
from switchboard.graphql.types.events import InviteEvent
from switchboard.graphql.types.events import ThreadEvent as ThreadEventType
from switchboard.graphql.types.invites import Invite
from switchboard.graphql.types.threads import Collaborator, Thread
from switchboard.rules import policy
from switchboard.rules.enums import InviteEventKind, ThreadEventKind
from switchboard.rules.policy import Reach
from switchboard.runtime.event_rows import Rows


def _prime(ctx: Context, rows: Rows) -> None:
    """Fresh loaders seeded with the event's rows, for this operation's render of it alone: nested
    fields render the same snapshot; the caller stays the one checked, and the socket's other
    operations keep their own loaders (``Context.render_with``)."""
    loaders = ctx.fresh_loaders()
    if rows.thread is not None:
        loaders.thread.prime(rows.thread.id, rows.thread)
    if rows.collaborator is not None:
        loaders.collaborator.prime(rows.collaborator.id, rows.collaborator)
    if rows.invite is not None:
        loaders.invite.prime(rows.invite.id, rows.invite)
    for pk, agent in rows.agents.items():
        loaders.agent.prime(pk, agent)
    ctx.render_with(loaders)


def parse_after(cursor: str | None) -> int | None:
    """The seq of a resume cursor argument (a malformed one is BAD_USER_INPUT)."""
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc


async def invite_events(info: InfoT, after: str | None) -> AsyncIterator[InviteEvent]:
    """Invite events whose audience holds the calling agent (inviter, invitee, deciding supervisors)."""
    ctx = info.context
    caller = await ctx.allow(policy.Op.WATCH_INVITES)
    return _invite_events(ctx, caller, parse_after(after))


async def _invite_events(ctx: Context, caller: policy.Caller, after: int | None) -> AsyncIterator[InviteEvent]:
    assert caller.agent_id is not None
    shared = ctx.services.event_rows

    def mine(committed: BusEvent) -> bool:
        event = committed.event
        return (
            isinstance(event, InviteChanged)
            and event.org == caller.org
            and policy.receives_invite_event(caller, event.audience)
        )

    flt = ReplayFilter(caller.org, (Topic.INVITE,))
    async for committed in ctx.bus.stream([("agent", caller.agent_id)], flt, mine, after=after):
        rows = await shared.get(committed)
        _prime(ctx, rows)
        if rows.invite is None:
            continue
        kind = committed.event.kind
        assert isinstance(kind, InviteEventKind)
        yield InviteEvent(
            cursor=encode_cursor(committed.seq), kind=kind, invite=Invite.from_model(rows.invite), at=committed.at
        )
        ctx.render_with(None)


async def _has_place(ctx: Context, thread_id: int, agent_id: int | None) -> bool:
    return await ctx.tenant.q(m.Collaborator).filter(thread_id=thread_id, agent_id=agent_id, active=True).exists()


async def place_lost(ctx: Context, committed: BusEvent, thread_id: int, watcher: int, checked_at: int) -> bool:
    """Whether ``committed`` took ``watcher``'s place on the thread (their stream ends after it).

    Read from the event itself (who left, who a resolve revoked); only an event
    that cannot say costs a query. A departure replayed from before the stream's
    check (``checked_at``) may since have been undone, so it is checked, not believed.
    """
    event = committed.event
    if not isinstance(event, ThreadEvent):
        return False
    revoked = event.revokes(watcher)
    if revoked and committed.seq <= checked_at:
        revoked = None
    return bool(revoked) or (revoked is None and not await _has_place(ctx, thread_id, watcher))


async def thread_events(info: InfoT, thread_id: str, after: str | None) -> AsyncIterator[ThreadEventType]:
    """A thread's events for agents with a place on it (and supervisors, admins).

    A plain agent's stream ends after the event that took their place away.
    That is read from the event itself (who left, who a resolve revoked); only
    an event that cannot say costs this subscriber a query.
    """
    ctx = info.context
    caller = await ctx.allow(policy.Op.WATCH_THREAD)
    pk = arg_pk(thread_id, "Thread")
    seq = parse_after(after)
    row = await ctx.loaders.thread.load(pk)
    if row is None:
        raise NotFound("thread")
    if policy.thread_events_reach(caller, await base.thread_facts(info, row)) is Reach.FORBIDDEN:
        raise Forbidden("you have no permission on this thread")
    # Events up to here happened before the place was checked: one that took the
    # caller's place may since have been undone (they were invited back), so a
    # replayed departure is checked against the current place, not believed.
    checked_at = ctx.bus.watermark(caller.org)
    watcher = caller.agent_id if policy.stream_needs_place(caller) else None
    return _thread_events(ctx, caller.org, pk, seq, watcher, checked_at)


async def _thread_events(
    ctx: Context, org: str, pk: int, after: int | None, watcher: int | None, checked_at: int
) -> AsyncIterator[ThreadEventType]:
    """``watcher``: the agent whose place the stream depends on (None for supervisors and admins)."""
    shared = ctx.services.event_rows

    def wanted(committed: BusEvent) -> bool:
        return isinstance(committed.event, ThreadEvent) and committed.org == org

    # A thread's messages share its topic but are no ThreadEvent: left out of the replay in SQL.
    flt = ReplayFilter(org, (Topic.THREAD,), thread_id=pk, exclude_kinds=(MessageEventKind.MESSAGE_POSTED.value,))
    # aclosing: ending early (a revoked place) unregisters the bus subscriber at
    # once, not whenever the abandoned generator is collected.
    async with aclosing(ctx.bus.stream([("thread", pk)], flt, wanted, after=after)) as events:
        async for committed in events:
            rows = await shared.get(committed)
            _prime(ctx, rows)
            if rows.thread is not None:
                yield _render(committed, rows)
            ctx.render_with(None)
            if watcher is not None and await place_lost(ctx, committed, pk, watcher, checked_at):
                return


def _render(committed: BusEvent, rows: Rows) -> ThreadEventType:
    assert rows.thread is not None
    actor_id = committed.event.column("actor_id")
    actor = rows.agents.get(actor_id) if actor_id is not None else None
    kind = committed.event.kind
    assert isinstance(kind, ThreadEventKind)
    return ThreadEventType(
        cursor=encode_cursor(committed.seq),
        kind=kind,
        thread=Thread.from_model(rows.thread),
        collaborator=Collaborator.from_model(rows.collaborator) if rows.collaborator else None,
        invite=Invite.from_model(rows.invite) if rows.invite else None,
        actor=Agent.from_model(actor) if actor else None,
        at=committed.at,
    )
