"""Invites: the list, sending (rate limit first, then one transaction), answering, withdrawing, approving."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from switchboard.events.outbox import Outbox
from switchboard.graphql.context import Context
from switchboard.graphql.errors import Renames
from switchboard.graphql.inputs import (
    DecideInviteApprovalInput,
    InviteCollaboratorsInput,
    InviteFilter,
    RespondToInviteInput,
    WithdrawInviteInput,
)
from switchboard.graphql.payloads import (
    InviteCollaboratorsPayload,
    InvitePayload,
    RespondToInvitePayload,
    UserError,
    errors_of,
)
from switchboard.graphql.resolvers.common import input_pk, optional_arg_pk, run
from switchboard.graphql.types import base, connections
from switchboard.graphql.types.base import InfoT
from switchboard.graphql.types.connections import InviteConnection
from switchboard.graphql.types.invites import Invite
from switchboard.graphql.types.threads import Collaborator
from switchboard.models import Invite as InviteRow
from switchboard.rules import ids, policy
from switchboard.rules.problems import DomainError, Problem, invalid
from switchboard.runtime.ratelimit import Grant
from switchboard.services import answers, listing
from switchboard.services import invites as service
from switchboard.services.pagination import keyset_paginate

INVITE = ("invite_id",)


async def invites(
    info: InfoT,
    flt: InviteFilter | None,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> InviteConnection:
    """Plain agents see invites they sent or received and those of threads they are on; staff see all."""
    ctx = info.context
    caller = await ctx.allow(policy.Op.READ_INVITES)
    query = listing.InviteQuery()
    if flt is not None:
        query = listing.InviteQuery(
            statuses=flt.status,
            types=flt.type,
            invitee_id=optional_arg_pk(flt.invitee_id, "Agent"),
            inviter_id=optional_arg_pk(flt.inviter_id, "Agent"),
            thread_id=optional_arg_pk(flt.thread_id, "Thread"),
            created_after=flt.created_after,
            created_before=flt.created_before,
        )
    request = base.keyset_args(first, after, last, before, listing.INVITE_SORT.decode)
    qs = listing.invites(ctx.tenant, policy.invite_scope(caller), query)
    page = await keyset_paginate(qs, request, listing.INVITE_SORT)
    return connections.invite_connection(page)


def decode_invitees(raw_ids: Sequence[str]) -> tuple[list[int | None], dict[int, Problem]]:
    """Agent pks in order (None where an ID names no agent), and the problem of each such ID."""
    pks: list[int | None] = []
    problems: dict[int, Problem] = {}
    for index, raw in enumerate(raw_ids):
        try:
            pks.append(ids.decode_as(raw, "Agent"))
        except ids.BadId:
            pks.append(None)
            problems[index] = invalid(f"{raw!r} is not the ID of an Agent", ("invitee_ids", index)).problem
    return pks, problems


async def send(
    ctx: Context,
    caller: policy.Caller,
    req: service.SendRequest,
    malformed: dict[int, Problem],
    renames: Renames | None = None,
) -> tuple[service.Sent | None, list[UserError]]:
    """Take the rate-limit slots, send in one transaction, give back what was not used.

    ``malformed``: the problems of invitee IDs that name no agent, by invitee index.
    """
    inviter, limit = await service.plan(ctx.tenant, caller, req.thread_pk)
    wanted = sum(1 for pk in req.invitees if pk is not None)
    limiter = ctx.services.invite_limiter
    grant = Grant()
    if inviter is not None:
        grant = await limiter.acquire(ctx.tenant, inviter, limit, wanted, datetime.now(UTC))
    allowance = service.Allowance(inviter, grant.count)
    sent: service.Sent | None = None
    try:
        sent, problems = await run(ctx, lambda outbox: service.send(ctx.tenant, outbox, caller, req, allowance))
    finally:
        await limiter.release(grant, allowance.used if sent is not None else 0)
    if sent is None:
        return None, errors_of(problems, renames)
    # Each invitee has at most one problem: in invitee order, the malformed IDs among the others.
    by_index = {int(p.field[1]): p for p in sent.problems if p.field is not None and len(p.field) > 1}
    by_index.update(malformed)
    return sent, errors_of([by_index[i] for i in sorted(by_index)], renames)


async def invite_collaborators(info: InfoT, data: InviteCollaboratorsInput) -> InviteCollaboratorsPayload:
    ctx = info.context
    caller = await ctx.allow(policy.Op.INVITE)
    try:
        thread_pk = input_pk(data.thread_id, "Thread", ("thread_id",))
    except DomainError as exc:
        return InviteCollaboratorsPayload(invites=[], user_errors=errors_of([exc.problem]))
    invitees, malformed = decode_invitees(data.invitee_ids)
    req = service.SendRequest(
        thread_pk=thread_pk,
        invitees=invitees,
        kind=data.type,
        permission=data.permission,
        urgency=data.urgency,
        message=data.message,
        expires_in=data.expires_in_seconds,
    )
    sent, errors = await send(ctx, caller, req, malformed)
    return InviteCollaboratorsPayload(
        invites=[Invite.from_model(row) for row in sent.invites] if sent else [], user_errors=errors
    )


async def respond_to_invite(info: InfoT, data: RespondToInviteInput) -> RespondToInvitePayload:
    ctx = info.context
    caller = await ctx.allow(policy.Op.RESPOND)

    async def work(outbox: Outbox) -> answers.Answer:
        answer = await answers.respond(
            ctx.tenant,
            outbox,
            caller,
            invite_pk=input_pk(data.invite_id, "Invite", INVITE),
            action=data.action,
            message=data.message,
            estimated_seconds=data.estimated_seconds,
        )
        if answer.transferred:
            ctx.services.after_capacity_change(outbox, ctx.tenant.org)
        return answer

    answer, problems = await run(ctx, work)
    if answer is None:
        return RespondToInvitePayload(invite=None, collaborator=None, user_errors=errors_of(problems))
    collaborator = Collaborator.from_model(answer.collaborator) if answer.collaborator else None
    return RespondToInvitePayload(invite=Invite.from_model(answer.invite), collaborator=collaborator, user_errors=[])


async def _invite_change(
    ctx: Context, op: policy.Op, change: Callable[[policy.Caller, Outbox, int], Awaitable[InviteRow]], invite_id: str
) -> InvitePayload:
    caller = await ctx.allow(op)

    async def work(outbox: Outbox) -> InviteRow:
        return await change(caller, outbox, input_pk(invite_id, "Invite", INVITE))

    row, problems = await run(ctx, work)
    return InvitePayload(invite=Invite.from_model(row) if row else None, user_errors=errors_of(problems))


async def withdraw_invite(info: InfoT, data: WithdrawInviteInput) -> InvitePayload:
    ctx = info.context

    async def change(caller: policy.Caller, outbox: Outbox, pk: int) -> InviteRow:
        return await answers.withdraw(ctx.tenant, outbox, caller, invite_pk=pk)

    return await _invite_change(ctx, policy.Op.WITHDRAW, change, data.invite_id)


async def decide_invite_approval(info: InfoT, data: DecideInviteApprovalInput) -> InvitePayload:
    ctx = info.context

    async def change(caller: policy.Caller, outbox: Outbox, pk: int) -> InviteRow:
        return await answers.decide_approval(
            ctx.tenant, outbox, caller, invite_pk=pk, approve=data.approve, message=data.message
        )

    return await _invite_change(ctx, policy.Op.DECIDE_APPROVAL, change, data.invite_id)
