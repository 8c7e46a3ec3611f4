"""CPU time spent by a server process and by the PostgreSQL backends serving it.

On a machine shared with other work, requests/s moves with everyone's load;
CPU time per request moves much less, and it says where the time goes: in the
engine's own process or in the database. Read from ``/proc`` (Linux).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from tests import servers

TICK = os.sysconf("SC_CLK_TCK")


def process_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process, all its threads included; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, utime 14 and stime 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / TICK


async def _backends(database: str) -> list[int]:
    conn = await asyncpg.connect(servers.PG_ADMIN_URL.replace("postgres://", "postgresql://", 1))
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", database
        )
    finally:
        await conn.close()
    return [int(r["pid"]) for r in rows]


@dataclass
class Snapshot:
    server: float
    backends: dict[int, float]


def snapshot(pid: int, database: str | None) -> Snapshot:
    pids = asyncio.run(_backends(database)) if database else []
    return Snapshot(process_seconds(pid), {p: process_seconds(p) for p in pids})


def spent(before: Snapshot, pid: int, database: str | None) -> tuple[float, float]:
    """CPU seconds since ``before``: (server process, database backends). A backend that
    connected meanwhile counts from zero; one that disconnected is lost (pools keep theirs)."""
    after = snapshot(pid, database)
    backends = sum(now - before.backends.get(p, 0.0) for p, now in after.backends.items())
    return after.server - before.server, backends
