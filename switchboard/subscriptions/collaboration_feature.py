"""Feature wiring: the invite-expiry sweeper and the invite rate limiter."""

from __future__ import annotations

from datetime import datetime

from switchboard.context import Services
from switchboard.domain import invites
from switchboard.domain.enums import OPEN_INVITE_STATUSES
from switchboard.domain.ratelimit import InviteRateLimiter
from switchboard.models import Invite
from switchboard.subscriptions.bus import EventBus
from switchboard.subscriptions.outbox import atomic
from switchboard.tenancy import Tenant

RATE_LIMITER = "invite_rate_limiter"
BATCH = 200


class InviteExpirySweeper:
    """Expires open invites whose ``expires_at`` has passed (deadlines live in the database).

    Each due invite is expired in a transaction of its own, with its events, so
    a failure on one does not hold back the others, and no two transactions
    take several invite locks in different orders.
    """

    name = "invite-expiry"

    def __init__(self, bus: EventBus | None) -> None:
        self.bus = bus

    async def sweep(self, now: datetime) -> int:
        # No tenant in the background: every row is then handled within its own org.
        due = await (
            Invite.filter(status__in=list(OPEN_INVITE_STATUSES), expires_at__lte=now)
            .order_by("expires_at", "id")
            .limit(BATCH)
            .values_list("id", "org_id")
        )
        fired = 0
        for pk, org in due:
            async with atomic(self.bus) as outbox:
                if await invites.expire(Tenant(org), outbox, pk, now):
                    fired += 1
        return fired


def rate_limiter(services: Services) -> InviteRateLimiter:
    limiter = services.extensions.get(RATE_LIMITER)
    if limiter is None:
        limiter = services.extensions[RATE_LIMITER] = InviteRateLimiter(services.redis, services.settings.redis_prefix)
    return limiter  # type: ignore[no-any-return]


async def start(services: Services) -> None:
    rate_limiter(services)
    services.scheduler.add(InviteExpirySweeper(services.bus))


async def stop(services: Services) -> None:
    services.extensions.pop(RATE_LIMITER, None)
