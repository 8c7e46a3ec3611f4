"""Places on a thread: permissions, removal, leaving, resolving."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from switchboard.events.outbox import Outbox
from switchboard.graphql.context import Context
from switchboard.graphql.inputs import (
    ChangePermissionInput,
    LeaveThreadInput,
    RemoveCollaboratorInput,
    ResolveThreadInput,
)
from switchboard.graphql.payloads import CollaboratorPayload, ThreadPayload, errors_of
from switchboard.graphql.resolvers.common import input_pk, run
from switchboard.graphql.types.base import InfoT
from switchboard.graphql.types.threads import Collaborator, Thread
from switchboard.models import Collaborator as CollaboratorRow
from switchboard.models import Thread as ThreadRow
from switchboard.rules import policy
from switchboard.services import collaboration as service

THREAD = ("thread_id",)
AGENT = ("agent_id",)


async def _place_change(
    ctx: Context, op: policy.Op, change: Callable[[policy.Caller, Outbox], Awaitable[CollaboratorRow]]
) -> CollaboratorPayload:
    caller = await ctx.allow(op)
    row, problems = await run(ctx, lambda outbox: change(caller, outbox))
    return CollaboratorPayload(
        collaborator=Collaborator.from_model(row) if row else None, user_errors=errors_of(problems)
    )


async def change_permission(info: InfoT, data: ChangePermissionInput) -> CollaboratorPayload:
    ctx = info.context

    async def change(caller: policy.Caller, outbox: Outbox) -> CollaboratorRow:
        return await service.change_permission(
            ctx.tenant,
            outbox,
            caller,
            thread_pk=input_pk(data.thread_id, "Thread", THREAD),
            agent_pk=input_pk(data.agent_id, "Agent", AGENT),
            permission=data.permission,
            role=data.role,
        )

    return await _place_change(ctx, policy.Op.CHANGE_PERMISSION, change)


async def remove_collaborator(info: InfoT, data: RemoveCollaboratorInput) -> CollaboratorPayload:
    ctx = info.context

    async def change(caller: policy.Caller, outbox: Outbox) -> CollaboratorRow:
        thread_pk = input_pk(data.thread_id, "Thread", THREAD)
        agent_pk = input_pk(data.agent_id, "Agent", AGENT)
        return await service.remove_collaborator(ctx.tenant, outbox, caller, thread_pk=thread_pk, agent_pk=agent_pk)

    return await _place_change(ctx, policy.Op.REMOVE_COLLABORATOR, change)


async def leave_thread(info: InfoT, data: LeaveThreadInput) -> CollaboratorPayload:
    ctx = info.context

    async def change(caller: policy.Caller, outbox: Outbox) -> CollaboratorRow:
        thread_pk = input_pk(data.thread_id, "Thread", THREAD)
        return await service.leave_thread(ctx.tenant, outbox, caller, thread_pk=thread_pk)

    return await _place_change(ctx, policy.Op.LEAVE, change)


async def resolve_thread(info: InfoT, data: ResolveThreadInput) -> ThreadPayload:
    """The primary, a supervisor or an admin resolves; every place is revoked."""
    ctx = info.context
    caller = await ctx.allow(policy.Op.RESOLVE)

    async def work(outbox: Outbox) -> ThreadRow:
        thread_pk = input_pk(data.thread_id, "Thread", THREAD)
        row = await service.resolve_thread(ctx.tenant, outbox, caller, thread_pk=thread_pk)
        ctx.services.after_capacity_change(outbox, ctx.tenant.org)
        return row

    row, problems = await run(ctx, work)
    return ThreadPayload(thread=Thread.from_model(row) if row else None, user_errors=errors_of(problems))
