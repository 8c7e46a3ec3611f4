"""Queue order and the rules of joining a queue.

WAITING entries are ordered by priority (URGENT > HIGH > NORMAL > LOW), then
enqueue time (the id breaks exact ties); VIP and ENTERPRISE visitors get at
least HIGH and the queue's ``vipMaxWaitSeconds``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from switchboard.rules.enums import Priority, RoutingStrategy, VisitorTier
from switchboard.rules.routing import can_serve

# Lower rank is served first; stored beside the priority so the queue index sorts by it.
PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}
# The ordering columns of WAITING entries (the same as ``order_key``).
ORDER_COLUMNS = ("priority_rank", "enqueued_at", "id")
PRIORITY_TIERS = (VisitorTier.VIP, VisitorTier.ENTERPRISE)


def order_key(priority: Priority, enqueued_at: datetime, entry_id: int) -> tuple[int, datetime, int]:
    return (PRIORITY_RANK[priority], enqueued_at, entry_id)


def effective_priority(requested: Priority | None, tier: VisitorTier) -> Priority:
    """The requested priority (NORMAL by default), at least HIGH for VIP and ENTERPRISE."""
    priority = requested or Priority.NORMAL
    if tier in PRIORITY_TIERS and PRIORITY_RANK[priority] > PRIORITY_RANK[Priority.HIGH]:
        return Priority.HIGH
    return priority


def max_wait_seconds(max_wait: int, vip_max_wait: int, tier: VisitorTier) -> int:
    return vip_max_wait if tier in PRIORITY_TIERS else max_wait


def ahead_of_newcomer(counts: dict[Priority, int]) -> int:
    """Entries a NORMAL entry joining now goes behind: every URGENT, HIGH and NORMAL one."""
    return counts[Priority.URGENT] + counts[Priority.HIGH] + counts[Priority.NORMAL]


@dataclass(frozen=True)
class QueueChoice:
    id: int
    name: str
    skills: tuple[str, ...]
    is_default: bool


def choose_queue(queues: Sequence[QueueChoice], required: Sequence[str]) -> QueueChoice | None:
    """The queue whose skills cover ``required`` most closely; else the default (None without one)."""
    if required:
        covering = [q for q in queues if can_serve(q.skills, required)]
        if covering:
            return min(covering, key=lambda q: (len(q.skills), not q.is_default, q.name))
    return next((q for q in queues if q.is_default), None)


def claimable(
    strategy: RoutingStrategy, agent_skills: Sequence[str] | None, entry_skills: Sequence[str] | None
) -> bool:
    """Whether an agent who can serve the queue may claim this entry: SKILL_BASED also needs the entry's skills."""
    return strategy is not RoutingStrategy.SKILL_BASED or can_serve(agent_skills, entry_skills)
