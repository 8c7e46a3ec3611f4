"""Creates (or reuses) issue 11's benchmark data set in a PostgreSQL database of its own.

    .venv/bin/python bench/gen_data.py [--db sb_bench_1] [--scale 1.0] [--seed 11] [--fresh]

The database is created by Switchboard's own migrations (``switchboard migrate``),
then filled with ``COPY`` (asyncpg ``copy_records_to_table``) from the rows of
``bench/dataset.py``: one organization, 500 agents, 100k threads, 200k
collaborators, 300k invites, queue entries and events at ``--scale 1``. A database
whose comment names the same generator version, scale, seed and migrations is
reused as it is (idempotent per name); anything else of that name is dropped and
generated again. The benchmark's extra indexes (``BENCH_INDEXES``) are created in
both cases, the invariants the contract promises are checked after loading, and
the planner statistics are refreshed (``VACUUM ANALYZE``, which index-only counts
need).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import dataset  # noqa: E402
from tests import servers  # noqa: E402

VERSION = 2
# Indexes the benchmark adds beside the migrations' own. The migrations already
# index what the dashboard reads: thread (org_id, status, created_at) for "ACTIVE,
# newest first" and its count (an index-only scan), collaborator (thread_id,
# active) for each page's collaborators, the primary keys for agents. The two
# engines break ties of created_at differently (Switchboard id DESC, PostGraphile
# its primary key ASC), so each gets the index of its own ORDER BY: a plain index
# scan with no incremental sort (created_at is unique here, so both read the same rows).
BENCH_INDEXES = (
    "CREATE INDEX IF NOT EXISTS bench_thread_switchboard_dashboard"
    " ON thread (org_id, status, created_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS bench_thread_postgraphile_dashboard"
    " ON thread (org_id, status, created_at DESC, id ASC)",
)
# Each returns the rows that break one of the contract's invariants; all must be empty.
INVARIANTS = {
    "an ACTIVE thread has exactly one active PRIMARY, its primary_agent_id": """
        SELECT t.id FROM thread t
        LEFT JOIN collaborator c ON c.thread_id = t.id AND c.active AND c.role = 'PRIMARY'
        WHERE t.status = 'ACTIVE'
        GROUP BY t.id, t.primary_agent_id
        HAVING count(c.id) <> 1 OR min(c.agent_id) IS DISTINCT FROM t.primary_agent_id""",
    "a RESOLVED or CLOSED thread has no active collaborator and (unassignOnResolve) no primary": """
        SELECT t.id FROM thread t LEFT JOIN collaborator c ON c.thread_id = t.id AND c.active
        WHERE t.status IN ('RESOLVED', 'CLOSED') AND (c.id IS NOT NULL OR t.primary_agent_id IS NOT NULL)""",
    "activeThreadCount equals the ACTIVE threads an agent is primary of, within maxConcurrentThreads": """
        WITH n AS (SELECT primary_agent_id AS id, count(*) AS n FROM thread WHERE status = 'ACTIVE' GROUP BY 1)
        SELECT a.id FROM agent a LEFT JOIN n ON n.id = a.id
        WHERE a.active_thread_count > a.max_concurrent_threads OR a.active_thread_count <> coalesce(n.n, 0)""",
    "activeCollaborationCount equals the agent's active non-primary places, within its maximum": """
        WITH n AS (SELECT agent_id AS id, count(*) AS n FROM collaborator
                   WHERE active AND role <> 'PRIMARY' GROUP BY 1)
        SELECT a.id FROM agent a LEFT JOIN n ON n.id = a.id
        WHERE a.active_collaboration_count > a.max_concurrent_collaborations
           OR a.active_collaboration_count <> coalesce(n.n, 0)""",
    "active non-primary collaborators plus open invites stay within the thread's cap": """
        WITH seats AS (
            SELECT thread_id, count(*) AS n FROM collaborator WHERE active AND role <> 'PRIMARY' GROUP BY 1
            UNION ALL
            SELECT thread_id, count(*) FROM invite WHERE status IN ('PENDING_APPROVAL', 'PENDING', 'DEFERRED')
            GROUP BY 1)
        SELECT t.id FROM thread t JOIN seats s ON s.thread_id = t.id
        GROUP BY t.id, t.thread_class
        HAVING sum(s.n) > CASE t.thread_class WHEN 'NORMAL' THEN 3 WHEN 'VIP' THEN 5 ELSE 7 END""",
    "a thread has at most one WAITING entry, and only while QUEUED": """
        SELECT e.thread_id FROM queue_entry e JOIN thread t ON t.id = e.thread_id
        WHERE e.status = 'WAITING' GROUP BY e.thread_id, t.status HAVING count(*) > 1 OR t.status <> 'QUEUED'""",
    "an agent is active on a thread at most once": """
        SELECT thread_id FROM collaborator WHERE active GROUP BY thread_id, agent_id HAVING count(*) > 1""",
}


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def marker(scale: float, seed: int) -> str:
    """What a reusable database's comment says: generator, sizes, seed and the migrations it was made with."""
    migrations = sorted(p.name for p in (ROOT / "switchboard" / "migrations").glob("0*.py"))
    digest = hashlib.sha256("\n".join(migrations).encode()).hexdigest()[:12]
    return f"switchboard-bench dataset v{VERSION} scale={scale:g} seed={seed} migrations={digest}"


