"""The queue hubs' and the router's counters on /metrics."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from switchboard.runtime.positions import QueueWatchHub
from switchboard.runtime.router import QueueRouter
from switchboard.runtime.stats import QueueStatsHub


class QueueCollector(Collector):
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
