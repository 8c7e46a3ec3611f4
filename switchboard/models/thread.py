"""The thread aggregate: a conversation and the agents working on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from switchboard.rules.enums import CollaboratorRole, Permission, ThreadClass, ThreadStatus

if TYPE_CHECKING:
    from switchboard.models.agent import Agent
    from switchboard.models.organization import Organization
    from switchboard.models.visitor import Visitor


class Thread(Model):
    id = fields.BigIntField(primary_key=True)
    org: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="threads", on_delete=fields.CASCADE
    )
    org_id: str
    visitor: fields.ForeignKeyRelation[Visitor] = fields.ForeignKeyField(
        "models.Visitor", related_name="threads", on_delete=fields.CASCADE
    )
    visitor_id: int
    status = fields.CharEnumField(ThreadStatus, default=ThreadStatus.BOT)
    thread_class = fields.CharEnumField(ThreadClass, default=ThreadClass.NORMAL)
    channel = fields.CharField(max_length=200, null=True)
    subject = fields.CharField(max_length=200, null=True)
    primary_agent: fields.ForeignKeyNullableRelation[Agent] = fields.ForeignKeyField(
        "models.Agent", related_name="primary_threads", null=True, on_delete=fields.SET_NULL
    )
    primary_agent_id: int | None
    last_primary_agent: fields.ForeignKeyNullableRelation[Agent] = fields.ForeignKeyField(
        "models.Agent", related_name="last_primary_threads", null=True, on_delete=fields.SET_NULL
    )
    last_primary_agent_id: int | None
    transfer_count = fields.IntField(default=0)
    # What the bot handed over (summary, sentiment, intents, tags, transcript, confidence, extra).
    context: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    resolved_at = fields.DatetimeField(null=True)
    # The conversation: when the visitor last wrote; when a queue last assigned
    # the thread to an agent, and the first PUBLIC message of an agent after that.
    last_visitor_message_at = fields.DatetimeField(null=True)
    assigned_at = fields.DatetimeField(null=True)
    first_response_at = fields.DatetimeField(null=True)

    class Meta:
        table = "thread"
        indexes = (
            ("org_id", "status", "created_at"),
            ("org_id", "created_at"),
            ("org_id", "updated_at"),
            ("visitor_id", "created_at"),
            ("org_id", "assigned_at"),
        )


class Collaborator(Model):
    id = fields.BigIntField(primary_key=True)
    org: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="collaborators", on_delete=fields.CASCADE
    )
    org_id: str
    thread: fields.ForeignKeyRelation[Thread] = fields.ForeignKeyField(
        "models.Thread", related_name="collaborators", on_delete=fields.CASCADE
    )
    thread_id: int
    agent: fields.ForeignKeyRelation[Agent] = fields.ForeignKeyField(
        "models.Agent", related_name="collaborations", on_delete=fields.CASCADE
    )
    agent_id: int
    role = fields.CharEnumField(CollaboratorRole)
    permission = fields.CharEnumField(Permission)
    active = fields.BooleanField(default=True)
    invited_by: fields.ForeignKeyNullableRelation[Agent] = fields.ForeignKeyField(
        "models.Agent", related_name="invited_collaborators", null=True, on_delete=fields.SET_NULL
    )
    invited_by_id: int | None
    joined_at = fields.DatetimeField(auto_now_add=True)
    left_at = fields.DatetimeField(null=True)

    class Meta:
        table = "collaborator"
        indexes = (("thread_id", "active"), ("agent_id", "active"))
