"""The query-cost budget: a token bucket per caller, its arithmetic only.

A caller's bucket holds at most ``capacity`` points (the organization's
``queryCostBudget``) and refills at ``rate`` points per second
(``queryCostRestorePerSecond``). An operation that costs more than the bucket
holds is refused and spends nothing; the refusal says how many whole seconds
until the bucket holds enough. A bucket never seen before is full. The Redis
script in ``switchboard.runtime.ratelimit`` is this function in Lua.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Bucket:
    """What a bucket held (``level`` points) at ``at`` (seconds)."""

    level: float
    at: float


@dataclass(frozen=True)
class Spend:
    """The outcome of one operation: allowed or not, what is left, when to retry."""

    allowed: bool
    available: int
    capacity: int
    rate: int
    # Whole seconds until the bucket holds the cost; None when allowed, or when
    # the cost is more than the bucket can ever hold.
    retry_after: int | None = None


def refilled(bucket: Bucket | None, now: float, capacity: int, rate: int) -> float:
    """The bucket's level at ``now``: full when new, never above ``capacity``."""
    if bucket is None:
        return float(capacity)
    return min(float(capacity), bucket.level + max(0.0, now - bucket.at) * rate)


def spend(bucket: Bucket | None, now: float, capacity: int, rate: int, cost: int) -> tuple[Bucket, Spend]:
    """Take ``cost`` points if the bucket holds them: (the bucket after, the outcome)."""
    level = refilled(bucket, now, capacity, rate)
    if cost <= level:
        level -= cost
        return Bucket(level, now), Spend(True, math.floor(level), capacity, rate)
    retry = None if cost > capacity else max(1, math.ceil((cost - level) / rate))
    return Bucket(level, now), Spend(False, math.floor(level), capacity, rate, retry)
