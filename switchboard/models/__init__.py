"""Tortoise models, one module per aggregate. Every row carries its organization.

What lives here: the tables (their columns and indexes; ``migrations/`` beside
them must match). What does not: queries and changes (``services``, through
``services.tenancy``), rules (``rules``, whose enums the columns use).
"""

from switchboard.models.agent import Agent
from switchboard.models.event import Event, OrgEventCounter
from switchboard.models.invite import Invite
from switchboard.models.message import Message, ReadMark
from switchboard.models.organization import Organization
from switchboard.models.queue import Queue, QueueEntry
from switchboard.models.thread import Collaborator, Thread
from switchboard.models.visitor import Visitor

__all__ = [
    "Agent",
    "Collaborator",
    "Event",
    "Invite",
    "Message",
    "OrgEventCounter",
    "Organization",
    "Queue",
    "QueueEntry",
    "ReadMark",
    "Thread",
    "Visitor",
]
