"""How many invites one agent may send per minute, across every process.

With Redis, each agent has a sorted set of send times; a Lua script trims it to
the last window and adds the new send only when the set is below the limit, so
the check and the claim are one atomic step whatever the number of processes.
Without Redis (the embedded default: one process, SQLite transactions run one at
a time) the invites the agent created in the last window are counted in the
database, inside the caller's transaction.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from switchboard.models import Invite
from switchboard.tenancy import Tenant

if TYPE_CHECKING:
    import redis.asyncio as aioredis

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60

# KEYS[1] = the agent's set; ARGV = now (s), window (s), limit, member.
_ACQUIRE = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
return 1
"""


@dataclass(frozen=True)
class Slot:
    """One claimed send; ``member`` is set when it lives in Redis and can be given back."""

    key: str | None = None
    member: str | None = None


class InviteRateLimiter:
    """One per process (``services.extensions["invite_rate_limiter"]``)."""

    def __init__(self, redis: aioredis.Redis | None, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._script = redis.register_script(_ACQUIRE) if redis is not None else None

    def _key(self, org: str, agent_id: int) -> str:
        return f"{self.prefix}:invite-rate:{org}:{agent_id}"

    async def acquire(self, tenant: Tenant, agent_id: int, limit: int, now: datetime) -> Slot | None:
        """Claim one send for ``agent_id``; None when the agent is over ``limit`` this minute."""
        if self._script is not None:
            key = self._key(tenant.org, agent_id)
            member = f"{time.time():.6f}:{secrets.token_hex(4)}"
            try:
                allowed = await self._script(keys=[key], args=[time.time(), WINDOW_SECONDS, limit, member])
            except (RedisError, OSError) as exc:
                # Counting in the database is still right for invites that reach
                # it, only not atomic across processes; better than refusing all.
                log.warning("invite rate limiter: redis unavailable (%s); counting in the database", exc)
            else:
                return Slot(key, member) if allowed else None
        since = now - timedelta(seconds=WINDOW_SECONDS)
        sent = await tenant.q(Invite).filter(inviter_id=agent_id, created_at__gte=since).count()
        return Slot() if sent < limit else None

    async def release(self, slots: list[Slot]) -> None:
        """Give back slots whose invites were rolled back."""
        if self.redis is None:
            return
        for slot in slots:
            if slot.key is None or slot.member is None:
                continue
            try:
                await self.redis.zrem(slot.key, slot.member)
            except (RedisError, OSError) as exc:
                log.warning("invite rate limiter: could not release a slot: %s", exc)
