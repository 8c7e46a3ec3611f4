"""The queries of issue 11's comparison, for both engines, and the check that they do equal work.

"20 ACTIVE threads, newest first, with primary agent and collaborators' agents"
is the agent console's dashboard. Each engine gets the same selection in its own
schema: the thread's id, subject and creation time, its primary agent's name, and
its active collaborators (oldest place first) with role, permission and agent's
name. ``expected()`` reads the same page from the database directly; each
engine's answer must match it before the engine is measured.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from bench.dataset import ORG
from switchboard.rules import ids

PAGE = 20
SB_NODE = "id subject createdAt primaryAgent { name } collaborators { role permission agent { name } }"
_SB_ARGS = f"filter: {{status: [ACTIVE]}}, orderBy: {{field: CREATED_AT, direction: DESC}}, first: {PAGE}"
_PG_NODE = (
    "id subject createdAt primaryAgent { name }"
    " collaborators(condition: {active: true}, orderBy: [PRIMARY_KEY_ASC]) { nodes { role permission agent { name } } }"
)
_PG_ARGS = f'condition: {{orgId: "{ORG}", status: "ACTIVE"}}, orderBy: [CREATED_AT_DESC], first: {PAGE}'

SWITCHBOARD = {
    "dashboard": f"query Dashboard {{ threads({_SB_ARGS}) {{ edges {{ node {{ {SB_NODE} }} }} }} }}",
    "dashboard+totalCount": (
        f"query DashboardCount {{ threads({_SB_ARGS}) {{ totalCount edges {{ node {{ {SB_NODE} }} }} }} }}"
    ),
    "trivial": "{ viewer { role } }",
}
POSTGRAPHILE = {
    "dashboard": f"query Dashboard {{ threads({_PG_ARGS}) {{ edges {{ node {{ {_PG_NODE} }} }} }} }}",
    "dashboard+totalCount": (
        f"query DashboardCount {{ threads({_PG_ARGS}) {{ totalCount edges {{ node {{ {_PG_NODE} }} }} }} }}"
    ),
}

Collaborator = tuple[str, str, str]


@dataclass(frozen=True)
class Row:
    id: int
    subject: str
    primary: str | None
    collaborators: tuple[Collaborator, ...]


@dataclass(frozen=True)
class Page:
    rows: tuple[Row, ...]
    total: int | None


async def expected(database_url: str) -> Page:
    """The dashboard page and its total, straight from the database."""
    conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        threads = await conn.fetch(
            "SELECT t.id, t.subject, a.name FROM thread t LEFT JOIN agent a ON a.id = t.primary_agent_id"
            " WHERE t.org_id = $1 AND t.status = 'ACTIVE' ORDER BY t.created_at DESC, t.id DESC LIMIT $2",
            ORG,
            PAGE,
        )
        places = await conn.fetch(
            "SELECT c.thread_id, c.role, c.permission, a.name FROM collaborator c JOIN agent a ON a.id = c.agent_id"
            " WHERE c.thread_id = ANY($1::bigint[]) AND c.active ORDER BY c.id",
            [t["id"] for t in threads],
        )
        total = await conn.fetchval("SELECT count(*) FROM thread WHERE org_id = $1 AND status = 'ACTIVE'", ORG)
    finally:
        await conn.close()
    by_thread: dict[int, list[Collaborator]] = {}
    for p in places:
        by_thread.setdefault(p["thread_id"], []).append((p["role"], p["permission"], p["name"]))
    rows = tuple(Row(t["id"], t["subject"], t["name"], tuple(by_thread.get(t["id"], []))) for t in threads)
    return Page(rows, int(total))


def _node_row(node: dict[str, Any], pk: int, collaborators: list[dict[str, Any]]) -> Row:
    primary = node["primaryAgent"]
    places = tuple((c["role"], c["permission"], c["agent"]["name"]) for c in collaborators)
    return Row(pk, node["subject"], primary["name"] if primary else None, places)


def switchboard_page(data: dict[str, Any]) -> Page:
    threads = data["threads"]
    nodes = [e["node"] for e in threads["edges"]]
    rows = tuple(_node_row(n, ids.decode_as(n["id"], "Thread"), n["collaborators"]) for n in nodes)
    return Page(rows, threads.get("totalCount"))


def postgraphile_page(data: dict[str, Any]) -> Page:
    threads = data["threads"]
    nodes = [e["node"] for e in threads["edges"]]
    rows = tuple(_node_row(n, int(n["id"]), n["collaborators"]["nodes"]) for n in nodes)
    return Page(rows, threads.get("totalCount"))


def fetch(url: str, query: str, headers: dict[str, str]) -> tuple[dict[str, Any], int]:
    """One answer, which must carry data and no error, and its size in bytes (body only)."""
    response = httpx.post(f"{url}/graphql", json={"query": query}, headers=headers, timeout=30)
    body = response.json()
    if response.status_code != 200 or body.get("errors") or not body.get("data"):
        raise RuntimeError(f"{url}: {response.status_code} {response.text[:1000]}")
    return dict(body["data"]), len(response.content)


def verify(engine: str, got: Page, want: Page, *, with_total: bool) -> None:
    """The engine's page is the database's page (and its total when asked for)."""
    if got.rows != want.rows:
        diff = next((g, w) for g, w in itertools.zip_longest(got.rows, want.rows) if g != w)
        raise RuntimeError(f"{engine} returns another dashboard than the database: first difference {diff}")
    if with_total and got.total != want.total:
        raise RuntimeError(f"{engine} counts {got.total} ACTIVE threads, the database {want.total}")
