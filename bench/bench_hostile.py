"""How fast hostile documents are refused, and how /healthz answers meanwhile (one SQLite server).

    .venv/bin/python bench/bench_hostile.py [--attackers 4] [--rounds 3]

Sends the issue's bodies without a token: ``{"query": "{ g_0 g_1 ... }"}`` with
400,000 fields (3.4 MB, refused 413 by size) and with 115,000 fields (0.9 MB,
refused for its tokens). Then ``--attackers`` clients send the 0.9 MB body
``--rounds`` times each while one client asks /healthz every 50 ms; prints the
refusal times and the /healthz latencies (median, max) during the attack.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import servers  # noqa: E402

HEADERS = {"Content-Type": "application/json"}


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _body(fields: int) -> bytes:
    return json.dumps({"query": "{ " + " ".join(f"g_{i}" for i in range(fields)) + " }"}).encode()


async def _timed(client: httpx.AsyncClient, url: str, body: bytes) -> tuple[int, float]:
    started = time.perf_counter()
    response = await client.post(f"{url}/graphql", content=body, headers=HEADERS)
    return response.status_code, time.perf_counter() - started


async def _attack(url: str, body: bytes, attackers: int, rounds: int) -> list[float]:
    """/healthz latencies while ``attackers`` clients send ``body`` ``rounds`` times each."""

    async def attacker() -> None:
        async with httpx.AsyncClient(timeout=120) as client:
            for _ in range(rounds):
                await client.post(f"{url}/graphql", content=body, headers=HEADERS)

    latencies = []
    async with httpx.AsyncClient(timeout=120) as client:
        tasks = [asyncio.create_task(attacker()) for _ in range(attackers)]
        while not all(task.done() for task in tasks):
            started = time.perf_counter()
            assert (await client.get(f"{url}/healthz")).status_code == 200
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.05)
        await asyncio.gather(*tasks)
    return latencies


async def _run(url: str, attackers: int, rounds: int) -> None:
    big, tokens = _body(400_000), _body(115_000)
    async with httpx.AsyncClient(timeout=120) as client:
        for name, body in (("3.4 MB body", big), ("0.9 MB body", tokens)):
            results = [await _timed(client, url, body) for _ in range(3)]
            times = ", ".join(f"{t * 1000:.0f} ms" for _, t in results)
            _out(f"{name} ({len(body):,} bytes): status {results[0][0]}, {times}")
    latencies = await _attack(url, tokens, attackers, rounds)
    _out(
        f"/healthz during {attackers} x {rounds} 0.9 MB bodies: {len(latencies)} probes, "
        f"median {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attackers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    _out(f"$ .venv/bin/python bench/bench_hostile.py --attackers {args.attackers} --rounds {args.rounds}")
    workdir = servers.new_workdir()
    stack = servers.sqlite_stack(workdir)
    try:
        asyncio.run(_run(stack.url(), args.attackers, args.rounds))
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
