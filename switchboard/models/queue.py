"""Queues and the entries waiting in them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from switchboard.rules.enums import (
    OverflowAction,
    Priority,
    QueueEntryStatus,
    RoutingStrategy,
    TransferTrigger,
)

if TYPE_CHECKING:
    from switchboard.models.agent import Agent
    from switchboard.models.organization import Organization
    from switchboard.models.thread import Thread


class Queue(Model):
    id = fields.BigIntField(primary_key=True)
    org: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="queues", on_delete=fields.CASCADE
    )
    org_id: str
    name = fields.CharField(max_length=200)
    skills: fields.JSONField[list[str]] = fields.JSONField(default=list)
    routing_strategy = fields.CharEnumField(RoutingStrategy, default=RoutingStrategy.HYBRID)
    max_wait_seconds = fields.IntField(default=900)
    vip_max_wait_seconds = fields.IntField(default=60)
    overflow_action = fields.CharEnumField(OverflowAction, default=OverflowAction.LEAVE_MESSAGE)
    sticky_agent = fields.BooleanField(default=False)
    is_default = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "queue"
        unique_together = (("org_id", "name"),)


class QueueEntry(Model):
    id = fields.BigIntField(primary_key=True)
    org: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="queue_entries", on_delete=fields.CASCADE
    )
    org_id: str
    thread: fields.ForeignKeyRelation[Thread] = fields.ForeignKeyField(
        "models.Thread", related_name="queue_entries", on_delete=fields.CASCADE
    )
    thread_id: int
    queue: fields.ForeignKeyRelation[Queue] = fields.ForeignKeyField(
        "models.Queue", related_name="entries", on_delete=fields.CASCADE
    )
    queue_id: int
    priority = fields.CharEnumField(Priority, default=Priority.NORMAL)
    priority_rank = fields.SmallIntField(default=2)
    status = fields.CharEnumField(QueueEntryStatus, default=QueueEntryStatus.WAITING)
    trigger = fields.CharEnumField(TransferTrigger, default=TransferTrigger.VISITOR_REQUEST)
    reason = fields.TextField(null=True)
    required_skills: fields.JSONField[list[str]] = fields.JSONField(default=list)
    attempt = fields.IntField(default=1)
    # Who asked: used for the per-visitor transfer rate limit.
    visitor_id = fields.BigIntField()
    enqueued_at = fields.DatetimeField()
    # Deadline for overflow (maxWaitSeconds or vipMaxWaitSeconds after enqueue).
    overflow_at = fields.DatetimeField()
    assigned_at = fields.DatetimeField(null=True)
    assigned_agent: fields.ForeignKeyNullableRelation[Agent] = fields.ForeignKeyField(
        "models.Agent", related_name="assigned_entries", null=True, on_delete=fields.SET_NULL
    )
    assigned_agent_id: int | None
    ended_at = fields.DatetimeField(null=True)
    overflow_action = fields.CharEnumField(OverflowAction, null=True)
    # Set by reopenThread on a stickyAgent queue: routing offers the entry to this
    # agent (the thread's last primary) before anyone else.
    preferred_agent_id = fields.BigIntField(null=True)

    class Meta:
        table = "queue_entry"
        indexes = (
            ("queue_id", "status", "priority_rank", "enqueued_at"),
            ("thread_id", "enqueued_at"),
            ("status", "overflow_at"),
            ("org_id", "enqueued_at"),
            ("visitor_id", "enqueued_at"),
        )