def default_name(scale: float) -> str:
    return "sb_bench_" + f"{scale:g}".replace(".", "_")


async def _admin() -> asyncpg.Connection:
    return await asyncpg.connect(servers.PG_ADMIN_URL.replace("postgres://", "postgresql://", 1))


async def _comment(name: str) -> str | None:
    conn = await _admin()
    try:
        row = await conn.fetchrow(
            "SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1", name
        )
    finally:
        await conn.close()
    return None if row is None else str(row["comment"] or "")


async def _admin_execute(sql: str) -> None:
    conn = await _admin()
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _copy(conn: asyncpg.Connection, tables: dict[str, dataset.Table]) -> None:
    """COPY every table with its secondary indexes dropped and rebuilt once at the end, and
    foreign-key triggers off for this session (the rows are consistent by construction):
    per-row index and trigger upkeep made the load ten times slower."""
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
        " AND indexname NOT IN (SELECT conname FROM pg_constraint)"
    )
    for index in indexes:
        await conn.execute(f'DROP INDEX "{index["indexname"]}"')
    await conn.execute("SET session_replication_role = replica")
    for name in dataset.ORDER:
        table = tables[name]
        await conn.copy_records_to_table(name, records=table.rows, columns=list(table.columns))
        if name != "organization":
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), {max(1, len(table.rows))})")
    # Each organization's log goes on after its newest event (seqs are per organization).
    await conn.execute(
        "INSERT INTO org_event_counter (org_id, value) SELECT org_id, MAX(seq) FROM event GROUP BY org_id"
        " ON CONFLICT (org_id) DO UPDATE SET value = excluded.value"
    )
    await conn.execute("RESET session_replication_role")
    for index in indexes:
        await conn.execute(index["indexdef"])


async def _load(url: str, scale: float, seed: int) -> dict[str, int]:
    started = time.perf_counter()
    tables = dataset.build(scale, seed)
    built = time.perf_counter()
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await _copy(conn, tables)
    finally:
        await conn.close()
    _out(f"built the rows in {built - started:.1f}s, loaded them in {time.perf_counter() - built:.1f}s")
    return {name: len(table.rows) for name, table in tables.items()}


async def _finish(url: str, check: bool) -> None:
    """The benchmark's indexes, fresh planner statistics, and (after a load) the invariants."""
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        for sql in BENCH_INDEXES:
            await conn.execute(sql)
        await unthrottle(conn)
        await conn.execute("VACUUM ANALYZE")
        if check:
            for rule, sql in INVARIANTS.items():
                broken = await conn.fetch(f"{sql} LIMIT 5")
                if broken:
                    raise RuntimeError(f"generated data breaks '{rule}': {[tuple(r) for r in broken]}")
    finally:
        await conn.close()


async def unthrottle(conn: asyncpg.Connection) -> None:
    """The largest query-cost budget and restore rate the settings allow (``rules/validation.py``).

    At the organization's ordinary budget (200,000 points, 5,000 a second) a few
    hundred dashboards in a row exhaust it, and what is measured after that is
    RATE_LIMITED refusals, not answers.
    """
    await conn.execute(
        "UPDATE organization SET query_cost_budget = 100000000, query_cost_restore_per_second = 100000000"
    )


def ensure(name: str, scale: float, seed: int, *, fresh: bool = False) -> bool:
    """The data set in database ``name``; True when it was generated now, False when reused."""
    wanted = marker(scale, seed)
    url = servers.pg_database_url(name)
    if not fresh and asyncio.run(_comment(name)) == wanted:
        asyncio.run(_finish(url, check=False))
        _out(f"reusing database {name} ({wanted})")
        return False
    asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    servers.migrate(servers.base_env({"SWITCHBOARD_DATABASE_URL": url}))
    counts = asyncio.run(_load(url, scale, seed))
    asyncio.run(_finish(url, check=True))
    # Written last: a half-made database never looks reusable.
    literal = wanted.replace("'", "''")
    asyncio.run(_admin_execute(f"COMMENT ON DATABASE \"{name}\" IS '{literal}'"))
    _out(f"generated database {name}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return True


def drop(name: str) -> None:
    servers.drop_pg_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: the issue's sizes (100k threads)")
    parser.add_argument("--db", help="database name (default sb_bench_<scale>)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--fresh", action="store_true", help="generate again even if the database is reusable")
    args = parser.parse_args()
    ensure(args.db or default_name(args.scale), args.scale, args.seed, fresh=args.fresh)


if __name__ == "__main__":
    main()
