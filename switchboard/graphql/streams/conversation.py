"""conversationEvents: one thread's conversation as the caller may see it, replayed then live.

Built like threadEvents: ``bus.stream`` replays the thread's log after the
cursor, then goes on live, in order, with no gap and no duplicate, on any
process; MESSAGE and STATUS_CHANGED carry the event's cursor. TYPING is a
live-only event of the bus (never stored), mixed in as it comes, without a
cursor. Nothing is sent first: as with threadEvents, a client loads the thread
(``messages``, ``status``) and subscribes with ``after``: the cursor of the last
event it saw, or of the newest message it loaded (a ``MessageEdge.cursor`` is
its message's event cursor). That cursor stays valid after its event is pruned: the
messages after it are replayed from the message table instead (``_from_messages``).

What the caller sees is the access policy's: a visitor never gets an INTERNAL
message or INTERNAL typing (dropped by the dispatcher, before any work), and
``Message.author`` / ``displayName`` mask agents for them. A plain agent's
stream ends with the event that took their place on the thread, as threadEvents
does.

Fan-out: a message's rows are read once per process (``runtime.event_rows``),
whoever renders it, and each subscriber renders it from its own loaders primed
with them (priming costs no query), keeping the caller it was checked as: a
subscriber costs no query for the message's fields and the rows they name.
A status change renders from the event alone; typing carries its names.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime

from switchboard.events.bus import ReplayFilter
from switchboard.events.codec import BusEvent, LiveEvent
from switchboard.events.cursors import encode_cursor
from switchboard.events.types import (
    MessagePosted,
    ThreadAssigned,
    ThreadEvent,
    ThreadQueued,
    ThreadStatusChanged,
    Topic,
    TypingChanged,
)
from switchboard.graphql.context import Context
from switchboard.graphql.errors import Forbidden, NotFound
from switchboard.graphql.resolvers.common import arg_pk
from switchboard.graphql.streams.collaboration import parse_after, place_lost
from switchboard.graphql.types import base
from switchboard.graphql.types.base import InfoT
from switchboard.graphql.types.events import ConversationEvent
from switchboard.graphql.types.messages import Message
from switchboard.rules import policy
from switchboard.rules.enums import ConversationEventKind, MessageVisibility, ThreadStatus
from switchboard.runtime.event_rows import Rows
from switchboard.services import conversation

# The thread events that change its status (a start, a queue, an assignment, a resolve, an overflow).
STATUS_EVENTS = (ThreadStatusChanged, ThreadQueued, ThreadAssigned)


def new_status(event: object) -> ThreadStatus | None:
    """The status a thread event moved the thread to; None when it moved none."""
    if isinstance(event, STATUS_EVENTS) and event.status is not event.previous:
        return event.status
    return None


async def conversation_events(info: InfoT, thread_id: str, after: str | None) -> AsyncIterator[ConversationEvent]:
    """The stream, once the caller may watch the thread (refused before it starts otherwise)."""
    ctx = info.context
    caller = await ctx.allow(policy.Op.WATCH_CONVERSATION)
    pk = arg_pk(thread_id, "Thread")
    seq = parse_after(after)
    row = await ctx.loaders.thread.load(pk)
    if row is None:
        raise NotFound("thread")
    if not policy.watches_conversation(caller, await base.thread_facts(info, row)):
        raise Forbidden("you may not watch this thread's conversation")
    # As in threadEvents: a replayed departure from before this check may since have been undone.
    checked_at = ctx.bus.watermark(caller.org)
    watcher = caller.agent_id if policy.stream_needs_place(caller) else None
    own = policy.sender_key(caller, ctx.principal.sub)
    return _conversation(ctx, caller, pk, seq, _Watch(watcher, checked_at, own))


class _Watch:
    """What a stream keeps of its caller besides ``policy.Caller``."""

    def __init__(self, agent_id: int | None, checked_at: int, own: str) -> None:
        # The agent whose place the stream depends on (None: visitors, supervisors, admins).
        self.agent_id = agent_id
        self.checked_at = checked_at
        # The caller as a sender: their own typing is not sent back to them.
        self.own = own


async def _conversation(
    ctx: Context, caller: policy.Caller, pk: int, after: int | None, watch: _Watch
) -> AsyncIterator[ConversationEvent]:
    seen = policy.message_visibilities(caller)

    def wanted(committed: BusEvent) -> bool:
        event = committed.event
        if committed.org != caller.org:
            return False
        if isinstance(event, MessagePosted):
            return event.visibility in seen
        # Other thread events matter only to a stream that ends with its agent's place.
        return new_status(event) is not None or (watch.agent_id is not None and isinstance(event, ThreadEvent))

    def live(signal: LiveEvent) -> bool:
        event = signal.event
        return (
            isinstance(event, TypingChanged)
            and signal.org == caller.org
            and policy.shows_typing(caller, event.visibility, event.sender, watch.own)
        )

    if after is not None and await _expired(ctx, pk, after):
        head = await conversation.thread_head(ctx.tenant, pk)
        if head is None:
            return
        async for replayed in _from_messages(ctx, pk, seen, after, head.seq):
            yield replayed
        now = datetime.now(UTC)
        yield ConversationEvent(
            cursor=encode_cursor(head.seq), kind=ConversationEventKind.STATUS_CHANGED, status=head.status, at=now
        )
        after = head.seq
    flt = ReplayFilter(caller.org, (Topic.THREAD,), thread_id=pk)
    async with aclosing(ctx.bus.stream([("thread", pk)], flt, wanted, after, live=live)) as events:
        async for item in events:
            if isinstance(item, LiveEvent):
                yield _typing(caller, item)
                continue
            rendered = await _render(ctx, item)
            if rendered is not None:
                yield rendered
                # Rendered and sent (the executor asks for the next event only then).
                ctx.render_with(None)
            if watch.agent_id is not None and await place_lost(ctx, item, pk, watch.agent_id, watch.checked_at):
                return


async def _expired(ctx: Context, pk: int, after: int) -> bool:
    """True when the log cannot replay the thread from ``after``: events right after it were pruned,
    or its messages' events are gone. The message table can: messages are kept for good.

    A prune that removes the events right after ``after`` between this check and the bus's own
    (an instant) still gets CURSOR_EXPIRED; subscribing again with the same cursor then takes
    the message table's path."""
    return await ctx.bus.expired(ctx.tenant.org, after) or await conversation.log_lost_messages(ctx.tenant, pk, after)


