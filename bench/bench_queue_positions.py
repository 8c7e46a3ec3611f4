"""Benchmark: many visitors watching queuePosition in one queue, over two server processes.

    .venv/bin/python bench/bench_queue_positions.py [--visitors 10000] [--rounds 5] [--clients 2]

Starts PostgreSQL + Redis backed servers (two processes, as in the tests, but
sweeping at the production defaults),
queues ``--visitors`` threads in one MANUAL queue, opens one WebSocket per
visitor (with the visitor's own token, alternating between the processes) and
subscribes each to ``queuePosition``. Then, ``--rounds`` times, an agent claims
the head of the queue and the benchmark reports:

- the time from the claim request until each watcher has its new position
  (p50, p99, max: max is "the last watcher"),
- Redis messages per change (counted on the events channel),
- SQL statements per change run to serve the watchers (the position hub's
  counter, summed over the processes),
- resident memory per open subscription (RSS growth of the two server
  processes from before the sockets were opened to after every watcher had
  its first position, divided by the number of subscriptions; and again after
  the last change, which shows that it does not grow with updates),
- CPU seconds per change of the servers and of the benchmark's own clients.

Client sockets live in ``--clients`` separate processes so that reading 10,000
messages does not share one event loop with the measurement. They share the
machine's cores with the servers, so they are kept lean (see ``_Widget``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import jwt  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
from queue_clients import _client, _open  # noqa: E402

from switchboard import settings  # noqa: E402
from switchboard.events.transport import org_channel  # noqa: E402
from tests import servers  # noqa: E402


def say(text: str = "", flush: bool = True) -> None:
    """The figures go to stdout: printing them is what a benchmark is for."""
    sys.stdout.write(text + "\n")
    if flush:
        sys.stdout.flush()


def token(org: str, role: str, sub: str | None = None) -> str:
    now = int(time.time())
    claims = {"sub": sub or f"{role}-bench", "org": org, "role": role, "iat": now, "exp": now + 7200}
    return jwt.encode(claims, servers.SECRET, algorithm="HS256")


# ---------------------------------------------------------------- coordinator


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def metric(http: httpx.AsyncClient, url: str, name: str) -> float:
    text = (await http.get(f"{url}/metrics")).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


async def gql(http: httpx.AsyncClient, url: str, auth: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(
        f"{url}/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {auth}"}
    )
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return dict(body["data"])


async def setup(http: httpx.AsyncClient, urls: list[str], org: str, visitors: int) -> tuple[str, list[str]]:
    admin, service = token(org, "admin"), token(org, "service")
    queue = await gql(
        http,
        urls[0],
        admin,
        'mutation { createQueue(input: {name: "crowd", routingStrategy: MANUAL,'
        " maxWaitSeconds: 86400}) { queue { id } } }",
        {},
    )
    gate = asyncio.Semaphore(32)
    tokens: list[str] = [""] * visitors

    async def one(i: int) -> None:
        async with gate:
            url = urls[i % len(urls)]
            started = await gql(
                http,
                url,
                service,
                "mutation($x: String!) { startThread(input: {visitor: {externalId: $x}}) {"
                " thread { id } visitorToken } }",
                {"x": f"visitor-{i}"},
            )
            thread_id = started["startThread"]["thread"]["id"]
            await gql(
                http,
                url,
                service,
                "mutation($t: ID!) { requestTransfer(input: {threadId: $t}) { queueEntry { id } } }",
                {"t": thread_id},
            )
            tokens[i] = started["startThread"]["visitorToken"]

    # In enqueue order, so that visitor i is at position i + 1.
    for start in range(0, visitors, 256):
        await asyncio.gather(*(one(i) for i in range(start, min(start + 256, visitors))))
    assert queue
    # The agent who takes the head; ONLINE before anyone watches, since that changes the estimates.
    agent = await gql(
        http,
        urls[0],
        admin,
        'mutation { createAgent(input: {name: "Head taker", maxConcurrentThreads: 100}) { agent { id } } }',
        {},
    )
    agent_token = token(org, "agent", agent["createAgent"]["agent"]["id"])
    await gql(http, urls[0], agent_token, "mutation { setAgentStatus(input: {status: ONLINE}) { agent { id } } }", {})
    return agent_token, tokens


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(args: argparse.Namespace) -> None:
    # The servers sweep at the production defaults, not at the tests' faster pace.
    production = settings.load({"SWITCHBOARD_JWT_SECRET": servers.SECRET})
    defaults = {
        "SWITCHBOARD_TIMER_POLL_SECONDS": str(production.timer_poll_seconds),
        "SWITCHBOARD_RELAY_POLL_SECONDS": str(production.relay_poll_seconds),
    }
    with servers.running("postgres", settings=defaults) as stack:
        asyncio.run(run(args, stack))


Round = tuple[list[float], dict[str, int], int, list[str], float, float, float, float]


async def run(args: argparse.Namespace, stack: servers.Stack) -> None:
    urls = [stack.url(i) for i in range(len(stack.servers))]
    ws_urls = [stack.ws_url(i) for i in range(len(stack.servers))]
    pids = [s.process.pid for s in stack.servers if s.process is not None]
    org = f"bench-{os.getpid()}"
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64)) as http:
        started = time.perf_counter()
        agent_token, tokens = await setup(http, urls, org, args.visitors)
        say(f"setup: {args.visitors} visitors queued in {time.perf_counter() - started:.1f} s", flush=True)

        # Warm both processes' code paths (first subscriptions import and compile lazily).
        warm = [await _open(ws_urls[i % 2], tokens[i]) for i in range(20)]
        for widget in warm:
            widget.close()
        await asyncio.sleep(1.0)
        rss_before = [rss_kb(pid) for pid in pids]
        pipes, procs = await _subscribe_all(args, ws_urls, tokens)
        await asyncio.sleep(2.0)
        rss_after = [rss_kb(pid) for pid in pids]

        redis_client = aioredis.from_url(servers.REDIS_URL)
        channel = org_channel(f"{stack.env['SWITCHBOARD_REDIS_PREFIX']}:events", org)
        results = []
        for round_no in range(args.rounds):
            result = await _round(http, urls, pids, procs, pipes, redis_client, channel, agent_token)
            results.append(result)
            _report_round(round_no, result)
        await asyncio.sleep(1.0)
        rss_end = [rss_kb(pid) for pid in pids]
        for pipe in pipes:
            pipe.send("close")
        for proc in procs:
            proc.join(30)
        await redis_client.aclose()
    _summary(args, len(urls), results, rss_before, rss_after, rss_end)


async def _subscribe_all(
    args: argparse.Namespace, ws_urls: list[str], tokens: list[str]
) -> tuple[list[Connection], list[Any]]:
    """The client processes, each with its share of the widgets, all subscribed."""
    work = [(i % len(ws_urls), t) for i, t in enumerate(tokens)]
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    for c in range(args.clients):
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(target=_client, args=(ws_urls, work[c :: args.clients], theirs, args.rounds))
        proc.start()
        pipes.append(mine)
        procs.append(proc)
    opened = time.perf_counter()
    firsts: list[int] = []
    for pipe in pipes:
        kind, positions = await asyncio.to_thread(pipe.recv)
        assert kind == "subscribed"
        firsts.extend(positions)
    say(f"subscribed: {len(firsts)} watchers in {time.perf_counter() - opened:.1f} s", flush=True)
    assert sorted(firsts) == list(range(1, args.visitors + 1)), "every watcher got its own first position"
    return pipes, procs


async def _round(
    http: httpx.AsyncClient,
    urls: list[str],
    pids: list[int],
    procs: list[Any],
    pipes: list[Connection],
    redis_client: Any,
    channel: str,
    agent_token: str,
) -> Round:
    """One change (an agent claims the head) and what it cost."""
    for pipe in pipes:
        kind, _ = await asyncio.to_thread(pipe.recv)
        assert kind == "armed"
    await asyncio.sleep(1.0)
    sql_before = [await metric(http, u, "switchboard_queue_watch_sql_statements_total") for u in urls]
    recomputes_before = [await metric(http, u, "switchboard_queue_watch_recomputes_total") for u in urls]
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    seen: list[str] = []

    async def count(ps: Any = pubsub, into: list[str] = seen) -> None:
        async for message in ps.listen():
            into.append(json.loads(message["data"])["kind"])

    counter = asyncio.create_task(count())
    await asyncio.sleep(0.2)
    cpu_before = [cpu_seconds(pid) for pid in pids], [cpu_seconds(p.pid) for p in procs if p.pid]
    t0 = time.time()
    claim = "mutation { claimQueueEntry(input: {}) { queueEntry { id } userErrors { code } } }"
    claimed = await gql(http, urls[0], agent_token, claim, {})
    assert not claimed["claimQueueEntry"]["userErrors"], claimed
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    for pipe in pipes:
        kind, received = await asyncio.to_thread(pipe.recv)
        assert kind == "received"
        for at, status, _ in received:
            latencies.append(at - t0)
            statuses[status] = statuses.get(status, 0) + 1
    server_cpu = sum(cpu_seconds(pid) for pid in pids) - sum(cpu_before[0])
    client_cpu = sum(cpu_seconds(p.pid) for p in procs if p.pid) - sum(cpu_before[1])
    await asyncio.sleep(0.5)
    counter.cancel()
    await pubsub.aclose()
    sql_after = [await metric(http, u, "switchboard_queue_watch_sql_statements_total") for u in urls]
    recomputes_after = [await metric(http, u, "switchboard_queue_watch_recomputes_total") for u in urls]
    sql = sum(sql_after) - sum(sql_before)
    recomputes = sum(recomputes_after) - sum(recomputes_before)
    return (latencies, statuses, len(seen), seen, sql, recomputes, server_cpu, client_cpu)


def _report_round(round_no: int, result: Round) -> None:
    latencies, statuses, _, seen, sql, recomputes, server_cpu, client_cpu = result
    say(
        f"round {round_no + 1}: {len(latencies)} watchers updated ({statuses}); "
        f"first {min(latencies) * 1000:.0f} ms, p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
        f"last {max(latencies) * 1000:.0f} ms; redis messages {len(seen)} {sorted(set(seen))}; "
        f"hub SQL statements {sql:.0f} (recomputes {recomputes:.0f}); "
        f"CPU servers {server_cpu:.2f} s ({server_cpu / len(latencies) * 1e6:.0f} us per update), "
        f"clients {client_cpu:.2f} s",
        flush=True,
    )


def _summary(
    args: argparse.Namespace,
    processes: int,
    results: list[Round],
    rss_before: list[int],
    rss_after: list[int],
    rss_end: list[int],
) -> None:
    per_sub_kb = (sum(rss_after) - sum(rss_before)) / args.visitors
    p99s = [percentile(r[0], 0.99) for r in results]
    say()
    say(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    say(f"watchers: {args.visitors} over {processes} server processes, {args.rounds} changes (claim of the head)")
    say(
        f"time until every watcher has its new position: p99 {statistics.median(p99s) * 1000:.0f} ms "
        f"(median over rounds), last watcher {statistics.median([max(r[0]) for r in results]) * 1000:.0f} ms"
    )
    say(
        f"CPU per change: servers {statistics.median([r[6] for r in results]):.2f} s, "
        f"benchmark clients {statistics.median([r[7] for r in results]):.2f} s (sharing the same cores)"
    )
    say(f"redis messages per change: {statistics.median([r[2] for r in results]):.0f}")
    say(
        f"SQL statements per change for watchers (all processes): {statistics.median([r[4] for r in results]):.0f} "
        f"({statistics.median([r[5] for r in results]):.0f} recomputes)"
    )
    say(
        f"resident memory per open subscription: {per_sub_kb:.1f} KB "
        f"(servers {sum(rss_before) / 1024:.0f} MB -> {sum(rss_after) / 1024:.0f} MB); "
        f"after the {args.rounds} changes: {(sum(rss_end) - sum(rss_before)) / args.visitors:.1f} KB"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=2)
    main(parser.parse_args())
