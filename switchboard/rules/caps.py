"""Caps: how many collaborators a thread takes, how much work an agent takes.

The collaborator cap counts the non-primary places of a thread. An open invite
holds a seat while it waits, so sending counts open invites too; accepting
turns the accepted invite's seat into a place, so it counts places only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from switchboard.rules.enums import CollaboratorRole, ThreadClass


@dataclass(frozen=True)
class CollaboratorLimits:
    """The organization's caps per thread class (settings collaboratorLimit*)."""

    normal: int
    vip: int
    urgent: int


def collaborator_cap(limits: CollaboratorLimits, thread_class: ThreadClass) -> int:
    """The thread's cap on non-primary collaborators plus open invites."""
    return {ThreadClass.NORMAL: limits.normal, ThreadClass.VIP: limits.vip, ThreadClass.URGENT: limits.urgent}[
        thread_class
    ]


def seats_taken(roles: Iterable[CollaboratorRole], open_invites: int = 0) -> int:
    """Seats under the cap: every active place but the primary's, and the open invites."""
    return sum(1 for role in roles if role is not CollaboratorRole.PRIMARY) + open_invites


def seat_free(cap: int, taken: int) -> bool:
    return taken < cap


def has_capacity(active: int, maximum: int) -> bool:
    """An agent below maxConcurrentThreads (or maxConcurrentCollaborations) may take one more."""
    return active < maximum
