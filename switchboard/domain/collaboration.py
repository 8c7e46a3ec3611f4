"""Who works on a thread: places, permissions, capacity counters, thread events.

Every change here starts by locking the thread row (``SELECT ... FOR UPDATE``
on PostgreSQL; SQLite runs one transaction at a time anyway), so that changes to
one thread's collaborators and invites are serialised across all processes and
the collaborator cap is counted on a stable picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from tortoise.expressions import F
from tortoise.models import Model

from switchboard.domain.enums import (
    AgentRole,
    CollaboratorRole,
    ErrorCode,
    Permission,
    ThreadStatus,
)
from switchboard.domain.threads import collaborator_limit
from switchboard.errors import DomainError, not_found
from switchboard.models import Agent, Collaborator, Thread
from switchboard.subscriptions.outbox import Outbox
from switchboard.tenancy import Tenant

CLOSED_THREAD = (ThreadStatus.RESOLVED, ThreadStatus.CLOSED)


@dataclass(frozen=True)
class Actor:
    """The caller as the domain sees it."""

    agent: Agent | None = None
    # An admin token: may do everything in the organization.
    admin: bool = False

    @property
    def agent_id(self) -> int | None:
        return self.agent.id if self.agent is not None else None

    @property
    def supervisor(self) -> bool:
        return self.agent is not None and self.agent.role is AgentRole.SUPERVISOR


def now_utc() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------- reading the thread


async def lock_thread(tenant: Tenant, pk: int, field: list[str]) -> Thread:
    """The thread, locked for the rest of the transaction; NOT_FOUND when missing or foreign."""
    thread = await tenant.get(Thread, pk, for_update=True)
    if thread is None:
        raise not_found("thread", field)
    return thread


async def active_collaborators(tenant: Tenant, thread_id: int) -> list[Collaborator]:
    return list(await tenant.q(Collaborator).filter(thread_id=thread_id, active=True).order_by("id"))


def place_of(members: list[Collaborator], agent_id: int | None) -> Collaborator | None:
    if agent_id is None:
        return None
    return next((c for c in members if c.agent_id == agent_id), None)


def manages(place: Collaborator | None) -> bool:
    """The primary and ADMIN collaborators invite, withdraw, change permissions and remove."""
    return place is not None and (place.role is CollaboratorRole.PRIMARY or place.permission is Permission.ADMIN)


def require_manager(actor: Actor, members: list[Collaborator]) -> Collaborator | None:
    """The actor's place when they may manage the thread; FORBIDDEN_ACTION otherwise."""
    if actor.admin:
        return None
    place = place_of(members, actor.agent_id)
    if not manages(place):
        raise DomainError(
            ErrorCode.FORBIDDEN_ACTION,
            "only the primary or a collaborator with ADMIN permission may do this",
        )
    return place


async def thread_cap(tenant: Tenant, thread: Thread) -> int:
    return collaborator_limit(await tenant.organization(), thread.thread_class)


# ---------------------------------------------------------------- capacity counters


async def _shift(tenant: Tenant, agent_id: int, counter: str, step: int, *, cap: str | None = None) -> bool:
    """Move one capacity counter by ``step`` in one conditional UPDATE; False when refused.

    The condition lives in the UPDATE itself (under the cap going up, above zero
    going down), so concurrent transactions can never push a counter past its
    bound, whatever they read before.
    """
    qs = tenant.q(Agent).filter(id=agent_id)
    if step < 0:
        qs = qs.filter(**{f"{counter}__gt": 0})
    elif cap is not None:
        qs = qs.filter(**{f"{counter}__lt": F(cap)})
    return await qs.update(**{counter: F(counter) + step}) == 1


async def take_collaboration(tenant: Tenant, agent_id: int) -> bool:
    """One more collaboration for the agent, only while under maxConcurrentCollaborations."""
    return await _shift(tenant, agent_id, "active_collaboration_count", 1, cap="max_concurrent_collaborations")


async def take_thread(tenant: Tenant, agent_id: int) -> bool:
    """One more primary thread for the agent, only while under maxConcurrentThreads."""
    return await _shift(tenant, agent_id, "active_thread_count", 1, cap="max_concurrent_threads")


