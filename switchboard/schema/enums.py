"""The domain enums, registered as GraphQL enums under the contract's names."""

from __future__ import annotations

import strawberry

from switchboard.domain import enums as e

AgentRole = strawberry.enum(e.AgentRole, description="Role of an agent inside the organization (not on a thread).")
AgentStatus = strawberry.enum(e.AgentStatus, description="An agent's availability.")
VisitorTier = strawberry.enum(e.VisitorTier, description="A visitor's service tier; VIP and ENTERPRISE queue at least HIGH.")
ThreadStatus = strawberry.enum(e.ThreadStatus, description="Where a thread is in its life: BOT, QUEUED, ACTIVE, RESOLVED, CLOSED.")
ThreadClass = strawberry.enum(e.ThreadClass, description="Decides the collaborator cap: 3 / 5 / 7 by default (organization setting).")
CollaboratorRole = strawberry.enum(e.CollaboratorRole, description="An agent's role on one thread.")
Permission = strawberry.enum(e.Permission, description="What a collaborator may do on a thread.")
InviteType = strawberry.enum(e.InviteType, description="Why a colleague is invited; TRANSFER hands over the PRIMARY role.")
InviteStatus = strawberry.enum(e.InviteStatus, description="Where an invite is in its life.")
Urgency = strawberry.enum(e.Urgency, description="How urgently the inviter needs an answer.")
InviteAction = strawberry.enum(e.InviteAction, description="The invitee's answer.")
Priority = strawberry.enum(e.Priority, description="Queue order: URGENT before HIGH before NORMAL before LOW, then first come first served.")
QueueEntryStatus = strawberry.enum(e.QueueEntryStatus, description="Where a queue entry is in its life.")
RoutingStrategy = strawberry.enum(e.RoutingStrategy, description="How a queue's entries reach agents.")
OverflowAction = strawberry.enum(e.OverflowAction, description="What happens to an entry that waited past the queue's maximum.")
TransferTrigger = strawberry.enum(e.TransferTrigger, description="What made the bot (or someone) ask for a human.")
Sentiment = strawberry.enum(e.Sentiment, description="The visitor's mood as the bot judged it.")
ErrorCode = strawberry.enum(e.ErrorCode, description="Machine-readable reason of a userError.")
InviteEventKind = strawberry.enum(e.InviteEventKind, description="What happened to an invite.")
ThreadEventKind = strawberry.enum(e.ThreadEventKind, description="What happened on a thread.")
