"""Invites: sending (one per invitee), answering, withdrawing, approving, expiring.

Invite events go on topic ``invite`` with the inviter, the invitee and (while an
approval is involved) the supervisors of the inviter's department as audience;
each is mirrored by an INVITE_CHANGED event on topic ``thread`` so that the
console watching the thread sees invites live.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from switchboard.domain import validation as v
from switchboard.domain.collaboration import (
    CLOSED_THREAD,
    Actor,
    active_collaborators,
    add_collaboration,
    free_thread,
    lock_thread,
    now_utc,
    place_of,
    require_manager,
    snapshot,
    take_collaboration,
    take_thread,
    thread_cap,
    thread_event,
)
from switchboard.domain.enums import (
    OPEN_INVITE_STATUSES,
    AgentRole,
    AgentStatus,
    CollaboratorRole,
    ErrorCode,
    InviteAction,
    InviteStatus,
    InviteType,
    Permission,
    ThreadStatus,
    Urgency,
)
from switchboard.domain.ratelimit import InviteRateLimiter, Slot
from switchboard.domain.threads import collaborator_limit
from switchboard.errors import DomainError, Problem, invalid, not_found
from switchboard.ids import BadId, decode_as
from switchboard.models import Agent, Collaborator, Invite, Thread
from switchboard.subscriptions.outbox import Outbox
from switchboard.tenancy import Tenant

MAX_EXPIRY_SECONDS = 86400
MAX_INVITEES = 50
AVAILABLE = (AgentStatus.ONLINE, AgentStatus.AWAY)
DEFAULT_PERMISSION = {
    InviteType.EXPERT: Permission.WRITE,
    InviteType.GUIDE: Permission.WRITE,
    InviteType.ASSISTANT: Permission.WRITE,
    InviteType.OBSERVER: Permission.READ,
    InviteType.TRANSFER: Permission.ADMIN,
}
ROLE_OF = {
    InviteType.EXPERT: CollaboratorRole.EXPERT,
    InviteType.GUIDE: CollaboratorRole.GUIDE,
    InviteType.ASSISTANT: CollaboratorRole.ASSISTANT,
    InviteType.OBSERVER: CollaboratorRole.OBSERVER,
}
ANSWERABLE = (InviteStatus.PENDING, InviteStatus.DEFERRED)


def permission_for(kind: InviteType, asked: Permission | None) -> Permission:
    """OBSERVER is always READ and TRANSFER always ADMIN; the others default by type."""
    if kind in (InviteType.OBSERVER, InviteType.TRANSFER):
        return DEFAULT_PERMISSION[kind]
    return asked or DEFAULT_PERMISSION[kind]


# ---------------------------------------------------------------- audience and events


async def supervisors_of(tenant: Tenant, department: str | None) -> list[int]:
    qs = tenant.q(Agent).filter(role=AgentRole.SUPERVISOR)
    qs = qs.filter(department=department) if department is not None else qs.filter(department__isnull=True)
    return [row.id for row in await qs.only("id")]


async def _audience(tenant: Tenant, invite: Invite, with_supervisors: bool) -> list[int]:
    audience = [invite.inviter_id, invite.invitee_id]
    if with_supervisors:
        inviter = await tenant.get(Agent, invite.inviter_id)
        for pk in await supervisors_of(tenant, inviter.department if inviter else None):
            if pk not in audience:
                audience.append(pk)
    return audience


async def invite_event(
    tenant: Tenant,
    outbox: Outbox,
    thread: Thread,
    invite: Invite,
    kind: str,
    *,
    actor_id: int | None,
    previous: InviteStatus | None = None,
    **payload: Any,
) -> None:
    """The invite event for its audience, and INVITE_CHANGED on the thread."""
    approval = InviteStatus.PENDING_APPROVAL in (previous, invite.status)
    audience = await _audience(tenant, invite, approval)
    data = {"status": invite.status.value, **payload}
    if previous is not None:
        data["previous"] = previous.value
    snap = {"invite": snapshot("invite", invite)}
    outbox.add(
        tenant.org,
        "invite",
        kind,
        thread_id=invite.thread_id,
        invite_id=invite.id,
        actor_id=actor_id,
        audience=audience,
        payload={**data, "snapshot": snap},
    )
    outbox.add(
        tenant.org,
        "thread",
        "INVITE_CHANGED",
        thread_id=invite.thread_id,
        invite_id=invite.id,
        actor_id=actor_id,
        payload={"invite_kind": kind, **data, "snapshot": {**snap, "thread": snapshot("thread", thread)}},
    )


async def close_invite(
    tenant: Tenant,
    outbox: Outbox,
    thread: Thread,
    invite: Invite,
    status: InviteStatus,
    kind: str,
    *,
    actor_id: int | None,
    **payload: Any,
) -> bool:
    """Move an open invite to a final status, only if it is still open (a sweeper may race us)."""
    changed = await tenant.q(Invite).filter(id=invite.id, status__in=list(OPEN_INVITE_STATUSES)).update(status=status)
    if not changed:
        return False
    previous, invite.status = invite.status, status
    await invite_event(tenant, outbox, thread, invite, kind, actor_id=actor_id, previous=previous, **payload)
    return True


async def cancel_open_invites(
    tenant: Tenant, outbox: Outbox, thread: Thread, *, actor_id: int | None, reason: str
) -> None:
    """CANCELLED for every invite of ``thread`` still open (the thread is resolved or handed back)."""
    open_invites = await (
        tenant.q(Invite).filter(thread_id=thread.id, status__in=list(OPEN_INVITE_STATUSES)).order_by("id")
    )
    for invite in open_invites:
        await close_invite(
            tenant, outbox, thread, invite, InviteStatus.CANCELLED, "CANCELLED", actor_id=actor_id, reason=reason
        )


# ---------------------------------------------------------------- sending


@dataclass
class InviteRequest:
    thread_pk: int
    # (global ID as sent, field path of that invitee for its userError)
    invitees: list[tuple[str, list[str]]]
    kind: InviteType = InviteType.EXPERT
    permission: Permission | None = None
    urgency: Urgency = Urgency.NORMAL
    message: str | None = None
    expires_in: int | None = None
    thread_field: list[str] = field(default_factory=lambda: ["input", "threadId"])
    message_field: list[str] = field(default_factory=lambda: ["input", "message"])


@dataclass
class Sent:
    thread: Thread
    invites: list[Invite]
    problems: list[Problem]


async def _inviter(
    tenant: Tenant, actor: Actor, thread: Thread, members: list[Collaborator], kind: InviteType
) -> Agent:
    """The agent the invites come from: the caller, or the primary for admin and service callers.

    Handing the thread over is the primary's decision alone (contract: "the
    primary hands the thread to another agent"); an ADMIN collaborator may
    invite helpers but not give the thread away.
    """
    if actor.agent is not None:
        place = require_manager(actor, members)
        if kind is InviteType.TRANSFER and (place is None or place.role is not CollaboratorRole.PRIMARY):
            raise DomainError(ErrorCode.FORBIDDEN_ACTION, "only the primary may hand the thread over")
        return actor.agent
    primary = next((c for c in members if c.role is CollaboratorRole.PRIMARY), None)
    agent = await tenant.get(Agent, primary.agent_id) if primary is not None else None
    if agent is None:
        raise DomainError(ErrorCode.CONFLICT, "the thread has no primary to send the invite from")
    return agent


async def send_invites(
    tenant: Tenant,
    outbox: Outbox,
    actor: Actor,
    req: InviteRequest,
    limiter: InviteRateLimiter,
    slots: list[Slot],
) -> Sent:
    """One invite per invitee; a rule an invitee breaks becomes that invitee's userError only."""
    message = v.text(req.message, req.message_field, limit=v.MESSAGE_MAX)
    expires_in = v.number(req.expires_in, ["input", "expiresInSeconds"], 1, MAX_EXPIRY_SECONDS)
    if not req.invitees:
        raise invalid("at least one invitee is required", ["input", "inviteeIds"])
    if len(req.invitees) > MAX_INVITEES:
        raise invalid(f"at most {MAX_INVITEES} invitees per call, got {len(req.invitees)}", ["input", "inviteeIds"])
    if req.kind is InviteType.TRANSFER and len(req.invitees) != 1:
        raise invalid("a TRANSFER invite goes to exactly one agent", ["input", "inviteeIds"])
    permission = permission_for(req.kind, req.permission)

    thread = await lock_thread(tenant, req.thread_pk, req.thread_field)
    members = await active_collaborators(tenant, thread.id)
    if thread.status in CLOSED_THREAD:
        raise DomainError(ErrorCode.CONFLICT, f"a {thread.status.value} thread takes no invites", req.thread_field)
    inviter = await _inviter(tenant, actor, thread, members, req.kind)
    open_invites = list(await tenant.q(Invite).filter(thread_id=thread.id, status__in=list(OPEN_INVITE_STATUSES)))
    if req.kind is InviteType.TRANSFER:
        if thread.status is not ThreadStatus.ACTIVE or thread.primary_agent_id is None:
            raise DomainError(
                ErrorCode.CONFLICT, "only an ACTIVE thread with a primary can be transferred", req.thread_field
            )
        if any(i.type is InviteType.TRANSFER for i in open_invites):
            raise DomainError(ErrorCode.CONFLICT, "a transfer of this thread is already open", req.thread_field)

    org = await tenant.organization()
    cap = collaborator_limit(org, thread.thread_class)
    taken = sum(1 for c in members if c.role is not CollaboratorRole.PRIMARY) + len(open_invites)
    now = now_utc()
    lifetime = timedelta(seconds=expires_in or org.invite_expiry_seconds)
    wanted: list[tuple[int | None, str, list[str]]] = []
    for raw, path in req.invitees:
        try:
            wanted.append((decode_as(raw, "Agent"), raw, path))
        except BadId:
            wanted.append((None, raw, path))
    agents = await tenant.many(Agent, [pk for pk, _, _ in wanted if pk is not None])
    invited_now: set[int] = {i.invitee_id for i in open_invites}

    sent: list[Invite] = []
    problems: list[Problem] = []
    for pk, raw, path in wanted:
        try:
            if pk is None:
                raise invalid(f"{raw!r} is not the ID of an Agent", path)
            invitee = agents.get(pk)
            if invitee is None:
                raise not_found("agent", path)
            _check_invitee(inviter, invitee, members, invited_now, req.kind, path)
            if taken >= cap:
                raise DomainError(
                    ErrorCode.LIMIT_REACHED,
                    f"the thread's collaborator limit ({cap}) is reached, open invites included",
                    path,
                )
            slot = await limiter.acquire(tenant, inviter.id, org.invites_per_agent_per_minute, now)
            if slot is None:
                raise DomainError(
                    ErrorCode.RATE_LIMITED,
                    f"at most {org.invites_per_agent_per_minute} invites per agent per minute",
                    path,
                )
            slots.append(slot)
        except DomainError as exc:
            problems.append(exc.problem)
            continue
        needs_approval = org.cross_department_approval and inviter.department != invitee.department
        invite = await tenant.create(
            Invite,
            thread_id=thread.id,
            inviter_id=inviter.id,
            invitee_id=invitee.id,
            type=req.kind,
            permission=permission,
            urgency=req.urgency,
            message=message,
            status=InviteStatus.PENDING_APPROVAL if needs_approval else InviteStatus.PENDING,
            created_at=now,
            expires_at=now + lifetime,
        )
        taken += 1
        invited_now.add(invitee.id)
        sent.append(invite)
        await invite_event(tenant, outbox, thread, invite, "CREATED", actor_id=actor.agent_id or inviter.id)
    return Sent(thread, sent, problems)


