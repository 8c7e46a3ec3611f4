"""inviteEvents and threadEvents: the caller's share of the event log, replayed then live.

Both streams read ``bus.stream``: with ``after`` it replays the log from that
cursor, then continues live, in order, with no gap and no duplicate, on any
process.

An event carries ids and a snapshot of the columns that change (see
``domain.collaboration.snapshot``); it is rendered from its rows with that
snapshot put back, so a replayed event shows what the live one showed. The
rows of one event are loaded once per process (``EventRows``) and shared by
every subscriber that renders it: the database work of a fan-out does not grow
with the number of subscribers.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError

from switchboard import models as m
from switchboard.context import Context
from switchboard.domain.collaboration import restore
from switchboard.domain.enums import InviteEventKind, Role, ThreadEventKind
from switchboard.errors import BadInput, Forbidden
from switchboard.resolvers.common import arg_pk
from switchboard.schema.events import InviteEvent, ThreadEvent
from switchboard.schema.types import Agent, Collaborator, InfoT, Invite, Thread
from switchboard.subscriptions.bus import ReplayFilter
from switchboard.subscriptions.events import BusEvent, decode_cursor, encode_cursor
from switchboard.tenancy import Tenant

INVITE_KINDS = frozenset(k.value for k in InviteEventKind)
THREAD_KINDS = frozenset(k.value for k in ThreadEventKind)
# Kinds that never take a place away: no need to check whether the watcher still has one.
KEEPS_PLACES = frozenset(
    k.value
    for k in (
        ThreadEventKind.INVITE_CHANGED,
        ThreadEventKind.PERMISSION_CHANGED,
        ThreadEventKind.COLLABORATOR_JOINED,
        ThreadEventKind.PRIMARY_TRANSFERRED,
        ThreadEventKind.ASSIGNED,
    )
)
ROWS_KEPT = 1024
EVENT_ROWS = "collaboration_event_rows"


# ---------------------------------------------------------------- rows shared by subscribers


@dataclass
class Rows:
    """What one event renders from, snapshot values already put back."""

    thread: m.Thread | None = None
    collaborator: m.Collaborator | None = None
    invite: m.Invite | None = None
    agents: dict[int, m.Agent] = field(default_factory=dict)


async def _load(event: BusEvent) -> Rows:
    tenant = Tenant(event.org)
    snap: dict[str, Any] = event.payload.get("snapshot") or {}
    rows = Rows()
    if event.thread_id is not None:
        rows.thread = await tenant.get(m.Thread, event.thread_id)
    collaborator_id = event.payload.get("collaborator_id")
    if collaborator_id:
        rows.collaborator = await tenant.get(m.Collaborator, int(collaborator_id))
    if event.invite_id is not None:
        rows.invite = await tenant.get(m.Invite, event.invite_id)
    for name in ("thread", "collaborator", "invite"):
        row = getattr(rows, name)
        if row is not None and name in snap:
            restore(row, snap[name])
    wanted = {event.actor_id}
    if rows.collaborator is not None:
        wanted |= {rows.collaborator.agent_id, rows.collaborator.invited_by_id}
    if rows.invite is not None:
        wanted |= {rows.invite.inviter_id, rows.invite.invitee_id, rows.invite.approved_by_id}
    if rows.thread is not None:
        wanted |= {rows.thread.primary_agent_id, rows.thread.last_primary_agent_id}
    rows.agents = await tenant.many(m.Agent, [pk for pk in wanted if pk is not None])
    return rows


class EventRows:
    """One per process: each event's rows are read once, whoever renders it.

    Keyed by ``seq`` (unique across organizations); the newest ``ROWS_KEPT``
    are kept, enough for every live subscriber to render an event before it
    is dropped. A replay of older events simply loads them again.
    """

    def __init__(self, size: int = ROWS_KEPT) -> None:
        self.size = size
        self.loads = 0
        self._pending: OrderedDict[int, asyncio.Task[Rows]] = OrderedDict()

    async def get(self, event: BusEvent) -> Rows:
        task = self._pending.get(event.seq)
        if task is None:
            self.loads += 1
            task = asyncio.ensure_future(_load(event))
            self._pending[event.seq] = task
            while len(self._pending) > self.size:
                self._pending.popitem(last=False)
        try:
            # Shielded: a subscriber going away must not cancel the load others wait for.
            return await asyncio.shield(task)
        except Exception:
            if self._pending.get(event.seq) is task:
                del self._pending[event.seq]
            raise


def event_rows(ctx: Context) -> EventRows:
    found = ctx.services.extensions.get(EVENT_ROWS)
    if found is None:
        found = ctx.services.extensions[EVENT_ROWS] = EventRows()
    return found  # type: ignore[no-any-return]


def _prime(ctx: Context, rows: Rows) -> None:
    """Fresh loaders seeded with the event's rows: nested fields render the same snapshot."""
    ctx.reset_loaders()
    loaders = ctx.loaders
    if rows.thread is not None:
        loaders.thread.prime(rows.thread.id, rows.thread)
    if rows.collaborator is not None:
        loaders.collaborator.prime(rows.collaborator.id, rows.collaborator)
    if rows.invite is not None:
        loaders.invite.prime(rows.invite.id, rows.invite)
    for pk, agent in rows.agents.items():
        loaders.agent.prime(pk, agent)


