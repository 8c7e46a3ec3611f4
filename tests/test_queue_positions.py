"""queuePosition and queueStats over the wire, and what a queue change costs the server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

from switchboard.events.transport import org_channel
from tests import servers
from tests.conftest import Org
from tests.queue_support import cancel, claim, create_queue, enqueue, metrics, transfer, update, watch
from tests.wsclient import GraphQLWS, Subscription


async def test_positions_stream_to_four_visitors(org: Org) -> None:
    await create_queue(org, "q", routingStrategy="MANUAL")
    queued = [await enqueue(org) for _ in range(4)]
    # ONLINE agents change the estimates: have ours in place before watching.
    agent = await org.create_agent("Ann")
    clients: list[GraphQLWS] = []
    subs: list[Subscription] = []
    try:
        for i, (_, _, visitor_token) in enumerate(queued):
            # Spread over the processes: each change reaches every process's watchers.
            client = await org.ws(visitor_token, server=i)
            clients.append(client)
            subs.append(await watch(client))  # the visitor's own thread, from the token
        first = [await update(s) for s in subs]
        assert [u["position"] for u in first] == [1, 2, 3, 4]
        assert {u["queueLength"] for u in first} == {4} and {u["status"] for u in first} == {"WAITING"}
        assert [u["queueEntryId"] for u in first] == [q[1] for q in queued]
        assert [u["threadId"] for u in first] == [q[0] for q in queued]
        waits = [u["estimatedWaitSeconds"] for u in first]
        assert waits == sorted(waits) and len(set(waits)) == 4

        assert (await claim(org, agent, entry_id=queued[0][1]))["userErrors"] == []
        head = await update(subs[0])
        assert (head["status"], head["position"], head["queueLength"]) == ("ASSIGNED", None, 3)
        with pytest.raises(StopAsyncIteration):
            await subs[0].next()
        moved = [await update(s) for s in subs[1:]]
        assert [(u["status"], u["position"], u["queueLength"]) for u in moved] == [
            ("WAITING", 1, 3),
            ("WAITING", 2, 3),
            ("WAITING", 3, 3),
        ]

        body = await cancel(org, queued[2][1], token=queued[2][2], server=1)
        assert body["data"]["cancelQueueEntry"]["userErrors"] == []
        gone = await update(subs[2])
        assert (gone["status"], gone["position"], gone["queueLength"]) == ("CANCELLED", None, 2)
        with pytest.raises(StopAsyncIteration):
            await subs[2].next()
        second, last = await update(subs[1]), await update(subs[3])
        assert (second["position"], second["queueLength"]) == (1, 2)
        assert (last["position"], last["queueLength"]) == (2, 2)
        # Nothing else changed: no further updates.
        await subs[1].nothing(0.3)
    finally:
        for client in clients:
            await client.close()


async def test_agents_watch_by_thread_and_streams_end_for_finished_entries(org: Org) -> None:
    await create_queue(org, "q", routingStrategy="MANUAL")
    thread_id, entry_id, _ = await enqueue(org)
    agent = await org.create_agent("Ann")
    client = await org.ws(agent.token)
    try:
        live = await watch(client, thread_id=thread_id)
        assert (await update(live))["queueEntryId"] == entry_id
        assert (await cancel(org, entry_id))["data"]["cancelQueueEntry"]["userErrors"] == []
        assert (await update(live))["status"] == "CANCELLED"
        # Watching an entry that already left the queue: its final state, then the end.
        late = await watch(client, entry_id=entry_id)
        assert (await update(late))["status"] == "CANCELLED"
        with pytest.raises(StopAsyncIteration):
            await late.next()
    finally:
        await client.close()


async def test_queue_stats_stream_for_supervisors_and_analysts(org: Org) -> None:
    queue = await create_queue(org, "q", routingStrategy="MANUAL")
    boss = await org.create_agent("Boss", role="SUPERVISOR")
    plain = await org.create_agent("Plain")
    query = """subscription($q: ID!) { queueStats(queueId: $q) { waiting availableAgents estimatedWaitSeconds
      waitingByPriority { priority count } } }"""
    supervisor = await org.ws(boss.token)
    analyst = await org.ws(org.token("analyst"), server=1)
    agent = await org.ws(plain.token)
    try:
        watching = [await supervisor.subscribe(query, {"q": queue}), await analyst.subscribe(query, {"q": queue})]
        for sub in watching:
            assert (await sub.next())["queueStats"]["waiting"] == 0
        await enqueue(org, priority="HIGH")
        for sub in watching:
            stats = (await sub.next())["queueStats"]
            while stats["waiting"] < 1:
                stats = (await sub.next())["queueStats"]
            assert stats["waiting"] == 1
            assert {p["priority"]: p["count"] for p in stats["waitingByPriority"]}["HIGH"] == 1
        denied = await agent.subscribe(query, {"q": queue})
        with pytest.raises(Exception):  # noqa: B017 - an error message or FORBIDDEN payload
            await denied.next()
    finally:
        for client in (supervisor, analyst, agent):
            await client.close()


async def _quiet(org: Org, name: str) -> list[dict[str, float]]:
    """Every process's metrics once counter ``name`` stopped moving (subscribing schedules work too)."""
    before = [await metrics(org, i) for i in range(len(org.stack.servers))]
    while True:
        await asyncio.sleep(0.3)
        again = [await metrics(org, i) for i in range(len(org.stack.servers))]
        if [m.get(name) for m in again] == [m.get(name) for m in before]:
            return again
        before = again


