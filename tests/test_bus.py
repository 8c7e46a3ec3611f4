"""The durable event bus: ordered, exactly once, across processes, and through a Redis outage."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis.asyncio as aioredis
from tortoise.backends.base.executor import EXECUTOR_CACHE

from switchboard import db
from switchboard.events.bus import EventBus, ReplayFilter
from switchboard.events.codec import BusEvent, payload_of
from switchboard.events.cursors import CursorExpired
from switchboard.events.transport import LocalTransport, RedisTransport
from switchboard.events.types import ThreadStatusChanged, Topic
from switchboard.graphql.errors import cursor_expired
from switchboard.models import Event
from switchboard.rules import ids
from switchboard.rules.enums import ThreadStatus
from switchboard.runtime.scheduler import Job, Scheduler
from switchboard.services.transaction import atomic
from switchboard.settings import Settings
from tests import servers
from tests.conftest import Org

SECRET = servers.SECRET


async def _until(condition: Callable[[], bool], what: str, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def _database(url: str) -> AsyncIterator[None]:
    """This test process on the stack's database (as one more server process would be)."""
    # Tortoise caches INSERT statements per connection name, whatever the dialect;
    # this process switches between SQLite and PostgreSQL, a server never does.
    EXECUTOR_CACHE.clear()
    await db.init(Settings(database_url=url, jwt_secret=SECRET))
    try:
        yield
    finally:
        await db.close()
        EXECUTOR_CACHE.clear()


@contextlib.asynccontextmanager
async def _redis_bus(redis_url: str, prefix: str, poll_seconds: float) -> AsyncIterator[EventBus]:
    client = aioredis.from_url(redis_url)
    transport = RedisTransport(client, f"{prefix}:events")
    bus = EventBus(transport)

    async def catch_up(now: datetime) -> int:
        return await bus.catch_up()

    # The catch-up poll is the server's scheduler job; here it runs in a scheduler of its own.
    scheduler = Scheduler([Job("event-catch-up", poll_seconds, catch_up, first_after=poll_seconds)])
    await bus.start()
    await scheduler.start()
    try:
        await asyncio.wait_for(transport.connected.wait(), 10)
        yield bus
    finally:
        await scheduler.stop()
        await bus.stop()
        await client.aclose()


class Recorder:
    """Everything a bus dispatches on some keys, in arrival order."""

    def __init__(self, bus: EventBus, keys: list[tuple[str, object]]) -> None:
        self.events: list[BusEvent] = []
        bus.listen(keys, self.events.append)

    @property
    def seqs(self) -> list[int]:
        return [e.seq for e in self.events]

    async def wait_for(self, n: int, what: str) -> None:
        await _until(lambda: len(self.events) >= n, what)


async def _org_events(org: str, topic: str) -> list[int]:
    return [row.seq for row in await Event.filter(org_id=org, topic=topic).order_by("seq") if row.seq is not None]


async def _dispatched(http: httpx.AsyncClient, url: str) -> float:
    text = (await http.get(f"{url}/metrics")).text
    match = re.search(r"^switchboard_events_dispatched (\S+)$", text, re.M)
    assert match, text
    return float(match.group(1))


def _agent_pk(agent_id: str) -> int:
    return ids.decode_as(agent_id, "Agent")


# ---------------------------------------------------------------- the bus on each database, in process


