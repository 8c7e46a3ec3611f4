"""The lists the API reads: each within the scope the access policy gives the caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

from switchboard.models import Agent, Invite, QueueEntry, Thread
from switchboard.rules import queue_order as order
from switchboard.rules.caps import MAX_PENDING_INVITES
from switchboard.rules.enums import (
    AgentRole,
    AgentStatus,
    InviteStatus,
    InviteType,
    Priority,
    QueueEntryStatus,
    ThreadClass,
    ThreadStatus,
    TransferTrigger,
)
from switchboard.rules.invites import ANSWERABLE
from switchboard.rules.policy import Scope
from switchboard.services.tenancy import Tenant


@dataclass
class ThreadQuery:
    statuses: list[ThreadStatus] | None = None
    classes: list[ThreadClass] | None = None
    primary_agent_id: int | None = None
    collaborator_agent_id: int | None = None
    visitor_id: int | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    order: str = "created_at"
    descending: bool = True


def threads(tenant: Tenant, scope: Scope, query: ThreadQuery) -> QuerySet[Thread]:
    qs = tenant.scoped(Thread, scope)
    if query.statuses:
        qs = qs.filter(status__in=list(query.statuses))
    if query.classes:
        qs = qs.filter(thread_class__in=list(query.classes))
    if query.primary_agent_id is not None:
        qs = qs.filter(primary_agent_id=query.primary_agent_id)
    if query.visitor_id is not None:
        qs = qs.filter(visitor_id=query.visitor_id)
    if query.collaborator_agent_id is not None:
        places = tenant.places_of(query.collaborator_agent_id)
        qs = qs.filter(id__in=Subquery(places.values("thread_id")))
    if query.created_after is not None:
        qs = qs.filter(created_at__gte=query.created_after)
    if query.created_before is not None:
        qs = qs.filter(created_at__lt=query.created_before)
    column = query.order
    return qs.order_by(f"-{column}", "-id") if query.descending else qs.order_by(column, "id")


@dataclass
class EntryQuery:
    queue_id: int | None = None
    statuses: list[QueueEntryStatus] | None = None
    priorities: list[Priority] | None = None
    triggers: list[TransferTrigger] | None = None
    enqueued_after: datetime | None = None
    enqueued_before: datetime | None = None


def entries(tenant: Tenant, scope: Scope, query: EntryQuery) -> QuerySet[QueueEntry]:
    """In queue order."""
    qs = tenant.scoped(QueueEntry, scope)
    if query.queue_id is not None:
        qs = qs.filter(queue_id=query.queue_id)
    if query.statuses:
        qs = qs.filter(status__in=list(query.statuses))
    if query.priorities:
        qs = qs.filter(priority__in=list(query.priorities))
    if query.triggers:
        qs = qs.filter(trigger__in=list(query.triggers))
    if query.enqueued_after is not None:
        qs = qs.filter(enqueued_at__gte=query.enqueued_after)
    if query.enqueued_before is not None:
        qs = qs.filter(enqueued_at__lt=query.enqueued_before)
    return qs.order_by(*order.ORDER_COLUMNS)


@dataclass
class InviteQuery:
    statuses: list[InviteStatus] | None = None
    types: list[InviteType] | None = None
    invitee_id: int | None = None
    inviter_id: int | None = None
    thread_id: int | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def invites(tenant: Tenant, scope: Scope, query: InviteQuery) -> QuerySet[Invite]:
    """Newest first."""
    qs = tenant.scoped(Invite, scope)
    if query.statuses:
        qs = qs.filter(status__in=list(query.statuses))
    if query.types:
        qs = qs.filter(type__in=list(query.types))
    for column in ("invitee_id", "inviter_id", "thread_id"):
        value = getattr(query, column)
        if value is not None:
            qs = qs.filter(**{column: value})
    if query.created_after is not None:
        qs = qs.filter(created_at__gte=query.created_after)
    if query.created_before is not None:
        qs = qs.filter(created_at__lt=query.created_before)
    return qs.order_by("-created_at", "-id")


async def pending_invites(tenant: Tenant, agent_id: int, now: datetime) -> list[Invite]:
    """Invites addressed to the agent that can still be answered, the oldest ``MAX_PENDING_INVITES``."""
    qs = tenant.q(Invite).filter(invitee_id=agent_id, status__in=list(ANSWERABLE), expires_at__gt=now)
    return list(await qs.order_by("created_at", "id").limit(MAX_PENDING_INVITES))


@dataclass
class AgentQuery:
    statuses: list[AgentStatus] | None = None
    department: str | None = None
    role: AgentRole | None = None
    skill: str | None = None


async def agents(tenant: Tenant, query: AgentQuery) -> QuerySet[Agent]:
    qs = tenant.q(Agent)
    if query.statuses:
        qs = qs.filter(status__in=list(query.statuses))
    if query.department is not None:
        qs = qs.filter(department=query.department)
    if query.role is not None:
        qs = qs.filter(role=query.role)
    if query.skill is not None:
        # Skills are a JSON list; narrowing in Python keeps the query portable
        # between SQLite and PostgreSQL. Agents per organization are few.
        matching = [a.id for a in await qs.only("id", "skills") if query.skill in (a.skills or [])]
        qs = tenant.q(Agent).filter(id__in=matching)
    return qs.order_by("created_at", "id")
