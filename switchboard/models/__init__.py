"""Tortoise models, one module per aggregate. Every row carries its organization."""

from switchboard.models.agent import Agent
from switchboard.models.event import Event, EventCounter
from switchboard.models.invite import Invite
from switchboard.models.organization import Organization
from switchboard.models.queue import Queue, QueueEntry
from switchboard.models.thread import Collaborator, Thread
from switchboard.models.visitor import Visitor

__all__ = [
    "Agent",
    "Collaborator",
    "Event",
    "EventCounter",
    "Invite",
    "Organization",
    "Queue",
    "QueueEntry",
    "Thread",
    "Visitor",
]
