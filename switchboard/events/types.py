"""The events, typed: a dataclass per kind (or per group of kinds of one shape) with an enum kind.

Emitters build these and streams read them, so a wrong kind or a wrong key is a
type error, not an event dropped in silence. ``codec`` turns them into the
event log's rows and the transport's JSON and back.

A field that is a column of the log (``thread_id``, ``invite_id``, ``queue_id``,
``entry_id``, ``actor_id``, ``audience``) is one the log filters or routes on;
every other field travels in the row's JSON payload under its own name.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, ClassVar

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
    ThreadEventKind,
    ThreadStatus,
)

# The changing columns of rows at commit (see ``snapshots``): kind of row -> column -> JSON value.
Snapshot = dict[str, dict[str, Any]]


class Topic(str, Enum):
    AGENT = "agent"
    ORG = "org"
    QUEUE = "queue"
    THREAD = "thread"
    INVITE = "invite"


class AgentEventKind(str, Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    STATUS_CHANGED = "STATUS_CHANGED"


class OrgEventKind(str, Enum):
    SETTINGS_CHANGED = "SETTINGS_CHANGED"


class QueueEventKind(str, Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"


class EntryEventKind(str, Enum):
    """Each change to a queue's WAITING set: one of these, on the queue's key."""

    ENTRY_ADDED = "ENTRY_ADDED"
    ENTRY_ASSIGNED = "ENTRY_ASSIGNED"
    ENTRY_CANCELLED = "ENTRY_CANCELLED"
    ENTRY_OVERFLOWED = "ENTRY_OVERFLOWED"


@dataclass(frozen=True, kw_only=True)
class Event:
    topic: ClassVar[Topic]
    # Fields stored as columns of the log; the others go into the payload.
    columns: ClassVar[frozenset[str]] = frozenset()
    org: str
    kind: Enum

    def column(self, name: str) -> Any:
        """The value of a log column (None when this kind has no such column)."""
        return self.__dict__.get(name) if name in self.columns else None


# ---------------------------------------------------------------- agents, settings, queues


@dataclass(frozen=True, kw_only=True)
class AgentChanged(Event):
    topic = Topic.AGENT
    kind: AgentEventKind
    agent_id: int


@dataclass(frozen=True, kw_only=True)
class AgentStatusChanged(Event):
    topic = Topic.AGENT
    columns = frozenset({"audience"})
    kind: AgentEventKind = field(default=AgentEventKind.STATUS_CHANGED, init=False)
    agent_id: int
    status: AgentStatus
    previous: AgentStatus
    audience: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class SettingsChanged(Event):
    topic = Topic.ORG
    kind: OrgEventKind = field(default=OrgEventKind.SETTINGS_CHANGED, init=False)
    changed: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class QueueChanged(Event):
    topic = Topic.QUEUE
    columns = frozenset({"queue_id"})
    kind: QueueEventKind
    queue_id: int


@dataclass(frozen=True, kw_only=True)
class EntryChanged(Event):
    """An entry joined or left the WAITING set of its queue."""

    topic = Topic.QUEUE
    columns = frozenset({"queue_id", "entry_id"})
    kind: EntryEventKind
    queue_id: int
    entry_id: int
    thread_id: int
    status: QueueEntryStatus
    priority: Priority | None = None
    agent_id: int | None = None
    overflow_action: OverflowAction | None = None


# ---------------------------------------------------------------- threads


THREAD_COLUMNS = frozenset({"thread_id", "invite_id", "actor_id"})


@dataclass(frozen=True, kw_only=True)
class ThreadEvent(Event):
    """Something happened on a thread; ``snapshot`` is what threadEvents renders it with."""

    topic = Topic.THREAD
    columns = THREAD_COLUMNS
    kind: ThreadEventKind
    thread_id: int
    actor_id: int | None = None
    invite_id: int | None = None
    snapshot: Snapshot = field(default_factory=dict)

    def revokes(self, agent_id: int | None) -> bool | None:
        """Whether this event took ``agent_id``'s place on the thread; None when it cannot say."""
        return False


@dataclass(frozen=True, kw_only=True)
class PlaceEvent(ThreadEvent):
    """An event about one collaborator's place."""

    collaborator_id: int
    agent_id: int


@dataclass(frozen=True, kw_only=True)
class ThreadStatusChanged(ThreadEvent):
    kind: ThreadEventKind = field(default=ThreadEventKind.STATUS_CHANGED, init=False)
    status: ThreadStatus
    previous: ThreadStatus | None = None
    # Agents whose place the change ended; None when it ended none by design (a start).
    revoked: tuple[int, ...] | None = None
    started: bool = False
    entry_id: int | None = None
    overflow_action: OverflowAction | None = None

    def revokes(self, agent_id: int | None) -> bool | None:
        return None if self.revoked is None else agent_id in self.revoked


@dataclass(frozen=True, kw_only=True)
class ThreadQueued(ThreadEvent):
    kind: ThreadEventKind = field(default=ThreadEventKind.QUEUED, init=False)
    status: ThreadStatus
    previous: ThreadStatus
    entry_id: int
    queue_id: int
    revoked: tuple[int, ...] = ()

    def revokes(self, agent_id: int | None) -> bool | None:
        return agent_id in self.revoked


@dataclass(frozen=True, kw_only=True)
class ThreadAssigned(PlaceEvent):
    kind: ThreadEventKind = field(default=ThreadEventKind.ASSIGNED, init=False)
    entry_id: int
    queue_id: int
    status: ThreadStatus
    previous: ThreadStatus


@dataclass(frozen=True, kw_only=True)
class CollaboratorJoined(PlaceEvent):
    kind: ThreadEventKind = field(default=ThreadEventKind.COLLABORATOR_JOINED, init=False)


