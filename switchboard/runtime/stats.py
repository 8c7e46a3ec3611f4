"""Live queue stats (``queueStats``) for every subscriber of this process.

Per watched queue one bus listener and one task that computes the figures at
most ``STATS_PER_SECOND`` times a second (a burst of changes within one window
costs one computation), every ``STATS_REFRESH_SECONDS`` while entries wait
(the longest wait grows by itself), and hands them to every local
subscriber's latest-value slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from switchboard.events.bus import EventBus, Subscriber
from switchboard.models import Queue
from switchboard.rules.estimates import QueueFigures
from switchboard.runtime.slots import Slot
from switchboard.services.estimates import queue_figures
from switchboard.services.tenancy import Tenant

log = logging.getLogger(__name__)

RETRY_SECONDS = 0.5
STATS_PER_SECOND = 4
STATS_REFRESH_SECONDS = 5.0


FiguresOf = Callable[[Tenant, Queue, datetime], Awaitable[QueueFigures]]


class StatsSlot(Slot[QueueFigures]):
    """A queueStats subscription's slot."""

    __slots__ = ("queue_id",)

    def __init__(self, queue_id: int) -> None:
        super().__init__()
        self.queue_id = queue_id


class _StatsWatch:
    """The local subscribers of one queue's stats and the task computing them."""

    __slots__ = ("changed", "listener", "org", "queue_id", "slots", "task")

    def __init__(self, org: str, queue_id: int) -> None:
        self.org = org
        self.queue_id = queue_id
        self.slots: set[StatsSlot] = set()
        self.changed = asyncio.Event()
        self.listener: Subscriber | None = None
        self.task: asyncio.Task[None] | None = None


class QueueStatsHub:
    """Per-process fan-out of queue stats: one computation per queue per window, whatever the subscribers."""

    def __init__(
        self,
        bus: EventBus,
        figures: FiguresOf = queue_figures,
        per_second: float = STATS_PER_SECOND,
        refresh_seconds: float = STATS_REFRESH_SECONDS,
    ) -> None:
        self.bus = bus
        self.figures = figures
        self.window = 1 / per_second
        self.refresh_seconds = refresh_seconds
        self._queues: dict[int, _StatsWatch] = {}
        # Exported on /metrics: computations must not grow with subscribers.
        self.computations = 0
        self.subscribers = 0

    def watch(self, org: str, queue_id: int) -> StatsSlot:
        """A slot whose first value (the current figures) arrives within one window."""
        sw = self._queues.get(queue_id)
        if sw is None:
            sw = self._queues[queue_id] = _StatsWatch(org, queue_id)
            changed = sw.changed
            # Waiting entries (queue key), ONLINE agents and their free capacity (agent
            # status, and thread changes that take or free a primary seat).
            sw.listener = self.bus.listen(
                [("queue", queue_id), ("topic", (org, "agent")), ("topic", (org, "thread"))],
                lambda _event: changed.set(),
            )
            sw.task = asyncio.get_running_loop().create_task(self._run(sw), name=f"queue-stats-{queue_id}")
        slot = StatsSlot(queue_id)
        sw.slots.add(slot)
        self.subscribers += 1
        # A newcomer needs the current figures even if nothing changed.
        sw.changed.set()
        return slot

    def unwatch(self, slot: StatsSlot) -> None:
        sw = self._queues.get(slot.queue_id)
        if sw is None or slot not in sw.slots:
            return
        sw.slots.discard(slot)
        self.subscribers -= 1
        if sw.slots:
            return
        del self._queues[sw.queue_id]
        if sw.listener is not None:
            self.bus.unregister(sw.listener)
        # Wake the task so that it sees nobody is left and ends.
        sw.changed.set()

    async def _run(self, sw: _StatsWatch) -> None:
        waiting = 0
        try:
            while sw.slots:
                refresh = self.refresh_seconds if waiting else None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sw.changed.wait(), refresh)
                # Throttle: changes within this window join one computation.
                await asyncio.sleep(self.window)
                if not sw.slots:
                    return
                sw.changed.clear()
                try:
                    figures = await self._compute(sw)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("queue %s: stats computation failed: %s", sw.queue_id, exc)
                    sw.changed.set()
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                if figures is None:
                    # The queue is gone (queues are never deleted today): nothing to show.
                    continue
                waiting = figures.waiting
                for slot in list(sw.slots):
                    slot.put(figures, figures)
        finally:
            sw.task = None

    async def _compute(self, sw: _StatsWatch) -> QueueFigures | None:
        tenant = Tenant(sw.org)
        queue = await tenant.get(Queue, sw.queue_id)
        if queue is None:
            return None
        self.computations += 1
        return await self.figures(tenant, queue, datetime.now(UTC))

    async def stop(self) -> None:
        for sw in list(self._queues.values()):
            if sw.task is not None:
                sw.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sw.task
