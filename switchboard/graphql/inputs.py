"""Input objects of queries and mutations."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from switchboard.graphql.enums import (
    AgentRole,
    AgentStatus,
    CollaboratorRole,
    InviteAction,
    InviteStatus,
    InviteType,
    MessageVisibility,
    OverflowAction,
    Permission,
    Priority,
    QueueEntryStatus,
    RoutingStrategy,
    Sentiment,
    ThreadClass,
    ThreadStatus,
    TransferTrigger,
    Urgency,
    VisitorTier,
)


@strawberry.enum(description="Sort direction.")
class SortDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.enum(description="What threads can be ordered by.")
class ThreadOrderField(Enum):
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"


@strawberry.input(description="Order of a thread list.")
class ThreadOrder:
    field: ThreadOrderField = strawberry.field(description="The column.")
    direction: SortDirection = strawberry.field(description="The direction.")


@strawberry.input(description="Which threads to list; every given condition must hold.")
class ThreadFilter:
    status: list[ThreadStatus] | None = strawberry.field(default=strawberry.UNSET, description="Any of these statuses.")
    thread_class: list[ThreadClass] | None = strawberry.field(
        default=strawberry.UNSET, description="Any of these classes."
    )
    primary_agent_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Served by this agent."
    )
    collaborator_agent_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="With this agent as an active collaborator."
    )
    visitor_id: strawberry.ID | None = strawberry.field(default=strawberry.UNSET, description="Of this visitor.")
    created_after: datetime | None = strawberry.field(default=strawberry.UNSET, description="Created at or after.")
    created_before: datetime | None = strawberry.field(default=strawberry.UNSET, description="Created before.")


@strawberry.input(description="Which invites to list; every given condition must hold.")
class InviteFilter:
    status: list[InviteStatus] | None = strawberry.field(default=strawberry.UNSET, description="Any of these statuses.")
    invitee_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Addressed to this agent."
    )
    inviter_id: strawberry.ID | None = strawberry.field(default=strawberry.UNSET, description="Sent by this agent.")
    thread_id: strawberry.ID | None = strawberry.field(default=strawberry.UNSET, description="For this thread.")
    type: list[InviteType] | None = strawberry.field(default=strawberry.UNSET, description="Any of these types.")
    created_after: datetime | None = strawberry.field(default=strawberry.UNSET, description="Created at or after.")
    created_before: datetime | None = strawberry.field(default=strawberry.UNSET, description="Created before.")


@strawberry.input(description="Which agents to list; every given condition must hold.")
class AgentFilter:
    status: list[AgentStatus] | None = strawberry.field(default=strawberry.UNSET, description="Any of these statuses.")
    department: str | None = strawberry.field(default=strawberry.UNSET, description="In this department.")
    skill: str | None = strawberry.field(default=strawberry.UNSET, description="Having this skill.")
    role: AgentRole | None = strawberry.field(default=strawberry.UNSET, description="With this role.")


@strawberry.input(description="Which queue entries to list; every given condition must hold.")
class QueueEntryFilter:
    queue_id: strawberry.ID | None = strawberry.field(default=strawberry.UNSET, description="In this queue.")
    status: list[QueueEntryStatus] | None = strawberry.field(
        default=strawberry.UNSET, description="Any of these statuses."
    )
    priority: list[Priority] | None = strawberry.field(default=strawberry.UNSET, description="Any of these priorities.")
    trigger: list[TransferTrigger] | None = strawberry.field(
        default=strawberry.UNSET, description="Any of these triggers."
    )
    enqueued_after: datetime | None = strawberry.field(default=strawberry.UNSET, description="Enqueued at or after.")
    enqueued_before: datetime | None = strawberry.field(default=strawberry.UNSET, description="Enqueued before.")


@strawberry.input(description="Invite colleagues onto a thread, one invite per invitee.")
class InviteCollaboratorsInput:
    thread_id: strawberry.ID = strawberry.field(description="The thread.")
    invitee_ids: list[strawberry.ID] = strawberry.field(description="One invite per invitee (batch invite).")
    type: InviteType = strawberry.field(default=InviteType.EXPERT, description="Why they are invited.")
    permission: Permission | None = strawberry.field(
        default=strawberry.UNSET,
        description="Default by type: EXPERT WRITE, GUIDE WRITE, ASSISTANT WRITE, OBSERVER READ, TRANSFER ADMIN.",
    )
    urgency: Urgency = strawberry.field(default=Urgency.NORMAL, description="How urgently.")
    message: str | None = strawberry.field(default=strawberry.UNSET, description="A note for the invitees.")
    expires_in_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="Default: the organization's inviteExpirySeconds (300). Allowed 1..86400."
    )


@strawberry.input(description="The invitee's answer.")
class RespondToInviteInput:
    invite_id: strawberry.ID = strawberry.field(description="The invite.")
    action: InviteAction = strawberry.field(description="ACCEPT, REJECT or DEFER.")
    message: str | None = strawberry.field(default=strawberry.UNSET, description="A note for the inviter.")
    estimated_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="When the invitee expects to join."
    )


@strawberry.input(description="Withdraw an open invite.")
class WithdrawInviteInput:
    invite_id: strawberry.ID = strawberry.field(description="The invite.")


@strawberry.input(description="A supervisor's decision on a cross-department invite.")
class DecideInviteApprovalInput:
    invite_id: strawberry.ID = strawberry.field(description="The invite.")
    approve: bool = strawberry.field(description="True approves (PENDING), false denies (CANCELLED).")
    message: str | None = strawberry.field(default=strawberry.UNSET, description="A note.")


@strawberry.input(description="Change a collaborator's permission (and optionally role).")
class ChangePermissionInput:
    thread_id: strawberry.ID = strawberry.field(description="The thread.")
    agent_id: strawberry.ID = strawberry.field(description="The collaborator's agent.")
    permission: Permission = strawberry.field(description="The new permission.")
    role: CollaboratorRole | None = strawberry.field(
        default=strawberry.UNSET,
        description="Optionally change the role too (not to or from PRIMARY: use requestTransfer).",
    )


@strawberry.input(description="Remove a collaborator from a thread.")
class RemoveCollaboratorInput:
    thread_id: strawberry.ID = strawberry.field(description="The thread.")
    agent_id: strawberry.ID = strawberry.field(description="The collaborator's agent.")


@strawberry.input(description="Leave a thread you collaborate on.")
class LeaveThreadInput:
    thread_id: strawberry.ID = strawberry.field(description="The thread.")


@strawberry.input(description="One line of the bot's conversation.")
class TranscriptLineInput:
    from_: str = strawberry.field(name="from", description="Who said it.")
    text: str = strawberry.field(description="What was said.")
    at: datetime | None = strawberry.field(default=strawberry.UNSET, description="When.")


@strawberry.input(description="What the bot hands over.")
class TransferContextInput:
    summary: str | None = strawberry.field(default=strawberry.UNSET, description="The bot's summary.")
    sentiment: Sentiment | None = strawberry.field(default=strawberry.UNSET, description="The visitor's mood.")
    intents: list[str] | None = strawberry.field(default=strawberry.UNSET, description="Recognised intents.")
    tags: list[str] | None = strawberry.field(default=strawberry.UNSET, description="Free tags.")
    transcript: list[TranscriptLineInput] | None = strawberry.field(
        default=strawberry.UNSET, description="The conversation."
    )
    confidence: float | None = strawberry.field(default=strawberry.UNSET, description="The bot's confidence (0..1).")
    extra: JSON | None = strawberry.field(default=strawberry.UNSET, description="Anything else.")


@strawberry.input(
    description=(
        "Exactly one mode:\n- neither toAgentId nor queueId: bot-to-human, into the organization's default\n"
        "  queue (or the best queue for requiredSkills);\n- queueId: into that queue (bot-to-human, or an agent"
        " handing the thread to a\n  department);\n"
        "- toAgentId: agent-to-agent, creates a TRANSFER invite to that agent."
    )
)
class RequestTransferInput:
    thread_id: strawberry.ID = strawberry.field(description="The thread.")
    to_agent_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Hand to this agent (TRANSFER invite)."
    )
    queue_id: strawberry.ID | None = strawberry.field(default=strawberry.UNSET, description="Into this queue.")
    priority: Priority | None = strawberry.field(
        default=strawberry.UNSET, description="Default NORMAL, raised to HIGH for VIP/ENTERPRISE visitors."
    )
    trigger: TransferTrigger = strawberry.field(
        default=TransferTrigger.VISITOR_REQUEST, description="What made the bot (or someone) ask for a human."
    )
    reason: str | None = strawberry.field(default=strawberry.UNSET, description="Free text reason.")
    required_skills: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Skills the agent needs."
    )
    context: TransferContextInput | None = strawberry.field(
        default=strawberry.UNSET, description="What the bot hands over."
    )


@strawberry.input(description="Withdraw a waiting queue entry.")
class CancelQueueEntryInput:
    queue_entry_id: strawberry.ID = strawberry.field(description="The entry.")


@strawberry.input(
    description="Take a specific entry, or the next one of a queue (the best for the caller when neither is given)."
)
class ClaimQueueEntryInput:
    queue_entry_id: strawberry.ID | None = strawberry.field(default=strawberry.UNSET, description="This entry.")
    queue_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="The next entry of this queue."
    )


@strawberry.input(description="Resolve a thread.")
class ResolveThreadInput:
    thread_id: strawberry.ID = strawberry.field(description="The thread.")


@strawberry.input(description="Reopen a resolved thread: it queues again.")
class ReopenThreadInput:
    thread_id: strawberry.ID = strawberry.field(description="The thread.")
    priority: Priority | None = strawberry.field(
        default=strawberry.UNSET, description="Queue priority of the new entry."
    )


@strawberry.input(description="Say that you are typing on a thread, or that you stopped.")
class SetTypingInput:
    thread_id: strawberry.ID = strawberry.field(description="The thread.")
    typing: bool = strawberry.field(default=True, description="true while typing; false when you stop.")
    visibility: MessageVisibility = strawberry.field(
        default=MessageVisibility.PUBLIC,
        description="INTERNAL typing (a note being written) is never shown to the visitor.",
    )


@strawberry.input(description="Set an agent's availability.")
class SetAgentStatusInput:
    status: AgentStatus = strawberry.field(description="The new status.")
    agent_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Admins and supervisors may set another agent's status."
    )


@strawberry.input(description="Provision an agent.")
class CreateAgentInput:
    name: str = strawberry.field(description="Display name (1..200 characters).")
    email: str | None = strawberry.field(default=strawberry.UNSET, description="Work e-mail address.")
    role: AgentRole = strawberry.field(default=AgentRole.AGENT, description="AGENT or SUPERVISOR.")
    department: str | None = strawberry.field(default=strawberry.UNSET, description="Department.")
    skills: list[str] | None = strawberry.field(default=strawberry.UNSET, description="Skills.")
    max_concurrent_threads: int = strawberry.field(default=5, description="Threads served at once (0..100).")
    max_concurrent_collaborations: int = strawberry.field(default=3, description="Collaborations at once (0..100).")


@strawberry.input(description="Change an agent; omitted fields stay as they are.")
class UpdateAgentInput:
    agent_id: strawberry.ID = strawberry.field(description="The agent.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Display name.")
    email: str | None = strawberry.field(default=strawberry.UNSET, description="Work e-mail address.")
    role: AgentRole | None = strawberry.field(default=strawberry.UNSET, description="AGENT or SUPERVISOR.")
    department: str | None = strawberry.field(default=strawberry.UNSET, description="Department.")
    skills: list[str] | None = strawberry.field(default=strawberry.UNSET, description="Skills.")
    max_concurrent_threads: int | None = strawberry.field(
        default=strawberry.UNSET, description="Threads served at once."
    )
    max_concurrent_collaborations: int | None = strawberry.field(
        default=strawberry.UNSET, description="Collaborations at once."
    )


@strawberry.input(description="Create a queue.")
class CreateQueueInput:
    name: str = strawberry.field(description="Unique name within the organization.")
    skills: list[str] | None = strawberry.field(default=strawberry.UNSET, description="Skills an agent needs.")
    routing_strategy: RoutingStrategy = strawberry.field(
        default=RoutingStrategy.HYBRID, description="How entries reach agents."
    )
    max_wait_seconds: int = strawberry.field(default=900, description="Wait after which an entry overflows.")
    vip_max_wait_seconds: int = strawberry.field(default=60, description="The same for VIP and ENTERPRISE visitors.")
    overflow_action: OverflowAction = strawberry.field(
        default=OverflowAction.LEAVE_MESSAGE, description="What happens to an overflowed entry."
    )
    sticky_agent: bool = strawberry.field(
        default=False, description="Offer reopened threads to their last primary first."
    )
    is_default: bool = strawberry.field(default=False, description="The queue used when requestTransfer names none.")


@strawberry.input(description="Change a queue; omitted fields stay as they are.")
class UpdateQueueInput:
    queue_id: strawberry.ID = strawberry.field(description="The queue.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Unique name.")
    skills: list[str] | None = strawberry.field(default=strawberry.UNSET, description="Skills an agent needs.")
    routing_strategy: RoutingStrategy | None = strawberry.field(
        default=strawberry.UNSET, description="How entries reach agents."
    )
    max_wait_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="Wait after which an entry overflows."
    )
    vip_max_wait_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="The same for VIP visitors."
    )
    overflow_action: OverflowAction | None = strawberry.field(default=strawberry.UNSET, description="Overflow action.")
    sticky_agent: bool | None = strawberry.field(default=strawberry.UNSET, description="Sticky reopen.")
    is_default: bool | None = strawberry.field(default=strawberry.UNSET, description="Make this the default queue.")


@strawberry.input(description="The visitor of a new thread, found or created by externalId.")
class VisitorInput:
    external_id: str = strawberry.field(description="The visitor's id in the calling system.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Display name.")
    tier: VisitorTier | None = strawberry.field(default=strawberry.UNSET, description="Service tier.")


@strawberry.input(description="Open a thread served by the bot.")
class StartThreadInput:
    visitor: VisitorInput = strawberry.field(description="The visitor.")
    channel: str | None = strawberry.field(default=strawberry.UNSET, description="Where the visitor writes from.")
    subject: str | None = strawberry.field(default=strawberry.UNSET, description="What it is about.")
    thread_class: ThreadClass = strawberry.field(
        default=ThreadClass.NORMAL, description="Decides the collaborator cap."
    )


@strawberry.input(description="Change organization settings; omitted fields stay as they are.")
class UpdateSettingsInput:
    invite_expiry_seconds: int | None = strawberry.field(default=strawberry.UNSET, description="1..86400.")
    collaborator_limit_normal: int | None = strawberry.field(default=strawberry.UNSET, description="0..50.")
    collaborator_limit_vip: int | None = strawberry.field(default=strawberry.UNSET, description="0..50.")
    collaborator_limit_urgent: int | None = strawberry.field(default=strawberry.UNSET, description="0..50.")
    cross_department_approval: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Approval for other departments."
    )
    max_transfer_attempts: int | None = strawberry.field(default=strawberry.UNSET, description="1..100.")
    transfer_rate_limit_per_visitor_per_hour: int | None = strawberry.field(
        default=strawberry.UNSET, description="1..10000."
    )
    invites_per_agent_per_minute: int | None = strawberry.field(default=strawberry.UNSET, description="1..10000.")
    unassign_on_resolve: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Clear the primary on resolve."
    )
    service_name: str | None = strawberry.field(
        default=strawberry.UNSET, description="The name visitors see for agents and the bot (1..200 characters)."
    )
    reopen_on_visitor_message_seconds: int | None = strawberry.field(
        default=strawberry.UNSET, description="0..2592000; 0: a visitor's message never reopens."
    )
    messages_per_visitor_per_minute: int | None = strawberry.field(default=strawberry.UNSET, description="1..10000.")
    query_cost_budget: int | None = strawberry.field(default=strawberry.UNSET, description="1..100000000.")
    query_cost_restore_per_second: int | None = strawberry.field(default=strawberry.UNSET, description="1..100000000.")


@strawberry.input(description="Post a message on a thread.")
class SendMessageInput:
    thread_id: strawberry.ID = strawberry.field(description="The thread.")
    body: str = strawberry.field(description="1 to 2,000 characters, not only whitespace.")
    visibility: MessageVisibility = strawberry.field(
        default=MessageVisibility.PUBLIC, description="PUBLIC, or INTERNAL (a note for agents)."
    )
    client_message_id: str | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "The sender's own key for this message (at most 100 characters): "
            "a retry with the same key returns the first message and changes nothing."
        ),
    )


@strawberry.input(description="Move the calling agent's read mark on a thread.")
class MarkThreadReadInput:
    thread_id: strawberry.ID = strawberry.field(description="The thread.")
    message_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Everything up to and including this message; the newest when omitted."
    )
