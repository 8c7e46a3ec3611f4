"""Invites: an agent asking a colleague onto a thread (or to take it over)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from switchboard.rules.enums import InviteStatus, InviteType, Permission, Urgency

if TYPE_CHECKING:
    from switchboard.models.agent import Agent
    from switchboard.models.organization import Organization
    from switchboard.models.thread import Thread


class Invite(Model):
    id = fields.BigIntField(primary_key=True)
    org: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="invites", on_delete=fields.CASCADE
    )
    org_id: str
    thread: fields.ForeignKeyRelation[Thread] = fields.ForeignKeyField(
        "models.Thread", related_name="invites", on_delete=fields.CASCADE
    )
    thread_id: int
    inviter: fields.ForeignKeyRelation[Agent] = fields.ForeignKeyField(
        "models.Agent", related_name="sent_invites", on_delete=fields.CASCADE
    )
    inviter_id: int
    invitee: fields.ForeignKeyRelation[Agent] = fields.ForeignKeyField(
        "models.Agent", related_name="received_invites", on_delete=fields.CASCADE
    )
    invitee_id: int
    type = fields.CharEnumField(InviteType)
    permission = fields.CharEnumField(Permission)
    urgency = fields.CharEnumField(Urgency, default=Urgency.NORMAL)
    message = fields.TextField(null=True)
    status = fields.CharEnumField(InviteStatus, default=InviteStatus.PENDING)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    responded_at = fields.DatetimeField(null=True)
    response_message = fields.TextField(null=True)
    estimated_seconds = fields.IntField(null=True)
    approved_by: fields.ForeignKeyNullableRelation[Agent] = fields.ForeignKeyField(
        "models.Agent", related_name="approved_invites", null=True, on_delete=fields.SET_NULL
    )
    approved_by_id: int | None

    class Meta:
        table = "invite"
        indexes = (
            ("invitee_id", "status"),
            ("inviter_id", "created_at"),
            ("thread_id", "status"),
            ("status", "expires_at"),
            ("org_id", "created_at"),
        )
