"""The process's event bus: one per app, owned by the lifespan.

Events arrive from three places: this process's own commits, the transport
(Redis), and a catch-up poll of the event log (``catch_up``, a job of the
process's scheduler, like ``prune``). The dispatcher takes them in
``seq`` order, exactly once: a duplicate is dropped and a gap is filled from the
log with one query. Each event is then handed to the subscribers registered on
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

from switchboard import outages
from switchboard.events.codec import BusEvent, LiveEvent, UnknownEvent
from switchboard.events.cursors import CursorExpired
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
        self.last_seq = 0
        self.dispatched = 0
        self.signalled = 0
        self.gap_fills = 0
        self._index: dict[Key, set[Subscriber]] = defaultdict(set)
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self.last_seq = await self._committed_seq()
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

    async def ingest(self, event: BusEvent) -> None:
        async with self._lock:
            if event.seq <= self.last_seq:
                return
            if event.seq > self.last_seq + 1:
                await self._fill(event.seq - 1)
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
        self.last_seq = event.seq
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

    async def _fill(self, up_to: int) -> None:
        """Read the events this process missed (seq in (last_seq, up_to]) from the log."""
        self.gap_fills += 1
        while self.last_seq < up_to:
            rows = await Event.filter(seq__gt=self.last_seq, seq__lte=up_to).order_by("seq").limit(REPLAY_BATCH)
            if not rows:
                # Not visible yet (cannot happen with ordered commits); retry on the next poll.
                return
            for row in rows:
                event = _decoded(row)
                if event is None:
                    assert row.seq is not None
                    self.last_seq = row.seq
                else:
                    self._dispatch(event)

    async def _committed_seq(self) -> int:
        rows = await connections.get("default").execute_query_dict("SELECT value FROM event_counter WHERE id = 1")
        return int(rows[0]["value"]) if rows else 0

    async def catch_up(self) -> int:
        """Safety net: dispatch events whose notification never came (Redis down, a crash); how many."""
        committed = await self._committed_seq()
        if committed <= self.last_seq:
            return 0
        before = self.dispatched
        async with self._lock:
            await self._fill(committed)
        return self.dispatched - before

    async def prune(self) -> int:
        """Delete the events older than the retention; how many went.

        Deletes by ``seq``, up to the newest event old enough, so that what is
        kept is always a whole suffix of the log: processes' clocks may differ a
        little, and a hole in the middle would let a resume skip events.
        """
        now = datetime.now(UTC)
        cutoff = now - timedelta(hours=self.retention_hours)
        newest_old = await Event.filter(created_at__lt=cutoff).order_by("-seq").first().values_list("seq", flat=True)
        if newest_old is None:
            return 0
        return int(await Event.filter(seq__lte=newest_old).delete())

    async def expired(self, after: int) -> bool:
        """True when events right after ``after`` were pruned: a replay of the log from it would skip them."""
        # One statement, so that an event committed meanwhile cannot make a valid cursor look stale.
        rows = await connections.get("default").execute_query_dict(
            "SELECT COALESCE((SELECT MIN(seq) FROM event), (SELECT value FROM event_counter WHERE id = 1) + 1, 1)"
            " AS oldest_kept"
        )
        return after + 1 < int(rows[0]["oldest_kept"])

    async def check_cursor(self, after: int) -> None:
        """Refuse to resume from ``after`` when events right after it were pruned: the replay would skip them."""
        if await self.expired(after):
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
            last = after if after is not None else self.last_seq
            if after is not None:
                await self.check_cursor(after)
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
                elif received.seq > last:
                    last = received.seq
                    yield received
        finally:
            self.unregister(subscriber)

    def stats(self) -> dict[str, Any]:
        return {
            "last_seq": self.last_seq,
            "dispatched": self.dispatched,
            "gap_fills": self.gap_fills,
            "signalled": self.signalled,
            "subscribers": self.subscriber_count,
        }
