"""The tenant and its settings (one row per ``org`` claim, created on first use)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Organization(Model):
    id = fields.CharField(primary_key=True, max_length=100)
    invite_expiry_seconds = fields.IntField(default=300)
    collaborator_limit_normal = fields.IntField(default=3)
    collaborator_limit_vip = fields.IntField(default=5)
    collaborator_limit_urgent = fields.IntField(default=7)
    cross_department_approval = fields.BooleanField(default=False)
    max_transfer_attempts = fields.IntField(default=3)
    transfer_rate_limit_per_visitor_per_hour = fields.IntField(default=10)
    invites_per_agent_per_minute = fields.IntField(default=30)
    unassign_on_resolve = fields.BooleanField(default=True)
    service_name = fields.CharField(max_length=200, default="Support")
    reopen_on_visitor_message_seconds = fields.IntField(default=86400)
    messages_per_visitor_per_minute = fields.IntField(default=30)
    query_cost_budget = fields.IntField(default=200_000)
    query_cost_restore_per_second = fields.IntField(default=5_000)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "organization"
