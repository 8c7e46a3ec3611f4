"""Caps: how many collaborators a thread takes, how much work an agent takes.

The collaborator cap counts the non-primary places of a thread. An open invite
holds a seat while it waits, so sending counts open invites too; accepting
turns the accepted invite's seat into a place, so it counts places only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from switchboard.rules.enums import CollaboratorRole, ThreadClass
from switchboard.rules.pagination import MAX_PAGE
from switchboard.rules.validation import SETTING_RANGES

# The most collaborators ``Thread.collaborators`` lists (the query-cost estimate
# counts them so): the active ones are the primary and at most the largest cap an
# organization may set; with includeInactive, the newest ``MAX_PAGE`` places,
# the active ones first among them.
MAX_ACTIVE_COLLABORATORS = 1 + max(SETTING_RANGES[f"collaborator_limit_{c}"][1] for c in ("normal", "vip", "urgent"))
MAX_LISTED_COLLABORATORS = MAX_PAGE
# The most invites ``Viewer.pendingInvites`` lists: the oldest ``MAX_PAGE``.
MAX_PENDING_INVITES = MAX_PAGE

T = TypeVar("T")


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


def listed_collaborators(rows: list[T], active: Callable[[T], bool], limit: int) -> list[T]:
    """At most ``limit`` of ``rows`` (oldest first): the active ones, then the newest others, in their order."""
    if len(rows) <= limit:
        return rows
    keep = {id(row) for row in rows if active(row)}
    for row in reversed(rows):
        if len(keep) >= limit:
            break
        keep.add(id(row))
    return [row for row in rows if id(row) in keep][:limit]
