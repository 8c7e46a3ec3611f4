"""Collaboration: invites, answers, permissions, leaving, resolving (issue #3)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.expressions import Q, Subquery

from switchboard.context import Context
from switchboard.domain import collaboration as domain
from switchboard.domain import invites as invite_domain
from switchboard.domain.enums import InviteType, Priority, Role, Urgency
from switchboard.domain.invites import InviteRequest
from switchboard.domain.pagination import paginate
from switchboard.domain.ratelimit import Slot
from switchboard.errors import DomainError, invalid
from switchboard.models import Collaborator as CollaboratorRow
from switchboard.models import Invite as InviteRow
from switchboard.resolvers.common import arg_pk, input_pk, run, to_connection
from switchboard.schema.inputs import (
    ChangePermissionInput,
    DecideInviteApprovalInput,
    InviteCollaboratorsInput,
    InviteFilter,
    LeaveThreadInput,
    RemoveCollaboratorInput,
    RequestTransferInput,
    ResolveThreadInput,
    RespondToInviteInput,
    WithdrawInviteInput,
)
from switchboard.schema.payloads import (
    CollaboratorPayload,
    InviteCollaboratorsPayload,
    InvitePayload,
    RequestTransferPayload,
    RespondToInvitePayload,
    ThreadPayload,
    UserError,
    errors_of,
)
from switchboard.schema.types import Collaborator, InfoT, Invite, InviteConnection, InviteEdge, Thread
from switchboard.subscriptions.collaboration_feature import rate_limiter
from switchboard.subscriptions.outbox import Outbox

INVITE_READERS = (Role.AGENT, Role.ADMIN, Role.ANALYST, Role.SERVICE)
URGENCY_OF = {Priority.URGENT: Urgency.URGENT, Priority.HIGH: Urgency.HIGH}


async def _actor(ctx: Context) -> domain.Actor:
    # Admin and service callers have no agent: they act through the thread's primary.
    return domain.Actor(agent=await ctx.agent(), admin=ctx.principal.role is Role.ADMIN)


def _invite(row: InviteRow | None) -> Invite | None:
    return Invite.from_model(row) if row is not None else None


def _collaborator(row: CollaboratorRow | None) -> Collaborator | None:
    return Collaborator.from_model(row) if row is not None else None


# ---------------------------------------------------------------- reads


async def invites(
    info: InfoT,
    flt: InviteFilter | None,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> InviteConnection:
    """Agents see invites they sent or received and those of threads they are on; staff see all."""
    ctx = info.context
    principal = ctx.require(*INVITE_READERS)
    qs = ctx.tenant.q(InviteRow)
    if principal.role is Role.AGENT and not await ctx.is_supervisor():
        me = principal.agent_id
        mine = ctx.tenant.q(CollaboratorRow).filter(agent_id=me, active=True).values("thread_id")
        qs = qs.filter(Q(inviter_id=me) | Q(invitee_id=me) | Q(thread_id__in=Subquery(mine)))
    if flt is not None:
        if flt.status:
            qs = qs.filter(status__in=list(flt.status))
        if flt.type:
            qs = qs.filter(type__in=list(flt.type))
        if flt.invitee_id is not None:
            qs = qs.filter(invitee_id=arg_pk(flt.invitee_id, "Agent"))
        if flt.inviter_id is not None:
            qs = qs.filter(inviter_id=arg_pk(flt.inviter_id, "Agent"))
        if flt.thread_id is not None:
            qs = qs.filter(thread_id=arg_pk(flt.thread_id, "Thread"))
        if flt.created_after is not None:
            qs = qs.filter(created_at__gte=flt.created_after)
        if flt.created_before is not None:
            qs = qs.filter(created_at__lt=flt.created_before)
    page = await paginate(qs.order_by("-created_at", "-id"), first=first, after=after, last=last, before=before)
    return to_connection(page, InviteConnection, InviteEdge, Invite.from_model)


async def pending_invites(info: InfoT, agent_pk: int | None) -> list[Invite]:
    """Invites addressed to the caller that can still be answered, oldest first."""
    if agent_pk is None:
        return []
    rows = await (
        info.context.tenant.q(InviteRow)
        .filter(
            invitee_id=agent_pk,
            status__in=list(invite_domain.ANSWERABLE),
            expires_at__gt=datetime.now(UTC),
        )
        .order_by("created_at", "id")
    )
    return [Invite.from_model(row) for row in rows]


# ---------------------------------------------------------------- invites


async def _send(ctx: Context, req: InviteRequest) -> tuple[invite_domain.Sent | None, list[UserError]]:
    """Send in one transaction; rate-limit slots of a rolled-back batch are given back."""
    actor = await _actor(ctx)
    limiter = rate_limiter(ctx.services)
    slots: list[Slot] = []

    async def work(outbox: Outbox) -> invite_domain.Sent:
        return await invite_domain.send_invites(ctx.tenant, outbox, actor, req, limiter, slots)

    try:
        sent, problems = await run(ctx, work)
    except BaseException:
        await limiter.release(slots)
        raise
    if sent is None:
        await limiter.release(slots)
        return None, errors_of(problems)
    return sent, errors_of(sent.problems)


async def invite_collaborators(info: InfoT, data: InviteCollaboratorsInput) -> InviteCollaboratorsPayload:
    ctx = info.context
    ctx.require(Role.AGENT, Role.ADMIN)
    try:
        thread_pk = input_pk(data.thread_id, "Thread", ["input", "threadId"])
    except DomainError as exc:
        return InviteCollaboratorsPayload(invites=[], user_errors=errors_of([exc.problem]))
    req = InviteRequest(
        thread_pk=thread_pk,
        invitees=[(raw, ["input", "inviteeIds", str(i)]) for i, raw in enumerate(data.invitee_ids)],
        kind=data.type,
        permission=data.permission,
        urgency=data.urgency,
        message=data.message,
        expires_in=data.expires_in_seconds,
    )
    sent, errors = await _send(ctx, req)
    return InviteCollaboratorsPayload(
        invites=[Invite.from_model(row) for row in sent.invites] if sent else [], user_errors=errors
    )


async def request_agent_transfer(info: InfoT, data: RequestTransferInput) -> RequestTransferPayload:
    """requestTransfer with toAgentId: a TRANSFER invite from the primary (or an ADMIN collaborator)."""
    ctx = info.context
    ctx.require(Role.AGENT, Role.ADMIN, Role.SERVICE)

    def failed(errors: list[UserError]) -> RequestTransferPayload:
        return RequestTransferPayload(thread=None, queue_entry=None, invite=None, user_errors=errors)

    try:
        thread_pk = input_pk(data.thread_id, "Thread", ["input", "threadId"])
        if data.to_agent_id is None:
            raise invalid("toAgentId is required for an agent-to-agent transfer", ["input", "toAgentId"])
        if data.queue_id is not None:
            raise invalid("give either toAgentId or queueId, not both", ["input", "queueId"])
    except DomainError as exc:
        return failed(errors_of([exc.problem]))
    req = InviteRequest(
        thread_pk=thread_pk,
        invitees=[(data.to_agent_id, ["input", "toAgentId"])],
        kind=InviteType.TRANSFER,
        urgency=URGENCY_OF.get(data.priority, Urgency.NORMAL) if data.priority else Urgency.NORMAL,
        message=data.reason,
        message_field=["input", "reason"],
    )
    sent, errors = await _send(ctx, req)
    if sent is None or not sent.invites:
        return failed(errors)
    return RequestTransferPayload(
        thread=Thread.from_model(sent.thread),
        queue_entry=None,
        invite=Invite.from_model(sent.invites[0]),
        user_errors=[],
    )


async def respond_to_invite(info: InfoT, data: RespondToInviteInput) -> RespondToInvitePayload:
    ctx = info.context
    ctx.require(Role.AGENT)
    actor = await _actor(ctx)

    async def work(outbox: Outbox) -> invite_domain.Answer:
        pk = input_pk(data.invite_id, "Invite", ["input", "inviteId"])
        answer = await invite_domain.respond(
            ctx.tenant,
            outbox,
            actor,
            invite_pk=pk,
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
    return RespondToInvitePayload(
        invite=Invite.from_model(answer.invite), collaborator=_collaborator(answer.collaborator), user_errors=[]
    )


async def _invite_change(ctx: Context, change: Any) -> InvitePayload:
    row, problems = await run(ctx, change)
    return InvitePayload(invite=_invite(row), user_errors=errors_of(problems))


async def withdraw_invite(info: InfoT, data: WithdrawInviteInput) -> InvitePayload:
    ctx = info.context
    ctx.require(Role.AGENT, Role.ADMIN)
    actor = await _actor(ctx)

    async def work(outbox: Outbox) -> InviteRow:
        pk = input_pk(data.invite_id, "Invite", ["input", "inviteId"])
        return await invite_domain.withdraw(ctx.tenant, outbox, actor, invite_pk=pk)

    return await _invite_change(ctx, work)


async def decide_invite_approval(info: InfoT, data: DecideInviteApprovalInput) -> InvitePayload:
    ctx = info.context
    ctx.require(Role.AGENT, Role.ADMIN)
    actor = await _actor(ctx)

    async def work(outbox: Outbox) -> InviteRow:
        pk = input_pk(data.invite_id, "Invite", ["input", "inviteId"])
        return await invite_domain.decide_approval(
            ctx.tenant, outbox, actor, invite_pk=pk, approve=data.approve, message=data.message
        )

    return await _invite_change(ctx, work)


# ---------------------------------------------------------------- places on a thread


async def _collaborator_change(ctx: Context, change: Any) -> CollaboratorPayload:
    row, problems = await run(ctx, change)
    return CollaboratorPayload(collaborator=_collaborator(row), user_errors=errors_of(problems))


async def change_permission(info: InfoT, data: ChangePermissionInput) -> CollaboratorPayload:
    ctx = info.context
    ctx.require(Role.AGENT, Role.ADMIN)
    actor = await _actor(ctx)

    async def work(outbox: Outbox) -> CollaboratorRow:
        return await domain.change_permission(
            ctx.tenant,
            outbox,
            actor,
            thread_pk=input_pk(data.thread_id, "Thread", ["input", "threadId"]),
            agent_pk=input_pk(data.agent_id, "Agent", ["input", "agentId"]),
            permission=data.permission,
            role=data.role,
        )

    return await _collaborator_change(ctx, work)


async def remove_collaborator(info: InfoT, data: RemoveCollaboratorInput) -> CollaboratorPayload:
    ctx = info.context
    ctx.require(Role.AGENT, Role.ADMIN)
    actor = await _actor(ctx)

    async def work(outbox: Outbox) -> CollaboratorRow:
        return await domain.remove_collaborator(
            ctx.tenant,
            outbox,
            actor,
            thread_pk=input_pk(data.thread_id, "Thread", ["input", "threadId"]),
            agent_pk=input_pk(data.agent_id, "Agent", ["input", "agentId"]),
        )

    return await _collaborator_change(ctx, work)


async def leave_thread(info: InfoT, data: LeaveThreadInput) -> CollaboratorPayload:
    ctx = info.context
    ctx.require(Role.AGENT)
    actor = await _actor(ctx)

    async def work(outbox: Outbox) -> CollaboratorRow:
        pk = input_pk(data.thread_id, "Thread", ["input", "threadId"])
        return await domain.leave_thread(ctx.tenant, outbox, actor, thread_pk=pk)

    return await _collaborator_change(ctx, work)


async def resolve_thread(info: InfoT, data: ResolveThreadInput) -> ThreadPayload:
    """The primary, a supervisor or an admin resolves; every place is revoked."""
    ctx = info.context
    ctx.require(Role.AGENT, Role.ADMIN)
    actor = await _actor(ctx)

    async def work(outbox: Outbox) -> Any:
        pk = input_pk(data.thread_id, "Thread", ["input", "threadId"])
        row = await domain.resolve_thread(ctx.tenant, outbox, actor, thread_pk=pk)
        ctx.services.after_capacity_change(outbox, ctx.tenant.org)
        return row

    row, problems = await run(ctx, work)
    return ThreadPayload(thread=Thread.from_model(row) if row else None, user_errors=errors_of(problems))