def _check_invitee(
    inviter: Agent,
    invitee: Agent,
    members: list[Collaborator],
    invited: set[int],
    kind: InviteType,
    path: list[str],
) -> None:
    if invitee.id == inviter.id:
        raise invalid("an agent cannot invite themselves", path)
    if place_of(members, invitee.id) is not None:
        raise DomainError(ErrorCode.CONFLICT, f"{invitee.name} is already on this thread", path)
    if invitee.id in invited:
        raise DomainError(ErrorCode.CONFLICT, f"{invitee.name} already has an open invite to this thread", path)
    if invitee.status not in AVAILABLE:
        raise DomainError(ErrorCode.AGENT_UNAVAILABLE, f"{invitee.name} is {invitee.status.value}", path)
    if kind is InviteType.TRANSFER:
        # The invitee would become primary: what matters is their thread capacity.
        if invitee.active_thread_count >= invitee.max_concurrent_threads:
            raise DomainError(ErrorCode.LIMIT_REACHED, f"{invitee.name} serves as many threads as allowed", path)
    elif invitee.active_collaboration_count >= invitee.max_concurrent_collaborations:
        raise DomainError(ErrorCode.LIMIT_REACHED, f"{invitee.name} collaborates on as many threads as allowed", path)


# ---------------------------------------------------------------- answering


