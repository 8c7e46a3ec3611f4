"""Benchmark: ``metrics`` (every field) over the whole issue-11 data set, on PostgreSQL.

    .venv/bin/python bench/bench_metrics.py [--db sb_bench_1] [--runs 20] [--statements] [--explain]

Needs the data set of ``bench/gen_data.py`` (``--db``; made with ``gen_data.py --db
sb_bench_1`` if missing: 100k threads, 300k invites, ~99k queue entries over 180
days). Runs the app in this process (``bench/inprocess.py``: ASGI calls, no
socket) and times ``--runs`` requests of each document after one warm-up: the
whole period with a DAY series, the same for one queue, and the last 30 days with
an HOUR series (the most buckets allowed). Prints p50 / p99 / max in
milliseconds and the statements one request runs; with ``--statements`` the
time of each statement run alone, with ``--explain`` its plan (``EXPLAIN ANALYZE``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import jwt  # noqa: E402

from bench import inprocess  # noqa: E402
from bench.dataset import ORG  # noqa: E402
from tests import servers  # noqa: E402

FIELDS = """from to threadsStarted transferRate transfersRequested transferSuccessRate averageWaitSeconds
  p90WaitSeconds abandoned overflowed invitesSent inviteAcceptanceRate averageInviteResponseSeconds invitesExpired
  agentMessages visitorMessages averageFirstResponseSeconds p90FirstResponseSeconds
  transfersByTrigger { trigger count }
  byQueue { queue { id name } transfersRequested assigned cancelled overflowed averageWaitSeconds p90WaitSeconds }
  series(bucket: %s) { bucketStart transfersRequested assigned averageWaitSeconds invitesSent invitesAccepted }"""


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _token() -> str:
    now = int(time.time())
    claims = {"sub": "bench", "org": ORG, "role": "analyst", "iat": now, "exp": now + 3600}
    return jwt.encode(claims, servers.SECRET, algorithm="HS256")


def _metrics(start: str, end: str, bucket: str, queue: str | None = None) -> str:
    queue_arg = f', queueId: "{queue}"' if queue else ""
    return f'{{ metrics(from: "{start}", to: "{end}"{queue_arg}) {{ {FIELDS % bucket} }} }}'


def documents(queue_gid: str) -> dict[str, str]:
    now = datetime.now(UTC)
    whole = (now - timedelta(days=365)).isoformat(), (now + timedelta(hours=1)).isoformat()
    month = (now - timedelta(days=30)).isoformat(), (now + timedelta(hours=1)).isoformat()
    return {
        "whole data set, DAY series": _metrics(*whole, "DAY"),
        "whole data set, one queue": _metrics(*whole, "DAY", queue_gid),
        "whole data set, no series": _metrics(*whole, "DAY").replace((FIELDS % "DAY").splitlines()[-1], ""),
        "last 30 days, HOUR series": _metrics(*month, "HOUR"),
    }


async def _explain(database_url: str, statements: list[inprocess.Statement], plans: bool) -> None:
    """Each statement alone: its median time over 5 runs (and with ``plans`` its EXPLAIN ANALYZE)."""
    conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        for sql, args in statements:
            took = []
            for _ in range(5):
                started = time.perf_counter()
                await conn.fetch(sql, *(args or ()))
                took.append((time.perf_counter() - started) * 1000)
            _out(f"    {statistics.median(took):7.1f} ms  " + " ".join(sql.split())[:150])
            if plans:
                for row in await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *(args or ())):
                    _out("      " + row[0])
    finally:
        await conn.close()


async def run(database: str, runs: int, statements: bool, explain: bool) -> None:
    url = servers.pg_database_url(database)
    token = _token()
    async with inprocess.running(url, servers.SECRET) as app:
        status, body = await inprocess.post(app, "{ queues { id name } }", token)
        queues = json.loads(body)["data"]["queues"]
        for name, query in documents(queues[0]["id"]).items():
            with inprocess.recording() as seen:
                status, body = await inprocess.post(app, query, token)
            if status != 200 or json.loads(body).get("errors"):
                raise RuntimeError(f"{name}: {status} {body[:500]!r}")
            timings = []
            for _ in range(runs):
                started = time.perf_counter()
                await inprocess.post(app, query, token)
                timings.append((time.perf_counter() - started) * 1000)
            timings.sort()
            p99 = timings[min(len(timings) - 1, round(0.99 * (len(timings) - 1)))]
            _out(
                f"{name}: p50 {statistics.median(timings):.1f} ms, p99 {p99:.1f} ms, max {timings[-1]:.1f} ms"
                f" over {runs} runs; {len(seen)} statements"
            )
            if statements or explain:
                await _explain(url, seen, explain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sb_bench_1", help="a database made by bench/gen_data.py")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--statements", action="store_true", help="time each statement alone")
    parser.add_argument("--explain", action="store_true", help="and print its EXPLAIN ANALYZE")
    args = parser.parse_args()
    asyncio.run(run(args.db, args.runs, args.statements, args.explain))


if __name__ == "__main__":
    main()
