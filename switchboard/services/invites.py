"""Sending invites: one per invitee; a rule an invitee breaks is that invitee's problem only.

The rate limit (invites per agent per minute) is taken before the transaction,
by whoever calls ``send`` (see ``runtime.ratelimit``): ``plan`` says whose
allowance it is, ``send`` spends it one invite at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from switchboard.events.outbox import Outbox
from switchboard.models import Agent, Collaborator, Invite, Organization, Thread
from switchboard.rules import invites as rules
from switchboard.rules import policy
from switchboard.rules import validation as v
from switchboard.rules.caps import collaborator_cap, seat_free, seats_taken
from switchboard.rules.enums import (
    CollaboratorRole,
    ErrorCode,
    InviteEventKind,
    InviteStatus,
    InviteType,
    Permission,
    ThreadStatus,
    Urgency,
)
from switchboard.rules.problems import DomainError, Field, Problem, conflict, forbidden, limit_reached, not_found
from switchboard.services.invite_changes import invite_event
from switchboard.services.places import (
    CLOSED_THREAD,
    THREAD,
    active_collaborators,
    as_place,
    lock_thread,
    now_utc,
    open_invites,
    primary_of,
    require_manager,
)
from switchboard.services.tenancy import Tenant, limits_of

INVITEES: Field = ("invitee_ids",)


@dataclass
class SendRequest:
    thread_pk: int
    # Agent pks in the order given; None for an ID that names no agent (the caller reports it).
    invitees: list[int | None]
    kind: InviteType = InviteType.EXPERT
    permission: Permission | None = None
    urgency: Urgency = Urgency.NORMAL
    message: str | None = None
    expires_in: int | None = None
    # Which of the caller's inputs the message came from (requestTransfer calls it the reason).
    message_field: Field = ("message",)


@dataclass
class Allowance:
    """Invites the inviter may still send: the rate-limit slots taken before the transaction."""

    agent_id: int | None
    left: int
    used: int = 0

    def take(self) -> bool:
        if self.used >= self.left:
            return False
        self.used += 1
        return True


@dataclass
class Sent:
    thread: Thread
    invites: list[Invite]
    problems: list[Problem]


@dataclass
class _Batch:
    """One call's state while it goes through the invitees."""

    req: SendRequest
    thread: Thread
    inviter: Agent
    org: Organization
    members: list[Collaborator]
    invited: set[int]
    taken: int
    message: str | None
    expires_at: datetime
    now: datetime
    sent: list[Invite] = field(default_factory=list)


async def plan(tenant: Tenant, caller: policy.Caller, thread_pk: int) -> tuple[int | None, int]:
    """Before the transaction: whose allowance a send spends (the caller, or the primary for
    admins and the service) and the organization's limit per minute."""
    org = await tenant.organization()
    inviter = caller.agent_id
    if inviter is None:
        primary = (
            await tenant.q(Collaborator).filter(thread_id=thread_pk, active=True, role=CollaboratorRole.PRIMARY).first()
        )
        inviter = primary.agent_id if primary is not None else None
    return inviter, org.invites_per_agent_per_minute


async def send(tenant: Tenant, outbox: Outbox, caller: policy.Caller, req: SendRequest, allowance: Allowance) -> Sent:
    message = v.text(req.message, req.message_field, limit=v.MESSAGE_MAX)
    expires_in = v.number(req.expires_in, ("expires_in_seconds",), 1, rules.MAX_EXPIRY_SECONDS)
    rules.check_count(req.kind, len(req.invitees), INVITEES)
    thread = await lock_thread(tenant, req.thread_pk)
    members = await active_collaborators(tenant, thread.id)
    if thread.status in CLOSED_THREAD:
        raise conflict(f"a {thread.status.value} thread takes no invites", THREAD)
    inviter = await _inviter(tenant, caller, members, req.kind)
    if inviter.id != allowance.agent_id:
        raise conflict("the thread changed hands while the invites were prepared; try again", THREAD)
    opened = await open_invites(tenant, thread.id)
    _check_transfer(thread, opened, req.kind)
    org = await tenant.organization()
    now = now_utc()
    batch = _Batch(
        req=req,
        thread=thread,
        inviter=inviter,
        org=org,
        members=members,
        invited={i.invitee_id for i in opened},
        taken=seats_taken((c.role for c in members), len(opened)),
        message=message,
        expires_at=now + timedelta(seconds=expires_in or org.invite_expiry_seconds),
        now=now,
    )
    agents = await tenant.many(Agent, [pk for pk in req.invitees if pk is not None])
    problems: list[Problem] = []
    for index, pk in enumerate(req.invitees):
        if pk is None:
            continue
        try:
            await _send_one(tenant, outbox, caller, batch, agents.get(pk), (*INVITEES, index), allowance)
        except DomainError as exc:
            problems.append(exc.problem)
    return Sent(thread, batch.sent, problems)


