"""Agents: people who serve visitors and collaborate on threads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from switchboard.rules.enums import AgentRole, AgentStatus

if TYPE_CHECKING:
    from switchboard.models.organization import Organization


class Agent(Model):
    id = fields.BigIntField(primary_key=True)
    org: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="agents", on_delete=fields.CASCADE
    )
    org_id: str
    name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=200, null=True)
    role = fields.CharEnumField(AgentRole, default=AgentRole.AGENT)
    department = fields.CharField(max_length=200, null=True)
    skills: fields.JSONField[list[str]] = fields.JSONField(default=list)
    status = fields.CharEnumField(AgentStatus, default=AgentStatus.OFFLINE)
    max_concurrent_threads = fields.IntField(default=5)
    max_concurrent_collaborations = fields.IntField(default=3)
    # Counters kept in the same transaction as the rows they count, so that a
    # conditional UPDATE can enforce capacity under concurrency.
    active_thread_count = fields.IntField(default=0)
    active_collaboration_count = fields.IntField(default=0)
    # Routing history: round robin rotates on it, HYBRID scores it.
    last_assigned_at = fields.DatetimeField(null=True)
    status_changed_at = fields.DatetimeField(auto_now_add=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "agent"
        indexes = (("org_id", "status"), ("org_id", "created_at"))
