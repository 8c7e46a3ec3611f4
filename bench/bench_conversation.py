"""Benchmark: conversation delivery over two server processes (PostgreSQL + Redis).

    .venv/bin/python bench/bench_conversation.py [--conversations 20] [--rates 25,50,100,200] [--seconds 5]

Starts two server processes sharing PostgreSQL and Redis (as the tests do).
Each of ``--conversations`` ACTIVE threads has three subscribers to
``conversationEvents``: its visitor, its primary and a supervisor, spread over
the two processes; their sockets live in a separate client process, so that
reading does not share the sender's event loop. At each rate of ``--rates``
(messages per second over both processes, open loop: each message goes out at
its scheduled time whether or not the earlier ones were answered) messages are
sent for ``--seconds``, by visitors and primaries in turn, round robin over the
conversations and the processes. A message's body is the time it was
scheduled; each subscriber notes when it arrived. Reported per rate: messages
sent and refused, deliveries made and missing, delivery latency from the
scheduled send to each subscriber (p50, p99, max), Redis messages per message
(counted on the event channel) and server CPU per message (both processes).
The highest rate whose p99 stays under 100 ms with every delivery made is the
sustained rate. SQL statements per message for the subscribers are counted in
process by tests/test_conversation_stream.py (the same for 1 or 12 subscribers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import secrets
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
import websockets  # noqa: E402
from cpu import process_seconds  # noqa: E402
from websockets.typing import Subprotocol  # noqa: E402

from switchboard import settings as settings_module  # noqa: E402
from switchboard.events.transport import org_channel  # noqa: E402
from tests import servers  # noqa: E402
from tests.collab_support import settings  # noqa: E402
from tests.conftest import Org  # noqa: E402
from tests.queue_support import claim, create_queue, transfer  # noqa: E402

EVENTS = """subscription($t: ID!) { conversationEvents(threadId: $t) {
  cursor kind at message { id body senderKind displayName author { name } createdAt } } }"""
SEND = "mutation($i: SendMessageInput!) { sendMessage(input: $i) { message { id } userErrors { code } } }"


def say(text: str = "") -> None:
    """The figures go to stdout: printing them is what a benchmark is for."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# ---------------------------------------------------------------- the subscribers (a process of their own)


async def _watch(url: str, token: str, thread: str, arrivals: list[float]) -> None:
    async with websockets.connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], max_size=2**22) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        payload = {"query": EVENTS, "variables": {"t": thread}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        async for raw in ws:
            at = time.time()
            message = json.loads(raw)
            event = (message.get("payload") or {}).get("data", {}).get("conversationEvents")
            if event and event["kind"] == "MESSAGE":
                arrivals.append(at - float(event["message"]["body"]))


async def _clients(pipe: Connection, watches: list[tuple[str, str, str]]) -> None:
    arrivals: list[list[float]] = [[] for _ in watches]
    tasks = [asyncio.create_task(_watch(*w, arrivals[i])) for i, w in enumerate(watches)]
    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, pipe.recv)
        if command == "stop":
            break
        # "collect": every subscriber's latencies since the last collect.
        pipe.send([list(a) for a in arrivals])
        for a in arrivals:
            a.clear()
    for task in tasks:
        task.cancel()


def clients_main(pipe: Connection, watches: list[tuple[str, str, str]]) -> None:
    asyncio.run(_clients(pipe, watches))


# ---------------------------------------------------------------- the conversations and the sender


async def conversation(org: Org, i: int) -> tuple[str, str, str]:
    """An ACTIVE thread: (thread id, visitor token, primary's token)."""
    primary = await org.create_agent(f"Prim{i}")
    started = await org.data(
        "mutation($i: StartThreadInput!) { startThread(input: $i) { thread { id } visitorToken } }",
        {"i": {"visitor": {"externalId": f"v-{secrets.token_hex(5)}", "name": f"Vic{i}"}}},
        token=org.token("service"),
    )
    thread, visitor = started["startThread"]["thread"]["id"], started["startThread"]["visitorToken"]
    queue = await create_queue(org, f"manual-{secrets.token_hex(3)}", routingStrategy="MANUAL")
    queued = (await transfer(org, thread, queueId=queue))["data"]["requestTransfer"]
    taken = await claim(org, primary, entry_id=queued["queueEntry"]["id"])
    assert taken["userErrors"] == [], taken
    return thread, visitor, primary.token


async def send_at(http: httpx.AsyncClient, url: str, token: str, thread: str, due: float, out: dict[str, int]) -> None:
    body = {"query": SEND, "variables": {"i": {"threadId": thread, "body": f"{due:.6f}"}}}
    try:
        response = await http.post(f"{url}/graphql", json=body, headers={"Authorization": f"Bearer {token}"})
        data = response.json()
        errors = data.get("errors") or (data.get("data") or {}).get("sendMessage", {}).get("userErrors")
        why = "" if not errors else str(errors[0].get("code") or (errors[0].get("extensions") or {}).get("code"))
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        why = type(exc).__name__
    out["sent" if not why else f"refused {why}"] = out.get("sent" if not why else f"refused {why}", 0) + 1