@dataclass
class Answer:
    invite: Invite
    collaborator: Collaborator | None = None
    thread: Thread | None = None
    # The primary changed hands: capacity was freed for routing.
    transferred: bool = False


def _not_answerable(invite: Invite, now: datetime) -> DomainError:
    path = ["input", "inviteId"]
    if invite.status is InviteStatus.EXPIRED or (invite.status in OPEN_INVITE_STATUSES and invite.expires_at <= now):
        return DomainError(ErrorCode.EXPIRED, "the invite has expired", path)
    return DomainError(ErrorCode.NOT_ANSWERABLE, f"the invite is {invite.status.value}", path)


async def _locked_invite(tenant: Tenant, invite_pk: int) -> tuple[Thread, Invite]:
    """Thread first, then the invite: the one lock order every invite change uses."""
    path = ["input", "inviteId"]
    peek = await tenant.get(Invite, invite_pk)
    if peek is None:
        raise not_found("invite", path)
    thread = await lock_thread(tenant, peek.thread_id, path)
    invite = await tenant.get(Invite, invite_pk, for_update=True)
    if invite is None:
        raise not_found("invite", path)
    return thread, invite


async def respond(
    tenant: Tenant,
    outbox: Outbox,
    actor: Actor,
    *,
    invite_pk: int,
    action: InviteAction,
    message: str | None,
    estimated_seconds: int | None,
) -> Answer:
    message = v.text(message, ["input", "message"], limit=v.MESSAGE_MAX)
    estimated_seconds = v.number(estimated_seconds, ["input", "estimatedSeconds"], 0, MAX_EXPIRY_SECONDS)
    thread, invite = await _locked_invite(tenant, invite_pk)
    if invite.invitee_id != actor.agent_id:
        raise DomainError(ErrorCode.FORBIDDEN_ACTION, "only the invitee may answer an invite", ["input", "inviteId"])
    now = now_utc()
    if invite.status not in ANSWERABLE or invite.expires_at <= now:
        raise _not_answerable(invite, now)
    invite.responded_at = now
    invite.response_message = message  # type: ignore[assignment]
    invite.estimated_seconds = estimated_seconds
    previous = invite.status
    if action is InviteAction.DEFER:
        invite.status = InviteStatus.DEFERRED
        await _save_answer(invite)
        await invite_event(tenant, outbox, thread, invite, "DEFERRED", actor_id=actor.agent_id, previous=previous)
        return Answer(invite, thread=thread)
    if action is InviteAction.REJECT:
        invite.status = InviteStatus.REJECTED
        await _save_answer(invite)
        await invite_event(tenant, outbox, thread, invite, "REJECTED", actor_id=actor.agent_id, previous=previous)
        return Answer(invite, thread=thread)
    accept = _accept_transfer if invite.type is InviteType.TRANSFER else _accept_collaboration
    answer = await accept(tenant, outbox, thread, invite, now)
    invite.status = InviteStatus.ACCEPTED
    await _save_answer(invite)
    await invite_event(tenant, outbox, thread, invite, "ACCEPTED", actor_id=actor.agent_id, previous=previous)
    return answer


