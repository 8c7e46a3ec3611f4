"""The process's event bus: one per app, owned by the lifespan.

Events arrive from three places: this process's own commits, the transport
(Redis), and a catch-up poll of the event log (``catch_up``, a job of the
process's scheduler, like ``prune``). Seqs are per organization, and so is
everything that orders them: the dispatcher keeps a watermark per organization
(the last seq it dispatched there) and takes each organization's events in
``seq`` order, exactly once: a duplicate is dropped and a gap is filled from
that organization's log with one query. Organizations never wait on each
other's gap fills. Each event is then handed to the subscribers registered on
its routing keys, so the work per event is per process, not per subscriber.

Live-only events (``LiveEvent``, typing) skip all of that: no seq, no log, no
replay. ``signal`` hands one to this process's subscribers that asked for live
events and to the other processes; a subscriber that is behind drops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, overload

from tortoise import connections
from tortoise.functions import Max

from switchboard import outages
from switchboard.events.codec import BusEvent, LiveEvent, UnknownEvent
from switchboard.events.cursors import CursorExpired
from switchboard.events.sql import marks
from switchboard.events.transport import LocalTransport, Transport
from switchboard.events.types import Topic
from switchboard.models import Event

log = logging.getLogger(__name__)

Key = tuple[str, object]
Predicate = Callable[[BusEvent], bool]
LivePredicate = Callable[[LiveEvent], bool]
REPLAY_BATCH = 500
SUBSCRIBER_BUFFER = 1000


def _always(_: BusEvent) -> bool:
    return True


def _decoded(row: Event) -> BusEvent | None:
    """The row's event; None (logged) for a kind this version does not know."""
    try:
        return BusEvent.from_row(row)
    except UnknownEvent:
        log.exception("skipping event %s of an unknown kind", row.seq)
        return None


@dataclass(eq=False)
class Subscriber:
    """One live stream: a bounded buffer that falls back to the log when it overflows."""

    keys: tuple[Key, ...]
    predicate: Predicate = _always
    callback: Callable[[BusEvent], None] | None = None
    # Which live-only events this subscriber takes (None: none).
    live: LivePredicate | None = None
    queue: asyncio.Queue[BusEvent | LiveEvent] = field(default_factory=lambda: asyncio.Queue(SUBSCRIBER_BUFFER))
    lagged: bool = False

    def offer(self, event: BusEvent) -> None:
        if not self.predicate(event):
            return
        if self.callback is not None:
            self.callback(event)
            return
        if self.lagged:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            # A slow consumer must not hold the dispatcher: it re-reads what it
            # missed from the event log instead.
            self.lagged = True

    def offer_live(self, event: LiveEvent) -> None:
        if self.live is None or self.lagged or not self.live(event):
            return
        # A full buffer drops it: a live event is not worth a replay, and there is none.
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(event)


@dataclass(frozen=True)
class ReplayFilter:
    """What to read back from the log for a resuming subscriber (narrowed in SQL)."""

    org: str
    topics: tuple[Topic, ...]
    thread_id: int | None = None
    queue_id: int | None = None
    # Kinds the subscriber never wants (its predicate would drop them): not read at all.
    exclude_kinds: tuple[str, ...] = ()


