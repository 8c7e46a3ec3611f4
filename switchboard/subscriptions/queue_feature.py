"""Queues feature wiring: the router, its safety net, overflow by itself, position watchers.

- ``QueueRouter`` is ``services.router``: ``kick(org)`` runs a routing pass after
  a commit that queued an entry or freed capacity. Passes of one organization
  never overlap within a process; kicks during a pass are served by one more.
- ``RoutingSweeper`` runs a pass about every second for organizations with
  WAITING entries, so nothing waits on a kick that was lost (a crash between
  commit and kick, a capacity change made elsewhere). Its passes run in a task
  of their own: the scheduler (invite expiry, overflow) never waits for them.
- ``OverflowSweeper`` overflows entries past their deadline, exactly once
  across processes (conditional update, event in the same transaction).
- ``QueueWatchHub`` feeds ``queuePosition`` subscriptions, ``QueueStatsHub``
  ``queueStats`` ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from switchboard.context import Services
from switchboard.domain import queueing, routing
from switchboard.domain.enums import QueueEntryStatus
from switchboard.models import QueueEntry
from switchboard.subscriptions.bus import EventBus
from switchboard.subscriptions.outbox import atomic
from switchboard.subscriptions.queue_watch import QueueStatsHub, QueueWatchHub
from switchboard.tenancy import Tenant

log = logging.getLogger(__name__)

HUB = "queue_watch"
STATS_HUB = "queue_stats"
SWEEPER = "queue_routing_sweeper"
ROUTING_INTERVAL_SECONDS = 1.0
OVERFLOW_BATCH = 100


@dataclass
class _OrgPass:
    task: asyncio.Task[None] | None = None
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class QueueRouter:
    """Routing passes per organization, coalesced within the process."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.passes = 0
        self.assigned = 0
        self._orgs: dict[str, _OrgPass] = {}

    async def kick(self, org: str) -> None:
        """Run a pass that starts after this call; return when it is done."""
        state = self._orgs.setdefault(org, _OrgPass())
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        state.waiters.append(done)
        if state.task is None:
            state.task = asyncio.create_task(self._drain(org, state), name=f"routing-{org}")
        # The pass runs in its own task: a caller that goes away does not stop it.
        await asyncio.shield(done)

    async def _drain(self, org: str, state: _OrgPass) -> None:
        try:
            while state.waiters:
                batch, state.waiters = state.waiters, []
                try:
                    await self._pass(org)
                except Exception:
                    log.exception("routing pass for %s failed", org)
                for waiter in batch:
                    if not waiter.done():
                        waiter.set_result(None)
        finally:
            state.task = None
            if not state.waiters:
                self._orgs.pop(org, None)

    async def _pass(self, org: str) -> None:
        self.passes += 1
        self.assigned += await routing.route(Tenant(org), self.bus)


class RoutingSweeper:
    """The safety net: a routing pass for every organization with WAITING entries."""

    name = "queue-routing"

    def __init__(self, router: QueueRouter, interval: float = ROUTING_INTERVAL_SECONDS) -> None:
        self.router = router
        self.interval = interval
        self._due = 0.0
        self._task: asyncio.Task[None] | None = None

    async def sweep(self, now: datetime) -> int:
        """Start a round of passes unless one is still running; returns at once."""
        if time.monotonic() < self._due or self._task is not None:
            return 0
        self._due = time.monotonic() + self.interval
        self._task = asyncio.create_task(self._round(), name="queue-routing-round")
        return 0

    async def _round(self) -> None:
        try:
            # No tenant here: the org comes from the rows themselves.
            orgs = await QueueEntry.filter(status=QueueEntryStatus.WAITING).distinct().values_list("org_id", flat=True)
            for org in orgs:
                await self.router.kick(str(org))
        except Exception as exc:
            log.warning("routing round failed: %s", exc)
        finally:
            self._task = None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class OverflowSweeper:
    """WAITING past ``overflow_at``: OVERFLOWED with the queue's action, exactly once."""

    name = "queue-overflow"

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    async def sweep(self, now: datetime) -> int:
        due = await (
            QueueEntry.filter(status=QueueEntryStatus.WAITING, overflow_at__lte=now)
            .order_by("overflow_at")
            .limit(OVERFLOW_BATCH)
            .values_list("id", "org_id")
        )
        fired = 0
        for entry_id, org in due:
            try:
                async with atomic(self.bus) as outbox:
                    entry = await queueing.end_waiting(
                        Tenant(str(org)), outbox, int(entry_id), QueueEntryStatus.OVERFLOWED, now, due_before=now
                    )
            except Exception as exc:
                log.warning("overflow of entry %s failed: %s", entry_id, exc)
                continue
            fired += entry is not None
        return fired


class _QueueCollector(Collector):
    """Exports the hub's and the router's counters on /metrics."""

    def __init__(self, hub: QueueWatchHub, stats: QueueStatsHub, router: QueueRouter) -> None:
        self.hub = hub
        self.stats = stats
        self.router = router

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        hub, router = self.hub, self.router
        yield GaugeMetricFamily("switchboard_queue_watchers", "Open queuePosition watchers", hub.watchers)
        yield GaugeMetricFamily(
            "switchboard_queue_stats_watchers", "Open queueStats subscriptions", self.stats.subscribers
        )
        counters = (
            ("switchboard_queue_watch_events", "Queue and agent events handled by the position hub", hub.events),
            ("switchboard_queue_watch_recomputes", "Queue order recomputations (one per change burst)", hub.recomputes),
            ("switchboard_queue_watch_sql_statements", "SQL statements run to serve queue watchers", hub.statements),
            ("switchboard_queue_watch_updates", "Position updates handed to watchers", hub.updates),
            (
                "switchboard_queue_stats_computations",
                "Queue stats computations (one per queue per window)",
                self.stats.computations,
            ),
            ("switchboard_routing_passes", "Routing passes run", router.passes),
            ("switchboard_routing_assignments", "Entries assigned by routing", router.assigned),
        )
        for name, text, value in counters:
            yield CounterMetricFamily(name, text, value)


async def start(services: Services) -> None:
    router = QueueRouter(services.bus)
    hub = QueueWatchHub(services.bus)
    stats = QueueStatsHub(services.bus)
    sweeper = RoutingSweeper(router)
    services.router = router
    services.extensions[HUB] = hub
    services.extensions[STATS_HUB] = stats
    services.extensions[SWEEPER] = sweeper
    services.extensions["queue_metrics"] = collector = _QueueCollector(hub, stats, router)
    services.telemetry.registry.register(collector)
    services.scheduler.add(OverflowSweeper(services.bus))
    services.scheduler.add(sweeper)


async def stop(services: Services) -> None:
    for key in (HUB, STATS_HUB, SWEEPER):
        helper = services.extensions.pop(key, None)
        if isinstance(helper, QueueWatchHub | QueueStatsHub | RoutingSweeper):
            await helper.stop()
    collector = services.extensions.pop("queue_metrics", None)
    if collector is not None:
        services.telemetry.registry.unregister(collector)
    services.router = None
