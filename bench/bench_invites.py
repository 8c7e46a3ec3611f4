"""Benchmark: invite delivery latency and invite + accept throughput (PostgreSQL + Redis).

    .venv/bin/python bench/bench_invites.py [--agents 200] [--rounds 3] [--workers 16] [--seconds 10]

Starts two server processes sharing PostgreSQL and Redis (as in the tests).

1. Latency: ``--agents`` agents each hold an ``inviteEvents`` subscription, half
   on each process. A primary invites them one at a time (``--rounds`` times,
   withdrawing in between); for each invite the time from the mutation's HTTP
   response to the invitee's CREATED event is measured (p50, p99, max). The
   event can arrive before the response (the process publishes right after the
   commit): such samples count as 0 ms; the figure "from request" is also given.
2. Throughput: ``--workers`` concurrent loops, each with its own thread and
   invitee, run invite -> accept -> leave against one process for ``--seconds``;
   reported as invite + accept cycles per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import websockets  # noqa: E402
from websockets.typing import Subprotocol  # noqa: E402

from tests import servers  # noqa: E402
from tests.collab_support import (  # noqa: E402
    INVITE,
    LEAVE,
    RESPOND,
    WITHDRAW,
    active_thread,
    settings,
)
from tests.conftest import AgentHandle, Org  # noqa: E402

SUBSCRIBE = "subscription { inviteEvents { kind invite { id } } }"


class Watcher:
    """One agent's inviteEvents socket; records when each CREATED event arrives."""

    def __init__(self, agent: AgentHandle) -> None:
        self.agent = agent
        self.arrived: dict[str, float] = {}
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.conn: Any = None
        self.task: asyncio.Task[None] | None = None

    async def open(self, url: str) -> None:
        self.conn = await websockets.connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], max_size=2**22)
        await self.conn.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {self.agent.token}"}})
        )
        assert json.loads(await self.conn.recv())["type"] == "connection_ack"
        await self.conn.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.conn:
            now = time.perf_counter()
            message = json.loads(raw)
            if message.get("type") != "next":
                continue
            event = message["payload"]["data"]["inviteEvents"]
            if event["kind"] != "CREATED":
                continue
            invite_id = event["invite"]["id"]
            self.arrived[invite_id] = now
            waiter = self.waiters.pop(invite_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(now)

    async def wait(self, invite_id: str) -> float:
        if invite_id in self.arrived:
            return self.arrived[invite_id]
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters[invite_id] = future
        return await asyncio.wait_for(future, 10)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.conn is not None:
            await self.conn.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def latency(org: Org, agents: int, rounds: int) -> dict[str, Any]:
    primaries = [await org.create_agent(f"P{i}", maxConcurrentThreads=100) for i in range(4)]
    watchers = [Watcher(await org.create_agent(f"W{i}", maxConcurrentCollaborations=100)) for i in range(agents)]
    await asyncio.gather(*(w.open(org.stack.ws_url(i % 2)) for i, w in enumerate(watchers)))
    await asyncio.sleep(0.5)
    per_thread = 50
    threads = [
        await active_thread(org, primaries[i % len(primaries)]) for i in range((agents + per_thread - 1) // per_thread)
    ]
    from_response: list[float] = []
    from_request: list[float] = []
    try:
        for _ in range(rounds):
            sent: list[tuple[str, AgentHandle]] = []
            for i, watcher in enumerate(watchers):
                thread = threads[i // per_thread]
                primary = primaries[(i // per_thread) % len(primaries)]
                started = time.perf_counter()
                body = await org.data(
                    INVITE,
                    {"i": {"threadId": thread, "inviteeIds": [watcher.agent.id]}},
                    token=primary.token,
                    server=i % 2,
                )
                answered = time.perf_counter()
                payload = body["inviteCollaborators"]
                assert not payload["userErrors"], payload["userErrors"]
                invite_id = payload["invites"][0]["id"]
                arrived = await watcher.wait(invite_id)
                from_response.append(max(0.0, arrived - answered) * 1000)
                from_request.append((arrived - started) * 1000)
                sent.append((invite_id, primary))
            for invite_id, primary in sent:
                await org.data(WITHDRAW, {"i": {"inviteId": invite_id}}, token=primary.token)
    finally:
        await asyncio.gather(*(w.close() for w in watchers))
    return {
        "samples": len(from_response),
        "p50_ms": statistics.median(from_response),
        "p99_ms": percentile(from_response, 99),
        "max_ms": max(from_response),
        "from_request_p50_ms": statistics.median(from_request),
        "from_request_p99_ms": percentile(from_request, 99),
    }


async def throughput(org: Org, workers: int, seconds: float) -> dict[str, Any]:
    pairs = []
    for i in range(workers):
        primary = await org.create_agent(f"TP{i}")
        invitee = await org.create_agent(f"TI{i}")
        pairs.append((primary, invitee, await active_thread(org, primary)))
    cycles = 0
    deadline = time.perf_counter() + seconds

    async def loop(primary: AgentHandle, invitee: AgentHandle, thread: str) -> None:
        nonlocal cycles
        while time.perf_counter() < deadline:
            body = await org.data(INVITE, {"i": {"threadId": thread, "inviteeIds": [invitee.id]}}, token=primary.token)
            invite_id = body["inviteCollaborators"]["invites"][0]["id"]
            answer = await org.data(RESPOND, {"i": {"inviteId": invite_id, "action": "ACCEPT"}}, token=invitee.token)
            assert not answer["respondToInvite"]["userErrors"], answer
            cycles += 1
            await org.data(LEAVE, {"i": {"threadId": thread}}, token=invitee.token)

    started = time.perf_counter()
    await asyncio.gather(*(loop(*pair) for pair in pairs))
    elapsed = time.perf_counter() - started
    return {"cycles": cycles, "seconds": elapsed, "cycles_per_second": cycles / elapsed}


async def run(args: argparse.Namespace, stack: servers.Stack) -> None:
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200)) as http:
        org = Org(stack, http)
        await settings(org, invitesPerAgentPerMinute=10000, collaboratorLimitNormal=50)
        lat = await latency(org, args.agents, args.rounds)
        org2 = Org(stack, http)
        await settings(org2, invitesPerAgentPerMinute=10000)
        thr = await throughput(org2, args.workers, args.seconds)
    command = " ".join([".venv/bin/python", "bench/bench_invites.py", *sys.argv[1:]])
    lines = [
        f"command: {command}",
        f"latency, invite response -> invitee's CREATED event ({args.agents} agents subscribed on 2 processes, "
        f"{lat['samples']} invites): p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms, "
        f"max {lat['max_ms']:.1f} ms",
        f"  (from the request: p50 {lat['from_request_p50_ms']:.1f} ms, p99 {lat['from_request_p99_ms']:.1f} ms)",
        f"throughput, invite + accept (+ leave) on one process, {args.workers} workers: "
        f"{thr['cycles_per_second']:.1f} cycles/s ({thr['cycles']} cycles in {thr['seconds']:.1f} s)",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with servers.running("postgres") as stack:
        asyncio.run(run(args, stack))


if __name__ == "__main__":
    main()
