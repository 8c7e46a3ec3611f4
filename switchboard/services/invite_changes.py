"""Invite events, and the steps that close an open invite (withdraw, expire, cancel).

Invite events go on topic ``invite`` with the inviter, the invitee and (while an
approval is involved) the supervisors of the inviter's department as audience;
each is mirrored on the thread (INVITE_CHANGED) so that the console watching
the thread sees invites live.
"""

from __future__ import annotations

from datetime import datetime

from switchboard.events.outbox import Outbox
from switchboard.events.snapshots import snapshot
from switchboard.events.types import InviteChanged, ThreadInviteChanged
from switchboard.models import Agent, Invite, Thread
from switchboard.rules import invites as rules
from switchboard.rules.enums import AgentRole, InviteEventKind, InviteStatus
from switchboard.rules.invites import OPEN, Step
from switchboard.services.places import open_invites
from switchboard.services.tenancy import Tenant


async def supervisors_of(tenant: Tenant, department: str | None) -> list[int]:
    qs = tenant.q(Agent).filter(role=AgentRole.SUPERVISOR)
    qs = qs.filter(department=department) if department is not None else qs.filter(department__isnull=True)
    return [row.id for row in await qs.only("id")]


async def _audience(tenant: Tenant, invite: Invite, with_supervisors: bool) -> tuple[int, ...]:
    audience = [invite.inviter_id, invite.invitee_id]
    if with_supervisors:
        inviter = await tenant.get(Agent, invite.inviter_id)
        for pk in await supervisors_of(tenant, inviter.department if inviter else None):
            if pk not in audience:
                audience.append(pk)
    return tuple(audience)


async def invite_event(
    tenant: Tenant,
    outbox: Outbox,
    thread: Thread,
    invite: Invite,
    kind: InviteEventKind,
    *,
    actor_id: int | None,
    previous: InviteStatus | None = None,
    reason: str | None = None,
    message: str | None = None,
) -> None:
    """The invite event for its audience, and INVITE_CHANGED on the thread."""
    approval = InviteStatus.PENDING_APPROVAL in (previous, invite.status)
    snap = {"invite": snapshot("invite", invite)}
    audience = await _audience(tenant, invite, approval)
    outbox.add(
        InviteChanged(
            org=tenant.org,
            kind=kind,
            thread_id=invite.thread_id,
            invite_id=invite.id,
            actor_id=actor_id,
            audience=audience,
            status=invite.status,
            previous=previous,
            reason=reason,
            message=message,
            snapshot=snap,
        )
    )
    outbox.add(
        ThreadInviteChanged(
            org=tenant.org,
            invite_kind=kind,
            thread_id=invite.thread_id,
            invite_id=invite.id,
            actor_id=actor_id,
            status=invite.status,
            previous=previous,
            reason=reason,
            message=message,
            snapshot={**snap, "thread": snapshot("thread", thread)},
        )
    )


async def close_invite(
    tenant: Tenant,
    outbox: Outbox,
    thread: Thread,
    invite: Invite,
    step: Step,
    *,
    actor_id: int | None,
    reason: str | None = None,
    message: str | None = None,
) -> bool:
    """Move an open invite to a final status, only if it is still open (a sweeper may race us)."""
    status, kind = rules.after(step)
    changed = await tenant.q(Invite).filter(id=invite.id, status__in=list(OPEN)).update(status=status)
    if not changed:
        return False
    previous, invite.status = invite.status, status
    await invite_event(
        tenant, outbox, thread, invite, kind, actor_id=actor_id, previous=previous, reason=reason, message=message
    )
    return True


async def cancel_open_invites(
    tenant: Tenant, outbox: Outbox, thread: Thread, *, actor_id: int | None, reason: str
) -> None:
    """CANCELLED for every invite of ``thread`` still open (the thread is resolved or handed back)."""
    for invite in await open_invites(tenant, thread.id):
        await close_invite(tenant, outbox, thread, invite, Step.CANCEL, actor_id=actor_id, reason=reason)


async def expire(tenant: Tenant, outbox: Outbox, invite_pk: int, now: datetime) -> bool:
    """Expire one invite if it is still open and due; False when another process got there first.

    The row lock makes a second sweeper wait, then see the invite EXPIRED and
    skip it: one EXPIRED event per invite however many processes sweep.
    """
    invite = await tenant.get(Invite, invite_pk, for_update=True)
    if invite is None or not rules.can(Step.EXPIRE, invite.status) or invite.expires_at > now:
        return False
    thread = await tenant.get(Thread, invite.thread_id)
    assert thread is not None  # an invite is deleted with its thread
    previous = invite.status
    invite.status, kind = rules.after(Step.EXPIRE)
    await invite.save(update_fields=["status"])
    await invite_event(tenant, outbox, thread, invite, kind, actor_id=None, previous=previous)
    return True
