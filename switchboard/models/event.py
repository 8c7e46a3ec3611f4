"""The durable event log: the source of truth that subscriptions replay from.

A change and its events are written in one transaction. Each event gets ``seq``
(the public cursor) from its organization's counter, whose row lock is held
until commit: within one organization a reader who sees seq N can rely on every
seq < N being visible. Seqs are per organization, so ``(org_id, seq)`` is the
event's identity and a cursor says nothing about other organizations.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class Event(Model):
    id = fields.BigIntField(primary_key=True)
    seq = fields.BigIntField(null=True)
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
        # Also the index of every read of the log (gap fills, replays, prune).
        unique_together = (("org_id", "seq"),)
        indexes = (("created_at",),)


class OrgEventCounter(Model):
    """The newest seq handed out in one organization (``events.outbox`` upserts it, taken last)."""

    org_id = fields.CharField(primary_key=True, max_length=100)
    value = fields.BigIntField(default=0)

    class Meta:
        table = "org_event_counter"
