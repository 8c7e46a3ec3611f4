"""node, nodes and viewer: any object by its global ID, within what the access policy lets the caller read."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from switchboard.graphql.errors import BadInput, Forbidden
from switchboard.graphql.types import base
from switchboard.graphql.types.agents import Agent
from switchboard.graphql.types.base import InfoT, Node
from switchboard.graphql.types.invites import Invite
from switchboard.graphql.types.messages import Message
from switchboard.graphql.types.queues import Queue, QueueEntry
from switchboard.graphql.types.threads import Collaborator, Thread, Visitor
from switchboard.graphql.types.viewer import Viewer
from switchboard.rules import ids, policy
from switchboard.rules.enums import MessageVisibility, QueueEntryStatus
from switchboard.rules.policy import Caller, Reach

MAX_NODES = 100


async def _thread(info: InfoT, thread_id: int) -> policy.ThreadFacts:
    row = await info.context.loaders.thread.load(thread_id)
    assert row is not None  # rows are deleted with their thread
    return await base.thread_facts(info, row)


async def _reach(info: InfoT, caller: Caller, type_name: str, row: Any) -> Reach:
    """The policy's answer for one object of any type."""
    if type_name == "Thread":
        return policy.thread_reach(caller, await base.thread_facts(info, row))
    if type_name == "QueueEntry":
        waiting = row.status is QueueEntryStatus.WAITING
        return policy.entry_reach(caller, waiting, await _thread(info, row.thread_id))
    if type_name == "Collaborator":
        return policy.collaborator_reach(caller, await _thread(info, row.thread_id))
    if type_name == "Invite":
        return policy.invite_reach(caller, base.invite_facts(row), await _thread(info, row.thread_id))
    if type_name == "Message":
        internal = row.visibility is MessageVisibility.INTERNAL
        return policy.message_reach(caller, await _thread(info, row.thread_id), internal)
    if type_name == "Visitor":
        return policy.visitor_reach(caller, row.id)
    return policy.staff_object_reach(caller)


CONVERT: dict[str, Callable[[Any], Node]] = {
    "Agent": Agent.from_model,
    "Visitor": Visitor.from_model,
    "Thread": Thread.from_model,
    "Collaborator": Collaborator.from_model,
    "Invite": Invite.from_model,
    "Queue": Queue.from_model,
    "QueueEntry": QueueEntry.from_model,
    "Message": Message.from_model,
}


async def _resolve(info: InfoT, caller: Caller, global_id: str) -> Node | None:
    try:
        type_name, pk = ids.decode(global_id)
    except ids.BadId as exc:
        raise BadInput(str(exc)) from exc
    row = await info.context.loaders.by_type(type_name).load(pk)
    if row is None:
        return None
    reach = await _reach(info, caller, type_name, row)
    if reach is Reach.FORBIDDEN:
        raise Forbidden("visitors may only read their own thread")
    return CONVERT[type_name](row) if reach is Reach.FULL else None


async def node(info: InfoT, id: str) -> Node | None:
    caller = await info.context.allow(policy.Op.READ_THREADS)
    return await _resolve(info, caller, id)


async def nodes(info: InfoT, global_ids: Sequence[str]) -> list[Node | None]:
    caller = await info.context.allow(policy.Op.READ_THREADS)
    if len(global_ids) > MAX_NODES:
        raise BadInput(f"at most {MAX_NODES} ids per call, got {len(global_ids)}")
    # Resolved together so that the loaders read each type's rows (and their threads) in one batch;
    # the first failure in the order of the ids is the one reported, as if they were read one by one.
    found = await asyncio.gather(*(_resolve(info, caller, gid) for gid in global_ids), return_exceptions=True)
    for result in found:
        if isinstance(result, BaseException):
            raise result
    return found  # type: ignore[return-value]


async def viewer(info: InfoT) -> Viewer:
    ctx = info.context
    caller = await ctx.allow(policy.Op.READ_VIEWER)
    agent = await ctx.agent()
    return Viewer(
        role="supervisor" if caller.supervisor else caller.role.value,
        organization=caller.org,
        agent=Agent.from_model(agent) if agent else None,
        agent_pk=agent.id if agent else None,
    )
