"""The collaborator cap and the invite's life, as plain functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from switchboard.rules import invites
from switchboard.rules.caps import CollaboratorLimits, collaborator_cap, has_capacity, seat_free, seats_taken
from switchboard.rules.enums import (
    AgentStatus,
    CollaboratorRole,
    ErrorCode,
    InviteAction,
    InviteEventKind,
    InviteStatus,
    InviteType,
    Permission,
    ThreadClass,
)
from switchboard.rules.invites import Step
from switchboard.rules.problems import DomainError

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
P, E, OBS = CollaboratorRole.PRIMARY, CollaboratorRole.EXPERT, CollaboratorRole.OBSERVER


def test_the_cap_per_class_and_the_seats_it_counts() -> None:
    limits = CollaboratorLimits(normal=3, vip=5, urgent=7)
    assert [collaborator_cap(limits, c) for c in ThreadClass] == [3, 5, 7]
    assert seats_taken([P, E, OBS]) == 2
    # Sending counts open invites (they hold a seat); accepting counts places only.
    assert seats_taken([P, E, OBS], open_invites=1) == 3
    assert seat_free(3, 2) and not seat_free(3, 3)
    assert has_capacity(1, 2) and not has_capacity(2, 2)


def test_every_step_of_the_invite_state_machine() -> None:
    table = {
        Step.APPROVE: ({InviteStatus.PENDING_APPROVAL}, InviteStatus.PENDING, InviteEventKind.APPROVED),
        Step.DENY: ({InviteStatus.PENDING_APPROVAL}, InviteStatus.CANCELLED, InviteEventKind.CANCELLED),
        Step.ACCEPT: (set(invites.ANSWERABLE), InviteStatus.ACCEPTED, InviteEventKind.ACCEPTED),
        Step.REJECT: (set(invites.ANSWERABLE), InviteStatus.REJECTED, InviteEventKind.REJECTED),
        Step.DEFER: (set(invites.ANSWERABLE), InviteStatus.DEFERRED, InviteEventKind.DEFERRED),
        Step.WITHDRAW: (set(invites.OPEN), InviteStatus.WITHDRAWN, InviteEventKind.WITHDRAWN),
        Step.EXPIRE: (set(invites.OPEN), InviteStatus.EXPIRED, InviteEventKind.EXPIRED),
        Step.CANCEL: (set(invites.OPEN), InviteStatus.CANCELLED, InviteEventKind.CANCELLED),
    }
    for step, (starts, status, kind) in table.items():
        assert {s for s in InviteStatus if invites.can(step, s)} == starts, step
        assert invites.after(step) == (status, kind)
    assert {invites.ANSWER_STEP[a] for a in InviteAction} == {Step.ACCEPT, Step.REJECT, Step.DEFER}
    # A final status never moves again.
    for final in (InviteStatus.ACCEPTED, InviteStatus.REJECTED, InviteStatus.EXPIRED, InviteStatus.WITHDRAWN):
        assert not any(invites.can(step, final) for step in Step)


def test_expiry_and_answerability() -> None:
    later, earlier = NOW + timedelta(seconds=1), NOW - timedelta(seconds=1)
    assert invites.answerable(InviteStatus.PENDING, later, NOW)
    assert not invites.answerable(InviteStatus.PENDING, NOW, NOW)
    assert not invites.answerable(InviteStatus.PENDING_APPROVAL, later, NOW)
    assert invites.is_expired(InviteStatus.DEFERRED, earlier, NOW)
    assert not invites.is_expired(InviteStatus.ACCEPTED, earlier, NOW)
    field = ("invite_id",)
    assert invites.not_answerable(InviteStatus.PENDING, earlier, NOW, field).problem.code is ErrorCode.EXPIRED
    refused = invites.not_answerable(InviteStatus.ACCEPTED, later, NOW, field).problem
    assert (refused.code, refused.field) == (ErrorCode.NOT_ANSWERABLE, field)
    assert invites.not_awaiting_approval(InviteStatus.PENDING, later, NOW, field).problem.code is ErrorCode.CONFLICT


def test_permissions_and_approval() -> None:
    assert invites.permission_for(InviteType.OBSERVER, Permission.ADMIN) is Permission.READ
    assert invites.permission_for(InviteType.TRANSFER, Permission.READ) is Permission.ADMIN
    assert invites.permission_for(InviteType.EXPERT, None) is Permission.WRITE
    assert invites.permission_for(InviteType.GUIDE, Permission.READ) is Permission.READ
    assert invites.needs_approval(True, "sales", "support") and not invites.needs_approval(True, "sales", "sales")
    assert not invites.needs_approval(False, "sales", "support")


def _agent(pk: int, status: AgentStatus = AgentStatus.ONLINE, threads: int = 0, collabs: int = 0) -> invites.Invitee:
    return invites.Invitee(pk, f"A{pk}", status, threads, 2, collabs, 2)


@pytest.mark.parametrize(
    ("invitee", "kind", "code"),
    [
        (_agent(1), InviteType.EXPERT, ErrorCode.INVALID),  # themselves
        (_agent(2), InviteType.EXPERT, ErrorCode.CONFLICT),  # already on the thread
        (_agent(3), InviteType.EXPERT, ErrorCode.CONFLICT),  # already invited
        (_agent(4, AgentStatus.OFFLINE), InviteType.EXPERT, ErrorCode.AGENT_UNAVAILABLE),
        (_agent(4, collabs=2), InviteType.EXPERT, ErrorCode.LIMIT_REACHED),
        (_agent(4, threads=2), InviteType.TRANSFER, ErrorCode.LIMIT_REACHED),
        (_agent(4, threads=2), InviteType.EXPERT, None),
        (_agent(4, AgentStatus.AWAY, collabs=2), InviteType.TRANSFER, None),
    ],
)
def test_who_can_be_invited(invitee: invites.Invitee, kind: InviteType, code: ErrorCode | None) -> None:
    field = ("invitee_ids", 0)
    try:
        invites.check_invitee(1, invitee, members={1, 2}, invited={3}, kind=kind, field=field)
    except DomainError as exc:
        assert (exc.problem.code, exc.problem.field) == (code, field)
    else:
        assert code is None


def test_how_many_invitees() -> None:
    field = ("invitee_ids",)
    for kind, count, ok in (
        (InviteType.EXPERT, 0, False),
        (InviteType.EXPERT, 50, True),
        (InviteType.EXPERT, 51, False),
    ):
        try:
            invites.check_count(kind, count, field)
        except DomainError:
            assert not ok
        else:
            assert ok
    with pytest.raises(DomainError):
        invites.check_count(InviteType.TRANSFER, 2, field)