async def test_commits_are_sequenced_in_order_and_rollbacks_publish_nothing(fresh_database: str) -> None:
    EXECUTOR_CACHE.clear()
    await db.migrate(Settings(database_url=fresh_database, jwt_secret=SECRET))
    async with _database(fresh_database):
        bus = EventBus(LocalTransport())
        await bus.start()
        try:
            live = Recorder(bus, [("org", "o1")])

            async def commit(i: int) -> None:
                async with atomic(bus) as outbox:
                    for j in range(1 + i % 3):
                        # actor_id carries the event's place in its transaction.
                        outbox.add(ThreadStatusChanged(org="o1", thread_id=i, actor_id=j, status=ThreadStatus.BOT))

            async def roll_back() -> None:
                with pytest.raises(RuntimeError):
                    async with atomic(bus) as outbox:
                        outbox.add(ThreadStatusChanged(org="o1", thread_id=-1, status=ThreadStatus.BOT))
                        raise RuntimeError("the change failed")

            await asyncio.gather(*(commit(i) for i in range(20)), roll_back(), roll_back())
            total = sum(1 + i % 3 for i in range(20))
            await live.wait_for(total, "every committed event")
            assert live.seqs == list(range(1, total + 1))
            assert -1 not in {e.thread_id for e in live.events}
            assert await _org_events("o1", "thread") == list(range(1, total + 1))
            # Each transaction's events are contiguous and in the order they were added.
            by_thread: dict[int | None, list[BusEvent]] = {}
            for event in live.events:
                by_thread.setdefault(event.thread_id, []).append(event)
            for events in by_thread.values():
                assert [e.event.column("actor_id") for e in events] == list(range(len(events)))
                assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + len(events)))

            # A resuming stream replays after its cursor, then goes live: no gap, no duplicate.
            received: list[int] = []

            async def consume() -> None:
                stream = bus.stream([("thread", 999)], ReplayFilter("o1", (Topic.THREAD,)), after=total - 3)
                async for event in stream:
                    received.append(event.seq)
                    if event.thread_id == 999:
                        return

            task = asyncio.create_task(consume())
            await _until(lambda: len(received) >= 3, "the replay")
            await commit(999)  # 999 % 3 == 0: one event
            await asyncio.wait_for(task, 10)
            assert received == [total - 2, total - 1, total, total + 1]
        finally:
            await bus.stop()


# ---------------------------------------------------------------- across server processes (PostgreSQL + Redis)


@pytest.mark.postgres_only
async def test_event_committed_in_one_process_reaches_the_others(org: Org) -> None:
    agent = await org.create_agent("Ann", status=None)
    pk = _agent_pk(agent.id)
    async with (
        _database(org.stack.database_url),
        _redis_bus(
            org.stack.env["SWITCHBOARD_REDIS_URL"], org.stack.env["SWITCHBOARD_REDIS_PREFIX"], poll_seconds=3600
        ) as bus,
    ):
        # The catch-up poll is off here: whatever arrives came over Redis.
        mine = Recorder(bus, [("agent", pk)])
        before = await _dispatched(org.http, org.stack.url(1))

        await org.set_status(agent, "AWAY", server=1)
        await mine.wait_for(1, "the event committed on server 1")
        await org.set_status(agent, "ONLINE", server=0)
        await mine.wait_for(2, "the event committed on server 0")

        assert [(e.topic, e.kind, payload_of(e.event)["status"], e.audience) for e in mine.events] == [
            ("agent", "STATUS_CHANGED", "AWAY", (pk,)),
            ("agent", "STATUS_CHANGED", "ONLINE", (pk,)),
        ]
        # The same seqs as in the log: the agent's CREATED event, then these two.
        assert mine.seqs == (await _org_events(org.id, "agent"))[1:]
        assert all(e.org == org.id for e in mine.events)
        # Server 1's own bus dispatched both: its own commit and server 0's.
        await _until_metric(org, before + 2)


async def _until_metric(org: Org, at_least: float) -> None:
    deadline = time.monotonic() + 15
    while await _dispatched(org.http, org.stack.url(1)) < at_least:
        if time.monotonic() > deadline:
            raise AssertionError("server 1 did not dispatch the events")
        await asyncio.sleep(0.05)


# ---------------------------------------------------------------- Redis stopped during a mutation


@pytest.fixture(scope="module")
def outage_stack() -> Iterator[tuple[servers.Stack, servers.RedisServer]]:
    redis_server = servers.RedisServer()
    redis_server.start()
    try:
        with servers.running("postgres", processes=2, redis_url=redis_server.url) as stack:
            yield stack, redis_server
    finally:
        redis_server.stop()


async def _ready(http: httpx.AsyncClient, url: str) -> tuple[int, dict[str, object]]:
    response = await http.get(f"{url}/readyz")
    return response.status_code, response.json()


async def _until_ready(http: httpx.AsyncClient, url: str, status: int) -> dict[str, object]:
    deadline = time.monotonic() + 15
    while True:
        code, body = await _ready(http, url)
        if code == status:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"/readyz stayed {code}: {body}")
        await asyncio.sleep(0.05)