async def _save_answer(invite: Invite) -> None:
    await invite.save(update_fields=["status", "responded_at", "response_message", "estimated_seconds"])


async def _check_seat(tenant: Tenant, thread: Thread, members: list[Collaborator]) -> None:
    """Accepting turns an open invite into a place: it needs a free seat among active collaborators.

    Counted under the thread lock, so of several accepts racing for the last
    seat (after the cap was lowered, say) exactly one wins.
    """
    cap = await thread_cap(tenant, thread)
    active = sum(1 for c in members if c.role is not CollaboratorRole.PRIMARY)
    if active + 1 > cap:
        raise DomainError(
            ErrorCode.LIMIT_REACHED, f"the thread's collaborator limit ({cap}) is reached", ["input", "inviteId"]
        )


async def _accept_collaboration(
    tenant: Tenant, outbox: Outbox, thread: Thread, invite: Invite, now: datetime
) -> Answer:
    if thread.status in CLOSED_THREAD:
        raise DomainError(ErrorCode.NOT_ANSWERABLE, f"the thread is {thread.status.value}", ["input", "inviteId"])
    members = await active_collaborators(tenant, thread.id)
    if place_of(members, invite.invitee_id) is not None:
        raise DomainError(ErrorCode.CONFLICT, "you are already on this thread", ["input", "inviteId"])
    await _check_seat(tenant, thread, members)
    if not await take_collaboration(tenant, invite.invitee_id):
        raise DomainError(
            ErrorCode.LIMIT_REACHED, "you collaborate on as many threads as allowed", ["input", "inviteId"]
        )
    row = await tenant.create(
        Collaborator,
        thread_id=thread.id,
        agent_id=invite.invitee_id,
        role=ROLE_OF[invite.type],
        permission=permission_for(invite.type, invite.permission),
        active=True,
        invited_by_id=invite.inviter_id,
        joined_at=now,
    )
    thread_event(
        outbox, thread, "COLLABORATOR_JOINED", actor_id=invite.invitee_id, collaborator=row, invite_id=invite.id
    )
    return Answer(invite, collaborator=row, thread=thread)


