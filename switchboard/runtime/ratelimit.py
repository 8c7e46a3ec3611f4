"""Limits shared by every process: per-minute limits (invites per agent, messages per
visitor), ``Throttle`` (at most one go per key per window: typing events) and the
query cost budget per caller.

With Redis, each check and claim is one atomic step whatever the number of
processes (a Lua script, or ``SET NX``); without Redis (the embedded default:
one process) the same check runs in the process.

**Per-minute limits.** One mechanism, one instance per limit (``invite_limiter``,
``message_limiter``). The slots are taken before the transaction that spends
them: as many as the call wants, or fewer near the limit; the use case spends
them and what it did not spend (or everything, on a rollback) is given back
afterwards. With Redis, each subject (an agent, a visitor) has a sorted set of
send times; a Lua script trims it to the last window and adds the new sends
only while the set is below the limit. Without Redis the rows the subject
created in the last window are counted in the database, plus the slots this
process has handed out and not yet given back.

**Query cost.** Each caller (organization and token ``sub``) has a token bucket
(``switchboard.rules.budget``): its level and when it was last seen, a Redis
hash that expires once the bucket would be full again (a missing bucket is a
full one). The script reads Redis's clock, so processes whose clocks differ
still share one bucket consistently. An operation that costs nothing spends
nothing and is not sent to Redis: its ``currentlyAvailable`` is this process's
latest view of the bucket, refilled to now (what other processes spent since
is not in it). Without Redis the buckets live in an LRU of ``LOCAL_BUCKETS``
callers (a caller pushed out starts full again); with Redis the same LRU holds
each caller's latest view, and carries on from it while Redis does not answer.

**Single Redis or Redis Cluster.** Every script and command here touches one
key, passed in ``KEYS`` (never built inside a script), so each runs on the
master owning that key's slot, and the same code serves both. While Redis is
away (``redisconn.OUTAGES``) each falls back as said above, counted and logged
by ``redisconn.fell_back``; any other failure (an error reply such as ``MOVED``
from a cluster node reached by a plain client, ``WRONGTYPE``, ``NOSCRIPT``) is
raised, never hidden behind a fallback.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cachetools import LRUCache

from switchboard import redisconn
from switchboard.models import Invite, Message
from switchboard.rules import budget
from switchboard.rules.enums import SenderKind
from switchboard.services.tenancy import Tenant

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60

# KEYS[1] = the agent's set; ARGV = now (s), window (s), limit, members to add.
_ACQUIRE = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local room = tonumber(ARGV[3]) - redis.call('ZCARD', KEYS[1])
local added = 0
for i = 4, #ARGV do
  if added >= room then break end
  redis.call('ZADD', KEYS[1], now, ARGV[i])
  added = added + 1
end
redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
return added
"""


@dataclass
class Grant:
    """Slots handed out for one call."""

    count: int = 0
    # Redis: the set and the members that hold the slots.
    key: str | None = None
    members: list[str] = field(default_factory=list)
    # Without Redis: whose pending slots these are.
    local: tuple[str, int] | None = None


# (tenant, subject id, window start) -> rows the subject created since then (the fallback's count).
CountSince = Callable[[Tenant, int, datetime], Awaitable[int]]


class RateLimiter:
    """One per process and limit; ``name`` keys its Redis sets, ``count_since`` is its database fallback."""

    def __init__(self, redis: redisconn.RedisClient | None, prefix: str, name: str, count_since: CountSince) -> None:
        self.redis = redis
        self.prefix = prefix
        self.name = name
        self.count_since = count_since
        self._script = redis.register_script(_ACQUIRE) if redis is not None else None
        self._pending: Counter[tuple[str, int]] = Counter()

    async def acquire(self, tenant: Tenant, subject_id: int, limit: int, wanted: int, now: datetime) -> Grant:
        """Up to ``wanted`` sends for ``subject_id`` within ``limit`` per minute."""
        if wanted <= 0:
            return Grant()
        if self._script is not None:
            key = f"{self.prefix}:{self.name}:{tenant.org}:{subject_id}"
            stamp = f"{time.time():.6f}:{secrets.token_hex(4)}"
            members = [f"{stamp}:{i}" for i in range(wanted)]
            try:
                added = int(await self._script(keys=[key], args=[time.time(), WINDOW_SECONDS, limit, *members]))
            except redisconn.OUTAGES as exc:
                # Counting in the database is still right for rows that reach
                # it, only not atomic across processes; better than refusing all.
                redisconn.fell_back(f"{self.name} limit", log, exc, "counting in the database")
            else:
                return Grant(count=added, key=key, members=members[:added])
        since = now - timedelta(seconds=WINDOW_SECONDS)
        sent = await self.count_since(tenant, subject_id, since)
        local = (tenant.org, subject_id)
        count = max(0, min(wanted, limit - sent - self._pending[local]))
        self._pending[local] += count
        return Grant(count=count, local=local)

    async def release(self, grant: Grant, used: int) -> None:
        """Give back the slots the call did not use (all of them after a rollback)."""
        if grant.local is not None:
            # Used slots are invites in the database now; counted there from here on.
            self._pending[grant.local] -= grant.count
            if self._pending[grant.local] <= 0:
                del self._pending[grant.local]
        unused = grant.members[used:]
        if self.redis is None or grant.key is None or not unused:
            return
        try:
            await self.redis.zrem(grant.key, *unused)
        except redisconn.OUTAGES as exc:
            # They expire with the window.
            redisconn.fell_back(f"{self.name} release", log, exc, "slots come back when the window ends")


