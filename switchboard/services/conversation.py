"""Writing the conversation: sendMessage and markThreadRead, one transaction each.

sendMessage, in order:

1. the input (body, clientMessageId) is checked before anything is read;
2. the thread is locked (a visitor's own row first, the order every reopen and
   transfer request takes: visitor -> thread), so that the thread's messages
   draw their ids in commit order and the status checked is the status kept.
   Every visitor message takes the visitor's lock, not only one that may reopen:
   its INSERT takes a KEY SHARE lock on the visitor's row (the foreign key), which
   waits for a reopen's FOR UPDATE there while holding the thread: a deadlock;
3. the access policy decides (``decide``, shared with setTyping); a visitor's message to a
   RESOLVED thread within ``reopenOnVisitorMessageSeconds`` reopens it through
   ``queueing.reopen``, exactly as reopenThread does;
4. a retry (same sender, thread and clientMessageId) returns the first message,
   whatever happened since, and writes nothing. It is looked up only when the
   decision would not just insert (a refusal, a reopen); otherwise the insert
   finds it: with a clientMessageId the INSERT does nothing on a conflict with
   the unique index (``_insert``), which means the first one is committed;
5. the thread's lastVisitorMessageAt / firstResponseAt / updatedAt move;
   MessagePosted goes into the outbox (same transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.expressions import RawSQL
from tortoise.transactions import in_transaction

from switchboard.events.outbox import Outbox
from switchboard.events.types import MessagePosted
from switchboard.models import Event, Message, ReadMark, Thread, Visitor
from switchboard.rules import policy
from switchboard.rules import validation as v
from switchboard.rules.enums import MessageVisibility, SenderKind, ThreadStatus
from switchboard.rules.problems import DomainError, conflict, forbidden, not_found
from switchboard.services import queueing
from switchboard.services.places import THREAD, active_collaborators, as_place, lock_thread, place_of
from switchboard.services.tenancy import Tenant

BODY, CLIENT_KEY, MESSAGE = ("body",), ("client_message_id",), ("message_id",)
REPLAY_BATCH = 200


@dataclass(frozen=True)
class Post:
    thread_id: int
    body: str
    visibility: MessageVisibility
    client_message_id: str | None = None


@dataclass
class Posted:
    message: Message
    thread: Thread
    # False when a retry returned the first message (nothing was written).
    created: bool = True
    reopened: bool = False


async def _lock(tenant: Tenant, caller: policy.Caller, thread_id: int) -> Thread:
    """The thread, locked; a visitor's own row is locked first (visitor -> thread, like reopen)."""
    if caller.visitor and caller.visitor_id is not None:
        await tenant.get(Visitor, caller.visitor_id, for_update=True)
    return await lock_thread(tenant, thread_id)


async def _first(tenant: Tenant, thread_id: int, key: str, client_id: str | None) -> Message | None:
    if client_id is None:
        return None
    return await tenant.q(Message).filter(thread_id=thread_id, sender_key=key, client_message_id=client_id).first()


async def retry_of(tenant: Tenant, caller: policy.Caller, sub: str, post: Post) -> Message | None:
    """The first message of a retry (same sender, thread and key), if there is one: a retry is answered
    even when the sender is out of messages for the minute, since it writes nothing."""
    client_id = v.client_key(post.client_message_id, CLIENT_KEY)
    return await _first(tenant, post.thread_id, policy.sender_key(caller, sub), client_id)


async def decide(
    tenant: Tenant,
    caller: policy.Caller,
    thread: Thread,
    visibility: MessageVisibility,
    now: datetime,
    reopen_seconds: int,
) -> policy.PostDecision:
    """The access policy's answer for posting (or typing, see ``typing_indicator``) ``visibility`` on ``thread`` now.

    An agent of the organization without a place gets FORBIDDEN_ACTION (their role may post, their
    place does not let them), even on a thread they may not read; a foreign thread never gets here.
    """
    # Only an agent's place decides anything: other senders skip the read.
    members = await active_collaborators(tenant, thread.id) if caller.agent_id is not None else []
    facts = policy.ThreadFacts(thread.id, thread.status, frozenset(c.agent_id for c in members))
    reopen = policy.reopens_on_message(thread.resolved_at, now, reopen_seconds)
    return policy.post_verdict(caller, facts, visibility, as_place(place_of(members, caller.agent_id)), reopen)


