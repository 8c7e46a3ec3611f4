"""Collaboration: invites, answers, permissions (issue #3)."""

from __future__ import annotations

from switchboard.schema.inputs import (
    ChangePermissionInput,
    DecideInviteApprovalInput,
    InviteCollaboratorsInput,
    InviteFilter,
    LeaveThreadInput,
    RemoveCollaboratorInput,
    ResolveThreadInput,
    RespondToInviteInput,
    WithdrawInviteInput,
)
from switchboard.schema.payloads import (
    CollaboratorPayload,
    InviteCollaboratorsPayload,
    InvitePayload,
    RespondToInvitePayload,
    ThreadPayload,
)
from switchboard.schema.types import InfoT, Invite, InviteConnection


async def invites(
    info: InfoT,
    flt: InviteFilter | None,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> InviteConnection:
    raise NotImplementedError("issue #3")


async def pending_invites(info: InfoT, agent_pk: int | None) -> list[Invite]:
    raise NotImplementedError("issue #3")


async def invite_collaborators(info: InfoT, data: InviteCollaboratorsInput) -> InviteCollaboratorsPayload:
    raise NotImplementedError("issue #3")


async def respond_to_invite(info: InfoT, data: RespondToInviteInput) -> RespondToInvitePayload:
    raise NotImplementedError("issue #3")


async def withdraw_invite(info: InfoT, data: WithdrawInviteInput) -> InvitePayload:
    raise NotImplementedError("issue #3")


async def decide_invite_approval(info: InfoT, data: DecideInviteApprovalInput) -> InvitePayload:
    raise NotImplementedError("issue #3")


async def change_permission(info: InfoT, data: ChangePermissionInput) -> CollaboratorPayload:
    raise NotImplementedError("issue #3")


async def remove_collaborator(info: InfoT, data: RemoveCollaboratorInput) -> CollaboratorPayload:
    raise NotImplementedError("issue #3")


async def leave_thread(info: InfoT, data: LeaveThreadInput) -> CollaboratorPayload:
    raise NotImplementedError("issue #3")


async def resolve_thread(info: InfoT, data: ResolveThreadInput) -> ThreadPayload:
    raise NotImplementedError("issue #3")
