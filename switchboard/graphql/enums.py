"""The rules' enums, registered as GraphQL enums under the contract's names.

strawberry.enum marks the class itself, so the rules' classes are the GraphQL enums.
"""

from __future__ import annotations

from typing import Any

import strawberry

from switchboard.rules.enums import (
    AgentRole,
    AgentStatus,
    CollaboratorRole,
    ConversationEventKind,
    ErrorCode,
    InviteAction,
    InviteEventKind,
    InviteStatus,
    InviteType,
    MessageVisibility,
    OverflowAction,
    Permission,
    Priority,
    QueueEntryStatus,
    RoutingStrategy,
    SenderKind,
    Sentiment,
    ThreadClass,
    ThreadEventKind,
    ThreadStatus,
    TransferTrigger,
    Urgency,
    VisitorTier,
)

_DESCRIPTIONS: dict[Any, str] = {
    AgentRole: "Role of an agent inside the organization (not on a thread).",
    AgentStatus: "An agent's availability.",
    VisitorTier: "A visitor's service tier; VIP and ENTERPRISE queue at least HIGH.",
    ThreadStatus: "Where a thread is in its life: BOT, QUEUED, ACTIVE, RESOLVED, CLOSED.",
    ThreadClass: "Decides the collaborator cap: 3 / 5 / 7 by default (organization setting).",
    CollaboratorRole: "An agent's role on one thread.",
    Permission: "What a collaborator may do on a thread.",
    InviteType: "Why a colleague is invited; TRANSFER hands over the PRIMARY role.",
    InviteStatus: "Where an invite is in its life.",
    Urgency: "How urgently the inviter needs an answer.",
    InviteAction: "The invitee's answer.",
    Priority: "Queue order: URGENT before HIGH before NORMAL before LOW, then first come first served.",
    QueueEntryStatus: "Where a queue entry is in its life.",
    RoutingStrategy: "How a queue's entries reach agents.",
    OverflowAction: "What happens to an entry that waited past the queue's maximum.",
    TransferTrigger: "What made the bot (or someone) ask for a human.",
    Sentiment: "The visitor's mood as the bot judged it.",
    ErrorCode: "Machine-readable reason of a userError.",
    InviteEventKind: "What happened to an invite.",
    ThreadEventKind: "What happened on a thread.",
    ConversationEventKind: "What happened in a conversation: a message, someone typing (live only), a new status.",
    SenderKind: "Who wrote a message: the visitor, the bot, an agent, or an admin in the organization's name (SYSTEM).",
    MessageVisibility: "PUBLIC: the visitor and every agent who may read the thread; INTERNAL: a note for agents only.",
}

for _enum, _description in _DESCRIPTIONS.items():
    strawberry.enum(_enum, description=_description)

__all__ = [
    "AgentRole",
    "AgentStatus",
    "CollaboratorRole",
    "ConversationEventKind",
    "ErrorCode",
    "InviteAction",
    "InviteEventKind",
    "InviteStatus",
    "InviteType",
    "MessageVisibility",
    "OverflowAction",
    "Permission",
    "Priority",
    "QueueEntryStatus",
    "RoutingStrategy",
    "SenderKind",
    "Sentiment",
    "ThreadClass",
    "ThreadEventKind",
    "ThreadStatus",
    "TransferTrigger",
    "Urgency",
    "VisitorTier",
]
