"""Issue 11's queries in this process, one at a time: CPU and wall time per request, SQL statements.

    .venv/bin/python bench/dashboard_steps.py [--db sb_bench_1] [--calls 100] [--deep 4000]
    .venv/bin/python /path/to/other/checkout/bench/dashboard_steps.py ...   # that checkout's code

Measures the checkout the script sits in (its folder goes first on ``sys.path``), so
two checkouts run one after the other on a shared machine give comparable figures:
compare them within one run, as ratios. Each query runs ``--calls`` times after a
warm-up through the ASGI app (no socket) on a database made by ``bench/gen_data.py``.
Every answer is checked (status 200, no ``errors``): a refusal stops the run
rather than being timed (the organization gets the largest query-cost budget first,
``gen_data.unthrottle``). CPU is this process's (``time.process_time``); wall time includes PostgreSQL's work
(the COUNT of totalCount, the scan of a deep page), which CPU here does not.

"deep page" is the dashboard page that starts after the ``--deep``-th ACTIVE thread:
with a keyset cursor when the checkout has them (``SortKey``), else the offset
cursor of the same position.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import dashboard, gen_data, inprocess  # noqa: E402
from bench.bench_vs_postgraphile import admin_token  # noqa: E402
from bench.dataset import ORG  # noqa: E402
from tests import servers  # noqa: E402

DEEP = dashboard.SWITCHBOARD["dashboard"].replace("first: 20", 'first: 20, after: "%s"')


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _deep_cursor(url: str, position: int) -> str:
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        row = await conn.fetchrow(
            "SELECT created_at, id FROM thread WHERE org_id = $1 AND status = 'ACTIVE'"
            " ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1",
            ORG,
            position - 1,
        )
    finally:
        await conn.close()
    try:
        from switchboard.rules.pagination import SortKey
    except ImportError:  # offset cursors: the 0-based offset of the row the page follows
        return base64.urlsafe_b64encode(f"o:{position - 1}".encode()).decode()
    sort = SortKey("Thread.created_at.desc", ("created_at", "id"), descending=True)
    return sort.cursor((row["created_at"], row["id"]))


async def _unthrottle(url: str) -> None:
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await gen_data.unthrottle(conn)
    finally:
        await conn.close()


async def _answer(app: Any, query: str, token: str) -> None:
    """One request, which must be answered: a refusal (RATE_LIMITED, a limit) stops the run."""
    status, body = await inprocess.post(app, query, token)
    if status != 200 or b'"errors"' in body:
        raise RuntimeError(f"refused or failed, not answered (status {status}): {body[:500]!r}")


async def run(database: str, calls: int, deep: int) -> None:
    url = servers.pg_database_url(database)
    token = admin_token()
    await _unthrottle(url)
    queries = dict(dashboard.SWITCHBOARD)
    queries["deep page"] = DEEP % await _deep_cursor(url, deep)
    async with inprocess.running(url, servers.SECRET) as app:
        for name, query in queries.items():
            await _answer(app, query, token)
            with inprocess.recording() as recorded:
                await _answer(app, query, token)
            for _ in range(max(10, calls // 10)):
                await _answer(app, query, token)
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(calls):
                await _answer(app, query, token)
            cpu_ms = 1000 * (time.process_time() - cpu) / calls
            wall_ms = 1000 * (time.perf_counter() - wall) / calls
            _out(f"  {name:22s} CPU {cpu_ms:7.3f} ms  wall {wall_ms:7.3f} ms  statements {len(recorded)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=gen_data.default_name(1.0))
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--deep", type=int, default=4000, help="position of the row the deep page follows")
    args = parser.parse_args()
    _out(f"{ROOT}: per request in this process, {args.calls} calls each, database {args.db}")
    asyncio.run(run(args.db, args.calls, args.deep))


if __name__ == "__main__":
    main()
