"""How committed events reach the other server processes.

``RedisTransport`` publishes each event once on one channel; every process holds
one Redis subscription for it, whatever its number of subscribers. With no Redis
configured, ``LocalTransport`` does nothing: the publishing process delivers to
its own subscribers directly, and there are no other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from switchboard import outages
from switchboard.events.codec import BusEvent

log = logging.getLogger(__name__)

CHANNEL = "switchboard:events"
PUBLISH_TIMEOUT = 1.0
Deliver = Callable[[BusEvent], Awaitable[None]]


class Transport(Protocol):
    async def start(self, deliver: Deliver) -> None: ...
    async def publish(self, events: list[BusEvent]) -> bool: ...
    async def stop(self) -> None: ...
    async def ping(self) -> bool: ...


class LocalTransport:
    """The embedded default: one process, nothing to cross."""

    async def start(self, deliver: Deliver) -> None:
        return None

    async def publish(self, events: list[BusEvent]) -> bool:
        return True

    async def stop(self) -> None:
        return None

    async def ping(self) -> bool:
        return True


class RedisTransport:
    """Pub/sub over the process's one Redis pool."""

    def __init__(self, client: aioredis.Redis, channel: str = CHANNEL) -> None:
        self.client = client
        self.channel = channel
        self.published = 0
        self._task: asyncio.Task[None] | None = None
        self._deliver: Deliver | None = None
        self.connected = asyncio.Event()

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._task = asyncio.create_task(self._listen(), name="redis-listener")

    async def publish(self, events: list[BusEvent]) -> bool:
        if not events:
            return True
        try:
            # Bounded: this runs after commit on the request path, and a Redis that
            # hangs must not hold mutations (the catch-up poll delivers instead).
            async with asyncio.timeout(PUBLISH_TIMEOUT):
                async with self.client.pipeline(transaction=False) as pipe:
                    for event in events:
                        pipe.publish(self.channel, event.to_json())
                    await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            # Committed events are not lost: every process's catch-up poll reads
            # them from the event log, and delivery resumes when Redis is back.
            log.warning("redis publish failed (%s); events will be caught up from the log", exc)
            return False
        self.published += len(events)
        return True

    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.connected.set()
                backoff = 0.1
                async for message in pubsub.listen():
                    if message.get("type") != "message" or self._deliver is None:
                        continue
                    try:
                        event = BusEvent.from_json(message["data"])
                    except (ValueError, TypeError, KeyError):
                        log.warning("ignoring malformed event on %s", self.channel)
                        continue
                    try:
                        await self._deliver(event)
                    except Exception:
                        # A failed gap fill (the database briefly away) must not end
                        # this process's one subscription; the catch-up poll
                        # delivers the event once the database answers again.
                        outages.log_failure(log, "delivering event %s failed", event.seq)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self.connected.clear()
                log.warning("redis subscription lost (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except (RedisError, OSError):
            return False
