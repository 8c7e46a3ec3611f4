"""Typed events: every kind travels and comes back as the same object; an unknown kind is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from switchboard.events import types as t
from switchboard.events.codec import BusEvent, UnknownEvent
from switchboard.rules.enums import (
    AgentStatus,
    CollaboratorRole,
    InviteEventKind,
    InviteStatus,
    MessageVisibility,
    OverflowAction,
    Permission,
    Priority,
    QueueEntryStatus,
    SenderKind,
    ThreadStatus,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SNAP = {"thread": {"status": "ACTIVE"}}
PLACE: dict[str, Any] = {
    "org": "o",
    "thread_id": 1,
    "actor_id": 2,
    "collaborator_id": 3,
    "agent_id": 4,
    "snapshot": SNAP,
}

EVENTS: list[t.Event] = [
    t.AgentChanged(org="o", kind=t.AgentEventKind.CREATED, agent_id=1),
    t.AgentChanged(org="o", kind=t.AgentEventKind.UPDATED, agent_id=1),
    t.AgentStatusChanged(org="o", agent_id=1, status=AgentStatus.AWAY, previous=AgentStatus.ONLINE, audience=(1,)),
    t.SettingsChanged(org="o", changed=("invite_expiry_seconds",)),
    t.QueueChanged(org="o", kind=t.QueueEventKind.CREATED, queue_id=5),
    t.QueueChanged(org="o", kind=t.QueueEventKind.UPDATED, queue_id=5),
    t.EntryChanged(
        org="o",
        kind=t.EntryEventKind.ENTRY_ADDED,
        queue_id=5,
        entry_id=6,
        thread_id=1,
        status=QueueEntryStatus.WAITING,
        priority=Priority.HIGH,
    ),
    t.EntryChanged(
        org="o",
        kind=t.EntryEventKind.ENTRY_ASSIGNED,
        queue_id=5,
        entry_id=6,
        thread_id=1,
        status=QueueEntryStatus.ASSIGNED,
        agent_id=4,
    ),
    t.EntryChanged(
        org="o",
        kind=t.EntryEventKind.ENTRY_CANCELLED,
        queue_id=5,
        entry_id=6,
        thread_id=1,
        status=QueueEntryStatus.CANCELLED,
    ),
    t.EntryChanged(
        org="o",
        kind=t.EntryEventKind.ENTRY_OVERFLOWED,
        queue_id=5,
        entry_id=6,
        thread_id=1,
        status=QueueEntryStatus.OVERFLOWED,
        overflow_action=OverflowAction.CALLBACK,
    ),
    t.ThreadStatusChanged(org="o", thread_id=1, status=ThreadStatus.BOT, started=True),
    t.ThreadStatusChanged(
        org="o", thread_id=1, status=ThreadStatus.RESOLVED, previous=ThreadStatus.ACTIVE, revoked=(4,), snapshot=SNAP
    ),
    t.ThreadQueued(
        org="o",
        thread_id=1,
        status=ThreadStatus.QUEUED,
        previous=ThreadStatus.ACTIVE,
        entry_id=6,
        queue_id=5,
        revoked=(4,),
    ),
    t.ThreadAssigned(**PLACE, entry_id=6, queue_id=5, status=ThreadStatus.ACTIVE, previous=ThreadStatus.QUEUED),
    t.CollaboratorJoined(**PLACE, invite_id=9),
    t.CollaboratorLeft(**PLACE, reason="TRANSFERRED_TO_QUEUE"),
    t.CollaboratorRemoved(**PLACE),
    t.PermissionChanged(
        **PLACE,
        permission=Permission.READ,
        previous_permission=Permission.WRITE,
        role=CollaboratorRole.OBSERVER,
        previous_role=CollaboratorRole.EXPERT,
    ),
    t.PrimaryTransferred(**PLACE, invite_id=9, previous_agent_id=7, previous_collaborator_id=8),
    t.ThreadInviteChanged(
        org="o", thread_id=1, invite_id=9, invite_kind=InviteEventKind.CREATED, status=InviteStatus.PENDING
    ),
    *(
        t.InviteChanged(
            org="o", kind=kind, thread_id=1, invite_id=9, audience=(2, 4), status=InviteStatus.CANCELLED, reason="x"
        )
        for kind in InviteEventKind
    ),
    t.MessagePosted(
        org="o",
        thread_id=1,
        message_id=3,
        visibility=MessageVisibility.INTERNAL,
        sender_kind=SenderKind.AGENT,
        actor_id=4,
    ),
]


def test_every_kind_has_a_class_and_an_example() -> None:
    assert {(e.topic, e.kind.value) for e in EVENTS} == set(t.KINDS)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: f"{e.topic.value}-{e.kind.value}")
def test_an_event_comes_back_as_it_went(event: t.Event) -> None:
    sent = BusEvent(seq=7, at=NOW, event=event)
    back = BusEvent.from_json(sent.to_json())
    assert back == sent
    assert back.keys() == sent.keys()


def test_routing_keys() -> None:
    status = BusEvent(seq=1, at=NOW, event=EVENTS[2])
    assert status.keys() == [("org", "o"), ("topic", ("o", "agent")), ("agent", 1)]
    entry = BusEvent(seq=2, at=NOW, event=EVENTS[6])
    # A queue event is on its queue's and entry's keys, not on its thread's.
    assert entry.keys() == [("org", "o"), ("topic", ("o", "queue")), ("queue", 5), ("entry", 6)]


def test_who_lost_their_place() -> None:
    left, joined, resolved, started = EVENTS[15], EVENTS[14], EVENTS[11], EVENTS[10]
    assert isinstance(left, t.ThreadEvent) and isinstance(joined, t.ThreadEvent)
    assert isinstance(resolved, t.ThreadEvent) and isinstance(started, t.ThreadEvent)
    assert (left.revokes(4), left.revokes(2)) == (True, False)
    assert joined.revokes(4) is False
    assert (resolved.revokes(4), resolved.revokes(2)) == (True, False)
    assert started.revokes(4) is None


def test_an_unknown_kind_is_refused_not_dropped() -> None:
    raw = json.loads(BusEvent(seq=1, at=NOW, event=EVENTS[0]).to_json())
    raw["kind"] = "CREATD"
    with pytest.raises(UnknownEvent):
        BusEvent.from_json(json.dumps(raw))