async def _change_cost(org: Org, heads: list[str], watchers: list[Subscription], channel: str | None) -> dict[str, Any]:
    """Cancel the queue's head and measure until every watcher has its new place."""
    before = await _quiet(org, "switchboard_queue_watch_recomputes_total")
    received: list[str] = []
    listener: asyncio.Task[None] | None = None
    pubsub = None
    if channel is not None:
        client = aioredis.from_url(servers.REDIS_URL)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(channel)

        async def collect() -> None:
            async for message in pubsub.listen():
                received.append(message["data"])

        listener = asyncio.create_task(collect())
        await asyncio.sleep(0.1)
    body = await cancel(org, heads.pop(0), server=len(org.stack.servers) - 1)
    assert body["data"]["cancelQueueEntry"]["userErrors"] == []
    for sub in watchers:
        moved = await update(sub)
        assert moved["status"] == "WAITING"
    await asyncio.sleep(0.3)  # let any straggling work show in the counters
    after = [await metrics(org, i) for i in range(len(org.stack.servers))]
    if listener is not None and pubsub is not None:
        listener.cancel()
        await pubsub.aclose()

    def delta(name: str) -> list[float]:
        return [a.get(name, 0) - b.get(name, 0) for a, b in zip(after, before, strict=True)]

    return {
        "sql": delta("switchboard_queue_watch_sql_statements_total"),
        "recomputes": delta("switchboard_queue_watch_recomputes_total"),
        "events": delta("switchboard_events_dispatched"),
        "redis": len(received),
    }


async def test_fan_out_cost_does_not_grow_with_watchers(org: Org) -> None:
    """One change costs the same Redis messages and SQL with 1 watcher and with 200."""
    queue = await create_queue(org, "crowd", routingStrategy="MANUAL")
    heads = [(await enqueue(org, queue_id=queue))[1] for _ in range(2)]
    crowd = [(await enqueue(org, queue_id=queue))[1] for _ in range(200)]
    channel = None
    if org.stack.name == "postgres":
        channel = org_channel(f"{org.stack.env['SWITCHBOARD_REDIS_PREFIX']}:events", org.id)
    # Watchers live on server 0; the change is made on the last server (over Redis on postgres).
    clients = [await org.ws(server=0) for _ in range(4)]
    try:
        one = [await watch(clients[0], entry_id=crowd[-1])]
        await update(one[0])
        single = await _change_cost(org, heads, one, channel)
        await one[0].stop()

        many = [await watch(clients[i % 4], entry_id=e) for i, e in enumerate(crowd)]
        for sub in many:
            await update(sub)
        crowded = await _change_cost(org, heads, many, channel)
    finally:
        for client in clients:
            await client.close()

    assert single["recomputes"][0] == crowded["recomputes"][0] == 1
    assert single["sql"] == crowded["sql"] and single["sql"][0] > 0
    assert single["events"] == crowded["events"]
    assert single["redis"] == crowded["redis"]
    if channel is not None:
        # One queue event and one thread event per change, whatever the number of watchers.
        assert crowded["redis"] == 2


STATS = "subscription($q: ID!) { queueStats(queueId: $q) { waiting } }"
COMPUTATIONS = "switchboard_queue_stats_computations_total"


async def _stats_cost(org: Org, queue: str, thread_id: str, subs: list[Subscription]) -> list[float]:
    """Queue ``thread_id`` (on the last process) and count stats computations until every subscriber saw it."""
    before = await _quiet(org, COMPUTATIONS)
    body = await transfer(org, thread_id, queueId=queue, server=len(org.stack.servers) - 1)
    assert body["data"]["requestTransfer"]["userErrors"] == []
    for sub in subs:
        while (await sub.next())["queueStats"]["waiting"] != 1:
            pass
    after = await _quiet(org, COMPUTATIONS)
    return [a.get(COMPUTATIONS, 0) - b.get(COMPUTATIONS, 0) for a, b in zip(after, before, strict=True)]


async def test_queue_stats_are_computed_once_per_change_whatever_the_subscribers(org: Org) -> None:
    """One change costs one stats computation per process, for 1 subscriber and for 60."""
    queue = await create_queue(org, "wall", routingStrategy="MANUAL")
    threads = [(await org.start_thread())[0] for _ in range(2)]
    clients = [await org.ws(server=0) for _ in range(4)]
    try:
        one = [await clients[0].subscribe(STATS, {"q": queue})]
        assert (await one[0].next())["queueStats"]["waiting"] == 0
        single = await _stats_cost(org, queue, threads[0], one)
        # Back to an empty queue (no periodic refresh while nothing waits), seen by the subscriber.
        entry_id = (
            await org.data(
                "query($q: ID!) { queueEntries(filter: {queueId: $q, status: [WAITING]}) { edges { node { id } } } }",
                {"q": queue},
            )
        )["queueEntries"]["edges"][0]["node"]["id"]
        assert (await cancel(org, entry_id))["data"]["cancelQueueEntry"]["userErrors"] == []
        while (await one[0].next())["queueStats"]["waiting"] != 0:
            pass

        crowd = one + [await clients[i % 4].subscribe(STATS, {"q": queue}) for i in range(59)]
        for sub in crowd[1:]:
            assert (await sub.next())["queueStats"]["waiting"] == 0
        crowded = await _stats_cost(org, queue, threads[1], crowd)
    finally:
        for client in clients:
            await client.close()
    # The subscribers' process computed once; a process without subscribers never did.
    assert single == crowded
    assert single[0] == 1 and all(n == 0 for n in single[1:])
