"""The invite's life: statuses, the steps between them, expiry, and who may be invited.

    PENDING_APPROVAL --APPROVE--> PENDING --DEFER--> DEFERRED
    PENDING, DEFERRED --ACCEPT/REJECT/DEFER--> ACCEPTED / REJECTED / DEFERRED
    any open --WITHDRAW/EXPIRE/CANCEL--> WITHDRAWN / EXPIRED / CANCELLED
    PENDING_APPROVAL --DENY--> CANCELLED

An invite is open while PENDING_APPROVAL, PENDING or DEFERRED; the invitee can
answer it while PENDING or DEFERRED and not yet past ``expires_at``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from switchboard.rules.caps import has_capacity
from switchboard.rules.enums import (
    AgentStatus,
    CollaboratorRole,
    ErrorCode,
    InviteAction,
    InviteEventKind,
    InviteStatus,
    InviteType,
    Permission,
)
from switchboard.rules.problems import DomainError, Field, conflict, invalid, limit_reached

OPEN = frozenset({InviteStatus.PENDING_APPROVAL, InviteStatus.PENDING, InviteStatus.DEFERRED})
ANSWERABLE = frozenset({InviteStatus.PENDING, InviteStatus.DEFERRED})
MAX_EXPIRY_SECONDS = 86400
MAX_INVITEES = 50
# Agents who can be invited: away agents answer when they are back.
INVITABLE = (AgentStatus.ONLINE, AgentStatus.AWAY)
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


class Step(Enum):
    APPROVE = "APPROVE"
    DENY = "DENY"
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    DEFER = "DEFER"
    WITHDRAW = "WITHDRAW"
    EXPIRE = "EXPIRE"
    CANCEL = "CANCEL"


# step -> (statuses it starts from, status it leads to, event it emits)
STEPS: dict[Step, tuple[frozenset[InviteStatus], InviteStatus, InviteEventKind]] = {
    Step.APPROVE: (frozenset({InviteStatus.PENDING_APPROVAL}), InviteStatus.PENDING, InviteEventKind.APPROVED),
    Step.DENY: (frozenset({InviteStatus.PENDING_APPROVAL}), InviteStatus.CANCELLED, InviteEventKind.CANCELLED),
    Step.ACCEPT: (ANSWERABLE, InviteStatus.ACCEPTED, InviteEventKind.ACCEPTED),
    Step.REJECT: (ANSWERABLE, InviteStatus.REJECTED, InviteEventKind.REJECTED),
    Step.DEFER: (ANSWERABLE, InviteStatus.DEFERRED, InviteEventKind.DEFERRED),
    Step.WITHDRAW: (OPEN, InviteStatus.WITHDRAWN, InviteEventKind.WITHDRAWN),
    Step.EXPIRE: (OPEN, InviteStatus.EXPIRED, InviteEventKind.EXPIRED),
    Step.CANCEL: (OPEN, InviteStatus.CANCELLED, InviteEventKind.CANCELLED),
}
ANSWER_STEP = {InviteAction.ACCEPT: Step.ACCEPT, InviteAction.REJECT: Step.REJECT, InviteAction.DEFER: Step.DEFER}


def can(step: Step, status: InviteStatus) -> bool:
    return status in STEPS[step][0]


def after(step: Step) -> tuple[InviteStatus, InviteEventKind]:
    """The status a step leads to and the event it emits."""
    _, status, kind = STEPS[step]
    return status, kind


def is_expired(status: InviteStatus, expires_at: datetime, now: datetime) -> bool:
    return status is InviteStatus.EXPIRED or (status in OPEN and expires_at <= now)


def answerable(status: InviteStatus, expires_at: datetime, now: datetime) -> bool:
    return status in ANSWERABLE and expires_at > now


def not_answerable(status: InviteStatus, expires_at: datetime, now: datetime, field: Field) -> DomainError:
    if is_expired(status, expires_at, now):
        return DomainError(ErrorCode.EXPIRED, "the invite has expired", field)
    return DomainError(ErrorCode.NOT_ANSWERABLE, f"the invite is {status.value}", field)


def not_awaiting_approval(status: InviteStatus, expires_at: datetime, now: datetime, field: Field) -> DomainError:
    if status is InviteStatus.EXPIRED or expires_at <= now:
        return DomainError(ErrorCode.EXPIRED, "the invite has expired", field)
    return conflict(f"the invite is {status.value}, not awaiting approval", field)


def permission_for(kind: InviteType, asked: Permission | None) -> Permission:
    """OBSERVER is always READ and TRANSFER always ADMIN; the others default by type."""
    if kind in (InviteType.OBSERVER, InviteType.TRANSFER):
        return DEFAULT_PERMISSION[kind]
    return asked or DEFAULT_PERMISSION[kind]


def needs_approval(
    cross_department_approval: bool, inviter_department: str | None, invitee_department: str | None
) -> bool:
    return cross_department_approval and inviter_department != invitee_department


def check_count(kind: InviteType, count: int, field: Field) -> None:
    """One call sends 1..MAX_INVITEES invites; a TRANSFER goes to exactly one agent."""
    if not count:
        raise invalid("at least one invitee is required", field)
    if count > MAX_INVITEES:
        raise invalid(f"at most {MAX_INVITEES} invitees per call, got {count}", field)
    if kind is InviteType.TRANSFER and count != 1:
        raise invalid("a TRANSFER invite goes to exactly one agent", field)


@dataclass(frozen=True)
class Invitee:
    """What decides whether an agent can be invited."""

    id: int
    name: str
    status: AgentStatus
    active_threads: int
    max_threads: int
    active_collaborations: int
    max_collaborations: int


def check_invitee(
    inviter_id: int,
    invitee: Invitee,
    members: Collection[int],
    invited: Collection[int],
    kind: InviteType,
    field: Field,
) -> None:
    """Raise the problem that keeps ``invitee`` from being invited, if any (``members``: agents on the thread)."""
    if invitee.id == inviter_id:
        raise invalid("an agent cannot invite themselves", field)
    if invitee.id in members:
        raise conflict(f"{invitee.name} is already on this thread", field)
    if invitee.id in invited:
        raise conflict(f"{invitee.name} already has an open invite to this thread", field)
    if invitee.status not in INVITABLE:
        raise DomainError(ErrorCode.AGENT_UNAVAILABLE, f"{invitee.name} is {invitee.status.value}", field)
    if kind is InviteType.TRANSFER:
        # The invitee would become primary: what matters is their thread capacity.
        if not has_capacity(invitee.active_threads, invitee.max_threads):
            raise limit_reached(f"{invitee.name} serves as many threads as allowed", field)
    elif not has_capacity(invitee.active_collaborations, invitee.max_collaborations):
        raise limit_reached(f"{invitee.name} collaborates on as many threads as allowed", field)
