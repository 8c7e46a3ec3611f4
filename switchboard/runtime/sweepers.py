"""Deadline jobs: open invites past ``expires_at``, WAITING entries past ``overflow_at``.

Each due row is handled in a transaction of its own, with its events, so a
failure on one does not hold back the others, and no two transactions take
several locks in different orders. No tenant in the background: every row is
handled within its own organization.
"""

from __future__ import annotations

import logging
from datetime import datetime

from switchboard.events.bus import EventBus
from switchboard.models import Invite, QueueEntry
from switchboard.rules.enums import QueueEntryStatus
from switchboard.rules.invites import OPEN
from switchboard.services import entries, invite_changes
from switchboard.services.tenancy import Tenant
from switchboard.services.transaction import atomic

log = logging.getLogger(__name__)

BATCH = 200
OVERFLOW_BATCH = 100


async def expire_invites(bus: EventBus, now: datetime) -> int:
    """EXPIRED, exactly once across processes (the row lock and the status check)."""
    due = await (
        Invite.filter(status__in=list(OPEN), expires_at__lte=now)
        .order_by("expires_at", "id")
        .limit(BATCH)
        .values_list("id", "org_id")
    )
    fired = 0
    for pk, org in due:
        async with atomic(bus) as outbox:
            if await invite_changes.expire(Tenant(org), outbox, pk, now):
                fired += 1
    return fired


async def overflow_entries(bus: EventBus, now: datetime) -> int:
    """OVERFLOWED with the queue's action, exactly once (a conditional update)."""
    due = await (
        QueueEntry.filter(status=QueueEntryStatus.WAITING, overflow_at__lte=now)
        .order_by("overflow_at")
        .limit(OVERFLOW_BATCH)
        .values_list("id", "org_id")
    )
    fired = 0
    for entry_id, org in due:
        try:
            async with atomic(bus) as outbox:
                entry = await entries.end_waiting(
                    Tenant(str(org)), outbox, int(entry_id), QueueEntryStatus.OVERFLOWED, now, due_before=now
                )
        except Exception as exc:
            log.warning("overflow of entry %s failed: %s", entry_id, exc)
            continue
        fired += entry is not None
    return fired
