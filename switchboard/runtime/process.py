"""One process's services: built and stopped by the app's lifespan, typed, one of each."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from switchboard import redisconn
from switchboard.events.bus import EventBus
from switchboard.events.outbox import Outbox
from switchboard.events.transport import LocalTransport, RedisTransport, Transport
from switchboard.observability import Telemetry
from switchboard.runtime import sweepers
from switchboard.runtime.collector import QueueCollector
from switchboard.runtime.event_rows import EventRows
from switchboard.runtime.orgfacts import OrgFactsCache
from switchboard.runtime.persisted import PersistedQueries
from switchboard.runtime.positions import QueueWatchHub
from switchboard.runtime.ratelimit import QueryCostLimiter, RateLimiter, Throttle, invite_limiter, message_limiter
from switchboard.runtime.router import QueueRouter
from switchboard.runtime.scheduler import Job, Scheduler
from switchboard.runtime.stats import QueueStatsHub
from switchboard.settings import Settings

ROUTING_SAFETY_SECONDS = 1.0
PRUNE_EVERY_SECONDS = 600.0
# The contract: a sender's typing events on one thread go out at most one per 2 seconds.
TYPING_WINDOW_SECONDS = 2.0


@dataclass
class Services:
    settings: Settings
    telemetry: Telemetry
    redis: redisconn.RedisClient | None
    bus: EventBus
    scheduler: Scheduler
    router: QueueRouter
    invite_limiter: RateLimiter
    message_limiter: RateLimiter
    typing_throttle: Throttle
    query_costs: QueryCostLimiter
    org_facts: OrgFactsCache
    persisted_queries: PersistedQueries
    positions: QueueWatchHub
    queue_stats: QueueStatsHub
    event_rows: EventRows
    collector: QueueCollector

    def after_capacity_change(self, outbox: Outbox, org: str) -> None:
        """Ask for a routing pass once ``outbox``'s transaction has committed."""
        router = self.router
        outbox.after_commit.append(lambda: router.kick(org))


def build(settings: Settings, telemetry: Telemetry, redis: redisconn.RedisClient | None) -> Services:
    """Every long-lived helper of the process, wired; nothing runs until ``start``."""
    transport: Transport = (
        RedisTransport(redis, f"{settings.redis_prefix}:events") if redis is not None else LocalTransport()
    )
    bus = EventBus(transport, retention_hours=settings.event_retention_hours)
    router = QueueRouter(bus)
    positions, stats = QueueWatchHub(bus), QueueStatsHub(bus)

    async def expire(now: datetime) -> int:
        return await sweepers.expire_invites(bus, now)

    async def overflow(now: datetime) -> int:
        return await sweepers.overflow_entries(bus, now)

    async def catch_up(now: datetime) -> int:
        return await bus.catch_up()

    async def prune(now: datetime) -> int:
        return await bus.prune()

    scheduler = Scheduler(
        [
            Job("invite-expiry", settings.timer_poll_seconds, expire),
            Job("queue-overflow", settings.timer_poll_seconds, overflow),
            Job("routing-safety-pass", ROUTING_SAFETY_SECONDS, router.safety_pass, detached=True),
            Job("event-catch-up", settings.relay_poll_seconds, catch_up, first_after=settings.relay_poll_seconds),
            Job("event-prune", PRUNE_EVERY_SECONDS, prune, first_after=PRUNE_EVERY_SECONDS),
        ]
    )
    return Services(
        settings=settings,
        telemetry=telemetry,
        redis=redis,
        bus=bus,
        scheduler=scheduler,
        router=router,
        invite_limiter=invite_limiter(redis, settings.redis_prefix),
        message_limiter=message_limiter(redis, settings.redis_prefix),
        typing_throttle=Throttle(redis, settings.redis_prefix, "typing", TYPING_WINDOW_SECONDS),
        query_costs=QueryCostLimiter(redis, settings.redis_prefix),
        org_facts=OrgFactsCache(bus),
        persisted_queries=PersistedQueries(redis, settings.redis_prefix),
        positions=positions,
        queue_stats=stats,
        event_rows=EventRows(),
        collector=QueueCollector(positions, stats, router),
    )


async def start(services: Services) -> None:
    await services.bus.start()
    services.telemetry.registry.register(services.collector)
    await services.scheduler.start()


async def stop(services: Services) -> None:
    await services.scheduler.stop()
    await services.router.stop()
    await services.positions.stop()
    await services.queue_stats.stop()
    services.org_facts.stop()
    with contextlib.suppress(KeyError):
        services.telemetry.registry.unregister(services.collector)
    await services.bus.stop()