async def _inviter(tenant: Tenant, caller: policy.Caller, members: list[Collaborator], kind: InviteType) -> Agent:
    """The agent the invites come from: the caller, or the primary for admin and service callers."""
    if caller.agent_id is not None:
        place = require_manager(caller, members)
        if kind is InviteType.TRANSFER and not policy.may_hand_over(caller, as_place(place)):
            raise forbidden("only the primary may hand the thread over")
        agent = await tenant.get(Agent, caller.agent_id)
    else:
        primary = primary_of(members)
        agent = await tenant.get(Agent, primary.agent_id) if primary is not None else None
    if agent is None:
        raise conflict("the thread has no primary to send the invite from")
    return agent


def _check_transfer(thread: Thread, opened: list[Invite], kind: InviteType) -> None:
    if kind is not InviteType.TRANSFER:
        return
    if thread.status is not ThreadStatus.ACTIVE or thread.primary_agent_id is None:
        raise conflict("only an ACTIVE thread with a primary can be transferred", THREAD)
    if any(i.type is InviteType.TRANSFER for i in opened):
        raise conflict("a transfer of this thread is already open", THREAD)


async def _send_one(
    tenant: Tenant,
    outbox: Outbox,
    caller: policy.Caller,
    batch: _Batch,
    invitee: Agent | None,
    path: Field,
    allowance: Allowance,
) -> None:
    if invitee is None:
        raise not_found("agent", path)
    members = {c.agent_id for c in batch.members}
    rules.check_invitee(batch.inviter.id, _facts(invitee), members, batch.invited, batch.req.kind, path)
    cap = collaborator_cap(limits_of(batch.org), batch.thread.thread_class)
    if not seat_free(cap, batch.taken):
        raise limit_reached(f"the thread's collaborator limit ({cap}) is reached, open invites included", path)
    if not allowance.take():
        limit = batch.org.invites_per_agent_per_minute
        raise DomainError(ErrorCode.RATE_LIMITED, f"at most {limit} invites per agent per minute", path)
    approval = rules.needs_approval(batch.org.cross_department_approval, batch.inviter.department, invitee.department)
    invite = await tenant.create(
        Invite,
        thread_id=batch.thread.id,
        inviter_id=batch.inviter.id,
        invitee_id=invitee.id,
        type=batch.req.kind,
        permission=rules.permission_for(batch.req.kind, batch.req.permission),
        urgency=batch.req.urgency,
        message=batch.message,
        status=InviteStatus.PENDING_APPROVAL if approval else InviteStatus.PENDING,
        created_at=batch.now,
        expires_at=batch.expires_at,
    )
    batch.taken += 1
    batch.invited.add(invitee.id)
    batch.sent.append(invite)
    actor = caller.agent_id or batch.inviter.id
    await invite_event(tenant, outbox, batch.thread, invite, InviteEventKind.CREATED, actor_id=actor)


def _facts(agent: Agent) -> rules.Invitee:
    return rules.Invitee(
        id=agent.id,
        name=agent.name,
        status=agent.status,
        active_threads=agent.active_thread_count,
        max_threads=agent.max_concurrent_threads,
        active_collaborations=agent.active_collaboration_count,
        max_collaborations=agent.max_concurrent_collaborations,
    )
