"""The conversation section of the access policy as tables: who posts what, who sees what (no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from switchboard.rules import policy
from switchboard.rules.enums import CollaboratorRole, MessageVisibility, Permission, Role, SenderKind, ThreadStatus
from switchboard.rules.policy import Caller, Op, Place, Reach, Verdict

ORG = "acme"
ME = 1
OWN, OTHER = 10, 20
PUBLIC, INTERNAL = MessageVisibility.PUBLIC, MessageVisibility.INTERNAL
AGENT = Caller(Role.AGENT, ORG, agent_id=ME)
SUPERVISOR = Caller(Role.AGENT, ORG, agent_id=ME, supervisor=True)
VISITOR = Caller(Role.VISITOR, ORG, visitor_id=5, thread_id=OWN)
SERVICE, ADMIN, ANALYST = Caller(Role.SERVICE, ORG), Caller(Role.ADMIN, ORG), Caller(Role.ANALYST, ORG)
OK, REOPEN, FORBIDDEN, ACTION, CONFLICT = (
    Verdict.ALLOWED,
    Verdict.REOPEN,
    Verdict.FORBIDDEN,
    Verdict.FORBIDDEN_ACTION,
    Verdict.CONFLICT,
)


def facts(status: ThreadStatus, thread_id: int = OWN) -> policy.ThreadFacts:
    return policy.ThreadFacts(thread_id, status, frozenset({ME}))


# status -> (visitor PUBLIC, visitor INTERNAL, service PUBLIC, admin PUBLIC, admin INTERNAL)
STATUS_TABLE = {
    ThreadStatus.BOT: (OK, FORBIDDEN, OK, OK, OK),
    ThreadStatus.QUEUED: (OK, FORBIDDEN, OK, OK, OK),
    ThreadStatus.ACTIVE: (OK, FORBIDDEN, CONFLICT, OK, OK),
    ThreadStatus.RESOLVED: (CONFLICT, FORBIDDEN, CONFLICT, OK, OK),
    ThreadStatus.CLOSED: (CONFLICT, FORBIDDEN, CONFLICT, CONFLICT, CONFLICT),
}


@pytest.mark.parametrize("status", list(STATUS_TABLE))
def test_who_posts_by_status(status: ThreadStatus) -> None:
    thread = facts(status)
    got = (
        policy.post_verdict(VISITOR, thread, PUBLIC).verdict,
        policy.post_verdict(VISITOR, thread, INTERNAL).verdict,
        policy.post_verdict(SERVICE, thread, PUBLIC).verdict,
        policy.post_verdict(ADMIN, thread, PUBLIC).verdict,
        policy.post_verdict(ADMIN, thread, INTERNAL).verdict,
    )
    assert got == STATUS_TABLE[status]


def test_the_service_writes_no_internal_notes_and_analysts_nothing() -> None:
    assert policy.post_verdict(SERVICE, facts(ThreadStatus.BOT), INTERNAL).verdict is FORBIDDEN
    assert policy.refusal(ANALYST, Op.SEND_MESSAGE) is not None
    assert policy.post_verdict(ANALYST, facts(ThreadStatus.ACTIVE), PUBLIC).verdict is FORBIDDEN


def test_a_visitor_writes_only_in_their_own_thread_and_reopens_within_the_window() -> None:
    assert policy.post_verdict(VISITOR, facts(ThreadStatus.ACTIVE, OTHER), PUBLIC).verdict is FORBIDDEN
    resolved = facts(ThreadStatus.RESOLVED)
    assert policy.post_verdict(VISITOR, resolved, PUBLIC, reopen=True).verdict is REOPEN
    assert policy.post_verdict(VISITOR, facts(ThreadStatus.CLOSED), PUBLIC, reopen=True).verdict is CONFLICT
    assert policy.post_verdict(VISITOR, resolved, INTERNAL, reopen=True).verdict is FORBIDDEN


def test_the_reopen_window() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert policy.reopens_on_message(now - timedelta(seconds=60), now, 60)
    assert not policy.reopens_on_message(now - timedelta(seconds=61), now, 60)
    assert not policy.reopens_on_message(now, now, 0)
    assert not policy.reopens_on_message(None, now, 60)


PLACES = {
    "none": None,
    "primary": Place(CollaboratorRole.PRIMARY, Permission.ADMIN),
    "expert-write": Place(CollaboratorRole.EXPERT, Permission.WRITE),
    "assistant-admin": Place(CollaboratorRole.ASSISTANT, Permission.ADMIN),
    "guide-write": Place(CollaboratorRole.GUIDE, Permission.WRITE),
    "guide-read": Place(CollaboratorRole.GUIDE, Permission.READ),
    "expert-read": Place(CollaboratorRole.EXPERT, Permission.READ),
    "observer": Place(CollaboratorRole.OBSERVER, Permission.READ),
}
# place -> (agent PUBLIC, agent INTERNAL, supervisor PUBLIC, supervisor INTERNAL) on an ACTIVE thread
AGENT_TABLE = {
    "none": (ACTION, ACTION, ACTION, OK),
    "primary": (OK, OK, OK, OK),
    "expert-write": (OK, OK, OK, OK),
    "assistant-admin": (OK, OK, OK, OK),
    "guide-write": (ACTION, OK, ACTION, OK),
    "guide-read": (ACTION, ACTION, ACTION, OK),
    "expert-read": (ACTION, ACTION, ACTION, OK),
    "observer": (ACTION, ACTION, ACTION, OK),
}


@pytest.mark.parametrize("name", list(AGENT_TABLE))
def test_agents_post_by_their_place(name: str) -> None:
    place, thread = PLACES[name], facts(ThreadStatus.ACTIVE)
    got = tuple(
        policy.post_verdict(caller, thread, visibility, place).verdict
        for caller in (AGENT, SUPERVISOR)
        for visibility in (PUBLIC, INTERNAL)
    )
    assert got == AGENT_TABLE[name]


@pytest.mark.parametrize("status", [ThreadStatus.BOT, ThreadStatus.RESOLVED, ThreadStatus.CLOSED])
def test_agents_post_only_while_queued_or_active(status: ThreadStatus) -> None:
    primary = PLACES["primary"]
    assert policy.post_verdict(AGENT, facts(status), PUBLIC, primary).verdict is CONFLICT
    assert policy.post_verdict(SUPERVISOR, facts(status), INTERNAL).verdict is CONFLICT
    assert policy.post_verdict(AGENT, facts(ThreadStatus.QUEUED), PUBLIC, primary).verdict is OK


def test_what_a_reader_sees_of_messages() -> None:
    assert policy.message_visibilities(VISITOR) == {PUBLIC}
    for caller in (AGENT, SUPERVISOR, ADMIN, ANALYST, SERVICE):
        assert policy.message_visibilities(caller) == {PUBLIC, INTERNAL}
        assert policy.shows_author(caller)
    assert not policy.shows_author(VISITOR)
    own = facts(ThreadStatus.ACTIVE)
    assert policy.message_reach(VISITOR, own, internal=True) is Reach.HIDDEN
    assert policy.message_reach(VISITOR, own, internal=False) is Reach.FULL
    assert policy.message_reach(VISITOR, facts(ThreadStatus.ACTIVE, OTHER), internal=False) is Reach.FORBIDDEN
    theirs = policy.ThreadFacts(OTHER, ThreadStatus.ACTIVE, frozenset({2}))
    assert policy.message_reach(AGENT, theirs, internal=False) is Reach.HIDDEN
    assert policy.message_reach(SUPERVISOR, theirs, internal=True) is Reach.FULL


def test_display_names() -> None:
    names = policy.Names(service="Acme Support", author="Ada", visitor="Vic")
    assert policy.display_name(VISITOR, SenderKind.AGENT, names) == "Acme Support"
    assert policy.display_name(VISITOR, SenderKind.BOT, names) == "Acme Support"
    assert policy.display_name(VISITOR, SenderKind.SYSTEM, names) == "Acme Support"
    assert policy.display_name(VISITOR, SenderKind.VISITOR, names) == "Vic"
    assert policy.display_name(AGENT, SenderKind.AGENT, names) == "Ada"
    assert policy.display_name(AGENT, SenderKind.VISITOR, names) == "Vic"
    assert policy.display_name(AGENT, SenderKind.BOT, names) == "Acme Support"
    gone = policy.Names(service="Acme Support")
    assert policy.display_name(AGENT, SenderKind.AGENT, gone) == "Acme Support"
    assert policy.display_name(AGENT, SenderKind.VISITOR, gone) == "Visitor"


def test_senders_and_unread() -> None:
    assert policy.sender_key(AGENT, "x") == "agent:1"
    assert policy.sender_key(VISITOR, "x") == "visitor:5"
    assert policy.sender_key(SERVICE, "bot-1") == "service:bot-1"
    assert policy.sender_key(ADMIN, "root") == "admin:root"
    assert [policy.sender_kind(c) for c in (VISITOR, SERVICE, AGENT, ADMIN)] == [
        SenderKind.VISITOR,
        SenderKind.BOT,
        SenderKind.AGENT,
        SenderKind.SYSTEM,
    ]
    assert policy.counts_unread(AGENT) and policy.counts_unread(SUPERVISOR)
    assert not any(policy.counts_unread(c) for c in (VISITOR, SERVICE, ADMIN, ANALYST))
    assert policy.refusal(VISITOR, Op.MARK_READ) is not None and policy.refusal(AGENT, Op.MARK_READ) is None
