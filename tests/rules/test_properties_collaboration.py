"""Properties of the invite state machine, the caps and the access policy, on random inputs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.rules import caps, policy
from switchboard.rules import invites as rules
from switchboard.rules.enums import (
    CollaboratorRole,
    ErrorCode,
    InviteStatus,
    InviteType,
    Permission,
    Role,
    ThreadStatus,
)
from switchboard.rules.problems import DomainError
from tests.rules.strategies import (
    NOW,
    PROPERTIES,
    agent_statuses,
    ids,
    invite_statuses,
    invite_types,
    moments,
    roles,
    thread_statuses,
)

steps = st.sampled_from(list(rules.Step))
FINAL = frozenset(InviteStatus) - rules.OPEN


@PROPERTIES
@given(st.sampled_from([InviteStatus.PENDING_APPROVAL, InviteStatus.PENDING]), st.lists(steps, max_size=12))
def test_an_invite_only_moves_forward_and_a_closed_one_never_moves(start: InviteStatus, walk: list[rules.Step]) -> None:
    status, events = start, []
    for step in walk:
        if not rules.can(step, status):
            continue
        before = status
        status, kind = rules.after(step)
        events.append(kind)
        # Every step leaves PENDING_APPROVAL or goes somewhere an answer can still reach, or closes.
        assert before in rules.OPEN
        assert status is not InviteStatus.PENDING_APPROVAL
    if status in FINAL:
        assert not any(rules.can(step, status) for step in rules.Step)
    # One event per step taken; at most one closing event, and it is the last one.
    closing = [i for i, kind in enumerate(events) if kind.value not in ("APPROVED", "DEFERRED")]
    assert len(closing) <= 1 and (not closing or closing[0] == len(events) - 1)


@PROPERTIES
@given(invite_statuses, moments)
def test_answerable_and_expired_never_overlap(status: InviteStatus, expires_at: object) -> None:
    assert not (rules.answerable(status, expires_at, NOW) and rules.is_expired(status, expires_at, NOW))  # type: ignore[arg-type]
    if rules.answerable(status, expires_at, NOW):  # type: ignore[arg-type]
        assert status in rules.ANSWERABLE
        return
    problem = rules.not_answerable(status, expires_at, NOW, ("invite_id",)).problem  # type: ignore[arg-type]
    expected = ErrorCode.EXPIRED if rules.is_expired(status, expires_at, NOW) else ErrorCode.NOT_ANSWERABLE  # type: ignore[arg-type]
    assert problem.code is expected


@PROPERTIES
@given(invite_types, st.none() | st.sampled_from(list(Permission)))
def test_observers_read_transfers_take_over_others_get_what_was_asked(
    kind: InviteType, asked: Permission | None
) -> None:
    granted = rules.permission_for(kind, asked)
    if kind is InviteType.OBSERVER:
        assert granted is Permission.READ
    elif kind is InviteType.TRANSFER:
        assert granted is Permission.ADMIN
    else:
        assert granted is (asked or Permission.WRITE)


@PROPERTIES
@given(invite_types, st.integers(0, 60))
def test_a_batch_holds_one_to_fifty_invitees_and_a_transfer_exactly_one(kind: InviteType, count: int) -> None:
    ok = 1 <= count <= rules.MAX_INVITEES and (kind is not InviteType.TRANSFER or count == 1)
    if ok:
        rules.check_count(kind, count, ("invitees",))
    else:
        with pytest.raises(DomainError) as failed:
            rules.check_count(kind, count, ("invitees",))
        assert failed.value.problem.code is ErrorCode.INVALID


@PROPERTIES
@given(
    ids,
    st.builds(
        rules.Invitee,
        id=ids,
        name=st.just("A"),
        status=agent_statuses,
        active_threads=st.integers(0, 8),
        max_threads=st.integers(0, 8),
        active_collaborations=st.integers(0, 8),
        max_collaborations=st.integers(0, 8),
    ),
    st.frozensets(ids, max_size=5),
    st.frozensets(ids, max_size=5),
    invite_types,
)
def test_whoever_may_be_invited_is_free_reachable_and_not_on_the_thread(
    inviter: int, invitee: rules.Invitee, members: frozenset[int], invited: frozenset[int], kind: InviteType
) -> None:
    try:
        rules.check_invitee(inviter, invitee, members, invited, kind, ("invitees", 0))
    except DomainError as refused:
        assert refused.problem.field == ("invitees", 0)
        return
    assert invitee.id != inviter and invitee.id not in members and invitee.id not in invited
    assert invitee.status in rules.INVITABLE
    if kind is InviteType.TRANSFER:
        assert invitee.active_threads < invitee.max_threads
    else:
        assert invitee.active_collaborations < invitee.max_collaborations


actions = st.lists(st.sampled_from(["invite", "accept", "close", "leave", "transfer"]), max_size=40)


@PROPERTIES
@given(st.integers(0, 7), actions)
def test_the_collaborator_cap_holds_whatever_the_order_of_invites_and_answers(cap: int, walk: list[str]) -> None:
    """The seat checks of inviteCollaborators (open invites count) and ACCEPT (places only) keep the cap."""
    places: list[CollaboratorRole] = [CollaboratorRole.PRIMARY]
    open_invites = 0
    for action in walk:
        if action == "invite" and caps.seat_free(cap, caps.seats_taken(places, open_invites)):
            open_invites += 1
        elif action == "accept" and open_invites and caps.seat_free(cap, caps.seats_taken(places)):
            open_invites -= 1
            places.append(CollaboratorRole.EXPERT)
        elif action == "close" and open_invites:
            open_invites -= 1
        elif action == "leave" and len(places) > 1:
            places.pop()
        elif action == "transfer" and open_invites:
            # An accepted TRANSFER: the invitee becomes PRIMARY, the former primary an EXPERT.
            open_invites -= 1
            places.append(CollaboratorRole.EXPERT)
            places.sort(key=lambda role: role is not CollaboratorRole.PRIMARY)
        assert caps.seats_taken(places, open_invites) <= max(cap, 0)
        assert places.count(CollaboratorRole.PRIMARY) == 1


callers = st.builds(
    policy.Caller,
    role=roles,
    org=st.just("o"),
    agent_id=st.none() | ids,
    supervisor=st.booleans(),
    department=st.none() | st.sampled_from(["a", "b"]),
    visitor_id=st.none() | ids,
    thread_id=st.none() | ids,
)
threads = st.builds(policy.ThreadFacts, id=ids, status=thread_statuses, members=st.frozensets(ids, max_size=4))


@PROPERTIES
@given(callers, threads)
def test_visitors_and_plain_agents_never_read_beyond_their_threads(
    caller: policy.Caller, thread: policy.ThreadFacts
) -> None:
    reach = policy.thread_reach(caller, thread)
    if caller.visitor and thread.id != caller.thread_id:
        assert reach is policy.Reach.FORBIDDEN
    if caller.plain_agent and thread.status is not ThreadStatus.QUEUED and caller.agent_id not in thread.members:
        assert reach is policy.Reach.HIDDEN
    if caller.visitor:
        assert not policy.shows_identities(caller, reach)
        assert policy.collaborator_reach(caller, thread) is policy.Reach.FORBIDDEN
        assert not policy.thread_scope(caller).everything and not policy.entry_scope(caller).everything
        assert policy.invite_scope(caller) == policy.NOTHING
        assert policy.thread_scope(caller, names_agent=True) == policy.NOTHING
    if caller.plain_agent:
        assert policy.thread_scope(caller) == policy.Scope(member=caller.agent_id)
        assert policy.thread_events_reach(caller, thread) is (
            policy.Reach.FULL if caller.agent_id in thread.members else policy.Reach.FORBIDDEN
        )


@PROPERTIES
@given(callers, st.sampled_from(list(policy.Op)))
def test_an_operation_is_refused_exactly_when_the_role_table_says_so(caller: policy.Caller, op: policy.Op) -> None:
    refused = policy.refusal(caller, op)
    allowed = caller.role in policy.GATES[op] and not (caller.plain_agent and op in policy.SUPERVISORS_ONLY)
    assert (refused is None) is allowed
    if caller.role is Role.ANALYST and op.name not in ("WATCH_QUEUE_STATS",) and not op.name.startswith("READ"):
        assert refused is not None, "analysts make no change and open no subscription but queueStats"


places = st.none() | st.builds(
    policy.Place, role=st.sampled_from(list(CollaboratorRole)), permission=st.sampled_from(list(Permission))
)


@PROPERTIES
@given(callers, places, ids)
def test_only_the_primary_and_admin_collaborators_manage_a_thread(
    caller: policy.Caller, place: policy.Place | None, thread_id: int
) -> None:
    manages = policy.may_manage(caller, place)
    if caller.role is not Role.ADMIN:
        assert manages is (
            place is not None and (place.role is CollaboratorRole.PRIMARY or place.permission is Permission.ADMIN)
        )
    if place is not None and place.permission is Permission.READ and place.role is not CollaboratorRole.PRIMARY:
        assert manages is (caller.role is Role.ADMIN)
    if caller.visitor:
        assert policy.may_transfer_thread(caller, thread_id) is (thread_id == caller.thread_id)
        assert policy.may_cancel_entry(caller, thread_id) is (thread_id == caller.thread_id)


def test_expiry_is_exact_to_the_instant() -> None:
    """The boundary the random moments rarely hit: expiring exactly now is expired."""
    assert rules.is_expired(InviteStatus.PENDING, NOW, NOW)
    assert not rules.answerable(InviteStatus.PENDING, NOW, NOW)
    assert rules.answerable(InviteStatus.DEFERRED, NOW + timedelta(microseconds=1), NOW)
