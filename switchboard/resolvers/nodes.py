"""node, nodes and viewer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from switchboard import ids
from switchboard.context import Context
from switchboard.domain.enums import AgentRole, QueueEntryStatus, Role
from switchboard.errors import BadInput, Forbidden
from switchboard.resolvers.threads import ALL_READERS, can_read_thread
from switchboard.schema import types as t
from switchboard.schema.viewer import Viewer

MAX_NODES = 100

_CONVERT: dict[str, Any] = {
    "Agent": t.Agent.from_model,
    "Visitor": t.Visitor.from_model,
    "Thread": t.Thread.from_model,
    "Collaborator": t.Collaborator.from_model,
    "Invite": t.Invite.from_model,
    "Queue": t.Queue.from_model,
    "QueueEntry": t.QueueEntry.from_model,
}


async def _visible(ctx: Context, type_name: str, row: Any) -> bool:
    principal = ctx.principal
    if principal.role is Role.VISITOR:
        if type_name == "Visitor":
            return bool(row.id == principal.visitor_id)
        if type_name in ("Thread", "QueueEntry"):
            return bool((row.id if type_name == "Thread" else row.thread_id) == principal.thread_id)
        return False
    if principal.role is not Role.AGENT or await ctx.is_supervisor():
        return True
    if type_name == "Thread":
        return await can_read_thread(ctx, row)
    if type_name == "QueueEntry":
        if row.status is QueueEntryStatus.WAITING:
            return True
        thread = await ctx.loaders.thread.load(row.thread_id)
        return thread is not None and await can_read_thread(ctx, thread)
    if type_name == "Collaborator":
        thread = await ctx.loaders.thread.load(row.thread_id)
        return thread is not None and await can_read_thread(ctx, thread)
    if type_name == "Invite":
        if principal.agent_id in (row.inviter_id, row.invitee_id):
            return True
        thread = await ctx.loaders.thread.load(row.thread_id)
        return thread is not None and await can_read_thread(ctx, thread)
    return True


async def _resolve(ctx: Context, global_id: str) -> Any:
    try:
        type_name, pk = ids.decode(global_id)
    except ids.BadId as exc:
        raise BadInput(str(exc)) from exc
    row = await ctx.loaders.by_type(type_name).load(pk)
    if row is None:
        return None
    if not await _visible(ctx, type_name, row):
        # The contract: a visitor touching another thread (or anything but their own) is
        # FORBIDDEN; for other roles an object they have no place on reads as missing.
        if ctx.principal.role is Role.VISITOR:
            raise Forbidden("visitors may only read their own thread")
        return None
    return _CONVERT[type_name](row)


async def node(info: t.InfoT, id: str) -> t.Node | None:
    ctx = info.context
    ctx.require(*ALL_READERS)
    return await _resolve(ctx, id)


async def nodes(info: t.InfoT, global_ids: Sequence[str]) -> list[t.Node | None]:
    ctx = info.context
    ctx.require(*ALL_READERS)
    if len(global_ids) > MAX_NODES:
        raise BadInput(f"at most {MAX_NODES} ids per call, got {len(global_ids)}")
    return [await _resolve(ctx, gid) for gid in global_ids]


async def viewer(info: t.InfoT) -> Viewer:
    ctx = info.context
    principal = ctx.principal
    agent = await ctx.agent()
    role = principal.role.value
    if agent is not None and agent.role is AgentRole.SUPERVISOR:
        role = "supervisor"
    return Viewer(
        role=role,
        organization=principal.org,
        agent=t.Agent.from_model(agent) if agent else None,
        agent_pk=agent.id if agent else None,
    )
