"""requestTransfer: into a queue, or to another agent (toAgentId: a TRANSFER invite). Validated once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from switchboard.events.outbox import Outbox
from switchboard.graphql.errors import Forbidden, Renames
from switchboard.graphql.inputs import RequestTransferInput, TransferContextInput
from switchboard.graphql.payloads import RequestTransferPayload, UserError, errors_of
from switchboard.graphql.resolvers.common import input_pk, optional_input_pk, run
from switchboard.graphql.resolvers.invites import decode_invitees, send
from switchboard.graphql.types.base import InfoT
from switchboard.graphql.types.invites import Invite
from switchboard.graphql.types.queues import QueueEntry
from switchboard.graphql.types.threads import Thread
from switchboard.models import QueueEntry as QueueEntryRow
from switchboard.models import Thread as ThreadRow
from switchboard.rules import policy, validation
from switchboard.rules.enums import InviteType, Priority, Urgency
from switchboard.rules.problems import DomainError, invalid
from switchboard.services import invites as invite_service
from switchboard.services import queueing

URGENCY_OF = {Priority.URGENT: Urgency.URGENT, Priority.HIGH: Urgency.HIGH}
# The TRANSFER invite's fields as requestTransfer names them.
TO_AGENT_RENAMES: Renames = {("invitee_ids", 0): ["input", "toAgentId"]}


def _failed(errors: list[UserError]) -> RequestTransferPayload:
    return RequestTransferPayload(thread=None, queue_entry=None, invite=None, user_errors=errors)


def _context_json(data: TransferContextInput | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return {
        "summary": data.summary,
        "sentiment": data.sentiment.value if data.sentiment is not None else None,
        "intents": data.intents,
        "tags": data.tags,
        "transcript": [{"from": line.from_, "text": line.text, "at": line.at} for line in data.transcript or []],
        "confidence": data.confidence,
        "extra": data.extra,
    }


async def request_transfer(info: InfoT, data: RequestTransferInput) -> RequestTransferPayload:
    ctx = info.context
    caller = await ctx.allow(policy.Op.TRANSFER)
    if data.to_agent_id is not None:
        if data.queue_id is not None:
            return _failed(errors_of([invalid("give toAgentId or queueId, not both", ("queue_id",)).problem]))
        refusal = policy.refusal(caller, policy.Op.TRANSFER_TO_AGENT)
        if refusal is not None:
            raise Forbidden(refusal)
        return await _to_agent(info, caller, data)
    return await _to_queue(info, caller, data)


async def _to_agent(info: InfoT, caller: policy.Caller, data: RequestTransferInput) -> RequestTransferPayload:
    """A TRANSFER invite from the primary (admins and the service act in the primary's name)."""
    try:
        # Not used by an agent-to-agent transfer, but bad input is refused, not ignored.
        validation.skills(data.required_skills, ("required_skills",))
        validation.transfer_context(_context_json(data.context))
        thread_pk = input_pk(data.thread_id, "Thread", ("thread_id",))
    except DomainError as exc:
        return _failed(errors_of([exc.problem]))
    assert data.to_agent_id is not None
    invitees, malformed = decode_invitees([data.to_agent_id])
    req = invite_service.SendRequest(
        thread_pk=thread_pk,
        invitees=invitees,
        kind=InviteType.TRANSFER,
        urgency=URGENCY_OF.get(data.priority, Urgency.NORMAL) if data.priority else Urgency.NORMAL,
        message=data.reason,
        message_field=("reason",),
    )
    sent, errors = await send(info.context, caller, req, malformed, TO_AGENT_RENAMES)
    if sent is None or not sent.invites:
        return _failed(errors)
    return RequestTransferPayload(
        thread=Thread.from_model(sent.thread),
        queue_entry=None,
        invite=Invite.from_model(sent.invites[0]),
        user_errors=[],
    )


async def _to_queue(info: InfoT, caller: policy.Caller, data: RequestTransferInput) -> RequestTransferPayload:
    ctx = info.context
    try:
        thread_pk = input_pk(data.thread_id, "Thread", ("thread_id",))
    except DomainError as exc:
        return _failed(errors_of([exc.problem]))
    if not policy.may_transfer_thread(caller, thread_pk):
        raise Forbidden("visitors may only transfer their own thread")

    async def work(outbox: Outbox) -> tuple[int, int]:
        request = queueing.TransferRequest(
            thread_id=thread_pk,
            queue_id=optional_input_pk(data.queue_id, "Queue", ("queue_id",)),
            priority=data.priority,
            trigger=data.trigger,
            reason=data.reason,
            required_skills=data.required_skills,
            context=_context_json(data.context),
        )
        thread, entry = await queueing.request_transfer(ctx.tenant, outbox, caller, request, datetime.now(UTC))
        # Routing runs on enqueue, and the primary's slot may just have freed up.
        ctx.services.after_capacity_change(outbox, ctx.tenant.org)
        return thread.id, entry.id

    result, problems = await run(ctx, work)
    if result is None:
        return _failed(errors_of(problems))
    # Routing may have taken the entry right after commit: show both as they are now.
    thread = await ctx.tenant.get(ThreadRow, result[0])
    entry = await ctx.tenant.get(QueueEntryRow, result[1])
    return RequestTransferPayload(
        thread=Thread.from_model(thread) if thread else None,
        queue_entry=QueueEntry.from_model(entry) if entry else None,
        invite=None,
        user_errors=[],
    )