async def _accept_transfer(tenant: Tenant, outbox: Outbox, thread: Thread, invite: Invite, now: datetime) -> Answer:
    """The invitee becomes PRIMARY (ADMIN), the former primary an EXPERT with WRITE, in one transaction."""
    if thread.status is not ThreadStatus.ACTIVE:
        raise DomainError(
            ErrorCode.NOT_ANSWERABLE,
            f"the thread is {thread.status.value}; only ACTIVE threads change hands",
            ["input", "inviteId"],
        )
    members = await active_collaborators(tenant, thread.id)
    if place_of(members, invite.invitee_id) is not None:
        raise DomainError(ErrorCode.CONFLICT, "you are already on this thread", ["input", "inviteId"])
    former = next((c for c in members if c.role is CollaboratorRole.PRIMARY), None)
    if former is not None:
        await _check_seat(tenant, thread, members)
    if not await take_thread(tenant, invite.invitee_id):
        raise DomainError(ErrorCode.LIMIT_REACHED, "you serve as many threads as allowed", ["input", "inviteId"])
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
    thread_event(
        outbox,
        thread,
        "PRIMARY_TRANSFERRED",
        actor_id=invite.invitee_id,
        collaborator=row,
        invite_id=invite.id,
        previous_agent_id=previous_primary,
        previous_collaborator_id=former.id if former is not None else None,
    )
    return Answer(invite, collaborator=row, thread=thread, transferred=True)