async def _from_messages(
    ctx: Context, pk: int, seen: frozenset[MessageVisibility], after: int, upto: int
) -> AsyncIterator[ConversationEvent]:
    """The messages of an expired cursor's gap, from the message table (kept for good, unlike events).

    What a client resuming from a cursor older than the oldest kept event may rely on: every
    message it may see with ``after < seq <= head`` once, in commit order, each with its own
    cursor; then one STATUS_CHANGED with cursor ``e<head>`` and the thread's status as of
    ``head`` (read with ``head`` in one statement, so it is the status the log holds up to
    there); then the log after ``head`` as for any cursor. Messages up to ``head`` come only
    from the table and later ones only from the log: none is missed, none repeated. The
    status changes in the gap are summed up by that one event (it may repeat the status the
    client has), and an agent's stream that ends on a lost place checks only the log's events.
    """
    while after < upto:
        batch = await conversation.messages_between(ctx.tenant, pk, seen, after, upto)
        if not batch:
            return
        loaders = ctx.fresh_loaders()
        for row in batch:
            loaders.message.prime(row.id, row)
        for row in batch:
            assert row.seq is not None
            after = row.seq
            ctx.render_with(loaders)
            yield ConversationEvent(
                cursor=encode_cursor(row.seq),
                kind=ConversationEventKind.MESSAGE,
                message=Message.from_model(row),
                at=row.created_at,
            )
            ctx.render_with(None)


async def _render(ctx: Context, committed: BusEvent) -> ConversationEvent | None:
    event = committed.event
    status = new_status(event)
    if status is not None:
        return ConversationEvent(
            cursor=encode_cursor(committed.seq),
            kind=ConversationEventKind.STATUS_CHANGED,
            status=status,
            at=committed.at,
        )
    if not isinstance(event, MessagePosted):
        return None
    rows = await ctx.services.event_rows.get(committed)
    if rows.message is None:
        return None
    _prime(ctx, rows)
    return ConversationEvent(
        cursor=encode_cursor(committed.seq),
        kind=ConversationEventKind.MESSAGE,
        message=Message.from_model(rows.message),
        at=committed.at,
    )


def _prime(ctx: Context, rows: Rows) -> None:
    """This subscriber's own loaders for the event, primed with its rows (read once per process and
    shared by every subscriber): priming costs no query, so the message's fields read nothing more.
    Only the rows are shared, never a loader: a subscriber going away cancels no future another
    one awaits, and the socket's other operations keep their loaders (``Context.render_with``)."""
    loaders = ctx.fresh_loaders()
    if rows.message is not None:
        loaders.message.prime(rows.message.id, rows.message)
    if rows.thread is not None:
        loaders.thread.prime(rows.thread.id, rows.thread)
    if rows.visitor is not None:
        loaders.visitor.prime(rows.visitor.id, rows.visitor)
    if rows.organization is not None:
        loaders.organization.prime(rows.organization.id, rows.organization)
    for pk, agent in rows.agents.items():
        loaders.agent.prime(pk, agent)
    ctx.render_with(loaders)


def _typing(caller: policy.Caller, signal: LiveEvent) -> ConversationEvent:
    event = signal.event
    assert isinstance(event, TypingChanged)
    return ConversationEvent(
        cursor=None,
        kind=ConversationEventKind.TYPING,
        typing=event.typing,
        typing_name=policy.typing_name(caller, event.sender_kind, event.name, event.service_name),
        at=signal.at,
    )
