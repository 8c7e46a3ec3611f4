"""Agents."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Any

import strawberry

from switchboard import models as m
from switchboard.graphql.enums import AgentRole, AgentStatus
from switchboard.graphql.loaders import now_or_later
from switchboard.graphql.types.base import InfoT, Node, gid
from switchboard.rules import policy


@strawberry.type(description="A person who serves visitors and collaborates on threads.")
class Agent(Node):
    name: str = strawberry.field(description="Display name.")
    email: str | None = strawberry.field(description="Work e-mail address.")
    role: AgentRole = strawberry.field(description="AGENT or SUPERVISOR (of their department).")
    department: str | None = strawberry.field(description="Department; cross-department invites may need approval.")
    skills: list[str] = strawberry.field(description="Skills that routing matches against queues and entries.")
    status: AgentStatus = strawberry.field(description="Current availability.")
    max_concurrent_threads: int = strawberry.field(description="Threads this agent may serve as PRIMARY at once.")
    max_concurrent_collaborations: int = strawberry.field(
        description="Threads this agent may collaborate on (non-primary) at once."
    )
    active_thread_count: int = strawberry.field(description="Threads this agent serves as PRIMARY now.")
    active_collaboration_count: int = strawberry.field(description="Threads this agent collaborates on now.")
    created_at: datetime = strawberry.field(description="When the agent was provisioned.")

    @classmethod
    def from_card(cls, card: dict[str, Any]) -> Agent:
        """From the columns ``loaders.AGENT_CARD_COLUMNS`` (the same fields as ``from_model``)."""
        return cls(
            id=gid("Agent", card["id"]),
            name=card["name"],
            email=card["email"],
            role=card["role"],
            department=card["department"],
            skills=list(card["skills"] or []),
            status=card["status"],
            max_concurrent_threads=card["max_concurrent_threads"],
            max_concurrent_collaborations=card["max_concurrent_collaborations"],
            active_thread_count=card["active_thread_count"],
            active_collaboration_count=card["active_collaboration_count"],
            created_at=card["created_at"],
        )

    @classmethod
    def from_model(cls, row: m.Agent) -> Agent:
        return cls(
            id=gid("Agent", row.id),
            name=row.name,
            email=row.email,
            role=row.role,
            department=row.department,
            skills=list(row.skills or []),
            status=row.status,
            max_concurrent_threads=row.max_concurrent_threads,
            max_concurrent_collaborations=row.max_concurrent_collaborations,
            active_thread_count=row.active_thread_count,
            active_collaboration_count=row.active_collaboration_count,
            created_at=row.created_at,
        )


async def load_agent(info: InfoT, pk: int | None) -> Agent | None:
    row = await info.context.loaders.agent.load(pk) if pk is not None else None
    return Agent.from_model(row) if row else None


async def identity(info: InfoT, pk: int | None, reach: policy.Reach = policy.Reach.FULL) -> Agent | None:
    """An agent serving a thread, if the policy lets the caller see who it is."""
    if not policy.shows_identities(await info.context.caller(), reach):
        return None
    return await load_agent(info, pk)


def _agent_or_none(row: m.Agent | None) -> Agent | None:
    return Agent.from_model(row) if row is not None else None


def _card_or_none(card: dict[str, Any] | None) -> Agent | None:
    return Agent.from_card(card) if card is not None else None


def agent_now(info: InfoT, pk: int | None) -> Agent | Awaitable[Agent | None] | None:
    """``load_agent`` for sync resolvers: the agent itself when a list prefetched it, else an awaitable.

    A row the request already holds (the caller's, or one a subscription primed as of
    its event) wins over a card of the same agent; otherwise agents are read as cards
    (``loaders.AGENT_CARD_COLUMNS``, no Model object).
    """
    if pk is None:
        return None
    loaders = info.context.loaders
    if loaders.agent.cache_map.get(pk) is not None:
        return now_or_later(loaders.agent, pk, _agent_or_none)
    return now_or_later(loaders.agent_card, pk, _card_or_none)


def identity_now(info: InfoT, pk: int | None, reach: policy.Reach = policy.Reach.FULL) -> Any:
    """``identity`` for sync resolvers (the agent, None, or an awaitable of either; graphql-core awaits it)."""
    caller = info.context.known_caller
    if caller is None:
        return identity(info, pk, reach)
    return agent_now(info, pk) if policy.shows_identities(caller, reach) else None
