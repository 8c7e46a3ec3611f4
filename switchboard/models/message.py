"""The conversation: messages of a thread and each agent's read mark.

Messages are kept for good (they are not pruned with events). A message's
``seq`` is the sequence number of its MESSAGE_POSTED event, stamped in the same
transaction when the outbox sequences its events (``events.outbox``): event
seqs are handed out per organization under a lock held until commit, so within
a thread (of one organization) ``seq`` order is commit order and unique, and
a message's cursor in ``Thread.messages`` (``e<seq>``) is the same cursor
``conversationEvents(after:)`` resumes from. (Ids are not commit order
on PostgreSQL: two transactions may draw them in one order and commit in the
other.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from switchboard.rules.enums import MessageVisibility, SenderKind

if TYPE_CHECKING:
    from switchboard.models.agent import Agent
    from switchboard.models.organization import Organization
    from switchboard.models.thread import Thread
    from switchboard.models.visitor import Visitor


class Message(Model):
    id = fields.BigIntField(primary_key=True)
    org: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="messages", on_delete=fields.CASCADE
    )
    org_id: str
    thread: fields.ForeignKeyRelation[Thread] = fields.ForeignKeyField(
        "models.Thread", related_name="messages", on_delete=fields.CASCADE
    )
    thread_id: int
    sender_kind = fields.CharEnumField(SenderKind)
    # Who sent it, as one key for the idempotency index: "agent:12", "visitor:3",
    # "service:<sub>", "admin:<sub>" (see ``rules.conversation.sender_key``).
    sender_key = fields.CharField(max_length=120)
    author: fields.ForeignKeyNullableRelation[Agent] = fields.ForeignKeyField(
        "models.Agent", related_name="messages", null=True, on_delete=fields.SET_NULL
    )
    author_id: int | None
    visitor: fields.ForeignKeyNullableRelation[Visitor] = fields.ForeignKeyField(
        "models.Visitor", related_name="messages", null=True, on_delete=fields.SET_NULL
    )
    visitor_id: int | None
    visibility = fields.CharEnumField(MessageVisibility)
    body = fields.TextField()
    client_message_id = fields.CharField(max_length=100, null=True)
    created_at = fields.DatetimeField()
    # Null only inside the writing transaction, before its events are sequenced.
    seq = fields.BigIntField(null=True)

    class Meta:
        table = "message"
        # A retry with the same key from the same sender on the same thread
        # collides here, whichever process inserts it (NULL keys never collide).
        unique_together = (("thread_id", "sender_key", "client_message_id"), ("thread_id", "seq"))
        indexes = (("thread_id", "visibility", "seq"), ("org_id", "created_at"))


class ReadMark(Model):
    """How far an agent has read a thread: every message up to the one whose ``seq`` this is."""

    id = fields.BigIntField(primary_key=True)
    org: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="read_marks", on_delete=fields.CASCADE
    )
    org_id: str
    thread: fields.ForeignKeyRelation[Thread] = fields.ForeignKeyField(
        "models.Thread", related_name="read_marks", on_delete=fields.CASCADE
    )
    thread_id: int
    agent: fields.ForeignKeyRelation[Agent] = fields.ForeignKeyField(
        "models.Agent", related_name="read_marks", on_delete=fields.CASCADE
    )
    agent_id: int
    seq = fields.BigIntField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "read_mark"
        unique_together = (("agent_id", "thread_id"),)
