"""The durable event log: the source of truth that subscriptions replay from.

A change and its events are written in one transaction. After commit each event
gets ``seq`` (the public cursor) from a counter whose row lock serialises the
assignment, so a reader who sees seq N can rely on every seq < N being visible.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class Event(Model):
    id = fields.BigIntField(primary_key=True)
    seq = fields.BigIntField(null=True, unique=True)
    org_id = fields.CharField(max_length=100)
    # invite | thread | queue | agent
    topic = fields.CharField(max_length=20)
    kind = fields.CharField(max_length=40)
    thread_id = fields.BigIntField(null=True)
    invite_id = fields.BigIntField(null=True)
    queue_id = fields.BigIntField(null=True)
    entry_id = fields.BigIntField(null=True)
    actor_id = fields.BigIntField(null=True)
    # Agent ids that receive this event on their personal streams (inviteEvents).
    audience: fields.JSONField[list[int]] = fields.JSONField(default=list)
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    # Set by the writer so the live copy and the replayed row carry the same time.
    created_at = fields.DatetimeField()

    class Meta:
        table = "event"
        indexes = (("org_id", "seq"), ("created_at",))


# One row; UPDATE ... SET value = value + n hands out event sequence numbers.
class EventCounter(Model):
    id = fields.IntField(primary_key=True)
    value = fields.BigIntField(default=0)

    class Meta:
        table = "event_counter"