# ---------------------------------------------------------------- withdraw, approve


async def withdraw(tenant: Tenant, outbox: Outbox, actor: Actor, *, invite_pk: int) -> Invite:
    thread, invite = await _locked_invite(tenant, invite_pk)
    require_manager(actor, await active_collaborators(tenant, thread.id))
    if invite.status not in OPEN_INVITE_STATUSES:
        raise DomainError(ErrorCode.CONFLICT, f"the invite is already {invite.status.value}", ["input", "inviteId"])
    await close_invite(tenant, outbox, thread, invite, InviteStatus.WITHDRAWN, "WITHDRAWN", actor_id=actor.agent_id)
    return invite


async def decide_approval(
    tenant: Tenant, outbox: Outbox, actor: Actor, *, invite_pk: int, approve: bool, message: str | None
) -> Invite:
    """A supervisor of the inviter's department (or an admin) approves or denies."""
    message = v.text(message, ["input", "message"], limit=v.MESSAGE_MAX)
    thread, invite = await _locked_invite(tenant, invite_pk)
    if not actor.admin:
        inviter = await tenant.get(Agent, invite.inviter_id)
        if (
            not actor.supervisor
            or inviter is None
            or actor.agent is None
            or actor.agent.department != inviter.department
        ):
            raise DomainError(
                ErrorCode.FORBIDDEN_ACTION,
                "only a supervisor of the inviter's department may decide",
                ["input", "inviteId"],
            )
    now = now_utc()
    if invite.status is not InviteStatus.PENDING_APPROVAL or invite.expires_at <= now:
        if invite.status is InviteStatus.EXPIRED or invite.expires_at <= now:
            raise DomainError(ErrorCode.EXPIRED, "the invite has expired", ["input", "inviteId"])
        raise DomainError(
            ErrorCode.CONFLICT, f"the invite is {invite.status.value}, not awaiting approval", ["input", "inviteId"]
        )
    if not approve:
        await close_invite(
            tenant,
            outbox,
            thread,
            invite,
            InviteStatus.CANCELLED,
            "CANCELLED",
            actor_id=actor.agent_id,
            reason="denied",
            message=message,
        )
        return invite
    if thread.status in CLOSED_THREAD:
        raise DomainError(ErrorCode.CONFLICT, f"the thread is {thread.status.value}", ["input", "inviteId"])
    lifetime = invite.expires_at - invite.created_at
    previous = invite.status
    invite.status = InviteStatus.PENDING
    invite.approved_by_id = actor.agent_id
    # The invitee gets the whole answering time from the approval on.
    invite.expires_at = now + lifetime
    await invite.save(update_fields=["status", "approved_by_id", "expires_at"])
    await invite_event(
        tenant, outbox, thread, invite, "APPROVED", actor_id=actor.agent_id, previous=previous, message=message
    )
    return invite


# ---------------------------------------------------------------- expiry


async def expire(tenant: Tenant, outbox: Outbox, invite_pk: int, now: datetime) -> bool:
    """Expire one invite if it is still open and due; False when another process got there first.

    The row lock makes a second sweeper wait, then see the invite EXPIRED and
    skip it: one EXPIRED event per invite however many processes sweep.
    """
    invite = await tenant.get(Invite, invite_pk, for_update=True)
    if invite is None or invite.status not in OPEN_INVITE_STATUSES or invite.expires_at > now:
        return False
    thread = await tenant.get(Thread, invite.thread_id)
    assert thread is not None  # an invite is deleted with its thread
    previous, invite.status = invite.status, InviteStatus.EXPIRED
    await invite.save(update_fields=["status"])
    await invite_event(tenant, outbox, thread, invite, "EXPIRED", actor_id=None, previous=previous)
    return True
