"""Changing places on a thread: permissions, removal, leaving, resolving."""

from __future__ import annotations

from switchboard.events.outbox import Outbox
from switchboard.events.types import CollaboratorLeft, CollaboratorRemoved, PermissionChanged, ThreadStatusChanged
from switchboard.models import Collaborator, Thread
from switchboard.rules import policy
from switchboard.rules.enums import CollaboratorRole, Permission, ThreadStatus
from switchboard.rules.problems import conflict, forbidden, invalid, not_found
from switchboard.services.invite_changes import cancel_open_invites
from switchboard.services.places import (
    active_collaborators,
    as_place,
    end_place,
    lock_thread,
    now_utc,
    place_of,
    require_manager,
    thread_snapshot,
)
from switchboard.services.tenancy import Tenant

AGENT = ("agent_id",)


def _target(members: list[Collaborator], agent_id: int) -> Collaborator:
    target = place_of(members, agent_id)
    if target is None:
        raise not_found("active collaborator", AGENT)
    return target


async def change_permission(
    tenant: Tenant,
    outbox: Outbox,
    caller: policy.Caller,
    *,
    thread_pk: int,
    agent_pk: int,
    permission: Permission,
    role: CollaboratorRole | None,
) -> Collaborator:
    thread = await lock_thread(tenant, thread_pk)
    members = await active_collaborators(tenant, thread.id)
    require_manager(caller, members)
    target = _target(members, agent_pk)
    if target.role is CollaboratorRole.PRIMARY:
        raise invalid("the primary's place changes only by transfer", AGENT)
    if role is CollaboratorRole.PRIMARY:
        raise invalid("use requestTransfer to make someone primary", ("role",))
    new_role = role or target.role
    if new_role is CollaboratorRole.OBSERVER and permission is not Permission.READ:
        raise invalid("an OBSERVER always has READ permission", ("permission",))
    if (new_role, permission) == (target.role, target.permission):
        return target
    before, before_role = target.permission, target.role
    target.role, target.permission = new_role, permission
    await target.save(update_fields=["role", "permission"])
    outbox.add(
        PermissionChanged(
            org=tenant.org,
            thread_id=thread.id,
            actor_id=caller.agent_id,
            collaborator_id=target.id,
            agent_id=target.agent_id,
            permission=permission,
            previous_permission=before,
            role=new_role,
            previous_role=before_role,
            snapshot=thread_snapshot(thread, target),
        )
    )
    return target


async def remove_collaborator(
    tenant: Tenant, outbox: Outbox, caller: policy.Caller, *, thread_pk: int, agent_pk: int
) -> Collaborator:
    thread = await lock_thread(tenant, thread_pk)
    members = await active_collaborators(tenant, thread.id)
    require_manager(caller, members)
    target = _target(members, agent_pk)
    if target.role is CollaboratorRole.PRIMARY:
        raise invalid("the primary cannot be removed; transfer or resolve the thread", AGENT)
    await end_place(tenant, target, now_utc())
    outbox.add(
        CollaboratorRemoved(
            org=tenant.org,
            thread_id=thread.id,
            actor_id=caller.agent_id,
            collaborator_id=target.id,
            agent_id=target.agent_id,
            snapshot=thread_snapshot(thread, target),
        )
    )
    return target


async def leave_thread(tenant: Tenant, outbox: Outbox, caller: policy.Caller, *, thread_pk: int) -> Collaborator:
    thread = await lock_thread(tenant, thread_pk)
    members = await active_collaborators(tenant, thread.id)
    mine = place_of(members, caller.agent_id)
    if mine is None:
        raise not_found("your place on this thread", ("thread_id",))
    if mine.role is CollaboratorRole.PRIMARY:
        # Leaving would strand the visitor: the primary hands over or resolves.
        raise conflict("the primary cannot leave; use requestTransfer or resolveThread", ("thread_id",))
    await end_place(tenant, mine, now_utc())
    outbox.add(
        CollaboratorLeft(
            org=tenant.org,
            thread_id=thread.id,
            actor_id=caller.agent_id,
            collaborator_id=mine.id,
            agent_id=mine.agent_id,
            snapshot=thread_snapshot(thread, mine),
        )
    )
    return mine


async def resolve_thread(tenant: Tenant, outbox: Outbox, caller: policy.Caller, *, thread_pk: int) -> Thread:
    """Resolve: revoke every place, cancel open invites, clear the primary when the org says so."""
    thread = await lock_thread(tenant, thread_pk)
    members = await active_collaborators(tenant, thread.id)
    if not policy.may_resolve(caller, as_place(place_of(members, caller.agent_id))):
        raise forbidden("only the primary, a supervisor or an admin may resolve the thread")
    if thread.status is not ThreadStatus.ACTIVE:
        raise conflict(f"only an ACTIVE thread can be resolved; it is {thread.status.value}", ("thread_id",))
    now = now_utc()
    for row in members:
        await end_place(tenant, row, now)
    await cancel_open_invites(tenant, outbox, thread, actor_id=caller.agent_id, reason="resolved")
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
    outbox.add(
        ThreadStatusChanged(
            org=tenant.org,
            thread_id=thread.id,
            actor_id=caller.agent_id,
            status=thread.status,
            previous=previous,
            revoked=tuple(row.agent_id for row in members),
            snapshot=thread_snapshot(thread),
        )
    )
    return thread
