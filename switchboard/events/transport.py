"""How committed events reach the other server processes.

``RedisTransport`` publishes each event once, on its organization's shard
channel: one of ``SHARDS`` fixed channels, chosen by a stable hash of the
organization, so that one organization's events keep their order (one channel)
while a Redis Cluster spreads the traffic over its masters. Every process
subscribes to all the shard channels, whatever its number of subscribers. With
no Redis configured, ``LocalTransport`` does nothing: the publishing process
delivers to its own subscribers directly, and there are no other processes.

Each shard channel's name carries a hash tag chosen so that its slot lies in
the shard's sixteenth of the 16384 slots: the channels map to known slots, and
a cluster whose masters share the slots evenly gets its share of channels on
each master. On a cluster the transport uses sharded pub/sub (``SPUBLISH``, and
one ``SSUBSCRIBE`` per channel on the master owning its slot, one connection per
master); on a single Redis plain ``PUBLISH``/``SUBSCRIBE`` on the same channels.
When a slot moves (failover, resharding) Redis ends the subscriptions of its
channels: the transport reads the cluster's slots again and subscribes anew.
Events published while a subscription is away reach this process through the
catch-up poll of the event log.

Live-only events (typing) take their organization's shard channel too. They
have no seq to drop the process's own echo by, so each carries its origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import zlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot
from redis.exceptions import AskError, RedisClusterException, RedisError, ResponseError, SlotNotCoveredError

from switchboard import outages, redisconn
from switchboard.events.codec import BusEvent, LiveEvent, decode

log = logging.getLogger(__name__)

CHANNEL = "switchboard:events"
SHARDS = 16
PUBLISH_TIMEOUT = 1.0
START_WAIT_SECONDS = 5.0
Deliver = Callable[[BusEvent], Awaitable[None]]
Signal = Callable[[LiveEvent], None]


def _tags() -> tuple[str, ...]:
    """Shard n's hash tag: the first ``n-k`` whose slot is in the n-th sixteenth of the slots."""
    span = REDIS_CLUSTER_HASH_SLOTS // SHARDS
    tags = []
    for shard in range(SHARDS):
        k = 0
        while key_slot(f"{shard}-{k}".encode()) // span != shard:
            k += 1
        tags.append(f"{shard}-{k}")
    return tuple(tags)


TAGS = _tags()


def shard_of(org: str) -> int:
    """The organization's shard: stable across processes, hosts and restarts (not Python's ``hash``)."""
    return zlib.crc32(org.encode()) % SHARDS


def shard_channels(base: str) -> list[str]:
    return [f"{base}:{{{tag}}}" for tag in TAGS]


