"""The process's one Redis client: a single Redis or a Redis Cluster, told apart at start-up.

``connect`` asks the server named by ``SWITCHBOARD_REDIS_URL`` for ``INFO
cluster``: ``cluster_enabled:1`` gets a ``RedisCluster`` client (which learns
the other nodes from that one), anything else a plain client. Then a self-check
runs a Lua script on a key of ours and reads its answer back, so that a Redis
which takes connections but cannot serve us (a cluster that is not ``ok``, a
database other than 0 on a cluster, scripting refused, a wrong password) stops
start-up with one clear line instead of surfacing later, request by request.

**Outage or misconfiguration.** Once running, every user of Redis tells two
kinds of failure apart with ``OUTAGES`` (``is_outage``):

- Redis unreachable, hanging or failing over (connection refused or reset,
  timeouts, ``CLUSTERDOWN``, ``TRYAGAIN``, a slot not covered yet): an outage.
  The caller degrades in a way the contract allows (counting in the database,
  limiting in the process, a persisted-query miss) and calls ``fell_back``: one
  WARNING line and ``switchboard_redis_fallbacks_total{what}`` (``/metrics``);
  ``/readyz`` answers 503 while Redis does not answer.
- Anything else (``MOVED``/``ASK`` from a node that a plain client was pointed
  at, ``CROSSSLOT``, ``NOSCRIPT``, ``WRONGTYPE``, any other error reply): a bug
  or a misconfiguration, never hidden behind a fallback. It propagates: the
  request gets an internal error and the log a traceback.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TypeAlias
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    ClusterError,
    RedisClusterException,
    RedisError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

RedisClient: TypeAlias = aioredis.Redis | RedisCluster
TIMEOUT_SECONDS = 2.0
CLUSTER_RETRIES = 1
# Redis's own exceptions that mean "Redis is not answering (now)", not "Redis is used wrongly"
# (also what ``outages`` tells a Redis failure by).
AWAY: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ClusterError,
    TryAgainError,
    SlotNotCoveredError,
)
# ... and the socket's, from a client of Redis.
OUTAGES: tuple[type[BaseException], ...] = (*AWAY, OSError, TimeoutError)
# Every failure a Redis command can raise: an outage (above) or an error reply or misuse (raised).
ERRORS: tuple[type[BaseException], ...] = (RedisError, RedisClusterException, OSError, TimeoutError)
# What fell back to a degraded mode since the process started, by what (see ``fell_back``).
FALLBACKS: Counter[str] = Counter()

_SELF_CHECK = "redis.call('SET', KEYS[1], ARGV[1], 'PX', 10000) return redis.call('GET', KEYS[1])"


class RedisSetupError(Exception):
    """Redis cannot be used as configured; the message is the one line operators see."""


def is_cluster(client: RedisClient | None) -> bool:
    return isinstance(client, RedisCluster)


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` is Redis being away (degrade) rather than Redis used wrongly (raise)."""
    return isinstance(exc, OUTAGES)


def fell_back(what: str, logger: logging.Logger, exc: BaseException, instead: str) -> None:
    """Record a degraded answer given because Redis is away: a WARNING line and a counted fallback."""
    FALLBACKS[what] += 1
    logger.warning("%s: Redis unavailable (%s: %s); %s", what, type(exc).__name__, exc, instead)


async def ping(client: RedisClient) -> None:
    """Raises unless Redis answers; on a cluster every master must (one that hangs is half a Redis)."""
    if isinstance(client, RedisCluster):
        await client.ping(target_nodes=RedisCluster.PRIMARIES)
    else:
        await client.ping()


def _options() -> dict[str, object]:
    return {
        "socket_connect_timeout": TIMEOUT_SECONDS,
        # A Redis that hangs must not hold requests: each command (rate limits, the query
        # budget, readiness) gives up after this. The event subscriptions' blocking reads
        # are exempt (redis-py reads pub/sub without a timeout).
        "socket_timeout": TIMEOUT_SECONDS,
    }


async def connect(url: str, prefix: str) -> RedisClient:
    """The client for ``url`` (cluster or single, detected), self-checked; ``RedisSetupError`` otherwise."""
    where = _redacted(url)
    # Asked on database 0: a cluster refuses SELECT, and the URL may name another database
    # (a unix socket's path is the socket's: no cluster there).
    parts = urlsplit(url)
    probe = aioredis.from_url(url if parts.scheme == "unix" else parts._replace(path="/0").geturl(), **_options())
    try:
        info = await probe.info("cluster")
    except (RedisError, OSError) as exc:
        raise RedisSetupError(f"Redis unreachable ({where}): {type(exc).__name__}: {exc}") from exc
    finally:
        await probe.aclose()
    if not int(info.get("cluster_enabled", 0)):
        single = aioredis.from_url(url, health_check_interval=15, **_options())
        await _self_check(single, prefix, where)
        log.info("redis: a single Redis at %s", where)
        return single
    client = await _cluster(url, where)
    await _self_check(client, prefix, where)
    masters = sorted(node.name for node in client.get_primaries())
    log.info("redis: a Redis Cluster of %d masters (%s), found through %s", len(masters), ", ".join(masters), where)
    return client


async def _cluster(url: str, where: str) -> RedisCluster:
    database = urlsplit(url).path.strip("/")
    if database not in ("", "0"):
        raise RedisSetupError(f"SWITCHBOARD_REDIS_URL: {where} is a Redis Cluster, which has only database 0")
    # One attempt more after a failure (with the slots read again), not redis-py's three: each
    # attempt at a master that hangs costs the socket timeout, and a request must fail within 10 s.
    client = RedisCluster.from_url(url, retry=Retry(NoBackoff(), CLUSTER_RETRIES), **_options())
    try:
        await client.initialize()
        state = await client.cluster_info()
    except (RedisError, RedisClusterException, OSError) as exc:
        await client.aclose()
        raise RedisSetupError(f"Redis Cluster unusable ({where}): {type(exc).__name__}: {exc}") from exc
    if state.get("cluster_state") != "ok":
        await client.aclose()
        raise RedisSetupError(f"Redis Cluster at {where} is not serving: cluster_state {state.get('cluster_state')}")
    return client


async def _self_check(client: RedisClient, prefix: str, where: str) -> None:
    """A script round trip on a key of ours: what every limiter does, once, before serving."""
    try:
        answer = await client.register_script(_SELF_CHECK)(keys=[f"{prefix}:self-check"], args=["ok"])
    except (RedisError, RedisClusterException, OSError) as exc:
        await client.aclose()
        raise RedisSetupError(f"Redis self-check failed ({where}): {type(exc).__name__}: {exc}") from exc
    if answer not in (b"ok", "ok"):
        await client.aclose()
        raise RedisSetupError(f"Redis self-check failed ({where}): a script answered {answer!r}")


def _redacted(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return parts._replace(netloc=user + netloc).geturl()