async def add_collaboration(tenant: Tenant, agent_id: int) -> None:
    """Unconditional +1: a former primary stays on as EXPERT whatever their cap."""
    await _shift(tenant, agent_id, "active_collaboration_count", 1)


async def free_collaboration(tenant: Tenant, agent_id: int) -> None:
    await _shift(tenant, agent_id, "active_collaboration_count", -1)


async def free_thread(tenant: Tenant, agent_id: int) -> None:
    await _shift(tenant, agent_id, "active_thread_count", -1)


# ---------------------------------------------------------------- events


# Columns that change over a row's life. An event records their values at commit,
# so that rendering it later (a cursor replay) shows what the live event showed
# rather than whatever the row has become since.
SNAPSHOT_FIELDS: dict[str, tuple[str, ...]] = {
    "thread": ("status", "transfer_count", "primary_agent_id", "last_primary_agent_id", "resolved_at", "updated_at"),
    "collaborator": ("role", "permission", "active", "left_at"),
    "invite": ("status", "expires_at", "responded_at", "response_message", "estimated_seconds", "approved_by_id"),
}


def snapshot(kind: str, row: Model) -> dict[str, Any]:
    """The changing columns of ``row`` as JSON values (see ``SNAPSHOT_FIELDS``)."""
    out: dict[str, Any] = {}
    for name in SNAPSHOT_FIELDS[kind]:
        # A nullable foreign key never set on this instance has no attribute yet.
        value = getattr(row, name, None)
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[name] = value
    return out


def restore(row: Model, values: dict[str, Any]) -> Model:
    """Put snapshot values back on a freshly loaded ``row`` (the inverse of ``snapshot``)."""
    fields = row._meta.fields_map
    for name, value in values.items():
        field = fields.get(name)
        setattr(row, name, field.to_python_value(value) if field is not None and value is not None else value)
    return row


def thread_event(
    outbox: Outbox,
    thread: Thread,
    kind: str,
    *,
    actor_id: int | None,
    collaborator: Collaborator | None = None,
    invite_id: int | None = None,
    **payload: Any,
) -> None:
    """A thread event carrying what ThreadEvent renders, so a replay looks like the live one."""
    snap = {"thread": snapshot("thread", thread)}
    if collaborator is not None:
        payload.update(collaborator_id=collaborator.id, agent_id=collaborator.agent_id)
        snap["collaborator"] = snapshot("collaborator", collaborator)
    outbox.add(
        thread.org_id,
        "thread",
        kind,
        thread_id=thread.id,
        invite_id=invite_id,
        actor_id=actor_id,
        payload={**payload, "snapshot": snap},
    )


# ---------------------------------------------------------------- changes


async def _target(tenant: Tenant, members: list[Collaborator], agent_id: int) -> Collaborator:
    target = place_of(members, agent_id)
    if target is None:
        raise not_found("active collaborator", ["input", "agentId"])
    return target


async def change_permission(
    tenant: Tenant,
    outbox: Outbox,
    actor: Actor,
    *,
    thread_pk: int,
    agent_pk: int,
    permission: Permission,
    role: CollaboratorRole | None,
) -> Collaborator:
    thread = await lock_thread(tenant, thread_pk, ["input", "threadId"])
    members = await active_collaborators(tenant, thread.id)
    require_manager(actor, members)
    target = await _target(tenant, members, agent_pk)
    if target.role is CollaboratorRole.PRIMARY:
        raise DomainError(ErrorCode.INVALID, "the primary's place changes only by transfer", ["input", "agentId"])
    if role is CollaboratorRole.PRIMARY:
        raise DomainError(ErrorCode.INVALID, "use requestTransfer to make someone primary", ["input", "role"])
    new_role = role or target.role
    if new_role is CollaboratorRole.OBSERVER and permission is not Permission.READ:
        raise DomainError(ErrorCode.INVALID, "an OBSERVER always has READ permission", ["input", "permission"])
    if (new_role, permission) == (target.role, target.permission):
        return target
    before = target.permission
    before_role = target.role
    target.role, target.permission = new_role, permission
    await target.save(update_fields=["role", "permission"])
    thread_event(
        outbox,
        thread,
        "PERMISSION_CHANGED",
        actor_id=actor.agent_id,
        collaborator=target,
        permission=permission.value,
        previous_permission=before.value,
        role=new_role.value,
        previous_role=before_role.value,
    )
    return target


