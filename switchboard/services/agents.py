"""Provisioning agents and their availability."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from switchboard.events.outbox import Outbox
from switchboard.events.types import AgentChanged, AgentEventKind, AgentStatusChanged
from switchboard.models import Agent
from switchboard.rules import validation as v
from switchboard.rules.enums import AgentRole, AgentStatus
from switchboard.rules.problems import conflict, not_found
from switchboard.services.tenancy import Tenant


@dataclass
class AgentFields:
    name: str | None = None
    email: str | None = None
    role: AgentRole | None = None
    department: str | None = None
    skills: list[str] | None = None
    max_concurrent_threads: int | None = None
    max_concurrent_collaborations: int | None = None


def _clean(fields: AgentFields, creating: bool) -> dict[str, object]:
    values: dict[str, object] = {}
    if creating or fields.name is not None:
        values["name"] = v.required_text(fields.name or "", ("name",))
    if fields.email is not None:
        values["email"] = v.text(fields.email, ("email",))
    if fields.department is not None:
        values["department"] = v.text(fields.department, ("department",))
    if fields.skills is not None:
        values["skills"] = v.skills(fields.skills, ("skills",))
    if fields.role is not None:
        values["role"] = fields.role
    for name in ("max_concurrent_threads", "max_concurrent_collaborations"):
        value = v.number(getattr(fields, name), (name,), *v.CAPACITY_RANGE)
        if value is not None:
            values[name] = value
    return values


async def create(tenant: Tenant, outbox: Outbox, fields: AgentFields) -> Agent:
    values = _clean(fields, creating=True)
    await tenant.organization()
    agent = await tenant.create(Agent, **values)
    outbox.add(AgentChanged(org=tenant.org, kind=AgentEventKind.CREATED, agent_id=agent.id))
    return agent


async def update(tenant: Tenant, outbox: Outbox, agent_id: int, fields: AgentFields) -> Agent:
    values = _clean(fields, creating=False)
    agent = await tenant.get(Agent, agent_id, for_update=True)
    if agent is None:
        raise not_found("agent", ("agent_id",))
    _check_load(agent, values)
    if values:
        agent.update_from_dict(values)
        await agent.save()
        outbox.add(AgentChanged(org=tenant.org, kind=AgentEventKind.UPDATED, agent_id=agent.id))
    return agent


def _check_load(agent: Agent, values: dict[str, object]) -> None:
    """A capacity is never set below what the agent carries now: the contract's "activeThreadCount never
    exceeds maxConcurrentThreads" holds for every change, not only assignments. (The row is locked, and
    assignments raise the count with a conditional update of the same row, so they wait for this.)"""
    for name, load in (
        ("max_concurrent_threads", agent.active_thread_count),
        ("max_concurrent_collaborations", agent.active_collaboration_count),
    ):
        wanted = values.get(name)
        if isinstance(wanted, int) and wanted < load:
            raise conflict(
                f"{v.label((name,))} cannot go below the {load} the agent has now; "
                "resolve, hand over or leave some first",
                (name,),
            )


async def set_status(tenant: Tenant, outbox: Outbox, agent_id: int, status: AgentStatus) -> tuple[Agent, AgentStatus]:
    """Set the status; returns the agent and its previous status."""
    agent = await tenant.get(Agent, agent_id, for_update=True)
    if agent is None:
        raise not_found("agent", ("agent_id",))
    previous = agent.status
    if previous is not status:
        agent.status = status
        agent.status_changed_at = datetime.now(UTC)
        await agent.save(update_fields=["status", "status_changed_at", "updated_at"])
        outbox.add(
            AgentStatusChanged(
                org=tenant.org, agent_id=agent.id, status=status, previous=previous, audience=(agent.id,)
            )
        )
    return agent, previous
