"""Agent reads and provisioning."""

from __future__ import annotations

from switchboard.events.outbox import Outbox
from switchboard.graphql.errors import Forbidden
from switchboard.graphql.inputs import AgentFilter, CreateAgentInput, SetAgentStatusInput, UpdateAgentInput
from switchboard.graphql.payloads import AgentPayload, errors_of
from switchboard.graphql.resolvers.common import arg_text, input_pk, run
from switchboard.graphql.types import base, connections
from switchboard.graphql.types.agents import Agent
from switchboard.graphql.types.base import InfoT
from switchboard.graphql.types.connections import AgentConnection
from switchboard.models import Agent as AgentRow
from switchboard.rules import ids, policy
from switchboard.rules.enums import AgentStatus
from switchboard.rules.problems import Problem, invalid
from switchboard.services import agents as service
from switchboard.services import listing
from switchboard.services.pagination import keyset_paginate

AGENT = ("agent_id",)


async def agents(
    info: InfoT,
    flt: AgentFilter | None,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> AgentConnection:
    ctx = info.context
    await ctx.allow(policy.Op.READ_AGENTS)
    query = listing.AgentQuery()
    if flt is not None:
        query = listing.AgentQuery(
            statuses=flt.status,
            department=arg_text(flt.department, "department"),
            role=flt.role,
            skill=arg_text(flt.skill, "skill"),
        )
    request = base.keyset_args(first, after, last, before, listing.AGENT_SORT.decode)
    page = await keyset_paginate(await listing.agents(ctx.tenant, query), request, listing.AGENT_SORT)
    return connections.agent_connection(page)


def _fields(data: CreateAgentInput | UpdateAgentInput) -> service.AgentFields:
    return service.AgentFields(
        name=data.name,
        email=data.email,
        role=data.role,
        department=data.department,
        skills=data.skills,
        max_concurrent_threads=data.max_concurrent_threads,
        max_concurrent_collaborations=data.max_concurrent_collaborations,
    )


async def create_agent(info: InfoT, data: CreateAgentInput) -> AgentPayload:
    ctx = info.context
    await ctx.allow(policy.Op.PROVISION)
    row, problems = await run(ctx, lambda outbox: service.create(ctx.tenant, outbox, _fields(data)))
    return AgentPayload(agent=Agent.from_model(row) if row else None, user_errors=errors_of(problems))


async def update_agent(info: InfoT, data: UpdateAgentInput) -> AgentPayload:
    ctx = info.context
    await ctx.allow(policy.Op.PROVISION)

    async def work(outbox: Outbox) -> AgentRow:
        return await service.update(ctx.tenant, outbox, input_pk(data.agent_id, "Agent", AGENT), _fields(data))

    row, problems = await run(ctx, work)
    return AgentPayload(agent=Agent.from_model(row) if row else None, user_errors=errors_of(problems))


def _status_target(caller: policy.Caller, agent_id: str | None) -> int | Problem:
    """The agent whose status changes: the caller by default, else ``agentId``."""
    if agent_id is None:
        if caller.agent_id is None:
            return invalid("agentId is required unless the caller is an agent", AGENT).problem
        return caller.agent_id
    try:
        return ids.decode_as(agent_id, "Agent")
    except ids.BadId as exc:
        return invalid(str(exc), AGENT).problem


async def set_agent_status(info: InfoT, data: SetAgentStatusInput) -> AgentPayload:
    """Agents set their own status; admins and supervisors anyone's."""
    ctx = info.context
    caller = await ctx.allow(policy.Op.SET_STATUS)
    target = _status_target(caller, data.agent_id)
    if not policy.may_set_status(caller, target if isinstance(target, int) else None):
        raise Forbidden("only supervisors and admins may set another agent's status")
    if isinstance(target, Problem):
        return AgentPayload(agent=None, user_errors=errors_of([target]))
    agent_pk = target

    async def work(outbox: Outbox) -> AgentRow:
        row, previous = await service.set_status(ctx.tenant, outbox, agent_pk, data.status)
        if row.status is AgentStatus.ONLINE and previous is not AgentStatus.ONLINE:
            ctx.services.after_capacity_change(outbox, ctx.tenant.org)
        return row

    row, problems = await run(ctx, work)
    return AgentPayload(agent=Agent.from_model(row) if row else None, user_errors=errors_of(problems))
