"""Mutation payloads: the changed object and the business-rule errors."""

from __future__ import annotations

import strawberry

from switchboard.graphql.enums import ErrorCode
from switchboard.graphql.errors import Renames, input_path
from switchboard.graphql.types.agents import Agent
from switchboard.graphql.types.invites import Invite
from switchboard.graphql.types.messages import Message
from switchboard.graphql.types.queues import Queue, QueueEntry
from switchboard.graphql.types.settings import OrganizationSettings
from switchboard.graphql.types.threads import Collaborator, Thread
from switchboard.rules.problems import Problem


@strawberry.type(description="A business rule the mutation broke; the mutation changed nothing for it.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. ["input", "inviteeIds", "1"].'
    )
    message: str = strawberry.field(description="What is wrong, for people.")
    code: ErrorCode = strawberry.field(description="What is wrong, for programs.")

    @classmethod
    def of(cls, problem: Problem, renames: Renames | None = None) -> UserError:
        return cls(field=input_path(problem.field, renames), message=problem.message, code=problem.code)


def errors_of(problems: list[Problem], renames: Renames | None = None) -> list[UserError]:
    return [UserError.of(p, renames) for p in problems]


@strawberry.type(description="Result of inviteCollaborators.")
class InviteCollaboratorsPayload:
    invites: list[Invite] = strawberry.field(description="The invites that went out.")
    user_errors: list[UserError] = strawberry.field(description="One per invitee that could not be invited.")


@strawberry.type(description="Result of respondToInvite.")
class RespondToInvitePayload:
    invite: Invite | None = strawberry.field(description="The invite after the answer.")
    collaborator: Collaborator | None = strawberry.field(description="Set when the answer was ACCEPT.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed, if so.")


@strawberry.type(description="Result of an invite mutation.")
class InvitePayload:
    invite: Invite | None = strawberry.field(description="The invite after the change.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed, if so.")


@strawberry.type(description="Result of a collaborator mutation.")
class CollaboratorPayload:
    collaborator: Collaborator | None = strawberry.field(description="The collaborator after the change.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed, if so.")


@strawberry.type(description="Result of requestTransfer.")
class RequestTransferPayload:
    thread: Thread | None = strawberry.field(description="The thread after the request.")
    queue_entry: QueueEntry | None = strawberry.field(description="The new queue entry (queue modes).")
    invite: Invite | None = strawberry.field(description="The TRANSFER invite (toAgentId mode).")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed, if so.")


@strawberry.type(description="Result of a queue entry mutation.")
class QueueEntryPayload:
    queue_entry: QueueEntry | None = strawberry.field(description="The entry after the change.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed, if so.")


@strawberry.type(description="Result of a thread mutation.")
class ThreadPayload:
    thread: Thread | None = strawberry.field(description="The thread after the change.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed, if so.")


@strawberry.type(description="Result of an agent mutation.")
class AgentPayload:
    agent: Agent | None = strawberry.field(description="The agent after the change.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed, if so.")


@strawberry.type(description="Result of a queue mutation.")
class QueuePayload:
    queue: Queue | None = strawberry.field(description="The queue after the change.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed, if so.")


@strawberry.type(description="Result of startThread.")
class StartThreadPayload:
    thread: Thread | None = strawberry.field(description="The new thread, in status BOT.")
    visitor_token: str | None = strawberry.field(
        description="A token for the visitor widget, scoped to this one thread."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed, if so.")


@strawberry.type(description="Result of updateSettings.")
class SettingsPayload:
    settings: OrganizationSettings | None = strawberry.field(description="The settings after the change.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed, if so.")


@strawberry.type(description="Result of sendMessage.")
class SendMessagePayload:
    message: Message | None = strawberry.field(description="The message (the first one, for a retry).")
    thread: Thread | None = strawberry.field(
        description="The thread after the message (a visitor's message may reopen a RESOLVED thread)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed, if so.")


@strawberry.type(description="Result of markThreadRead.")
class MarkThreadReadPayload:
    thread: Thread | None = strawberry.field(description="The thread, with its unreadCount after the change.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed, if so.")


@strawberry.type(description="Result of setTyping.")
class SetTypingPayload:
    ok: bool = strawberry.field(
        description="true when accepted (calls within 2 s of the sender's last typing event are accepted and dropped)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why the caller may not type here, if so.")