@dataclass(frozen=True, kw_only=True)
class CollaboratorLeft(PlaceEvent):
    kind: ThreadEventKind = field(default=ThreadEventKind.COLLABORATOR_LEFT, init=False)
    reason: str | None = None

    def revokes(self, agent_id: int | None) -> bool | None:
        return self.agent_id == agent_id


@dataclass(frozen=True, kw_only=True)
class CollaboratorRemoved(PlaceEvent):
    kind: ThreadEventKind = field(default=ThreadEventKind.COLLABORATOR_REMOVED, init=False)

    def revokes(self, agent_id: int | None) -> bool | None:
        return self.agent_id == agent_id


@dataclass(frozen=True, kw_only=True)
class PermissionChanged(PlaceEvent):
    kind: ThreadEventKind = field(default=ThreadEventKind.PERMISSION_CHANGED, init=False)
    permission: Permission
    previous_permission: Permission
    role: CollaboratorRole
    previous_role: CollaboratorRole


@dataclass(frozen=True, kw_only=True)
class PrimaryTransferred(PlaceEvent):
    kind: ThreadEventKind = field(default=ThreadEventKind.PRIMARY_TRANSFERRED, init=False)
    previous_agent_id: int | None = None
    previous_collaborator_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class ThreadInviteChanged(ThreadEvent):
    """The thread's copy of an invite event, so the console watching the thread sees invites live."""

    kind: ThreadEventKind = field(default=ThreadEventKind.INVITE_CHANGED, init=False)
    invite_kind: InviteEventKind
    status: InviteStatus
    previous: InviteStatus | None = None
    reason: str | None = None
    message: str | None = None


# ---------------------------------------------------------------- the conversation


class MessageEventKind(str, Enum):
    MESSAGE_POSTED = "MESSAGE_POSTED"


@dataclass(frozen=True, kw_only=True)
class MessagePosted(Event):
    """A message was written on a thread (in the message's own transaction).

    On the thread's topic and key, but not a ``ThreadEvent``: threadEvents
    leaves it out, conversationEvents renders it. ``visibility`` lets a stream
    drop INTERNAL notes for the visitor without reading the message.
    """

    topic = Topic.THREAD
    columns = frozenset({"thread_id", "actor_id"})
    kind: MessageEventKind = field(default=MessageEventKind.MESSAGE_POSTED, init=False)
    thread_id: int
    message_id: int
    visibility: MessageVisibility
    sender_kind: SenderKind
    # The agent who wrote it, if an agent did.
    actor_id: int | None = None


# ---------------------------------------------------------------- invites


@dataclass(frozen=True, kw_only=True)
class InviteChanged(Event):
    """Every invite event has this one shape; ``audience`` gets it on inviteEvents."""

    topic = Topic.INVITE
    columns = frozenset({"thread_id", "invite_id", "actor_id", "audience"})
    kind: InviteEventKind
    thread_id: int
    invite_id: int
    actor_id: int | None = None
    audience: tuple[int, ...] = ()
    status: InviteStatus
    previous: InviteStatus | None = None
    reason: str | None = None
    message: str | None = None
    snapshot: Snapshot = field(default_factory=dict)


def _fixed_kind(cls: type[ThreadEvent]) -> str:
    """The one kind a thread event class carries (its ``kind`` field's default)."""
    default: Any = next(f.default for f in fields(cls) if f.name == "kind")
    return str(default.value)


# (topic, kind) -> the class that carries it.
KINDS: dict[tuple[Topic, str], type[Event]] = {
    **{(Topic.AGENT, k.value): AgentChanged for k in (AgentEventKind.CREATED, AgentEventKind.UPDATED)},
    (Topic.AGENT, AgentEventKind.STATUS_CHANGED.value): AgentStatusChanged,
    (Topic.ORG, OrgEventKind.SETTINGS_CHANGED.value): SettingsChanged,
    **{(Topic.QUEUE, k.value): QueueChanged for k in QueueEventKind},
    **{(Topic.QUEUE, k.value): EntryChanged for k in EntryEventKind},
    **{(Topic.INVITE, k.value): InviteChanged for k in InviteEventKind},
    (Topic.THREAD, MessageEventKind.MESSAGE_POSTED.value): MessagePosted,
    **{
        (Topic.THREAD, _fixed_kind(cls)): cls
        for cls in (
            ThreadStatusChanged,
            ThreadQueued,
            ThreadAssigned,
            CollaboratorJoined,
            CollaboratorLeft,
            CollaboratorRemoved,
            PermissionChanged,
            PrimaryTransferred,
            ThreadInviteChanged,
        )
    },
}


# ---------------------------------------------------------------- live only


class LiveEventKind(str, Enum):
    TYPING = "TYPING"


@dataclass(frozen=True, kw_only=True)
class TypingChanged(Event):
    """Someone started or stopped typing on a thread: never stored, never replayed, no seq.

    It carries the names a watcher may be shown, so that rendering it for each
    watcher reads nothing.
    """

    topic = Topic.THREAD
    columns = frozenset({"thread_id"})
    kind: LiveEventKind = field(default=LiveEventKind.TYPING, init=False)
    thread_id: int
    typing: bool
    visibility: MessageVisibility
    sender_kind: SenderKind
    # Who typed ("agent:12", "visitor:3", "admin:<sub>"): their own stream leaves it out.
    sender: str
    # The agent's or the visitor's name; None for the bot and the system.
    name: str | None = None
    service_name: str


# Live-only kinds: sent to the subscribers there are now, never written to the log.
LIVE_KINDS: dict[tuple[Topic, str], type[Event]] = {(Topic.THREAD, LiveEventKind.TYPING.value): TypingChanged}
