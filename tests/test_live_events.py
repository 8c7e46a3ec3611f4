"""Live-only events (typing): their wire form, the bus's delivery, and the throttle shared by processes.

No server here: the bus and the throttle in this process, on the real Redis
where they use one (each test under a prefix of its own).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from switchboard.events.bus import EventBus, ReplayFilter
from switchboard.events.codec import BusEvent, LiveEvent, UnknownEvent, decode
from switchboard.events.transport import RedisTransport
from switchboard.events.types import SettingsChanged, ThreadStatusChanged, Topic, TypingChanged
from switchboard.rules.enums import MessageVisibility, SenderKind, ThreadStatus
from switchboard.runtime.ratelimit import Throttle
from tests import servers

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def typing(thread_id: int = 1, sender: str = "agent:4", typing: bool = True) -> TypingChanged:
    return TypingChanged(
        org="o",
        thread_id=thread_id,
        typing=typing,
        visibility=MessageVisibility.INTERNAL,
        sender_kind=SenderKind.AGENT,
        sender=sender,
        name="Ada",
        service_name="Support",
    )


def test_a_live_event_comes_back_as_it_went_and_is_told_from_a_committed_one() -> None:
    sent = LiveEvent(at=NOW, event=typing(), origin="p1")
    back = decode(sent.to_json())
    assert back == sent and isinstance(back, LiveEvent)
    assert back.keys() == [("thread", 1)]
    committed = BusEvent(seq=3, at=NOW, event=SettingsChanged(org="o", changed=()))
    assert decode(committed.to_json()) == committed
    # A live kind is never a stored one (and the other way round).
    with pytest.raises(ValueError):
        BusEvent.from_json(sent.to_json())
    raw = committed.to_json().replace('"seq":3,', "")
    with pytest.raises(UnknownEvent):
        decode(raw)


async def _next(stream: AsyncIterator[BusEvent | LiveEvent]) -> BusEvent | LiveEvent:
    return await asyncio.wait_for(anext(stream), 5)


async def test_live_events_reach_only_subscribers_that_asked_for_them() -> None:
    bus = EventBus()
    plain: list[BusEvent] = []
    bus.listen([("thread", 1)], plain.append)
    flt = ReplayFilter("o", (Topic.THREAD,), thread_id=1)
    wanted = bus.stream([("thread", 1)], flt, live=lambda e: e.org == "o")
    other_thread = bus.stream([("thread", 2)], ReplayFilter("o", (Topic.THREAD,), thread_id=2), live=lambda e: True)
    first = asyncio.ensure_future(_next(wanted))
    second = asyncio.ensure_future(_next(other_thread))
    await asyncio.sleep(0.1)
    await bus.signal(LiveEvent(at=NOW, event=typing()))
    got = await first
    assert isinstance(got, LiveEvent) and got.event == typing()
    # A committed event still comes in order after it, on the same stream.
    await bus.ingest(BusEvent(seq=1, at=NOW, event=ThreadStatusChanged(org="o", thread_id=1, status=ThreadStatus.BOT)))
    assert isinstance(await _next(wanted), BusEvent)
    assert not second.done() and [e.seq for e in plain] == [1]
    second.cancel()
    await wanted.aclose()
    assert bus.signalled == 1


async def test_a_live_event_crosses_to_the_other_process_once_and_not_back() -> None:
    client = aioredis.from_url(servers.REDIS_URL)
    channel = f"sbtest-live-{secrets.token_hex(4)}:events"
    buses = [EventBus(RedisTransport(client, channel)) for _ in range(2)]
    for bus in buses:
        # Without a database: only the transport (bus.start also reads the log's last seq).
        await bus.transport.start(bus.ingest, bus.dispatch_live)
    received: list[list[BusEvent | LiveEvent]] = [[], []]

    async def collect(bus: EventBus, sink: list[BusEvent | LiveEvent]) -> None:
        flt = ReplayFilter("o", (Topic.THREAD,), thread_id=1)
        async for event in bus.stream([("thread", 1)], flt, live=lambda e: True):
            sink.append(event)

    tasks = [asyncio.create_task(collect(bus, sink)) for bus, sink in zip(buses, received, strict=True)]
    try:
        for bus in buses:
            transport = bus.transport
            assert isinstance(transport, RedisTransport)
            await asyncio.wait_for(transport.connected.wait(), 10)
        await buses[0].signal(LiveEvent(at=NOW, event=typing()))
        for _ in range(100):
            if received[1]:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        # Each process got it once: the sender from itself, the other through Redis (no echo back).
        assert [len(r) for r in received] == [1, 1]
        assert received[1][0].event == typing()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for bus in buses:
            await bus.stop()
        await client.aclose()


async def test_the_in_process_throttle_lets_one_through_per_key_and_window() -> None:
    throttle = Throttle(None, "p", "typing", 0.3)
    assert [await throttle.go("a") for _ in range(5)] == [True, False, False, False, False]
    assert await throttle.go("b")
    await asyncio.sleep(0.35)
    assert await throttle.go("a") and await throttle.go("b")
    assert not await throttle.go("a")


async def test_the_redis_throttle_is_shared_by_processes() -> None:
    clients = [aioredis.from_url(servers.REDIS_URL) for _ in range(2)]
    prefix = f"sbtest-throttle-{secrets.token_hex(4)}"
    throttles = [Throttle(client, prefix, "typing", 2.0) for client in clients]
    try:
        results = await asyncio.gather(*(throttles[i % 2].go("org:1:agent:4") for i in range(20)))
        assert sum(results) == 1
        assert await throttles[1].go("org:1:agent:5")
    finally:
        for client in clients:
            await client.aclose()


async def test_without_redis_the_throttle_still_holds_in_this_process(caplog: pytest.LogCaptureFixture) -> None:
    client = aioredis.from_url(f"redis://127.0.0.1:{servers.free_port()}/0", socket_connect_timeout=0.5)
    throttle = Throttle(client, "p", "typing", 2.0)
    try:
        assert [await throttle.go("a") for _ in range(3)] == [True, False, False]
        assert "throttling in this process" in caplog.text
    finally:
        await client.aclose()