class EventBus:
    def __init__(self, transport: Transport | None = None, retention_hours: int = 168) -> None:
        self.transport: Transport = transport or LocalTransport()
        self.retention_hours = retention_hours
        # Organization -> the last seq dispatched there (thousands of organizations: a dict of ints).
        self.watermarks: dict[str, int] = {}
        self.dispatched = 0
        self.signalled = 0
        self.gap_fills = 0
        self._index: dict[Key, set[Subscriber]] = defaultdict(set)
        self._locks: dict[str, asyncio.Lock] = {}

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self.watermarks = await self._committed()
        await self.transport.start(self.ingest, self.dispatch_live)

    async def stop(self) -> None:
        await self.transport.stop()

    # ------------------------------------------------------------ publishing

    async def publish(self, events: list[BusEvent]) -> None:
        """Called after commit: deliver here at once, and to every other process."""
        if not events:
            return
        try:
            for event in events:
                await self.ingest(event)
        except Exception:
            # The change is committed: a failed local delivery (a gap fill that
            # could not read the log) must not turn the mutation into an error.
            # The catch-up poll delivers these events.
            outages.log_failure(log, "local delivery of events %s..%s failed", events[0].seq, events[-1].seq)
        await self.transport.publish(events)

    def watermark(self, org: str) -> int:
        """The last seq of ``org`` this process dispatched."""
        return self.watermarks.get(org, 0)

    def _lock_of(self, org: str) -> asyncio.Lock:
        lock = self._locks.get(org)
        if lock is None:
            lock = self._locks[org] = asyncio.Lock()
        return lock

    async def ingest(self, event: BusEvent) -> None:
        async with self._lock_of(event.org):
            last = self.watermark(event.org)
            if event.seq <= last:
                return
            if event.seq > last + 1:
                await self._fill(event.org, event.seq - 1)
            self._dispatch(event)

    async def signal(self, event: LiveEvent) -> None:
        """A live-only event: to this process's subscribers now, and to every other process."""
        if not event.origin:
            event = LiveEvent(at=event.at, event=event.event, origin=self.transport.origin)
        self.dispatch_live(event)
        await self.transport.publish_live(event)

    def dispatch_live(self, event: LiveEvent) -> None:
        self.signalled += 1
        targets: set[Subscriber] = set()
        for key in event.keys():
            found = self._index.get(key)
            if found:
                targets |= found
        for subscriber in targets:
            try:
                subscriber.offer_live(event)
            except Exception:
                log.exception("live event subscriber failed")

    def _dispatch(self, event: BusEvent) -> None:
        self.watermarks[event.org] = event.seq
        self.dispatched += 1
        targets: set[Subscriber] = set()
        for key in event.keys():
            found = self._index.get(key)
            if found:
                targets |= found
        for subscriber in targets:
            try:
                subscriber.offer(event)
            except Exception:
                log.exception("event subscriber failed on seq %s", event.seq)

    async def _fill(self, org: str, up_to: int) -> None:
        """Read the events of ``org`` this process missed (seq in (watermark, up_to]) from the log."""
        self.gap_fills += 1
        while self.watermark(org) < up_to:
            missed = Event.filter(org_id=org, seq__gt=self.watermark(org), seq__lte=up_to)
            rows = await missed.order_by("seq").limit(REPLAY_BATCH)
            if not rows:
                # Not visible yet (cannot happen with ordered commits), or pruned: retry on the next poll.
                return
            for row in rows:
                event = _decoded(row)
                if event is None:
                    assert row.seq is not None
                    self.watermarks[org] = row.seq
                else:
                    self._dispatch(event)

    async def _committed(self) -> dict[str, int]:
        """Every organization's newest committed seq, in one statement."""
        rows = await connections.get("default").execute_query_dict("SELECT org_id, value FROM org_event_counter")
        return {str(row["org_id"]): int(row["value"]) for row in rows}

    async def catch_up(self) -> int:
        """Safety net: dispatch events whose notification never came (Redis down, a crash); how many.

        One read of all counters; only the organizations behind are read from the log."""
        committed = await self._committed()
        before = self.dispatched
        for org, value in committed.items():
            if value <= self.watermark(org):
                continue
            async with self._lock_of(org):
                if value > self.watermark(org):
                    await self._fill(org, value)
        return self.dispatched - before

    async def prune(self) -> int:
        """Delete the events older than the retention; how many went.

        Per organization, deletes by ``seq`` up to its newest event old enough, so
        that what is kept of each organization's log is a whole suffix: processes'
        clocks may differ a little, and a hole in the middle would let a resume skip
        events.
        """
        cutoff = datetime.now(UTC) - timedelta(hours=self.retention_hours)
        newest_old = (
            await Event.filter(created_at__lt=cutoff)
            .annotate(upto=Max("seq"))
            .group_by("org_id")
            .values_list("org_id", "upto")
        )
        deleted = 0
        for org, upto in newest_old:
            deleted += int(await Event.filter(org_id=org, seq__lte=upto).delete())
        return deleted

    async def expired(self, org: str, after: int) -> bool:
        """True when events of ``org`` right after ``after`` were pruned: a replay from it would skip them."""
        # One statement, so that an event committed meanwhile cannot make a valid cursor look stale.
        connection = connections.get("default")
        first, second = marks(connection, 2)
        rows = await connection.execute_query_dict(
            f"SELECT COALESCE((SELECT MIN(seq) FROM event WHERE org_id = {first}),"
            f" (SELECT value FROM org_event_counter WHERE org_id = {second}) + 1, 1) AS oldest_kept",
            [org, org],
        )
        return after + 1 < int(rows[0]["oldest_kept"])

    async def check_cursor(self, org: str, after: int) -> None:
        """Refuse to resume ``org``'s log from ``after`` when events right after it were pruned."""
        if await self.expired(org, after):
            raise CursorExpired(self.retention_hours)

    # ------------------------------------------------------------ subscribing

    def register(self, subscriber: Subscriber) -> Subscriber:
        for key in subscriber.keys:
            self._index[key].add(subscriber)
        return subscriber

    def unregister(self, subscriber: Subscriber) -> None:
        for key in subscriber.keys:
            found = self._index.get(key)
            if found is not None:
                found.discard(subscriber)
                if not found:
                    del self._index[key]

    def listen(self, keys: Iterable[Key], callback: Callable[[BusEvent], None]) -> Subscriber:
        """An in-process listener called synchronously by the dispatcher (must not block)."""
        return self.register(Subscriber(keys=tuple(keys), callback=callback))

    @property
    def subscriber_count(self) -> int:
        return len({s for subs in self._index.values() for s in subs})

    async def replay(self, after: int, flt: ReplayFilter, predicate: Predicate) -> AsyncIterator[BusEvent]:
        """Events after ``after`` from the log, in order, that pass ``predicate``."""
        last = after
        while True:
            qs = Event.filter(org_id=flt.org, topic__in=flt.topics, seq__gt=last)
            if flt.thread_id is not None:
                qs = qs.filter(thread_id=flt.thread_id)
            if flt.queue_id is not None:
                qs = qs.filter(queue_id=flt.queue_id)
            if flt.exclude_kinds:
                qs = qs.exclude(kind__in=flt.exclude_kinds)
            rows = await qs.order_by("seq").limit(REPLAY_BATCH)
            for row in rows:
                assert row.seq is not None
                last = row.seq
                event = _decoded(row)
                if event is not None and predicate(event):
                    yield event
            if len(rows) < REPLAY_BATCH:
                return

    @overload
    def stream(
        self, keys: Iterable[Key], flt: ReplayFilter, predicate: Predicate = ..., after: int | None = ...
    ) -> AsyncGenerator[BusEvent, None]: ...

    @overload
    def stream(
        self,
        keys: Iterable[Key],
        flt: ReplayFilter,
        predicate: Predicate = ...,
        after: int | None = ...,
        *,
        live: LivePredicate,
    ) -> AsyncGenerator[BusEvent | LiveEvent, None]: ...

    async def stream(
        self,
        keys: Iterable[Key],
        flt: ReplayFilter,
        predicate: Predicate = _always,
        after: int | None = None,
        *,
        live: LivePredicate | None = None,
    ) -> AsyncGenerator[BusEvent | LiveEvent, None]:
        """Replay after ``after`` (if given), then live: in order, no gap, no duplicate.

        The subscriber is registered before the replay starts, so an event
        committed during the replay is buffered and then skipped if the replay
        already yielded it. With ``live``, the live-only events it accepts are
        mixed in as they come (never replayed).
        """
        subscriber = self.register(Subscriber(keys=tuple(keys), predicate=predicate, live=live))
        try:
            last = after if after is not None else self.watermark(flt.org)
            if after is not None:
                await self.check_cursor(flt.org, after)
                async for event in self.replay(after, flt, predicate):
                    last = event.seq
                    yield event
            while True:
                if subscriber.lagged:
                    subscriber.queue = asyncio.Queue(SUBSCRIBER_BUFFER)
                    subscriber.lagged = False
                    async for event in self.replay(last, flt, predicate):
                        last = event.seq
                        yield event
                    continue
                received = await subscriber.queue.get()
                if isinstance(received, LiveEvent):
                    yield received
                # Seqs of another organization do not compare with this stream's (its keys are its own).
                elif received.org == flt.org and received.seq > last:
                    last = received.seq
                    yield received
        finally:
            self.unregister(subscriber)

    def stats(self) -> dict[str, Any]:
        return {
            "organizations": len(self.watermarks),
            "dispatched": self.dispatched,
            "gap_fills": self.gap_fills,
            "signalled": self.signalled,
            "subscribers": self.subscriber_count,
        }