def refusal_of(decision: policy.PostDecision) -> DomainError:
    """The userError of a refused decision (CONFLICT or FORBIDDEN_ACTION)."""
    if decision.verdict is policy.Verdict.CONFLICT:
        return conflict(decision.reason, THREAD)
    return forbidden(decision.reason, THREAD)


async def _reopen_seconds(tenant: Tenant, caller: policy.Caller, thread: Thread) -> int:
    """reopenOnVisitorMessageSeconds, read only when it can matter (a visitor writing to a RESOLVED thread)."""
    if not caller.visitor or thread.status is not ThreadStatus.RESOLVED:
        return 0
    return (await tenant.organization()).reopen_on_visitor_message_seconds


async def _insert(tenant: Tenant, values: dict[str, object]) -> Message | None:
    """The new message; None when a message with the same key (a concurrent retry) is committed first.

    With a clientMessageId, one ``INSERT ... ON CONFLICT DO NOTHING RETURNING id``: a retry racing
    past the lookup inserts nothing and fails nothing, so no savepoint is needed (on PostgreSQL a
    failed INSERT would abort the whole transaction). The ORM's own insert builder writes it, with
    the ORM's conversions of every value.
    """
    if values.get("client_message_id") is None:
        return await tenant.create(Message, **values)
    message = Message(org_id=tenant.org, **values)
    db = Message._meta.db
    executor = db.executor_class(model=Message, db=db)
    sql, params, _ = executor._build_insert_with_defaults(message, has_generated=True, ignore_conflicts=True)
    rows = await db.execute_query_dict(sql, params)
    if not rows:
        return None
    message.id = rows[0]["id"]
    message._saved_in_db = True
    return message


async def send(tenant: Tenant, outbox: Outbox, caller: policy.Caller, sub: str, post: Post, now: datetime) -> Posted:
    """sendMessage (the caller passed ``policy.post_refusal`` already)."""
    body = v.message_body(post.body, BODY)
    client_id = v.client_key(post.client_message_id, CLIENT_KEY)
    thread = await _lock(tenant, caller, post.thread_id)
    key = policy.sender_key(caller, sub)
    decision = await decide(tenant, caller, thread, post.visibility, now, await _reopen_seconds(tenant, caller, thread))
    reopened = decision.verdict is policy.Verdict.REOPEN
    if reopened or not decision.allowed:
        # A retry already written is answered whatever the thread's status now, and reopens nothing.
        first = await _first(tenant, thread.id, key, client_id)
        if first is not None:
            return Posted(first, thread, created=False)
    if not decision.allowed:
        raise refusal_of(decision)
    if reopened:
        thread, _ = await queueing.reopen(tenant, outbox, thread.id, None, now)
    kind = policy.sender_kind(caller)
    values: dict[str, object] = dict(
        thread_id=thread.id,
        sender_kind=kind,
        sender_key=key,
        author_id=caller.agent_id if kind is SenderKind.AGENT else None,
        visitor_id=caller.visitor_id if kind is SenderKind.VISITOR else None,
        visibility=post.visibility,
        body=body,
        client_message_id=client_id,
        created_at=now,
    )
    message = await _insert(tenant, values)
    if message is None:
        raced = await _first(tenant, thread.id, key, client_id)
        if raced is None:
            # The insert names no conflict target (SQLite's OR IGNORE also skips a NOT NULL
            # violation): a skipped row with no retry behind it is a bug, never an answer.
            raise RuntimeError(f"message insert on thread {thread.id} skipped without a committed retry")
        return Posted(raced, thread, created=False)
    await _touch(thread, message, now)
    posted = MessagePosted(
        org=tenant.org,
        thread_id=thread.id,
        message_id=message.id,
        visibility=message.visibility,
        sender_kind=kind,
        actor_id=message.author_id,
    )
    # The message takes its event's seq: its place in the thread's commit order, and its cursor.
    outbox.add(posted, stamp=(Message, message.id))
    return Posted(message, thread, reopened=reopened)


