"""How committed events reach the other server processes.

``RedisTransport`` publishes each event once on one channel; every process holds
one Redis subscription for it, whatever its number of subscribers. With no Redis
configured, ``LocalTransport`` does nothing: the publishing process delivers to
its own subscribers directly, and there are no other processes.

Live-only events (typing) take the same channel and the same subscription. They
have no seq to drop the process's own echo by, so each carries its origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from switchboard import outages
from switchboard.events.codec import BusEvent, LiveEvent, decode

log = logging.getLogger(__name__)

CHANNEL = "switchboard:events"
PUBLISH_TIMEOUT = 1.0
Deliver = Callable[[BusEvent], Awaitable[None]]
Signal = Callable[[LiveEvent], None]


class Transport(Protocol):
    origin: str

    async def start(self, deliver: Deliver, signal: Signal | None = None) -> None: ...
    async def publish(self, events: list[BusEvent]) -> bool: ...
    async def publish_live(self, event: LiveEvent) -> bool: ...
    async def stop(self) -> None: ...
    async def ping(self) -> bool: ...


class LocalTransport:
    """The embedded default: one process, nothing to cross."""

    origin = ""

    async def start(self, deliver: Deliver, signal: Signal | None = None) -> None:
        return None

    async def publish(self, events: list[BusEvent]) -> bool:
        return True

    async def publish_live(self, event: LiveEvent) -> bool:
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
        self.published_live = 0
        self.origin = secrets.token_hex(8)
        self._task: asyncio.Task[None] | None = None
        self._deliver: Deliver | None = None
        self._signal: Signal | None = None
        self.connected = asyncio.Event()

    async def start(self, deliver: Deliver, signal: Signal | None = None) -> None:
        self._deliver = deliver
        self._signal = signal
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

    async def publish_live(self, event: LiveEvent) -> bool:
        """One live event to the other processes; lost (and logged) when Redis does not take it."""
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT):
                await self.client.publish(self.channel, event.to_json())
        except (RedisError, OSError, TimeoutError) as exc:
            # Nothing to catch up from: a live event is worth only its moment.
            log.warning("redis publish of a live event failed (%s)", exc)
            return False
        self.published_live += 1
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
                    if message.get("type") == "message" and self._deliver is not None:
                        await self._received(message["data"])
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

    async def _received(self, raw: str | bytes) -> None:
        try:
            event = decode(raw)
        except (ValueError, TypeError, KeyError):
            log.warning("ignoring malformed event on %s", self.channel)
            return
        if isinstance(event, LiveEvent):
            if self._signal is not None and event.origin != self.origin:
                self._signal(event)
            return
        assert self._deliver is not None
        try:
            await self._deliver(event)
        except Exception:
            # A failed gap fill (the database briefly away) must not end
            # this process's one subscription; the catch-up poll
            # delivers the event once the database answers again.
            outages.log_failure(log, "delivering event %s failed", event.seq)

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