async def end_place(tenant: Tenant, row: Collaborator, now: datetime) -> None:
    """A place ends and its seat (primary thread or collaboration) frees up, in the caller's transaction."""
    row.active, row.left_at = False, now
    await row.save(update_fields=["active", "left_at"])
    if row.role is CollaboratorRole.PRIMARY:
        await free_thread(tenant, row.agent_id)
    else:
        await free_collaboration(tenant, row.agent_id)


async def remove_collaborator(
    tenant: Tenant, outbox: Outbox, actor: Actor, *, thread_pk: int, agent_pk: int
) -> Collaborator:
    thread = await lock_thread(tenant, thread_pk, ["input", "threadId"])
    members = await active_collaborators(tenant, thread.id)
    require_manager(actor, members)
    target = await _target(tenant, members, agent_pk)
    if target.role is CollaboratorRole.PRIMARY:
        raise DomainError(
            ErrorCode.INVALID, "the primary cannot be removed; transfer or resolve the thread", ["input", "agentId"]
        )
    await end_place(tenant, target, now_utc())
    thread_event(outbox, thread, "COLLABORATOR_REMOVED", actor_id=actor.agent_id, collaborator=target)
    return target


async def leave_thread(tenant: Tenant, outbox: Outbox, actor: Actor, *, thread_pk: int) -> Collaborator:
    thread = await lock_thread(tenant, thread_pk, ["input", "threadId"])
    members = await active_collaborators(tenant, thread.id)
    mine = place_of(members, actor.agent_id)
    if mine is None:
        raise not_found("your place on this thread", ["input", "threadId"])
    if mine.role is CollaboratorRole.PRIMARY:
        # Leaving would strand the visitor: the primary hands over or resolves.
        raise DomainError(
            ErrorCode.CONFLICT,
            "the primary cannot leave; use requestTransfer or resolveThread",
            ["input", "threadId"],
        )
    await end_place(tenant, mine, now_utc())
    thread_event(outbox, thread, "COLLABORATOR_LEFT", actor_id=actor.agent_id, collaborator=mine)
    return mine


async def resolve_thread(tenant: Tenant, outbox: Outbox, actor: Actor, *, thread_pk: int) -> Thread:
    """Resolve: revoke every place, cancel open invites, clear the primary when the org says so."""
    from switchboard.domain import invites

    thread = await lock_thread(tenant, thread_pk, ["input", "threadId"])
    members = await active_collaborators(tenant, thread.id)
    if not (actor.admin or actor.supervisor):
        mine = place_of(members, actor.agent_id)
        if mine is None or mine.role is not CollaboratorRole.PRIMARY:
            raise DomainError(
                ErrorCode.FORBIDDEN_ACTION, "only the primary, a supervisor or an admin may resolve the thread"
            )
    if thread.status is not ThreadStatus.ACTIVE:
        raise DomainError(
            ErrorCode.CONFLICT,
            f"only an ACTIVE thread can be resolved; it is {thread.status.value}",
            ["input", "threadId"],
        )
    now = now_utc()
    for row in members:
        await end_place(tenant, row, now)
    await invites.cancel_open_invites(tenant, outbox, thread, actor_id=actor.agent_id, reason="resolved")
    org = await tenant.organization()
    previous = thread.status
    thread.status = ThreadStatus.RESOLVED
    thread.resolved_at = now
    if thread.primary_agent_id is not None:
        thread.last_primary_agent_id = thread.primary_agent_id
        if org.unassign_on_resolve:
            thread.primary_agent_id = None
    await thread.save(
        update_fields=["status", "resolved_at", "primary_agent_id", "last_primary_agent_id", "updated_at"]
    )
    thread_event(
        outbox,
        thread,
        "STATUS_CHANGED",
        actor_id=actor.agent_id,
        status=thread.status.value,
        previous=previous.value,
        revoked=[row.agent_id for row in members],
    )
    return thread