# ---------------------------------------------------------------- streams


def _after(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc


async def invite_events(info: InfoT, after: str | None) -> AsyncIterator[InviteEvent]:
    """Invite events whose audience holds the calling agent (inviter, invitee, deciding supervisors)."""
    ctx = info.context
    agent = await ctx.require_agent()
    return _invite_events(ctx, agent.id, _after(after))


async def _invite_events(ctx: Context, me: int, after: int | None) -> AsyncIterator[InviteEvent]:
    org = ctx.tenant.org
    shared = event_rows(ctx)

    def mine(event: BusEvent) -> bool:
        return event.org == org and event.topic == "invite" and event.kind in INVITE_KINDS and me in event.audience

    async for event in ctx.bus.stream([("agent", me)], ReplayFilter(org, ("invite",)), mine, after=after):
        rows = await shared.get(event)
        _prime(ctx, rows)
        if rows.invite is None:
            continue
        yield InviteEvent(
            cursor=encode_cursor(event.seq),
            kind=InviteEventKind(event.kind),
            invite=Invite.from_model(rows.invite),
            at=event.at,
        )


async def _has_place(ctx: Context, thread_id: int, agent_id: int | None) -> bool:
    return await ctx.tenant.q(m.Collaborator).filter(thread_id=thread_id, agent_id=agent_id, active=True).exists()


def _revokes(event: BusEvent, agent_id: int | None) -> bool | None:
    """Whether ``event`` took ``agent_id``'s place away, from its payload; None when it does not say."""
    if event.kind in KEEPS_PLACES:
        return False
    payload = event.payload
    if event.kind in (ThreadEventKind.COLLABORATOR_LEFT.value, ThreadEventKind.COLLABORATOR_REMOVED.value):
        return payload.get("agent_id") == agent_id if "agent_id" in payload else None
    if "revoked" in payload:
        return agent_id in payload["revoked"]
    return None


async def thread_events(info: InfoT, thread_id: str, after: str | None) -> AsyncIterator[ThreadEvent]:
    """A thread's events for agents with a place on it (and supervisors, admins).

    An agent's stream ends after the event that took their place away. That
    is read from the event itself (who left, who a resolve revoked); only a
    kind that does not say (another feature's status change) costs this
    subscriber a query.
    """
    ctx = info.context
    principal = ctx.require(Role.AGENT, Role.ADMIN)
    pk = arg_pk(thread_id, "Thread")
    seq = _after(after)
    if await ctx.loaders.thread.load(pk) is None:
        raise GraphQLError("thread not found", extensions={"code": "NOT_FOUND"})
    needs_place = principal.role is Role.AGENT and not await ctx.is_supervisor()
    me = principal.agent_id
    if needs_place and not await _has_place(ctx, pk, me):
        raise Forbidden("you have no permission on this thread")
    # Events up to here happened before the place was checked: one that took the
    # caller's place may since have been undone (they were invited back), so a
    # replayed departure is checked against the current place, not believed.
    checked_at = ctx.bus.last_seq
    return _thread_events(ctx, pk, seq, me if needs_place else None, checked_at)


async def _thread_events(
    ctx: Context, pk: int, after: int | None, watcher: int | None, checked_at: int
) -> AsyncIterator[ThreadEvent]:
    """``watcher``: the agent whose place the stream depends on (None for supervisors and admins)."""
    org = ctx.tenant.org
    shared = event_rows(ctx)

    def wanted(event: BusEvent) -> bool:
        return event.org == org and event.topic == "thread" and event.kind in THREAD_KINDS

    flt = ReplayFilter(org, ("thread",), thread_id=pk)
    # aclosing: ending early (a revoked place) unregisters the bus subscriber at
    # once, not whenever the abandoned generator is collected.
    async with aclosing(ctx.bus.stream([("thread", pk)], flt, wanted, after=after)) as events:
        async for event in events:
            rows = await shared.get(event)
            _prime(ctx, rows)
            if rows.thread is not None:
                yield _render(event, rows)
            if watcher is not None:
                revoked = _revokes(event, watcher)
                if revoked and event.seq <= checked_at:
                    revoked = None
                if revoked or (revoked is None and not await _has_place(ctx, pk, watcher)):
                    return


def _render(event: BusEvent, rows: Rows) -> ThreadEvent:
    assert rows.thread is not None
    actor = rows.agents.get(event.actor_id) if event.actor_id is not None else None
    return ThreadEvent(
        cursor=encode_cursor(event.seq),
        kind=ThreadEventKind(event.kind),
        thread=Thread.from_model(rows.thread),
        collaborator=Collaborator.from_model(rows.collaborator) if rows.collaborator else None,
        invite=Invite.from_model(rows.invite) if rows.invite else None,
        actor=Agent.from_model(actor) if actor else None,
        at=event.at,
    )
