"""The Mutation root: each field validates, changes state in one transaction,
publishes after commit, and returns the changed object with userErrors."""

from __future__ import annotations

import strawberry

from switchboard.graphql.inputs import (
    CancelQueueEntryInput,
    ChangePermissionInput,
    ClaimQueueEntryInput,
    CreateAgentInput,
    CreateQueueInput,
    DecideInviteApprovalInput,
    InviteCollaboratorsInput,
    LeaveThreadInput,
    MarkThreadReadInput,
    RemoveCollaboratorInput,
    ReopenThreadInput,
    RequestTransferInput,
    ResolveThreadInput,
    RespondToInviteInput,
    SendMessageInput,
    SetAgentStatusInput,
    SetTypingInput,
    StartThreadInput,
    UpdateAgentInput,
    UpdateQueueInput,
    UpdateSettingsInput,
    WithdrawInviteInput,
)
from switchboard.graphql.payloads import (
    AgentPayload,
    CollaboratorPayload,
    InviteCollaboratorsPayload,
    InvitePayload,
    MarkThreadReadPayload,
    QueueEntryPayload,
    QueuePayload,
    RequestTransferPayload,
    RespondToInvitePayload,
    SendMessagePayload,
    SettingsPayload,
    SetTypingPayload,
    StartThreadPayload,
    ThreadPayload,
)
from switchboard.graphql.resolvers import (
    agents,
    collaboration,
    conversation,
    invites,
    organization,
    queues,
    threads,
    transfers,
    typing_indicator,
)
from switchboard.graphql.types.base import InfoT


@strawberry.type(description="Changes. Business-rule violations come back in userErrors, changing nothing.")
class Mutation:
    @strawberry.mutation(description="Invite colleagues onto a thread (one invite per invitee).")
    async def invite_collaborators(self, info: InfoT, input: InviteCollaboratorsInput) -> InviteCollaboratorsPayload:
        return await invites.invite_collaborators(info, input)

    @strawberry.mutation(description="Answer an invite: ACCEPT, REJECT or DEFER.")
    async def respond_to_invite(self, info: InfoT, input: RespondToInviteInput) -> RespondToInvitePayload:
        return await invites.respond_to_invite(info, input)

    @strawberry.mutation(description="Withdraw an open invite.")
    async def withdraw_invite(self, info: InfoT, input: WithdrawInviteInput) -> InvitePayload:
        return await invites.withdraw_invite(info, input)

    @strawberry.mutation(
        description="Approve or deny a cross-department invite (supervisor of the inviter's department)."
    )
    async def decide_invite_approval(self, info: InfoT, input: DecideInviteApprovalInput) -> InvitePayload:
        return await invites.decide_invite_approval(info, input)

    @strawberry.mutation(description="Change a collaborator's permission (and optionally role).")
    async def change_permission(self, info: InfoT, input: ChangePermissionInput) -> CollaboratorPayload:
        return await collaboration.change_permission(info, input)

    @strawberry.mutation(description="Remove a collaborator from a thread.")
    async def remove_collaborator(self, info: InfoT, input: RemoveCollaboratorInput) -> CollaboratorPayload:
        return await collaboration.remove_collaborator(info, input)

    @strawberry.mutation(description="Leave a thread you collaborate on.")
    async def leave_thread(self, info: InfoT, input: LeaveThreadInput) -> CollaboratorPayload:
        return await collaboration.leave_thread(info, input)

    @strawberry.mutation(description="Queue the thread for a human, or hand it to another agent (toAgentId).")
    async def request_transfer(self, info: InfoT, input: RequestTransferInput) -> RequestTransferPayload:
        return await transfers.request_transfer(info, input)

    @strawberry.mutation(description="Withdraw a waiting queue entry.")
    async def cancel_queue_entry(self, info: InfoT, input: CancelQueueEntryInput) -> QueueEntryPayload:
        return await queues.cancel_queue_entry(info, input)

    @strawberry.mutation(description="Take a waiting entry (exactly one of several claimants wins).")
    async def claim_queue_entry(self, info: InfoT, input: ClaimQueueEntryInput) -> QueueEntryPayload:
        return await queues.claim_queue_entry(info, input)

    @strawberry.mutation(description="Resolve a thread: collaborators leave, open invites are cancelled.")
    async def resolve_thread(self, info: InfoT, input: ResolveThreadInput) -> ThreadPayload:
        return await collaboration.resolve_thread(info, input)

    @strawberry.mutation(description="Reopen a resolved thread: it queues again.")
    async def reopen_thread(self, info: InfoT, input: ReopenThreadInput) -> ThreadPayload:
        return await queues.reopen_thread(info, input)

    @strawberry.mutation(
        description="Say you are typing (or stopped): shown live to whoever may see a message of that visibility."
    )
    async def set_typing(self, info: InfoT, input: SetTypingInput) -> SetTypingPayload:
        return await typing_indicator.set_typing(info, input)

    @strawberry.mutation(description="Set an agent's availability (your own, or another's as admin or supervisor).")
    async def set_agent_status(self, info: InfoT, input: SetAgentStatusInput) -> AgentPayload:
        return await agents.set_agent_status(info, input)

    @strawberry.mutation(description="Post a message on a thread, as the caller's role and place allow.")
    async def send_message(self, info: InfoT, input: SendMessageInput) -> SendMessagePayload:
        return await conversation.send_message(info, input)

    @strawberry.mutation(description="Move the calling agent's read mark on a thread (agents).")
    async def mark_thread_read(self, info: InfoT, input: MarkThreadReadInput) -> MarkThreadReadPayload:
        return await conversation.mark_thread_read(info, input)

    @strawberry.mutation(description="Provision an agent (admin).")
    async def create_agent(self, info: InfoT, input: CreateAgentInput) -> AgentPayload:
        return await agents.create_agent(info, input)

    @strawberry.mutation(description="Change an agent (admin).")
    async def update_agent(self, info: InfoT, input: UpdateAgentInput) -> AgentPayload:
        return await agents.update_agent(info, input)

    @strawberry.mutation(description="Create a queue (admin).")
    async def create_queue(self, info: InfoT, input: CreateQueueInput) -> QueuePayload:
        return await queues.create_queue(info, input)

    @strawberry.mutation(description="Change a queue (admin).")
    async def update_queue(self, info: InfoT, input: UpdateQueueInput) -> QueuePayload:
        return await queues.update_queue(info, input)

    @strawberry.mutation(description="Open a bot thread for a visitor (service, admin); returns a visitor token.")
    async def start_thread(self, info: InfoT, input: StartThreadInput) -> StartThreadPayload:
        return await threads.start_thread(info, input)

    @strawberry.mutation(description="Change the organization's settings (admin).")
    async def update_settings(self, info: InfoT, input: UpdateSettingsInput) -> SettingsPayload:
        return await organization.update_settings(info, input)
