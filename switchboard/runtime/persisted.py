"""Automatic persisted queries (Apollo's protocol): query text by its SHA-256 hash, known to every process.

With Redis, a query is one key (``<prefix>:apq:<hash>``) that lives ``TTL_SECONDS``
after it was last used, so what Redis holds is bounded by what clients used in
that time; without Redis (one process) an LRU of ``LOCAL_BYTES`` of query text.
Either way only queries of at most ``MAX_QUERY_BYTES`` are kept: a larger one
runs, but its client has to send it in full each time. If Redis does not answer,
a lookup misses (the client then sends the query) and a registration is skipped,
each counted as a fallback (``redisconn.fell_back``); an error reply is raised.
Each operation touches its one key, so a Redis Cluster serves it as a single Redis does.
"""

from __future__ import annotations

import hashlib
import logging
import re

from cachetools import LRUCache

from switchboard import redisconn

log = logging.getLogger(__name__)

TTL_SECONDS = 7 * 24 * 3600
MAX_QUERY_BYTES = 64 * 1024
LOCAL_BYTES = 8 * 1024 * 1024
HASH = re.compile(r"[0-9a-f]{64}")


def sha256_hex(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()


def _size(query: str) -> int:
    return len(query) + 64


class PersistedQueries:
    """One per process."""

    def __init__(self, redis: redisconn.RedisClient | None, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._local: LRUCache[str, str] = LRUCache(maxsize=LOCAL_BYTES, getsizeof=_size)

    def _key(self, sha: str) -> str:
        return f"{self.prefix}:apq:{sha}"

    async def get(self, sha: str) -> str | None:
        """The query registered under ``sha`` (its lifetime starts again), or None."""
        found = self._local.get(sha)
        if found is not None or self.redis is None:
            return found
        try:
            raw = await self.redis.getex(self._key(sha), ex=TTL_SECONDS)
        except redisconn.OUTAGES as exc:
            redisconn.fell_back("persisted query lookup", log, exc, "treated as unknown")
            return None
        if raw is None:
            return None
        query = raw.decode("utf-8", "surrogatepass") if isinstance(raw, bytes) else str(raw)
        self._local[sha] = query
        return query

    async def put(self, sha: str, query: str) -> bool:
        """Register ``query`` under ``sha`` (already checked to be its hash); False when too large."""
        if len(query.encode("utf-8", "surrogatepass")) > MAX_QUERY_BYTES:
            return False
        known = sha in self._local
        self._local[sha] = query
        if self.redis is not None and not known:
            try:
                await self.redis.set(self._key(sha), query.encode("utf-8", "surrogatepass"), ex=TTL_SECONDS)
            except redisconn.OUTAGES as exc:
                redisconn.fell_back("persisted query registration", log, exc, "not registered")
                return False
        return True
