"""Live queue positions for every watcher of this process, at O(1) cost per change.

One ``QueueWatchHub`` per process. For each queue that has local watchers it
holds one bus listener on the queue's key. A queue event (an entry added,
assigned, ...) marks the queue dirty; one task per queue then recomputes the
WAITING order with one query (plus the two of the wait estimate) and hands
every local watcher its new place. Changes that arrive while a recompute runs
are coalesced into one more recompute, so a burst costs two at most.

Each watcher owns a latest-value slot, not a queue: a watcher whose connection
is slow only ever finds the newest state when it is ready, and never delays
the others. A watcher whose place did not change gets nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from switchboard.events.bus import EventBus, Subscriber
from switchboard.events.codec import BusEvent
from switchboard.events.types import EntryChanged, QueueChanged
from switchboard.models import Queue, QueueEntry
from switchboard.rules.enums import OverflowAction, QueueEntryStatus
from switchboard.rules.estimates import estimate
from switchboard.runtime.slots import Slot
from switchboard.services.estimates import wait_basis
from switchboard.services.queueing import waiting_order
from switchboard.services.tenancy import Tenant

log = logging.getLogger(__name__)

WAITING = QueueEntryStatus.WAITING
RETRY_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Place:
    """One entry's state as a watcher sees it."""

    status: QueueEntryStatus
    position: int | None
    length: int
    estimated_wait_seconds: int | None
    overflow_action: OverflowAction | None
    at: datetime

    @property
    def final(self) -> bool:
        return self.status is not WAITING


class Watcher(Slot[Place]):
    """A queuePosition subscription's slot."""

    __slots__ = ("entry_id", "queue_id")

    def __init__(self, queue_id: int, entry_id: int) -> None:
        super().__init__()
        self.queue_id = queue_id
        self.entry_id = entry_id

    def offer(self, place: Place) -> bool:
        return self.put(place, (place.status, place.position, place.length, place.estimated_wait_seconds))


class _QueueWatch:
    """The local watchers of one queue and its recompute state."""

    __slots__ = ("dirty", "ended", "listener", "org", "queue", "queue_id", "reload", "task", "watchers")

    def __init__(self, org: str, queue_id: int) -> None:
        self.org = org
        self.queue_id = queue_id
        self.queue: Queue | None = None
        self.reload = True
        self.watchers: dict[int, set[Watcher]] = {}
        self.listener: Subscriber | None = None
        self.dirty = False
        self.task: asyncio.Task[None] | None = None
        # Entries that left WAITING according to events since the last recompute.
        self.ended: dict[int, tuple[QueueEntryStatus, OverflowAction | None]] = {}


