"""Answering invites (accept, reject, defer), withdrawing them, deciding approvals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from switchboard.events.outbox import Outbox
from switchboard.events.types import CollaboratorJoined, PrimaryTransferred
from switchboard.models import Agent, Collaborator, Invite, Thread
from switchboard.rules import invites as rules
from switchboard.rules import policy
from switchboard.rules import validation as v
from switchboard.rules.caps import collaborator_cap, seat_free, seats_taken
from switchboard.rules.enums import (
    CollaboratorRole,
    ErrorCode,
    InviteAction,
    InviteType,
    Permission,
    ThreadStatus,
)
from switchboard.rules.invites import Step
from switchboard.rules.problems import DomainError, conflict, forbidden, limit_reached, not_found
from switchboard.services.invite_changes import close_invite, invite_event
from switchboard.services.places import (
    CLOSED_THREAD,
    active_collaborators,
    add_collaboration,
    free_thread,
    lock_thread,
    now_utc,
    place_of,
    primary_of,
    require_manager,
    take_collaboration,
    take_thread,
    thread_snapshot,
)
from switchboard.services.tenancy import Tenant

INVITE = ("invite_id",)


@dataclass
class Answer:
    invite: Invite
    collaborator: Collaborator | None = None
    thread: Thread | None = None
    # The primary changed hands: capacity was freed for routing.
    transferred: bool = False


async def _locked_invite(tenant: Tenant, invite_pk: int) -> tuple[Thread, Invite]:
    """Thread first, then the invite: the one lock order every invite change uses."""
    peek = await tenant.get(Invite, invite_pk)
    if peek is None:
        raise not_found("invite", INVITE)
    thread = await lock_thread(tenant, peek.thread_id, INVITE)
    invite = await tenant.get(Invite, invite_pk, for_update=True)
    if invite is None:
        raise not_found("invite", INVITE)
    return thread, invite


async def respond(
    tenant: Tenant,
    outbox: Outbox,
    caller: policy.Caller,
    *,
    invite_pk: int,
    action: InviteAction,
    message: str | None,
    estimated_seconds: int | None,
) -> Answer:
    message = v.text(message, ("message",), limit=v.MESSAGE_MAX)
    estimated_seconds = v.number(estimated_seconds, ("estimated_seconds",), 0, rules.MAX_EXPIRY_SECONDS)
    thread, invite = await _locked_invite(tenant, invite_pk)
    if not policy.may_answer(caller, invite.invitee_id):
        raise forbidden("only the invitee may answer an invite", INVITE)
    now = now_utc()
    if not rules.answerable(invite.status, invite.expires_at, now):
        raise rules.not_answerable(invite.status, invite.expires_at, now, INVITE)
    invite.responded_at = now
    invite.response_message = message  # type: ignore[assignment]
    invite.estimated_seconds = estimated_seconds
    previous = invite.status
    answer = Answer(invite, thread=thread)
    step = rules.ANSWER_STEP[action]
    if step is Step.ACCEPT:
        accept = _accept_transfer if invite.type is InviteType.TRANSFER else _accept_collaboration
        answer = await accept(tenant, outbox, thread, invite, now)
    invite.status, kind = rules.after(step)
    await invite.save(update_fields=["status", "responded_at", "response_message", "estimated_seconds"])
    await invite_event(tenant, outbox, thread, invite, kind, actor_id=caller.agent_id, previous=previous)
    return answer


async def _check_seat(tenant: Tenant, thread: Thread, members: list[Collaborator]) -> None:
    """Accepting turns the invite's seat into a place: it needs a free seat among active places.

    Counted under the thread lock, so of several accepts racing for the last
    seat (after the cap was lowered, say) exactly one wins.
    """
    cap = collaborator_cap(await tenant.limits(), thread.thread_class)
    if not seat_free(cap, seats_taken(c.role for c in members)):
        raise limit_reached(f"the thread's collaborator limit ({cap}) is reached", INVITE)


async def _accept_collaboration(
    tenant: Tenant, outbox: Outbox, thread: Thread, invite: Invite, now: datetime
) -> Answer:
    if thread.status in CLOSED_THREAD:
        raise DomainError(ErrorCode.NOT_ANSWERABLE, f"the thread is {thread.status.value}", INVITE)
    members = await active_collaborators(tenant, thread.id)
    if place_of(members, invite.invitee_id) is not None:
        raise conflict("you are already on this thread", INVITE)
    await _check_seat(tenant, thread, members)
    if not await take_collaboration(tenant, invite.invitee_id):
        raise limit_reached("you collaborate on as many threads as allowed", INVITE)
    row = await tenant.create(
        Collaborator,
        thread_id=thread.id,
        agent_id=invite.invitee_id,
        role=rules.ROLE_OF[invite.type],
        permission=rules.permission_for(invite.type, invite.permission),
        active=True,
        invited_by_id=invite.inviter_id,
        joined_at=now,
    )
    outbox.add(
        CollaboratorJoined(
            org=tenant.org,
            thread_id=thread.id,
            actor_id=invite.invitee_id,
            invite_id=invite.id,
            collaborator_id=row.id,
            agent_id=row.agent_id,
            snapshot=thread_snapshot(thread, row),
        )
    )
    return Answer(invite, collaborator=row, thread=thread)


async def _accept_transfer(tenant: Tenant, outbox: Outbox, thread: Thread, invite: Invite, now: datetime) -> Answer:
    """The invitee becomes PRIMARY (ADMIN), the former primary an EXPERT with WRITE, in one transaction."""
    if thread.status is not ThreadStatus.ACTIVE:
        message = f"the thread is {thread.status.value}; only ACTIVE threads change hands"
        raise DomainError(ErrorCode.NOT_ANSWERABLE, message, INVITE)
    members = await active_collaborators(tenant, thread.id)
    if place_of(members, invite.invitee_id) is not None:
        raise conflict("you are already on this thread", INVITE)
    former = primary_of(members)
    if former is not None:
        await _check_seat(tenant, thread, members)
    if not await take_thread(tenant, invite.invitee_id):
        raise limit_reached("you serve as many threads as allowed", INVITE)
    if former is not None:
        former.role, former.permission = CollaboratorRole.EXPERT, Permission.WRITE
        await former.save(update_fields=["role", "permission"])
        await free_thread(tenant, former.agent_id)
        await add_collaboration(tenant, former.agent_id)
    row = await tenant.create(
        Collaborator,
        thread_id=thread.id,
        agent_id=invite.invitee_id,
        role=CollaboratorRole.PRIMARY,
        permission=Permission.ADMIN,
        active=True,
        invited_by_id=invite.inviter_id,
        joined_at=now,
    )
    previous_primary = thread.primary_agent_id
    if previous_primary is not None:
        thread.last_primary_agent_id = previous_primary
    thread.primary_agent_id = invite.invitee_id
    thread.transfer_count += 1
    await thread.save(update_fields=["primary_agent_id", "last_primary_agent_id", "transfer_count", "updated_at"])
    outbox.add(
        PrimaryTransferred(
            org=tenant.org,
            thread_id=thread.id,
            actor_id=invite.invitee_id,
            invite_id=invite.id,
            collaborator_id=row.id,
            agent_id=row.agent_id,
            previous_agent_id=previous_primary,
            previous_collaborator_id=former.id if former is not None else None,
            snapshot=thread_snapshot(thread, row),
        )
    )
    return Answer(invite, collaborator=row, thread=thread, transferred=True)


async def withdraw(tenant: Tenant, outbox: Outbox, caller: policy.Caller, *, invite_pk: int) -> Invite:
    thread, invite = await _locked_invite(tenant, invite_pk)
    require_manager(caller, await active_collaborators(tenant, thread.id))
    if not rules.can(Step.WITHDRAW, invite.status):
        raise conflict(f"the invite is already {invite.status.value}", INVITE)
    await close_invite(tenant, outbox, thread, invite, Step.WITHDRAW, actor_id=caller.agent_id)
    return invite


async def decide_approval(
    tenant: Tenant, outbox: Outbox, caller: policy.Caller, *, invite_pk: int, approve: bool, message: str | None
) -> Invite:
    """A supervisor of the inviter's department (or an admin) approves or denies."""
    message = v.text(message, ("message",), limit=v.MESSAGE_MAX)
    thread, invite = await _locked_invite(tenant, invite_pk)
    inviter = await tenant.get(Agent, invite.inviter_id)
    department = inviter.department if inviter is not None else None
    if not policy.may_decide_approval(caller, department, inviter is not None):
        raise forbidden("only a supervisor of the inviter's department may decide", INVITE)
    now = now_utc()
    if not rules.can(Step.APPROVE, invite.status) or invite.expires_at <= now:
        raise rules.not_awaiting_approval(invite.status, invite.expires_at, now, INVITE)
    if not approve:
        await close_invite(
            tenant, outbox, thread, invite, Step.DENY, actor_id=caller.agent_id, reason="denied", message=message
        )
        return invite
    if thread.status in CLOSED_THREAD:
        raise conflict(f"the thread is {thread.status.value}", INVITE)
    lifetime = invite.expires_at - invite.created_at
    previous = invite.status
    invite.status, kind = rules.after(Step.APPROVE)
    invite.approved_by_id = caller.agent_id
    # The invitee gets the whole answering time from the approval on.
    invite.expires_at = now + lifetime
    await invite.save(update_fields=["status", "approved_by_id", "expires_at"])
    await invite_event(
        tenant, outbox, thread, invite, kind, actor_id=caller.agent_id, previous=previous, message=message
    )
    return invite