async def step(
    http: httpx.AsyncClient, stack: servers.Stack, convs: list[tuple[str, str, str]], rate: int, seconds: float
) -> dict[str, int]:
    """Messages at ``rate`` per second for ``seconds``, open loop; returns how many went through."""
    out = {"sent": 0}
    total = int(rate * seconds)
    start = time.time() + 0.2
    tasks = []
    for n in range(total):
        due = start + n / rate
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        thread, visitor, primary = convs[n % len(convs)]
        token = visitor if (n // len(convs)) % 2 == 0 else primary
        tasks.append(asyncio.create_task(send_at(http, stack.url(n % 2), token, thread, due, out)))
    await asyncio.gather(*tasks)
    return out


async def count_redis(client: aioredis.Redis, channel: str, seen: list[int], ready: asyncio.Event) -> None:
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    ready.set()
    try:
        async for message in pubsub.listen():
            if message.get("type") == "message":
                seen.append(1)
    finally:
        await pubsub.aclose()


async def run(args: argparse.Namespace, stack: servers.Stack) -> None:
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        org = Org(stack, http)
        await settings(org, messagesPerVisitorPerMinute=10000)
        chief = await org.create_agent("Chief", role="SUPERVISOR")
        convs = [await conversation(org, i) for i in range(args.conversations)]
        watches = []
        for i, (thread, visitor, primary) in enumerate(convs):
            for j, token in enumerate((visitor, primary, chief.token)):
                watches.append((stack.ws_url(i + j), token, thread))
        parent, child = mp.get_context("spawn").Pipe()
        proc = mp.get_context("spawn").Process(target=clients_main, args=(child, watches), daemon=True)
        proc.start()
        await asyncio.sleep(3)
        redis_client = aioredis.from_url(servers.REDIS_URL)
        seen: list[int] = []
        ready = asyncio.Event()
        channel = org_channel(f"{stack.env['SWITCHBOARD_REDIS_PREFIX']}:events", org.id)
        counter = asyncio.create_task(count_redis(redis_client, channel, seen, ready))
        await ready.wait()
        pids = [s.process.pid for s in stack.servers if s.process is not None]
        idle_before = sum(process_seconds(p) for p in pids)
        await asyncio.sleep(5)
        idle = (sum(process_seconds(p) for p in pids) - idle_before) / 5
        say(f"servers idle (timers, sweepers, {len(watches)} open subscriptions): {idle * 1000:.0f} ms CPU per second")
        sustained = 0
        try:
            for rate in args.rates:
                p99 = await report(http, stack, convs, rate, args.seconds, parent, seen, pids, len(watches), idle)
                if p99 is not None and p99 < 100:
                    sustained = max(sustained, rate)
            say(f"highest rate with every delivery made and p99 under 100 ms: {sustained or 'none'} messages/s")
        finally:
            parent.send("stop")
            counter.cancel()
            await redis_client.aclose()
            proc.join(10)


async def report(
    http: httpx.AsyncClient,
    stack: servers.Stack,
    convs: list[tuple[str, str, str]],
    rate: int,
    seconds: float,
    pipe: Connection,
    seen: list[int],
    pids: list[int],
    watchers: int,
    idle: float,
) -> float | None:
    """One rate's figures; its p99 in ms (None when a delivery is missing)."""
    seen.clear()
    began = time.monotonic()
    cpu_before = sum(process_seconds(p) for p in pids)
    out = await step(http, stack, convs, rate, seconds)
    # Late deliveries still count for this rate: wait until they stop coming.
    await asyncio.sleep(5)
    # CPU above what the servers spend idle over the same time.
    cpu = sum(process_seconds(p) for p in pids) - cpu_before - idle * (time.monotonic() - began)
    pipe.send("collect")
    arrivals = await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
    latencies = [x * 1000 for a in arrivals for x in a]
    expected = out["sent"] * watchers // len(convs)
    missing = expected - len(latencies)
    sent = max(1, out["sent"])
    refused = {k: v for k, v in out.items() if k != "sent"}
    figures = "no deliveries"
    if latencies:
        p50, p99 = statistics.median(latencies), percentile(latencies, 99)
        figures = f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(latencies):.1f} ms"
    say(
        f"rate {rate}/s for {seconds:.0f} s: sent {out['sent']}, refused {refused or 0}; "
        f"deliveries {len(latencies)} (missing {missing}); latency {figures}; "
        f"redis messages per message {len(seen) / sent:.2f}; "
        f"server CPU per message {cpu / sent * 1e6:.0f} us (above idle)"
    )
    if missing or not latencies:
        return None
    return percentile(latencies, 99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--rates", type=lambda s: [int(x) for x in s.split(",")], default=[25, 50, 100, 200])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    say("command: " + " ".join([".venv/bin/python", "bench/bench_conversation.py", *sys.argv[1:]]))
    # The servers sweep at the production defaults, not at the tests' faster pace.
    production = settings_module.load({"SWITCHBOARD_JWT_SECRET": servers.SECRET})
    defaults = {
        "SWITCHBOARD_TIMER_POLL_SECONDS": str(production.timer_poll_seconds),
        "SWITCHBOARD_RELAY_POLL_SECONDS": str(production.relay_poll_seconds),
    }
    with servers.running("postgres", settings=defaults) as stack:
        asyncio.run(run(args, stack))


if __name__ == "__main__":
    main()
