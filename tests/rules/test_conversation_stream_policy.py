"""The live side of the conversation policy: who watches a thread's conversation, who sees whose typing."""

from __future__ import annotations

import pytest

from switchboard.rules import policy
from switchboard.rules.enums import MessageVisibility, Role, SenderKind, ThreadStatus
from switchboard.rules.policy import Caller, Op

ORG = "acme"
ME, STRANGER = 1, 2
OWN, OTHER = 10, 20
PUBLIC, INTERNAL = MessageVisibility.PUBLIC, MessageVisibility.INTERNAL
AGENT = Caller(Role.AGENT, ORG, agent_id=ME)
OUTSIDER = Caller(Role.AGENT, ORG, agent_id=STRANGER)
SUPERVISOR = Caller(Role.AGENT, ORG, agent_id=STRANGER, supervisor=True)
VISITOR = Caller(Role.VISITOR, ORG, visitor_id=5, thread_id=OWN)
SERVICE, ADMIN, ANALYST = Caller(Role.SERVICE, ORG), Caller(Role.ADMIN, ORG), Caller(Role.ANALYST, ORG)


def facts(thread_id: int = OWN, status: ThreadStatus = ThreadStatus.ACTIVE) -> policy.ThreadFacts:
    return policy.ThreadFacts(thread_id, status, frozenset({ME}))


@pytest.mark.parametrize(
    ("caller", "thread", "watches"),
    [
        (VISITOR, facts(OWN), True),
        (VISITOR, facts(OTHER), False),
        (AGENT, facts(OWN), True),
        # No place: refused, also while QUEUED (as threadEvents: a QUEUED thread gives no place).
        (OUTSIDER, facts(OWN), False),
        (OUTSIDER, facts(OWN, ThreadStatus.QUEUED), False),
        (SUPERVISOR, facts(OTHER), True),
        (ADMIN, facts(OTHER, ThreadStatus.RESOLVED), True),
    ],
)
def test_who_watches_a_conversation(caller: Caller, thread: policy.ThreadFacts, watches: bool) -> None:
    assert policy.watches_conversation(caller, thread) is watches


def test_the_operation_gates_of_the_live_side() -> None:
    assert [policy.refusal(c, Op.WATCH_CONVERSATION) is None for c in (VISITOR, AGENT, ADMIN, SERVICE, ANALYST)] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert [policy.refusal(c, Op.SET_TYPING) is None for c in (VISITOR, AGENT, ADMIN, SERVICE, ANALYST)] == [
        True,
        True,
        True,
        False,
        False,
    ]


@pytest.mark.parametrize(
    ("caller", "visibility", "sender", "shown"),
    [
        (VISITOR, PUBLIC, "agent:1", True),
        (VISITOR, INTERNAL, "agent:1", False),
        (AGENT, INTERNAL, "agent:2", True),
        (AGENT, PUBLIC, "visitor:5", True),
        # Never one's own typing back.
        (AGENT, PUBLIC, "agent:1", False),
        (VISITOR, PUBLIC, "visitor:5", False),
        (ADMIN, INTERNAL, "agent:1", True),
    ],
)
def test_who_sees_whose_typing(caller: Caller, visibility: MessageVisibility, sender: str, shown: bool) -> None:
    own = policy.sender_key(caller, "admin-sub")
    assert policy.shows_typing(caller, visibility, sender, own) is shown


@pytest.mark.parametrize(
    ("caller", "kind", "name", "shown"),
    [
        (VISITOR, SenderKind.AGENT, "Ada", "Support"),
        (VISITOR, SenderKind.SYSTEM, None, "Support"),
        (VISITOR, SenderKind.BOT, None, "Support"),
        (AGENT, SenderKind.AGENT, "Ada", "Ada"),
        (AGENT, SenderKind.VISITOR, "Vic", "Vic"),
        (AGENT, SenderKind.SYSTEM, None, "Support"),
        (SUPERVISOR, SenderKind.BOT, None, "Support"),
    ],
)
def test_how_the_one_typing_is_named(caller: Caller, kind: SenderKind, name: str | None, shown: str) -> None:
    assert policy.typing_name(caller, kind, name, "Support") == shown
