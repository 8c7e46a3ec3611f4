"""Benchmark: mixed mutations over 1, 2 and 4 server processes, for 1 organization and for 50.

    .venv/bin/python bench/bench_scale.py [--processes 1,2,4] [--orgs 1,50] [--seconds 10]
        [--warmup 2] [--clients 16] [--seed 1]

Each cell (a number of organizations x a number of processes) gets a fresh
PostgreSQL database, a private redis-server on a free port and that many
``switchboard`` server processes sharing them (tests/servers.py), with the
production poll intervals. Each organization gets the data of tests/workload.py
(agents, a LEAST_BUSY queue, threads). Then ``--clients`` concurrent clients,
spread round robin over the organizations, run the seeded workload of
tests/workload.py in a closed loop (each sends its next request when the last
one is answered), every request to a random process: startThread, transfers,
claims, invites and answers, withdrawals, hand-overs, resolves, reopens, status
and capacity changes, and visitors' sendMessage; each thread action reads the
thread first (not counted as a mutation). After ``--warmup`` seconds,
``--seconds`` are measured.

Printed per cell: mutations/s (answered mutations, whatever their outcome, and
the share that succeeded), p50/p99 mutation latency, PostgreSQL wait events
sampled every 50 ms from pg_stat_activity for the cell's database (share of
active-backend samples per wait event; ``counter`` counts Lock waits of
statements that take the event sequence), and CPU seconds of the PostgreSQL
backends of the cell's database, of its redis-server, of the server processes
and of this client process, with the machine's load average and busy share
(the machine may be shared: figures move with everyone's load).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
from cpu import process_seconds  # noqa: E402

from tests import servers  # noqa: E402
from tests.conftest import Org  # noqa: E402
from tests.workload import ACTIONS, Workload  # noqa: E402

SAMPLE_SECONDS = 0.05
# Statements that take the next event number: the one lock every mutation shares
# (before per-organization sequences), then the per-organization ones.
SEQUENCE_STATEMENTS = ("event_counter", "event_seq", "org_event", "organization_event")
# The server's production intervals, not the tests' short ones.
PRODUCTION = {"SWITCHBOARD_TIMER_POLL_SECONDS": "0.25", "SWITCHBOARD_RELAY_POLL_SECONDS": "1.0"}
SEND = "mutation($i: SendMessageInput!) { sendMessage(input: $i) { message { id } userErrors { code } } }"


def say(text: str = "") -> None:
    """The figures go to stdout: printing them is what a benchmark is for."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@dataclass
class Mixed(Workload):
    """tests/workload.py's traffic plus visitors' messages, with each mutation's latency kept by name."""

    timed: list[tuple[str, float]] = field(default_factory=list)

    async def request(self, name: str, query: str, variables: dict[str, Any], token: str) -> tuple[str, Any]:
        start = time.perf_counter()
        result = await super().request(name, query, variables, token)
        if name != "read" and result[0] != "transport":
            self.timed.append((name, time.perf_counter() - start))
        return result

    async def message(self) -> None:
        if self.visitors:
            visitor = self.rng.choice(self.visitors)
            variables = {"i": {"threadId": visitor.thread, "body": f"hello {self.rng.getrandbits(32):x}"}}
            await self.request("message", SEND, variables, visitor.token)

    async def step(self) -> None:
        actions = {**ACTIONS, "message": 6}
        action = self.rng.choices(list(actions), weights=list(actions.values()))[0]
        await getattr(self, action)()


@dataclass
class Waits:
    """pg_stat_activity samples of the cell's database: active backends by wait event."""

    samples: int = 0
    active: int = 0
    events: Counter[str] = field(default_factory=Counter)
    counter_locks: int = 0

    async def sample(self, database: str, until: float) -> None:
        conn = await asyncpg.connect(servers.PG_ADMIN_URL.replace("postgres://", "postgresql://", 1))
        try:
            while time.monotonic() < until:
                rows = await conn.fetch(
                    """SELECT wait_event_type, wait_event, query FROM pg_stat_activity
                       WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid()""",
                    database,
                )
                self.samples += 1
                for row in rows:
                    self.active += 1
                    kind = f"{row['wait_event_type']}:{row['wait_event']}" if row["wait_event_type"] else "running"
                    self.events[kind] += 1
                    if row["wait_event_type"] == "Lock" and any(s in row["query"] for s in SEQUENCE_STATEMENTS):
                        self.counter_locks += 1
                await asyncio.sleep(SAMPLE_SECONDS)
        finally:
            await conn.close()

    def summary(self) -> str:
        if not self.active:
            return "no active backend sampled"
        top = ", ".join(f"{k} {100 * n / self.active:.0f}%" for k, n in self.events.most_common(5))
        locks = sum(n for k, n in self.events.items() if k.startswith("Lock:"))
        share = 100 / self.active
        return (
            f"{self.active / max(self.samples, 1):.1f} active backends/sample; {top}; "
            f"Lock waits {locks * share:.0f}% (on the event sequence {self.counter_locks * share:.0f}%)"
        )


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


@dataclass
class Cpu:
    """CPU seconds of the processes a cell runs on, read from /proc."""

    servers: list[int]
    redis: int
    backends: list[int] = field(default_factory=list)
    start: dict[str, float] = field(default_factory=dict)

    def read(self) -> dict[str, float]:
        return {
            "postgres": sum(process_seconds(p) for p in self.backends),
            "redis": process_seconds(self.redis),
            "servers": sum(process_seconds(p) for p in self.servers),
            "client": process_seconds(os.getpid()),
        }