async def _invites_since(tenant: Tenant, agent_id: int, since: datetime) -> int:
    return await tenant.q(Invite).filter(inviter_id=agent_id, created_at__gte=since).count()


async def _visitor_messages_since(tenant: Tenant, visitor_id: int, since: datetime) -> int:
    return (
        await tenant.q(Message)
        .filter(visitor_id=visitor_id, sender_kind=SenderKind.VISITOR, created_at__gte=since)
        .count()
    )


def invite_limiter(redis: redisconn.RedisClient | None, prefix: str) -> RateLimiter:
    """invitesPerAgentPerMinute: invites one agent sends."""
    return RateLimiter(redis, prefix, "invite-rate", _invites_since)


def message_limiter(redis: redisconn.RedisClient | None, prefix: str) -> RateLimiter:
    """messagesPerVisitorPerMinute: messages one visitor sends."""
    return RateLimiter(redis, prefix, "message-rate", _visitor_messages_since)


class Throttle:
    """At most one go per key per window, across every process; one per process.

    With Redis, ``SET key NX PX window``: the first caller of a window creates
    the key and goes, the others find it and do not, whichever process they
    are on. Without Redis (one process) the same in a map of deadlines; the
    window is fixed, so the map is in deadline order and expired keys leave
    from its front.
    """

    def __init__(self, redis: redisconn.RedisClient | None, prefix: str, name: str, window_seconds: float) -> None:
        self.redis = redis
        self.name = name
        self.prefix = f"{prefix}:{name}"
        self.window = window_seconds
        self._deadlines: OrderedDict[str, float] = OrderedDict()

    async def go(self, key: str) -> bool:
        """Whether this call is the one of its window for ``key``."""
        if self.redis is not None:
            try:
                return bool(await self.redis.set(f"{self.prefix}:{key}", 1, nx=True, px=int(self.window * 1000)))
            except redisconn.OUTAGES as exc:
                # Throttled per process instead of refused: what it spares is noise, not state.
                redisconn.fell_back(f"{self.name} throttle", log, exc, "throttling in this process")
        return self._go_here(key)

    def _go_here(self, key: str) -> bool:
        now = time.monotonic()
        while self._deadlines:
            oldest, deadline = next(iter(self._deadlines.items()))
            if deadline > now:
                break
            del self._deadlines[oldest]
        if key in self._deadlines:
            return False
        self._deadlines[key] = now + self.window
        return True


# KEYS[1] = the caller's bucket; ARGV = capacity, rate (points/s), cost.
# Returns {1 if spent else 0, the level after (a string: Lua numbers become integers)}.
# An operation costing nothing only reads: the level is a function of time.
_SPEND = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local level = capacity
local saved = redis.call('HMGET', KEYS[1], 'level', 'at')
if saved[1] then
  level = math.min(capacity, tonumber(saved[1]) + math.max(0, now - tonumber(saved[2])) * rate)
end
if cost == 0 then return {1, tostring(level)} end
local spent = 0
if cost <= level then
  level = level - cost
  spent = 1
end
redis.call('HSET', KEYS[1], 'level', tostring(level), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil((capacity - level) / rate) + 1)
return {spent, tostring(level)}
"""

LOCAL_BUCKETS = 100_000


class QueryCostLimiter:
    """One per process: spends a caller's query-cost points, or says when to retry."""

    def __init__(self, redis: redisconn.RedisClient | None, prefix: str) -> None:
        self.prefix = prefix
        self._script = redis.register_script(_SPEND) if redis is not None else None
        self._local: LRUCache[tuple[str, str], budget.Bucket] = LRUCache(maxsize=LOCAL_BUCKETS)

    def key(self, org: str, sub: str) -> str:
        """The caller's bucket in Redis. Hashed from the pair, since ``:`` may be in either: joined
        with it, org "a:b" with sub "c" and org "a" with sub "b:c" would share one bucket."""
        digest = hashlib.sha256(json.dumps([org, sub]).encode()).hexdigest()
        return f"{self.prefix}:query-cost:{digest}"

    async def spend(self, org: str, sub: str, cost: int, capacity: int, rate: int) -> budget.Spend:
        """Take ``cost`` points from the caller's bucket of ``capacity`` refilling at ``rate`` per second."""
        caller, now = (org, sub), time.monotonic()
        if self._script is not None and cost > 0:
            key = self.key(org, sub)
            try:
                spent, level = await self._script(keys=[key], args=[capacity, rate, cost])
            except redisconn.OUTAGES as exc:
                # Each process limiting on its own is looser, not wrong; better than refusing all.
                redisconn.fell_back("query cost budget", log, exc, "limiting in this process")
            else:
                self._local[caller] = budget.Bucket(float(level), now)
                return _outcome(bool(int(spent)), float(level), capacity, rate, cost)
        # Without Redis the bucket itself; with Redis, for an operation costing
        # nothing (which spends nothing, so needs no round trip), this process's
        # latest view of the shared bucket, refilled to now.
        return self.spend_locally(caller, cost, capacity, rate, now)

    def spend_locally(self, caller: tuple[str, str], cost: int, capacity: int, rate: int, now: float) -> budget.Spend:
        bucket, outcome = budget.spend(self._local.get(caller), now, capacity, rate, cost)
        if cost:
            self._local[caller] = bucket
        return outcome


def _outcome(spent: bool, level: float, capacity: int, rate: int, cost: int) -> budget.Spend:
    """The script's answer as ``budget.spend`` gives it."""
    if spent:
        return budget.Spend(True, int(level), capacity, rate)
    _, outcome = budget.spend(budget.Bucket(level, 0.0), 0.0, capacity, rate, cost)
    return outcome
