"""The access policy as a table: every role against every kind of object (no server, no database)."""

from __future__ import annotations

import pytest

from switchboard.rules import policy
from switchboard.rules.enums import CollaboratorRole, InviteStatus, Permission, Role, ThreadStatus
from switchboard.rules.policy import Caller, Op, Reach, Scope

ORG = "acme"
ME, OTHER = 1, 2
OWN_THREAD, OTHER_THREAD = 10, 20

CALLERS = {
    "agent": Caller(Role.AGENT, ORG, agent_id=ME, department="sales"),
    "supervisor": Caller(Role.AGENT, ORG, agent_id=ME, supervisor=True, department="sales"),
    "admin": Caller(Role.ADMIN, ORG),
    "analyst": Caller(Role.ANALYST, ORG),
    "service": Caller(Role.SERVICE, ORG),
    "visitor": Caller(Role.VISITOR, ORG, visitor_id=5, thread_id=OWN_THREAD),
}
F, H, HIDDEN, X = Reach.FULL, Reach.HEADLINE, Reach.HIDDEN, Reach.FORBIDDEN

MINE = policy.ThreadFacts(OWN_THREAD, ThreadStatus.ACTIVE, frozenset({ME}))
THEIRS = policy.ThreadFacts(OTHER_THREAD, ThreadStatus.ACTIVE, frozenset({OTHER}))
QUEUED = policy.ThreadFacts(OTHER_THREAD, ThreadStatus.QUEUED, frozenset({OTHER}))

# thread -> expected reach per caller (agent, supervisor, admin, analyst, service, visitor)
THREAD_TABLE = {
    "mine": (MINE, (F, F, F, F, F, F)),
    "theirs": (THEIRS, (HIDDEN, F, F, F, F, X)),
    "queued": (QUEUED, (F, F, F, F, F, X)),
}


@pytest.mark.parametrize("name", THREAD_TABLE)
def test_thread_reach(name: str) -> None:
    facts, expected = THREAD_TABLE[name]
    assert tuple(policy.thread_reach(c, facts) for c in CALLERS.values()) == expected


def test_entries_collaborators_invites() -> None:
    got = {
        who: (
            policy.entry_reach(c, True, THEIRS),
            policy.entry_reach(c, False, THEIRS),
            policy.collaborator_reach(c, MINE),
            policy.collaborator_reach(c, THEIRS),
            policy.invite_reach(c, policy.InviteFacts(ME, OTHER, InviteStatus.REJECTED), THEIRS),
            policy.invite_reach(c, policy.InviteFacts(OTHER, 3, InviteStatus.PENDING), THEIRS),
        )
        for who, c in CALLERS.items()
    }
    assert got == {
        "agent": (F, HIDDEN, F, HIDDEN, F, HIDDEN),
        "supervisor": (F, F, F, F, F, F),
        "admin": (F, F, F, F, F, F),
        "analyst": (F, F, F, F, F, F),
        "service": (F, F, F, F, F, F),
        # A visitor reads their own thread's entry, nothing of another thread, no collaborator, no invite.
        "visitor": (X, X, X, X, X, X),
    }


def test_an_invite_shows_its_thread_to_the_invitee_only_while_answerable() -> None:
    agent = CALLERS["agent"]
    for status, expected in ((InviteStatus.PENDING, F), (InviteStatus.DEFERRED, F), (InviteStatus.EXPIRED, H)):
        assert policy.invite_thread_reach(agent, policy.InviteFacts(OTHER, ME, status), THEIRS) is expected
    # The inviter of a thread they left sees the headline; the thread's members all of it.
    assert policy.invite_thread_reach(agent, policy.InviteFacts(ME, OTHER, InviteStatus.PENDING), THEIRS) is H
    assert policy.invite_thread_reach(agent, policy.InviteFacts(ME, OTHER, InviteStatus.PENDING), MINE) is F
    for who in ("supervisor", "admin", "analyst", "service"):
        assert policy.invite_thread_reach(CALLERS[who], policy.InviteFacts(OTHER, 3, InviteStatus.EXPIRED), THEIRS) is F


def test_profiles() -> None:
    assert [policy.staff_object_reach(c) for c in CALLERS.values()] == [F, F, F, F, F, X]
    assert [policy.visitor_reach(c, 5) for c in CALLERS.values()] == [F, F, F, F, F, F]
    assert [policy.visitor_reach(c, 6) for c in CALLERS.values()] == [F, F, F, F, F, X]


def test_scopes() -> None:
    everything = Scope(everything=True)
    assert [policy.thread_scope(c) for c in CALLERS.values()] == [
        Scope(member=ME),
        everything,
        everything,
        everything,
        everything,
        Scope(thread_id=OWN_THREAD),
    ]
    assert [policy.entry_scope(c) for c in CALLERS.values()] == [
        Scope(member=ME, waiting=True),
        everything,
        everything,
        everything,
        everything,
        Scope(thread_id=OWN_THREAD),
    ]
    assert policy.invite_scope(CALLERS["agent"]) == Scope(member=ME, party=ME)
    assert policy.invite_scope(CALLERS["visitor"]) == policy.NOTHING
    assert policy.own_threads_scope(CALLERS["supervisor"]) == Scope(member=ME)
    assert policy.own_threads_scope(CALLERS["admin"]) == policy.NOTHING


