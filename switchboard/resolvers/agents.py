"""Agent reads and provisioning."""

from __future__ import annotations

from switchboard import ids
from switchboard.domain import agents as domain
from switchboard.domain.enums import AgentRole, AgentStatus, ErrorCode, Role
from switchboard.domain.pagination import paginate
from switchboard.errors import Forbidden, Problem
from switchboard.models import Agent as AgentRow
from switchboard.resolvers.common import arg_text, input_pk, run, to_connection
from switchboard.schema.inputs import AgentFilter, CreateAgentInput, SetAgentStatusInput, UpdateAgentInput
from switchboard.schema.payloads import AgentPayload, errors_of
from switchboard.schema.types import Agent, AgentConnection, AgentEdge, InfoT

READERS = (Role.AGENT, Role.ADMIN, Role.ANALYST, Role.SERVICE)


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
    ctx.require(*READERS)
    qs = ctx.tenant.q(AgentRow)
    if flt is not None:
        if flt.status:
            qs = qs.filter(status__in=list(flt.status))
        if flt.department is not None:
            qs = qs.filter(department=arg_text(flt.department, "department"))
        if flt.role is not None:
            qs = qs.filter(role=flt.role)
        if arg_text(flt.skill, "skill") is not None:
            # Skills are a JSON list; narrowing in Python keeps the query portable
            # between SQLite and PostgreSQL. Agents per organization are few.
            matching = [a.id for a in await qs.only("id", "skills") if flt.skill in (a.skills or [])]
            qs = ctx.tenant.q(AgentRow).filter(id__in=matching)
    page = await paginate(qs.order_by("created_at", "id"), first=first, after=after, last=last, before=before)
    return to_connection(page, AgentConnection, AgentEdge, Agent.from_model)


def _fields(data: CreateAgentInput | UpdateAgentInput) -> domain.AgentFields:
    return domain.AgentFields(
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
    ctx.require(Role.ADMIN)
    row, problems = await run(ctx, lambda outbox: domain.create(ctx.tenant, outbox, _fields(data)))
    return AgentPayload(agent=Agent.from_model(row) if row else None, user_errors=errors_of(problems))


async def update_agent(info: InfoT, data: UpdateAgentInput) -> AgentPayload:
    ctx = info.context
    ctx.require(Role.ADMIN)

    async def work(outbox):  # type: ignore[no-untyped-def]
        pk = input_pk(data.agent_id, "Agent", ["input", "agentId"])
        return await domain.update(ctx.tenant, outbox, pk, _fields(data))

    row, problems = await run(ctx, work)
    return AgentPayload(agent=Agent.from_model(row) if row else None, user_errors=errors_of(problems))


def _status_target(principal_agent: int | None, agent_id: str | None) -> int | Problem:
    """The agent whose status changes: the caller by default, else ``agentId``."""
    if agent_id is None:
        if principal_agent is None:
            return Problem(ErrorCode.INVALID, "agentId is required unless the caller is an agent", ["input", "agentId"])
        return principal_agent
    try:
        return ids.decode_as(agent_id, "Agent")
    except ids.BadId as exc:
        return Problem(ErrorCode.INVALID, str(exc), ["input", "agentId"])


async def set_agent_status(info: InfoT, data: SetAgentStatusInput) -> AgentPayload:
    """Agents set their own status; admins and supervisors anyone's."""
    ctx = info.context
    principal = ctx.require(Role.AGENT, Role.ADMIN)
    target = _status_target(principal.agent_id, data.agent_id)
    if principal.role is Role.AGENT and target != principal.agent_id:
        me = await ctx.agent()
        if me is None or me.role is not AgentRole.SUPERVISOR:
            raise Forbidden("only supervisors and admins may set another agent's status")
    if isinstance(target, Problem):
        return AgentPayload(agent=None, user_errors=errors_of([target]))
    agent_pk = target

    async def work(outbox):  # type: ignore[no-untyped-def]
        row, previous = await domain.set_status(ctx.tenant, outbox, agent_pk, data.status)
        if row.status is AgentStatus.ONLINE and previous is not AgentStatus.ONLINE:
            ctx.services.after_capacity_change(outbox, ctx.tenant.org)
        return row

    row, problems = await run(ctx, work)
    return AgentPayload(agent=Agent.from_model(row) if row else None, user_errors=errors_of(problems))