def org_channel(base: str, org: str) -> str:
    """The shard channel that carries ``org``'s events."""
    return f"{base}:{{{TAGS[shard_of(org)]}}}"


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
    """Pub/sub over the process's one Redis client (single or cluster) on ``SHARDS`` channels."""

    def __init__(self, client: redisconn.RedisClient, channel: str = CHANNEL) -> None:
        self.client = client
        self.sharded = redisconn.is_cluster(client)
        self.channels = shard_channels(channel)
        self.published = 0
        self.published_live = 0
        self.resubscribed = 0
        self.origin = secrets.token_hex(8)
        self._task: asyncio.Task[None] | None = None
        self._deliver: Deliver | None = None
        self._signal: Signal | None = None
        self._backoff = 0.1
        self.connected = asyncio.Event()

    def channel_of(self, org: str) -> str:
        return self.channels[shard_of(org)]  # = org_channel(base, org)

    async def start(self, deliver: Deliver, signal: Signal | None = None) -> None:
        self._deliver = deliver
        self._signal = signal
        self._task = asyncio.create_task(self._listen(), name="redis-listener")
        # Serving before the subscriptions are in place would miss live events of the first
        # moments; a Redis that does not take them in time is reported by /readyz instead.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), START_WAIT_SECONDS)

    async def publish(self, events: list[BusEvent]) -> bool:
        if not events:
            return True
        try:
            # Bounded: this runs after commit on the request path, and a Redis that
            # hangs must not hold mutations (the catch-up poll delivers instead).
            async with asyncio.timeout(PUBLISH_TIMEOUT):
                async with self.client.pipeline(transaction=False) as pipe:
                    # In order: an organization's events share one channel, so one node and one connection.
                    for event in events:
                        self._send(pipe, self.channel_of(event.org), event.to_json())
                    await pipe.execute()
        except (RedisError, RedisClusterException, OSError, TimeoutError) as exc:
            # Committed events are not lost: every process's catch-up poll reads
            # them from the event log, and delivery resumes when Redis is back.
            self._failed("event publish", exc, "events will be caught up from the log")
            return False
        self.published += len(events)
        return True

    async def publish_live(self, event: LiveEvent) -> bool:
        """One live event to the other processes; lost (and logged) when Redis does not take it."""
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT):
                if self.sharded:
                    await self.client.spublish(self.channel_of(event.org), event.to_json())
                else:
                    await self.client.publish(self.channel_of(event.org), event.to_json())
        except (RedisError, RedisClusterException, OSError, TimeoutError) as exc:
            # Nothing to catch up from: a live event is worth only its moment.
            self._failed("live event publish", exc, "the live event is lost")
            return False
        self.published_live += 1
        return True

    def _send(self, pipe: Any, channel: str, data: str) -> None:
        if self.sharded:
            pipe.spublish(channel, data)
        else:
            pipe.publish(channel, data)

    @staticmethod
    def _failed(what: str, exc: BaseException, instead: str) -> None:
        """After commit a publish cannot fail the request; an error reply is still an error in the log."""
        if redisconn.is_outage(exc):
            redisconn.fell_back(what, log, exc, instead)
            return
        redisconn.FALLBACKS[what] += 1
        log.error("%s: Redis refused it (%s: %s); %s", what, type(exc).__name__, exc, instead, exc_info=exc)

    async def _listen(self) -> None:
        while True:
            try:
                if self.sharded:
                    await self._listen_sharded()
                else:
                    await self._listen_single()
            except asyncio.CancelledError:
                raise
            except (RedisError, RedisClusterException, OSError) as exc:
                self.connected.clear()
                # MOVED/ASK here is a slot that changed owner between reading the slots and subscribing.
                if isinstance(exc, ResponseError) and not isinstance(exc, AskError) and not redisconn.is_outage(exc):
                    log.error("redis subscription refused (%s: %s); retrying", type(exc).__name__, exc)
                else:
                    log.warning("redis subscription lost (%s); retrying in %.1fs", exc, self._backoff)
                await self._back_off()
            except Exception:
                # Whatever it was, this process must not stay without its subscriptions.
                self.connected.clear()
                log.exception("redis subscription failed; retrying in %.1fs", self._backoff)
                await self._back_off()
            else:
                # A slot moved: Redis ended its channels' subscriptions. Subscribe again where they are now.
                self.connected.clear()
                self.resubscribed += 1
                log.warning("redis shard channels moved to another node; subscribing again")

    async def _back_off(self) -> None:
        await asyncio.sleep(self._backoff)
        self._backoff = min(self._backoff * 2, 2.0)

    def _subscribed(self) -> None:
        self.connected.set()
        self._backoff = 0.1

    async def _listen_single(self) -> None:
        assert isinstance(self.client, aioredis.Redis)
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(*self.channels)
            self._subscribed()
            async for message in pubsub.listen():
                if message.get("type") == "message" and self._deliver is not None:
                    await self._received(message["data"])
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _listen_sharded(self) -> None:
        """One subscription per master that owns shard channels; returns when any of them moved."""
        assert isinstance(self.client, RedisCluster)
        # The slots as they are now: after a failover or a resharding the owners have changed.
        await self.client.nodes_manager.initialize()
        plan: dict[str, tuple[ClusterNode, list[str]]] = {}
        for channel in self.channels:
            node = self.client.get_node_from_key(channel)
            if node is None:
                raise SlotNotCoveredError(f"no master serves the slot of {channel}")
            plan.setdefault(node.name, (node, []))[1].append(channel)
        pending = set(plan)

        def subscribed(name: str) -> None:
            pending.discard(name)
            if not pending:
                self._subscribed()

        tasks = [
            asyncio.create_task(self._listen_node(node, channels, subscribed), name=f"redis-listener-{name}")
            for name, (node, channels) in plan.items()
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _listen_node(self, node: ClusterNode, channels: list[str], subscribed: Callable[[str], None]) -> None:
        pool = aioredis.ConnectionPool(connection_class=node.connection_class, **node.connection_kwargs)
        client = aioredis.Redis(connection_pool=pool)
        pubsub = client.pubsub()
        try:
            # One SSUBSCRIBE per channel: several channels of different slots in one would be CROSSSLOT.
            for channel in channels:
                await pubsub.ssubscribe(channel)
            subscribed(node.name)
            async for message in pubsub.listen():
                kind = message.get("type")
                if kind == "smessage" and self._deliver is not None:
                    await self._received(message["data"])
                elif kind == "sunsubscribe":
                    return
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            with contextlib.suppress(Exception):
                await client.aclose()
            with contextlib.suppress(Exception):
                await pool.aclose()

    async def _received(self, raw: str | bytes) -> None:
        try:
            event = decode(raw)
        except (ValueError, TypeError, KeyError):
            log.warning("ignoring a malformed event on the events channels")
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
            # this process's subscription; the catch-up poll
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
        except (RedisError, RedisClusterException, OSError):
            return False
