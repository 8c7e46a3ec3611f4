"""sendMessage and markThreadRead: checked by the access policy, one transaction each.

A visitor's message takes a slot of ``messagesPerVisitorPerMinute`` first (the
process's ``message_limiter``: Redis across processes, the database without
it); the slot is given back when no message was written (a refusal, a retry
that returned the first message).
"""

from __future__ import annotations

from datetime import UTC, datetime

from switchboard.events.outbox import Outbox
from switchboard.graphql.errors import Forbidden
from switchboard.graphql.inputs import MarkThreadReadInput, SendMessageInput
from switchboard.graphql.payloads import MarkThreadReadPayload, SendMessagePayload, errors_of
from switchboard.graphql.resolvers.common import input_pk, optional_input_pk, run
from switchboard.graphql.types.base import InfoT
from switchboard.graphql.types.messages import Message
from switchboard.graphql.types.threads import Thread
from switchboard.models import Thread as ThreadRow
from switchboard.rules import policy
from switchboard.rules.enums import ErrorCode
from switchboard.rules.problems import DomainError, Problem
from switchboard.runtime.ratelimit import Grant
from switchboard.services import conversation as service

THREAD = ("thread_id",)


def _failed(problems: list[Problem]) -> SendMessagePayload:
    return SendMessagePayload(message=None, thread=None, user_errors=errors_of(problems))


async def _slot(info: InfoT, caller: policy.Caller, now: datetime) -> Grant | None:
    """A visitor's slot of the per-minute limit (an empty grant for other senders); None when none is left."""
    ctx = info.context
    if not caller.visitor or caller.visitor_id is None:
        return Grant()
    limit = (await ctx.services.org_facts.get(caller.org)).messages_per_visitor_per_minute
    grant = await ctx.services.message_limiter.acquire(ctx.tenant, caller.visitor_id, limit, 1, now)
    return grant if grant.count else None


async def _limited(info: InfoT, caller: policy.Caller, post: service.Post) -> SendMessagePayload:
    """Out of messages for the minute: RATE_LIMITED, unless this is a retry of a message already written."""
    ctx = info.context
    try:
        first = await service.retry_of(ctx.tenant, caller, ctx.principal.sub, post)
    except DomainError as exc:
        return _failed([exc.problem])
    if first is not None:
        thread = await ctx.tenant.get(ThreadRow, first.thread_id)
        return SendMessagePayload(
            message=Message.from_model(first), thread=Thread.from_model(thread) if thread else None, user_errors=[]
        )
    limit = (await ctx.services.org_facts.get(caller.org)).messages_per_visitor_per_minute
    message = f"more than {limit} messages in a minute; wait a moment"
    return _failed([Problem(ErrorCode.RATE_LIMITED, message, THREAD)])


async def send_message(info: InfoT, data: SendMessageInput) -> SendMessagePayload:
    ctx = info.context
    caller = await ctx.allow(policy.Op.SEND_MESSAGE)
    try:
        thread_pk = input_pk(data.thread_id, "Thread", THREAD)
    except DomainError as exc:
        return _failed([exc.problem])
    refusal = policy.post_refusal(caller, thread_pk, data.visibility)
    if refusal is not None:
        raise Forbidden(refusal)
    now = datetime.now(UTC)
    post = service.Post(thread_pk, data.body, data.visibility, data.client_message_id)
    grant = await _slot(info, caller, now)
    if grant is None:
        return await _limited(info, caller, post)

    async def work(outbox: Outbox) -> service.Posted:
        posted = await service.send(ctx.tenant, outbox, caller, ctx.principal.sub, post, now)
        if posted.reopened:
            # Reopened: queued again, and routing runs on enqueue (exactly as reopenThread).
            ctx.services.after_capacity_change(outbox, caller.org)
        return posted

    result: service.Posted | None = None
    try:
        result, problems = await run(ctx, work)
    finally:
        await ctx.services.message_limiter.release(grant, 1 if result is not None and result.created else 0)
    if result is None:
        return _failed(problems)
    thread = result.thread
    if result.reopened:
        # Routing may have taken the entry right after commit: show the thread as it is now.
        thread = await ctx.tenant.get(ThreadRow, thread.id) or thread
    return SendMessagePayload(
        message=Message.from_model(result.message), thread=Thread.from_model(thread), user_errors=[]
    )


async def mark_thread_read(info: InfoT, data: MarkThreadReadInput) -> MarkThreadReadPayload:
    ctx = info.context
    caller = await ctx.allow(policy.Op.MARK_READ)
    try:
        thread_pk = input_pk(data.thread_id, "Thread", THREAD)
        message_pk = optional_input_pk(data.message_id, "Message", ("message_id",))
    except DomainError as exc:
        return MarkThreadReadPayload(thread=None, user_errors=errors_of([exc.problem]))

    async def work(outbox: Outbox) -> ThreadRow:
        return await service.mark_read(ctx.tenant, caller, thread_pk, message_pk)

    row, problems = await run(ctx, work)
    return MarkThreadReadPayload(thread=Thread.from_model(row) if row else None, user_errors=errors_of(problems))