async def test_redis_outage_loses_no_event(
    outage_stack: tuple[servers.Stack, servers.RedisServer], http: httpx.AsyncClient
) -> None:
    stack, redis_server = outage_stack
    org, other = Org(stack, http), Org(stack, http)
    agent = await org.create_agent("Ann", status=None)
    pk = _agent_pk(agent.id)
    # Another organization writing meanwhile: the poll catches up each organization's log on its own.
    other_agent = await other.create_agent("Otto", status=None)
    prefix = stack.env["SWITCHBOARD_REDIS_PREFIX"]
    async with (
        _database(stack.database_url),
        _redis_bus(redis_server.url, prefix, poll_seconds=0.2) as polling,
        _redis_bus(redis_server.url, prefix, poll_seconds=3600) as redis_only,
    ):
        with_poll = Recorder(polling, [("agent", pk)])
        only_redis = Recorder(redis_only, [("agent", pk)])
        other_polled = Recorder(polling, [("agent", _agent_pk(other_agent.id))])
        for server in (0, 1):
            assert (await _ready(http, stack.url(server)))[0] == 200

        redis_server.stop()
        for server in (0, 1):
            body = await _until_ready(http, stack.url(server), 503)
            assert body["ready"] is False and str(body["redis"]).startswith("down") and body["database"] == "ok"
        transport = redis_only.transport
        assert isinstance(transport, RedisTransport)
        await _until(lambda: not transport.connected.is_set(), "the Redis subscription to drop")

        # The mutation commits although Redis is down.
        before = await _dispatched(http, stack.url(1))
        await org.set_status(agent, "AWAY", server=0)
        await other.set_status(other_agent, "AWAY", server=0)
        # Delivered from the event log by the catch-up poll, here and in the other server process.
        await with_poll.wait_for(1, "the catch-up poll")
        await other_polled.wait_for(1, "the catch-up poll of the other organization")
        await _until_metric(org, before + 2)
        assert other_polled.seqs == (await _org_events(other.id, "agent"))[1:]
        assert only_redis.events == []

        redis_server.start()
        for server in (0, 1):
            await _until_ready(http, stack.url(server), 200)
        await asyncio.wait_for(transport.connected.wait(), 15)

        await org.set_status(agent, "ONLINE", server=1)
        # Over Redis again; the bus without a poll fills the gap from the log first.
        await only_redis.wait_for(2, "both events after Redis came back")
        await with_poll.wait_for(2, "the second event")
        committed = await _org_events(org.id, "agent")
        status_events = [e for e in committed if e in {*with_poll.seqs, *only_redis.seqs}]
        for recorder in (with_poll, only_redis):
            assert [payload_of(e.event)["status"] for e in recorder.events] == ["AWAY", "ONLINE"]
            assert recorder.seqs == status_events and len(set(recorder.seqs)) == 2
        assert redis_only.gap_fills >= 1
        await asyncio.sleep(0.5)  # a late duplicate (poll or Redis) would show up here
        assert len(with_poll.events) == len(only_redis.events) == 2 and len(other_polled.events) == 1


async def test_a_cursor_older_than_the_retention_is_refused_not_replayed_with_a_gap(fresh_database: str) -> None:
    EXECUTOR_CACHE.clear()
    await db.migrate(Settings(database_url=fresh_database, jwt_secret=SECRET))
    async with _database(fresh_database):
        bus = EventBus(LocalTransport(), retention_hours=24)
        await bus.start()
        try:
            for _ in range(8):
                async with atomic(bus) as outbox:
                    outbox.add(ThreadStatusChanged(org="o7", thread_id=7, status=ThreadStatus.BOT))
            old = datetime.now(UTC) - timedelta(hours=25)
            # Clocks differ a little between processes: event 3 looks newer than 2 and 4.
            await Event.filter(seq__in=[1, 2, 4]).update(created_at=old)
            assert await bus.prune() == 4, "what is kept is a whole suffix of the log"
            assert await bus.prune() == 0
            flt = ReplayFilter("o7", (Topic.THREAD,))

            async def first_replayed(after: int) -> int:
                async with contextlib.aclosing(bus.stream([("thread", 7)], flt, after=after)) as stream:
                    return (await anext(stream)).seq

            for stale in (0, 1, 2, 3):
                with pytest.raises(CursorExpired) as refused:
                    await first_replayed(stale)
                assert cursor_expired(refused.value).extensions == {"code": "CURSOR_EXPIRED"}
            # Nothing after 4 was pruned: resuming there is whole.
            assert await first_replayed(4) == 5
            assert await first_replayed(6) == 7
            # An empty log: only the newest cursor resumes (nothing was missed after it).
            await Event.all().update(created_at=old)
            assert await bus.prune() == 4
            await bus.check_cursor("o7", 8)
            with pytest.raises(CursorExpired):
                await bus.check_cursor("o7", 7)
        finally:
            await bus.stop()
