"""Agents' places on threads: locking the thread, finding places, the capacity counters.

Every change to a thread's places and invites starts by locking the thread row
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite runs one transaction at a time
anyway), so that those changes are serialised across all processes and the
collaborator cap is counted on a stable picture.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.expressions import F

from switchboard.events.snapshots import snapshot
from switchboard.events.types import Snapshot
from switchboard.models import Agent, Collaborator, Invite, Thread
from switchboard.rules import policy
from switchboard.rules.enums import CollaboratorRole, ThreadStatus
from switchboard.rules.invites import OPEN
from switchboard.rules.problems import Field, forbidden, not_found
from switchboard.services.tenancy import Tenant

CLOSED_THREAD = (ThreadStatus.RESOLVED, ThreadStatus.CLOSED)
THREAD: Field = ("thread_id",)


def now_utc() -> datetime:
    return datetime.now(UTC)


async def lock_thread(tenant: Tenant, pk: int, field: Field = THREAD) -> Thread:
    """The thread, locked for the rest of the transaction; NOT_FOUND when missing or foreign."""
    thread = await tenant.get(Thread, pk, for_update=True)
    if thread is None:
        raise not_found("thread", field)
    return thread


async def active_collaborators(tenant: Tenant, thread_id: int) -> list[Collaborator]:
    return list(await tenant.q(Collaborator).filter(thread_id=thread_id, active=True).order_by("id"))


async def open_invites(tenant: Tenant, thread_id: int) -> list[Invite]:
    return list(await tenant.q(Invite).filter(thread_id=thread_id, status__in=list(OPEN)).order_by("id"))


def place_of(members: list[Collaborator], agent_id: int | None) -> Collaborator | None:
    if agent_id is None:
        return None
    return next((c for c in members if c.agent_id == agent_id), None)


def as_place(row: Collaborator | None) -> policy.Place | None:
    return policy.Place(row.role, row.permission) if row is not None else None


def require_manager(caller: policy.Caller, members: list[Collaborator]) -> Collaborator | None:
    """The caller's place when they may manage the thread; FORBIDDEN_ACTION otherwise."""
    place = place_of(members, caller.agent_id)
    if not policy.may_manage(caller, as_place(place)):
        raise forbidden("only the primary or a collaborator with ADMIN permission may do this")
    return place


def primary_of(members: list[Collaborator]) -> Collaborator | None:
    return next((c for c in members if c.role is CollaboratorRole.PRIMARY), None)


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


async def end_place(tenant: Tenant, row: Collaborator, now: datetime) -> None:
    """A place ends and its seat (primary thread or collaboration) frees up, in the caller's transaction."""
    row.active, row.left_at = False, now
    await row.save(update_fields=["active", "left_at"])
    if row.role is CollaboratorRole.PRIMARY:
        await free_thread(tenant, row.agent_id)
    else:
        await free_collaboration(tenant, row.agent_id)


def thread_snapshot(thread: Thread, collaborator: Collaborator | None = None) -> Snapshot:
    """What a thread event renders with: the thread (and collaborator) as they are at commit."""
    snap = {"thread": snapshot("thread", thread)}
    if collaborator is not None:
        snap["collaborator"] = snapshot("collaborator", collaborator)
    return snap