async def _touch(thread: Thread, message: Message, now: datetime) -> None:
    """The thread's conversation columns: updatedAt always, lastVisitorMessageAt, firstResponseAt."""
    thread.updated_at = now
    changed = ["updated_at"]
    if message.sender_kind is SenderKind.VISITOR:
        thread.last_visitor_message_at = now
        changed.append("last_visitor_message_at")
    answers = message.sender_kind is SenderKind.AGENT and message.visibility is MessageVisibility.PUBLIC
    if answers and thread.assigned_at is not None and thread.first_response_at is None:
        thread.first_response_at = now
        changed.append("first_response_at")
    await thread.save(update_fields=changed)


async def mark_read(tenant: Tenant, caller: policy.Caller, thread_id: int, message_id: int | None) -> Thread:
    """markThreadRead: the calling agent's mark moves forward to ``message_id`` (the newest when None).

    The mark is the message's seq (its place in commit order), like its cursor.
    """
    assert caller.agent_id is not None
    thread = await tenant.get(Thread, thread_id)
    if thread is None:
        raise not_found("thread", THREAD)
    members = await active_collaborators(tenant, thread.id)
    facts = policy.ThreadFacts(thread.id, thread.status, frozenset(c.agent_id for c in members))
    if policy.thread_reach(caller, facts) is not policy.Reach.FULL:
        raise forbidden("you may not read this thread", THREAD)
    messages = tenant.q(Message).filter(thread_id=thread.id)
    if message_id is not None:
        messages = messages.filter(id=message_id)
    newest = await messages.order_by("-seq").first()
    if newest is None and message_id is not None:
        raise not_found("message", MESSAGE)
    upto = newest.seq if newest is not None and newest.seq is not None else 0
    await _move_mark(tenant, caller.agent_id, thread.id, upto)
    return thread


async def _move_mark(tenant: Tenant, agent_id: int, thread_id: int, upto: int) -> None:
    """Forward only, so two tabs marking at once never move it back; created on first use."""
    mark = tenant.q(ReadMark).filter(agent_id=agent_id, thread_id=thread_id)
    if await mark.filter(seq__lt=upto).update(seq=upto) or await mark.exists():
        return
    try:
        async with in_transaction():
            await tenant.create(ReadMark, agent_id=agent_id, thread_id=thread_id, seq=upto)
    except IntegrityError:
        # Created by a concurrent call: move it (forward only) instead.
        await mark.filter(seq__lt=upto).update(seq=upto)


@dataclass(frozen=True)
class Head:
    """A thread's status as of ``seq``, the newest event committed when it was read."""

    status: ThreadStatus
    seq: int


async def thread_head(tenant: Tenant, thread_id: int) -> Head | None:
    """The thread's status and its organization's log head, read in one statement (one snapshot): a status
    change commits with its event's seq, so the status read is the one the log holds up to ``seq``."""
    head = RawSQL("(SELECT value FROM org_event_counter WHERE org_event_counter.org_id = thread.org_id)")
    rows = await tenant.q(Thread).filter(id=thread_id).annotate(head=head).values("status", "head")
    if not rows:
        return None
    return Head(ThreadStatus(rows[0]["status"]), int(rows[0]["head"] or 0))


async def messages_between(
    tenant: Tenant, thread_id: int, seen: frozenset[MessageVisibility], after: int, upto: int
) -> list[Message]:
    """The thread's messages with ``after < seq <= upto`` in ``seen``, oldest first, at most ``REPLAY_BATCH``."""
    return (
        await tenant.q(Message)
        .filter(thread_id=thread_id, visibility__in=list(seen), seq__gt=after, seq__lte=upto)
        .order_by("seq")
        .limit(REPLAY_BATCH)
    )


async def log_lost_messages(tenant: Tenant, thread_id: int, after: int) -> bool:
    """True when the thread's first message after ``after`` has no event left in the log.

    The log is pruned as a whole prefix (``EventBus.prune``), so a kept first event means the later
    ones are kept too; this catches a log emptied otherwise (an operator's cleanup of one organization).
    """
    first = await tenant.q(Message).filter(thread_id=thread_id, seq__gt=after).order_by("seq").first()
    if first is None:
        return False
    return not await Event.filter(org_id=tenant.org, seq=first.seq).exists()
