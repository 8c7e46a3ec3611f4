"""Benchmark: commits through the outbox for 1 organization and for many (PostgreSQL, in process).

    .venv/bin/python bench/bench_event_log.py [--workers 16] [--seconds 5] [--orgs 1 50]

Each of ``--workers`` concurrent loops commits one-event transactions (``services.transaction.atomic``:
the organization's counter upsert, the log INSERT, commit) for ``--seconds``, worker i writing
for organization i mod N. Printed per N: commits/s, p50/p99 of a transaction, and how often a
sample of ``pg_stat_activity`` (every 20 ms) found a backend of the database waiting on a lock:
with one organization the counter row serialises every commit; with many, commits of different
organizations do not wait on each other.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from switchboard import db  # noqa: E402
from switchboard.events.types import ThreadStatusChanged  # noqa: E402
from switchboard.rules.enums import ThreadStatus  # noqa: E402
from switchboard.services.transaction import atomic  # noqa: E402
from switchboard.settings import Settings  # noqa: E402
from tests import servers  # noqa: E402


async def _lock_waits(url: str, stop: asyncio.Event) -> tuple[int, int]:
    """(samples, samples with a backend waiting on a lock)."""
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    samples = waiting = 0
    sql = "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    try:
        while not stop.is_set():
            samples += 1
            waiting += int(await conn.fetchval(sql) > 0)
            await asyncio.sleep(0.02)
    finally:
        await conn.close()
    return samples, waiting


async def _round(url: str, orgs: int, workers: int, seconds: float) -> str:
    durations: list[float] = []
    deadline = time.monotonic() + seconds

    async def worker(i: int) -> None:
        org = f"bench-{i % orgs}"
        while time.monotonic() < deadline:
            started = time.perf_counter()
            async with atomic(None) as outbox:
                outbox.add(ThreadStatusChanged(org=org, thread_id=i, status=ThreadStatus.BOT))
            durations.append(time.perf_counter() - started)

    stop = asyncio.Event()
    sampler = asyncio.create_task(_lock_waits(url, stop))
    began = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(workers)))
    elapsed = time.monotonic() - began
    stop.set()
    samples, waiting = await sampler
    p99 = statistics.quantiles(durations, n=100)[98] * 1000
    return (
        f"organizations {orgs:>3}: {len(durations) / elapsed:7.0f} commits/s, "
        f"p50 {statistics.median(durations) * 1000:5.2f} ms, p99 {p99:5.2f} ms, "
        f"lock waits seen in {waiting}/{samples} samples"
    )


async def _run(url: str, args: argparse.Namespace) -> None:
    settings = Settings(database_url=url, jwt_secret=servers.SECRET)
    await db.migrate(settings)
    await db.init(settings)
    try:
        for orgs in args.orgs:
            sys.stdout.write(await _round(url, orgs, args.workers, args.seconds) + "\n")
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--orgs", type=int, nargs="+", default=[1, 50])
    args = parser.parse_args()
    name = servers.create_pg_database()
    try:
        asyncio.run(_run(servers.pg_database_url(name), args))
    finally:
        servers.drop_pg_database(name)


if __name__ == "__main__":
    main()
