"""Soak: mixed traffic against two server processes (PostgreSQL + Redis) for a while.

    .venv/bin/python bench/soak.py [--minutes 10] [--agents 200] [--visitors 2000] [--workers 24]
        [--watchers 20] [--seed 1]

Every request goes to 127.0.0.1 only, and the run ends by itself: after
``--minutes``, or earlier once ``--max-steps`` actions per worker are done.

Traffic: the seeded random workload of tests/workload.py (agents change status
and capacity, visitors start threads and ask for humans, agents claim, invite,
answer, withdraw, leave, remove, hand over and resolve, the bot reopens), with
``--workers`` concurrent workers spread over both processes, up to
``--visitors`` threads. ``--watchers`` agents keep an ``inviteEvents``
subscription open the whole run (half on each process).

Prints, every minute and at the end: requests and throughput, p50/p99 latency,
errors (5xx or internal errors; target 0), the resident memory of each server
process (start and end: target flat), and at the end events lost or duplicated
on the watchers' streams (each stream's live events compared, by cursor, with
a replay ``after`` its first cursor; target 0) and the contract's invariants
checked with SQL (tests/invariants.py; target: none broken).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import invariants, servers  # noqa: E402
from tests.collab_support import INVITE_EVENTS  # noqa: E402
from tests.conftest import AgentHandle, Org  # noqa: E402
from tests.workload import Workload, run  # noqa: E402
from tests.wsclient import GraphQLWS, Subscription  # noqa: E402


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def rss_mib(server: servers.Server) -> float:
    """Resident memory of a server process (VmRSS), MiB."""
    assert server.process is not None
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Watcher:
    """An agent's inviteEvents stream, kept open for the whole run."""

    agent: AgentHandle
    client: GraphQLWS
    subscription: Subscription
    cursors: list[str] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None

    async def read(self) -> None:
        while True:
            data = await self.subscription.next(timeout=24 * 3600)
            self.cursors.append(data["inviteEvents"]["cursor"])
            self.kinds[data["inviteEvents"]["cursor"]] = data["inviteEvents"]["kind"]


async def _watch(org: Org, agents: list[AgentHandle], count: int) -> list[Watcher]:
    watchers = []
    for i, agent in enumerate(agents[:count]):
        client = await org.ws(agent.token, server=i)
        watcher = Watcher(agent, client, await client.subscribe(INVITE_EVENTS))
        watcher.task = asyncio.create_task(watcher.read())
        watchers.append(watcher)
    return watchers


async def _replayed(org: Org, watcher: Watcher, server: int) -> dict[str, str]:
    """The stream's events (cursor: kind) after its first live cursor, replayed from the log until
    it goes quiet."""
    events: dict[str, str] = {}
    async with await org.ws(watcher.agent.token, server=server) as client:
        replay = await client.subscribe(INVITE_EVENTS, {"after": watcher.cursors[0]})
        try:
            while True:
                event = (await replay.next(timeout=3.0))["inviteEvents"]
                events[event["cursor"]] = event["kind"]
        except TimeoutError:
            pass
    return events


async def _lost_and_duplicated(org: Org, watchers: list[Watcher]) -> tuple[int, list[str], int]:
    """(events seen live, the lost ones, how many were duplicated) over every watcher.

    The live streams stay open while the replays run and a moment after: events raised meanwhile
    (invites expiring after the traffic stopped) reach both, so only a real loss shows."""
    await asyncio.sleep(3.0)  # the last events of the run reach the streams
    watching = [w for w in watchers if w.cursors]
    replays = await asyncio.gather(*(_replayed(org, w, server=i + 1) for i, w in enumerate(watching)))
    await asyncio.sleep(2.0)
    seen, lost, duplicated = 0, [], 0
    for watcher in watchers:
        if watcher.task is not None:
            watcher.task.cancel()
        await watcher.client.close()
    for watcher, replay in zip(watching, replays, strict=True):
        live = watcher.cursors[1:]
        seen += len(watcher.cursors)
        duplicated += len(live) - len(set(live))
        lost += [f"{cursor} {kind} (agent {watcher.agent.id})" for cursor, kind in replay.items() if cursor not in live]
    return seen, lost, duplicated


def _latency(workload: Workload) -> str:
    values = sorted(workload.latencies)
    if len(values) < 2:
        return "no requests"
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return f"p50 {statistics.median(values) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"


async def _report_every_minute(stack: servers.Stack, workload: Workload, started: float) -> None:
    while True:
        await asyncio.sleep(60)
        elapsed = time.monotonic() - started
        memory = ", ".join(f"{rss_mib(s):.0f} MiB" for s in stack.servers)
        _out(
            f"  {elapsed / 60:4.1f} min: {len(workload.latencies)} requests "
            f"({len(workload.latencies) / elapsed:.0f}/s), {_latency(workload)}, "
            f"errors {len(workload.failures)}, threads {len(workload.visitors)}, memory {memory}"
        )


async def soak(stack: servers.Stack, args: argparse.Namespace) -> dict[str, Any]:
    async with httpx.AsyncClient(
        timeout=60, limits=httpx.Limits(max_connections=args.workers * 2, keepalive_expiry=2.0)
    ) as http:
        org = Org(stack, http)
        workload = Workload(org, random.Random(args.seed), max_visitors=args.visitors)
        await workload.setup(agents=args.agents, threads=min(50, args.visitors))
        watchers = await _watch(org, workload.agents, args.watchers)
        # Warm up (caches, pools), then take the starting memory.
        await run(workload, workers=args.workers, steps=5)
        memory_start = [rss_mib(s) for s in stack.servers]
        workload.latencies.clear()
        started = time.monotonic()
        reporter = asyncio.create_task(_report_every_minute(stack, workload, started))
        await run(workload, args.workers, args.max_steps, until=started + args.minutes * 60)
        elapsed = time.monotonic() - started
        reporter.cancel()
        memory_end = [rss_mib(s) for s in stack.servers]
        seen, lost, duplicated = await _lost_and_duplicated(org, watchers)
        return {
            "minutes": round(elapsed / 60, 2),
            "requests": len(workload.latencies),
            "throughput_per_s": round(len(workload.latencies) / elapsed, 1),
            "latency": _latency(workload),
            "errors": len(workload.failures),
            "error_samples": workload.failures[:5],
            "threads": len(workload.visitors),
            "memory_mib_start": [round(m) for m in memory_start],
            "memory_mib_end": [round(m) for m in memory_end],
            "events_seen": seen,
            "events_lost": len(lost),
            "lost_samples": lost[:5],
            "events_duplicated": duplicated,
            "invariants_broken": await invariants.violations(stack, org.id),
            "outcomes": dict(sorted(workload.outcomes.items())),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--visitors", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=24)
    parser.add_argument("--watchers", type=int, default=20)
    parser.add_argument("--max-steps", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    _out(f"soak: {args.minutes} min, {args.agents} agents, up to {args.visitors} visitors, {args.workers} workers")
    with servers.running("postgres") as stack:
        result = asyncio.run(soak(stack, args))
        alive = [s.process is not None and s.process.poll() is None for s in stack.servers]
        logs = "".join(s.log_path.read_text(errors="replace") for s in stack.servers)
    result["servers_alive_at_end"] = alive
    result["log_tracebacks"] = logs.count("Traceback")
    result["log_errors"] = logs.count(" ERROR ")
    _out(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