def test_a_visitor_filtering_by_agent_matches_nothing_whatever_the_agent() -> None:
    visitor = CALLERS["visitor"]
    assert policy.thread_scope(visitor, names_agent=True) == policy.NOTHING
    for who in ("agent", "supervisor", "admin", "analyst", "service"):
        assert policy.thread_scope(CALLERS[who], names_agent=True) == policy.thread_scope(CALLERS[who])


def test_identities_and_details() -> None:
    assert [policy.shows_identities(c) for c in CALLERS.values()] == [True] * 5 + [False]
    assert not policy.shows_identities(CALLERS["admin"], H)
    assert policy.shows_details(F) and not policy.shows_details(H)


def test_viewer_permission() -> None:
    got = [policy.viewer_permission(c, OWN_THREAD, None) for c in CALLERS.values()]
    assert got == [None, Permission.READ, Permission.ADMIN, Permission.READ, Permission.READ, Permission.READ]
    assert policy.viewer_permission(CALLERS["agent"], OWN_THREAD, Permission.WRITE) is Permission.WRITE
    assert policy.viewer_permission(CALLERS["visitor"], OTHER_THREAD, None) is None


def test_operations() -> None:
    allowed = {who: {op for op in Op if policy.refusal(c, op) is None} for who, c in CALLERS.items()}
    assert Op.READ_METRICS not in allowed["agent"] and Op.READ_METRICS in allowed["supervisor"]
    assert Op.WATCH_QUEUE_STATS not in allowed["agent"] and Op.WATCH_QUEUE_STATS in allowed["supervisor"]
    assert allowed["visitor"] == {
        Op.READ_THREADS,
        Op.READ_VIEWER,
        Op.READ_QUEUE_STATS,
        Op.TRANSFER,
        Op.CANCEL_ENTRY,
        Op.WATCH_POSITION,
        Op.SEND_MESSAGE,
        Op.SET_TYPING,
        Op.WATCH_CONVERSATION,
    }
    assert allowed["analyst"] == {
        Op.READ_THREADS,
        Op.READ_VIEWER,
        Op.READ_INVITES,
        Op.READ_AGENTS,
        Op.READ_QUEUES,
        Op.READ_QUEUE_STATS,
        Op.READ_METRICS,
        Op.READ_SETTINGS,
        Op.WATCH_QUEUE_STATS,
    }
    assert Op.PROVISION in allowed["admin"] and Op.PROVISION not in allowed["service"]
    assert policy.refusal(CALLERS["visitor"], Op.TRANSFER_TO_AGENT) == "visitors may transfer only into a queue"


def test_subscriptions() -> None:
    assert [policy.position_reach(c, OTHER_THREAD) for c in CALLERS.values()] == [F, F, F, F, F, X]
    assert [policy.thread_events_reach(c, QUEUED) for c in CALLERS.values()] == [X, F, F, F, F, F]
    assert [policy.stream_needs_place(c) for c in CALLERS.values()] == [True] + [False] * 5
    assert policy.receives_invite_event(CALLERS["agent"], (ME, OTHER))
    assert not policy.receives_invite_event(CALLERS["admin"], (ME, OTHER))


def test_changes() -> None:
    primary = policy.Place(CollaboratorRole.PRIMARY, Permission.ADMIN)
    admin_helper = policy.Place(CollaboratorRole.EXPERT, Permission.ADMIN)
    helper = policy.Place(CollaboratorRole.EXPERT, Permission.WRITE)
    agent, supervisor, admin = CALLERS["agent"], CALLERS["supervisor"], CALLERS["admin"]
    assert [policy.may_manage(agent, p) for p in (primary, admin_helper, helper, None)] == [True, True, False, False]
    assert policy.may_manage(admin, None)
    assert [policy.may_hand_over(agent, p) for p in (primary, admin_helper)] == [True, False]
    assert policy.may_hand_over(CALLERS["service"], None)
    assert [policy.may_resolve(c, helper) for c in (agent, supervisor, admin)] == [False, True, True]
    assert policy.may_resolve(agent, primary)
    assert policy.may_answer(agent, ME) and not policy.may_answer(agent, OTHER)
    assert policy.may_decide_approval(supervisor, "sales", True)
    assert not policy.may_decide_approval(supervisor, "support", True)
    assert not policy.may_decide_approval(agent, "sales", True) and policy.may_decide_approval(admin, None, False)
    assert [policy.may_set_status(c, OTHER) for c in (agent, supervisor, admin)] == [False, True, True]
    assert policy.may_set_status(agent, ME)
    assert policy.may_transfer_thread(CALLERS["visitor"], OWN_THREAD)
    assert not policy.may_transfer_thread(CALLERS["visitor"], OTHER_THREAD)
    assert policy.may_hand_to_queue(agent, ME) and not policy.may_hand_to_queue(agent, OTHER)
    assert policy.may_hand_to_queue(CALLERS["service"], OTHER)
    assert policy.may_cancel_entry(CALLERS["visitor"], OWN_THREAD)
    assert not policy.may_cancel_entry(CALLERS["visitor"], OTHER_THREAD)
