"""Event fan-out between two transports in this process: a single Redis against the test Redis Cluster.

    .venv/bin/python bench/redis_fanout.py [--single redis://127.0.0.1:6379/0]
        [--cluster redis://127.0.0.1:7101/0] [--orgs 50] [--batches 2000]

Two ``RedisTransport``s (two processes' worth) on each Redis; one publishes
``--batches`` commits of 3 events each, spread over ``--orgs`` organizations,
as fast as it can, one commit at a time; the other counts what arrives. Prints
commits per second published and the latency from publish to arrival (median,
p99), for each Redis. The cluster is the one scripts/redis-cluster starts.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime

from switchboard import redisconn
from switchboard.events.codec import BusEvent
from switchboard.events.transport import RedisTransport
from switchboard.events.types import SettingsChanged

PER_COMMIT = 3


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def run(url: str, orgs: int, batches: int) -> None:
    base = f"bench-fanout-{secrets.token_hex(4)}:events"
    clients = [await redisconn.connect(url, base) for _ in range(2)]
    sent_at: dict[int, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()

    async def deliver(event: BusEvent) -> None:
        latencies.append(time.perf_counter() - sent_at[event.seq])
        if len(latencies) == batches * PER_COMMIT:
            done.set()

    async def ignore(event: BusEvent) -> None:
        return None

    sender, receiver = RedisTransport(clients[0], base), RedisTransport(clients[1], base)
    await sender.start(ignore)
    await receiver.start(deliver)
    now = datetime.now(UTC)
    began = time.perf_counter()
    for n in range(batches):
        org = f"org-{n % orgs}"
        events = [
            BusEvent(seq=n * PER_COMMIT + i, at=now, event=SettingsChanged(org=org, changed=()))
            for i in range(PER_COMMIT)
        ]
        for event in events:
            sent_at[event.seq] = time.perf_counter()
        await sender.publish(events)
    published = time.perf_counter() - began
    await asyncio.wait_for(done.wait(), 60)
    latencies.sort()
    mode = "cluster" if redisconn.is_cluster(clients[0]) else "single"
    say(
        f"{mode:8} {url}: {batches / published:,.0f} commits/s published ({PER_COMMIT} events each, "
        f"{orgs} organizations); publish to arrival median {statistics.median(latencies) * 1000:.2f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.2f} ms"
    )
    await sender.stop()
    await receiver.stop()
    for client in clients:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--cluster", default="redis://127.0.0.1:7101/0")
    parser.add_argument("--orgs", type=int, default=50)
    parser.add_argument("--batches", type=int, default=2000)
    args = parser.parse_args()
    for url in (args.single, args.cluster):
        asyncio.run(run(url, args.orgs, args.batches))


if __name__ == "__main__":
    main()