class QueueWatchHub:
    """Per-process fan-out of queue positions (created by the queues feature)."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._queues: dict[int, _QueueWatch] = {}
        self._org_listeners: dict[str, tuple[Subscriber, set[int]]] = {}
        # Operator-facing counters (exported on /metrics): they show that the
        # work per change does not grow with the number of watchers.
        self.events = 0
        self.recomputes = 0
        self.statements = 0
        self.updates = 0
        self.watchers = 0

    # ------------------------------------------------------------ watchers

    def watch(self, org: str, queue_id: int, entry_id: int) -> Watcher:
        """A slot for ``entry_id``; its first place (the current state) arrives shortly."""
        qw = self._queues.get(queue_id)
        if qw is None:
            qw = self._queues[queue_id] = _QueueWatch(org, queue_id)
            qw.listener = self.bus.listen([("queue", queue_id)], lambda event: self._on_queue_event(qw, event))
            self._follow_org(org, queue_id)
        watcher = Watcher(queue_id, entry_id)
        qw.watchers.setdefault(entry_id, set()).add(watcher)
        self.watchers += 1
        self._schedule(qw)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        qw = self._queues.get(watcher.queue_id)
        if qw is None:
            return
        group = qw.watchers.get(watcher.entry_id)
        if group is None or watcher not in group:
            return
        group.discard(watcher)
        self.watchers -= 1
        if not group:
            del qw.watchers[watcher.entry_id]
        if not qw.watchers:
            del self._queues[qw.queue_id]
            if qw.listener is not None:
                self.bus.unregister(qw.listener)
            self._unfollow_org(qw.org, qw.queue_id)

    def _follow_org(self, org: str, queue_id: int) -> None:
        # Estimates depend on who is ONLINE: agent status changes refresh the org's watched queues.
        found = self._org_listeners.get(org)
        if found is None:
            listener = self.bus.listen([("topic", (org, "agent"))], lambda event: self._on_agent_event(org))
            found = self._org_listeners[org] = (listener, set())
        found[1].add(queue_id)

    def _unfollow_org(self, org: str, queue_id: int) -> None:
        found = self._org_listeners.get(org)
        if found is None:
            return
        found[1].discard(queue_id)
        if not found[1]:
            self.bus.unregister(found[0])
            del self._org_listeners[org]

    # ------------------------------------------------------------ events

    def _on_queue_event(self, qw: _QueueWatch, event: BusEvent) -> None:
        self.events += 1
        change = event.event
        if isinstance(change, QueueChanged):
            qw.reload = True
        elif isinstance(change, EntryChanged) and change.status is not WAITING:
            qw.ended[change.entry_id] = (change.status, change.overflow_action)
        self._schedule(qw)

    def _on_agent_event(self, org: str) -> None:
        self.events += 1
        found = self._org_listeners.get(org)
        for queue_id in found[1] if found else ():
            qw = self._queues.get(queue_id)
            if qw is not None:
                self._schedule(qw)

    def _schedule(self, qw: _QueueWatch) -> None:
        qw.dirty = True
        if qw.task is None:
            qw.task = asyncio.get_running_loop().create_task(self._run(qw), name=f"queue-watch-{qw.queue_id}")

    async def _run(self, qw: _QueueWatch) -> None:
        try:
            while qw.dirty and qw.watchers:
                qw.dirty = False
                try:
                    await self._recompute(qw)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # The database hiccuped: try again shortly; the watchers keep their last place.
                    log.warning("queue %s: position recompute failed: %s", qw.queue_id, exc)
                    qw.dirty = True
                    await asyncio.sleep(RETRY_SECONDS)
        finally:
            qw.task = None

    async def _recompute(self, qw: _QueueWatch) -> None:
        tenant = Tenant(qw.org)
        now = datetime.now(UTC)
        ended, qw.ended = qw.ended, {}
        if qw.reload or qw.queue is None:
            qw.reload = False
            qw.queue = await tenant.get(Queue, qw.queue_id)
            self.statements += 1
            if qw.queue is None:
                return
        order = await waiting_order(tenant, qw.queue_id)
        basis = await wait_basis(tenant, qw.queue, now)
        self.statements += 3
        self.recomputes += 1
        index = {entry_id: i for i, entry_id in enumerate(order, 1)}
        length = len(order)
        missing = [e for e in qw.watchers if e not in index and e not in ended]
        if missing:
            # Watchers of entries that left the queue without an event we saw (or before we watched).
            rows = await tenant.q(QueueEntry).filter(id__in=missing).values_list("id", "status", "overflow_action")
            self.statements += 1
            for entry_id, status, action in rows:
                ended[entry_id] = (QueueEntryStatus(status), OverflowAction(action) if action else None)
        for entry_id, group in list(qw.watchers.items()):
            position = index.get(entry_id)
            if position is not None:
                place = Place(WAITING, position, length, estimate(basis, position), None, now)
            else:
                final = ended.get(entry_id)
                if final is None or final[0] is WAITING:
                    continue
                place = Place(final[0], None, length, None, final[1], now)
            for watcher in group:
                if watcher.offer(place):
                    self.updates += 1

    async def stop(self) -> None:
        for qw in list(self._queues.values()):
            if qw.task is not None:
                qw.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await qw.task

    def stats(self) -> dict[str, int]:
        return {
            "watchers": self.watchers,
            "queues": len(self._queues),
            "events": self.events,
            "recomputes": self.recomputes,
            "statements": self.statements,
            "updates": self.updates,
        }
