"""Subscription payload types."""

from __future__ import annotations

from datetime import datetime

import strawberry

from switchboard.graphql.enums import (
    ConversationEventKind,
    InviteEventKind,
    OverflowAction,
    QueueEntryStatus,
    ThreadEventKind,
    ThreadStatus,
)
from switchboard.graphql.types.agents import Agent
from switchboard.graphql.types.invites import Invite
from switchboard.graphql.types.messages import Message
from switchboard.graphql.types.threads import Collaborator, Thread


@strawberry.type(description="The visitor widget's view of its queue entry.")
class QueuePositionUpdate:
    queue_entry_id: strawberry.ID = strawberry.field(description="The entry.")
    thread_id: strawberry.ID = strawberry.field(description="Its thread.")
    status: QueueEntryStatus = strawberry.field(description="The entry's status.")
    position: int | None = strawberry.field(description="1-based place among WAITING entries; null when not waiting.")
    queue_length: int = strawberry.field(description="WAITING entries in the queue.")
    estimated_wait_seconds: int | None = strawberry.field(description="Estimated seconds until an agent takes it.")
    overflow_action: OverflowAction | None = strawberry.field(description="Set when status is OVERFLOWED.")
    at: datetime = strawberry.field(description="When this state was computed.")


@strawberry.type(description="Something happened to an invite addressed to or sent by the caller.")
class InviteEvent:
    cursor: str = strawberry.field(description="Pass as inviteEvents(after:) to resume after this event.")
    kind: InviteEventKind = strawberry.field(description="What happened.")
    invite: Invite = strawberry.field(description="The invite as it was when the event happened.")
    at: datetime = strawberry.field(description="When it happened.")


@strawberry.type(description="Something happened on a thread.")
class ThreadEvent:
    cursor: str = strawberry.field(description="Pass as threadEvents(after:) to resume after this event.")
    kind: ThreadEventKind = strawberry.field(description="What happened.")
    thread: Thread = strawberry.field(description="The thread as it was when the event happened.")
    collaborator: Collaborator | None = strawberry.field(description="The collaborator concerned, if any.")
    invite: Invite | None = strawberry.field(description="The invite concerned, if any.")
    actor: Agent | None = strawberry.field(description="The agent who acted, if an agent did.")
    at: datetime = strawberry.field(description="When it happened.")


@strawberry.type(description="Something happened in a thread's conversation, shown as the caller may see it.")
class ConversationEvent:
    cursor: str | None = strawberry.field(
        description="Pass as conversationEvents(after:) to resume after this event; null for TYPING."
    )
    kind: ConversationEventKind = strawberry.field(description="What happened.")
    message: Message | None = strawberry.field(default=None, description="MESSAGE: the message.")
    typing_name: str | None = strawberry.field(
        default=None, description="TYPING: who is typing, named as displayName names senders for this caller."
    )
    typing: bool | None = strawberry.field(
        default=None, description="TYPING: true while they type; clients treat it as over 6 s after the last true."
    )
    status: ThreadStatus | None = strawberry.field(default=None, description="STATUS_CHANGED: the thread's new status.")
    at: datetime = strawberry.field(description="When it happened.")