async def backend_pids(database: str) -> list[int]:
    conn = await asyncpg.connect(servers.PG_ADMIN_URL.replace("postgres://", "postgresql://", 1))
    try:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
    finally:
        await conn.close()
    return [int(r["pid"]) for r in rows]


async def prepare(stack: servers.Stack, http: httpx.AsyncClient, orgs: int, seed: int) -> list[Mixed]:
    """One workload per organization, with its agents, queue and first threads."""
    rng = random.Random(seed)
    loads = [Mixed(Org(stack, http), random.Random(rng.getrandbits(32))) for _ in range(orgs)]
    gate = asyncio.Semaphore(8)

    async def setup(load: Mixed) -> None:
        async with gate:
            await load.setup(agents=6, threads=4)

    await asyncio.gather(*(setup(load) for load in loads))
    return loads


async def drive(loads: list[Mixed], clients: int, until: float) -> None:
    async def client(load: Mixed) -> None:
        while time.monotonic() < until:
            await load.step()

    await asyncio.gather(*(client(loads[i % len(loads)]) for i in range(clients)))


async def redis_clients(url: str) -> int:
    """Connections the cell's redis-server holds (every one is a server process's)."""
    client = aioredis.from_url(url)
    try:
        return int((await client.info("clients"))["connected_clients"])
    finally:
        await client.aclose()


async def measure(stack: servers.Stack, redis_pid: int, args: argparse.Namespace, orgs: int) -> dict[str, Any]:
    database = str(stack.cleanup[0])
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=args.clients * 2)) as http:
        loads = await prepare(stack, http, orgs, args.seed)
        warm = asyncio.create_task(drive(loads, args.clients, time.monotonic() + args.warmup))
        await warm
        for load in loads:
            load.timed.clear()
            load.outcomes.clear()
        cpu = Cpu([s.process.pid for s in stack.servers if s.process], redis_pid, await backend_pids(database))
        before, machine_before, load_before = cpu.read(), machine_busy(), os.getloadavg()[0]
        start = time.monotonic()
        until = start + args.seconds
        waits = Waits()
        await asyncio.gather(drive(loads, args.clients, until), waits.sample(database, until))
        elapsed = time.monotonic() - start
        after, machine_after = cpu.read(), machine_busy()
        # Connections the processes hold at the end of the run, and it is the most they needed.
        held = (len(await backend_pids(database)), await redis_clients(stack.env["SWITCHBOARD_REDIS_URL"]))
    timed = [t for load in loads for _, t in load.timed]
    ok = sum(n for load in loads for k, n in load.outcomes.items() if k.endswith(":ok") and not k.startswith("read:"))
    mutations = sum(n for load in loads for k, n in load.outcomes.items() if not k.startswith("read:"))
    busy = (machine_after[0] - machine_before[0]) / max(machine_after[1] - machine_before[1], 1.0)
    return {
        "mutations": mutations,
        "per_second": mutations / elapsed,
        "ok_share": ok / max(mutations, 1),
        "p50": statistics.median(timed) * 1000 if timed else float("nan"),
        "p99": statistics.quantiles(timed, n=100)[98] * 1000 if len(timed) > 1 else float("nan"),
        "waits": waits.summary(),
        "cpu": {k: after[k] - before[k] for k in after},
        "elapsed": elapsed,
        "busy": busy,
        "load": (load_before, os.getloadavg()[0]),
        "failures": sum(len(load.failures) for load in loads),
        "connections": held,
    }


def cell(processes: int, orgs: int, args: argparse.Namespace) -> dict[str, Any]:
    workdir = servers.new_workdir()
    redis = servers.RedisServer()
    redis.start()
    try:
        assert redis.process is not None
        with_redis = {"redis_url": redis.url, "settings": PRODUCTION}
        stack = servers.postgres_stack(workdir, processes=processes, **with_redis)  # type: ignore[arg-type]
        try:
            return asyncio.run(measure(stack, redis.process.pid, args, orgs))
        finally:
            stack.stop()
            for name in stack.cleanup:
                servers.drop_pg_database(str(name))
    finally:
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def report(processes: int, orgs: int, r: dict[str, Any]) -> None:
    cpu = r["cpu"]
    per_k = 1000 / max(r["mutations"], 1)
    say(
        f"orgs={orgs:<3} processes={processes}  {r['per_second']:7.1f} mutations/s ({100 * r['ok_share']:.0f}% ok)  "
        f"p50 {r['p50']:6.1f} ms  p99 {r['p99']:7.1f} ms  failures {r['failures']}"
    )
    say(
        f"    CPU s: postgres {cpu['postgres']:.1f}  redis {cpu['redis']:.2f}  servers {cpu['servers']:.1f}  "
        f"client {cpu['client']:.1f}  (per 1000 mutations: pg {cpu['postgres'] * per_k:.2f}, "
        f"servers {cpu['servers'] * per_k:.2f})  machine busy {100 * r['busy']:.0f}% of {os.cpu_count()} cores, "
        f"load {r['load'][0]:.1f}->{r['load'][1]:.1f}"
    )
    say(f"    PostgreSQL: {r['waits']}")
    say(f"    connections held at the end: PostgreSQL {r['connections'][0]}, Redis {r['connections'][1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", default="1,2,4", help="server process counts, comma-separated")
    parser.add_argument("--orgs", default="1,50", help="organization counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per cell")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=16, help="concurrent closed-loop clients")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    say(
        f"bench_scale: {args.clients} closed-loop clients, "
        f"{args.seconds:g} s per cell after {args.warmup:g} s warm-up; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start"
    )
    for orgs in (int(n) for n in args.orgs.split(",")):
        for processes in (int(n) for n in args.processes.split(",")):
            report(processes, orgs, cell(processes, orgs, args))


if __name__ == "__main__":
    main()
