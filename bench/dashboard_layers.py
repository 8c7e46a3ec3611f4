"""Where a dashboard request's CPU goes, layer by layer, measured in this process.

    .venv/bin/python bench/dashboard_layers.py [--db sb_bench_1] [--calls 200]

Runs on a database made by ``bench/gen_data.py`` (``--keep-db`` on the comparison
keeps one). Each layer runs ``--calls`` times in turn, one at a time, after a
warm-up; the figure is this process's CPU time per call (``time.process_time``:
CPU, not wall time, so other work on the machine moves it little, and time spent
waiting for PostgreSQL is not in it). The layers nest, so their differences say
what each costs: the HTTP and auth layers (full request minus ``schema.execute``),
GraphQL execution with its resolvers and loaders (``execute`` minus the ORM
work), tortoise (the ORM work minus the same statements on bare asyncpg), and the
floors a rewrite could reach: one compiled statement that builds the page's JSON
in PostgreSQL, and graphql-core executing the same document over plain dicts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import graphql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import dashboard, gen_data, inprocess  # noqa: E402
from bench.bench_vs_postgraphile import admin_token  # noqa: E402
from bench.dataset import ORG  # noqa: E402
from switchboard import auth  # noqa: E402
from switchboard.graphql.context import Context  # noqa: E402
from switchboard.graphql.schema import schema  # noqa: E402
from switchboard.models import Agent, Collaborator, Thread  # noqa: E402
from tests import servers  # noqa: E402

QUERY = dashboard.SWITCHBOARD["dashboard"]
# The dashboard page built as JSON by PostgreSQL in one statement, the way PostGraphile does.
COMPILED = """
SELECT coalesce(json_agg(json_build_object(
    'id', t.id, 'subject', t.subject, 'createdAt', t.created_at,
    'primaryAgent', (SELECT json_build_object('name', a.name) FROM agent a WHERE a.id = t.primary_agent_id),
    'collaborators', (SELECT coalesce(json_agg(json_build_object(
            'role', c.role, 'permission', c.permission, 'agent', json_build_object('name', ca.name)) ORDER BY c.id),
        '[]') FROM collaborator c JOIN agent ca ON ca.id = c.agent_id WHERE c.thread_id = t.id AND c.active)
    ) ORDER BY t.created_at DESC, t.id DESC), '[]')::text
FROM (SELECT * FROM thread WHERE org_id = $1 AND status = 'ACTIVE' ORDER BY created_at DESC, id DESC LIMIT 20) t
"""
SDL = """
type Query { threads: ThreadConnection! }
type ThreadConnection { edges: [ThreadEdge!]! totalCount: Int! }
type ThreadEdge { node: Thread! }
type Thread { id: ID! subject: String createdAt: String! primaryAgent: Agent collaborators: [Collaborator!]! }
type Collaborator { role: String! permission: String! agent: Agent! }
type Agent { name: String! }
"""


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def cpu_ms(call: Callable[[], Awaitable[object]], calls: int) -> float:
    for _ in range(max(10, calls // 10)):
        await call()
    started = time.process_time()
    for _ in range(calls):
        await call()
    return 1000 * (time.process_time() - started) / calls


async def orm_work() -> None:
    """The statements the dashboard runs, through tortoise as the loaders run them."""
    active = Thread.filter(org_id=ORG, status__in=["ACTIVE"])
    await active.count()
    threads = await active.order_by("-created_at", "-id").offset(0).limit(20)
    primaries = {t.primary_agent_id for t in threads if t.primary_agent_id}
    await Agent.filter(org_id=ORG, id__in=list(primaries))
    places = await Collaborator.filter(org_id=ORG, thread_id__in=[t.id for t in threads], active=True).order_by("id")
    await Agent.filter(org_id=ORG, id__in=list({c.agent_id for c in places}))


async def orm_values() -> None:
    """The same statements with only the columns the selection needs, as dicts (``.values()``),
    and the count left out (``totalCount`` is not selected)."""
    active = Thread.filter(org_id=ORG, status__in=["ACTIVE"])
    threads = (
        await active.order_by("-created_at", "-id")
        .offset(0)
        .limit(20)
        .values("id", "subject", "created_at", "primary_agent_id")
    )
    places = await (
        Collaborator.filter(org_id=ORG, thread_id__in=[t["id"] for t in threads], active=True)
        .order_by("id")
        .values("thread_id", "role", "permission", "agent_id")
    )
    agents = {t["primary_agent_id"] for t in threads} | {c["agent_id"] for c in places}
    await Agent.filter(org_id=ORG, id__in=[a for a in agents if a]).values("id", "name")


def graphql_floor(data: dict[str, Any]) -> Callable[[], Awaitable[object]]:
    """graphql-core alone: the same selection over the answer's own dicts, sync default resolvers."""
    plain = graphql.build_schema(SDL)
    document = graphql.parse(f"{{ threads {{ edges {{ node {{ {dashboard.SB_NODE} }} }} }} }}")
    if errors := graphql.validate(plain, document):
        raise RuntimeError(errors)

    async def run() -> object:
        return graphql.execute(plain, document, root_value=data)

    return run


async def layers(database: str, calls: int) -> list[tuple[str, float]]:
    token = admin_token()
    url = servers.pg_database_url(database)
    principal = auth.verify(servers.SECRET, token)
    async with inprocess.running(url, servers.SECRET) as app:
        services = app.state.services
        _, body = await inprocess.post(app, QUERY, token)
        data = json.loads(body)["data"]
        with inprocess.recording() as recorded:
            await inprocess.post(app, QUERY, token)
        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))

        async def full() -> object:
            return await inprocess.post(app, QUERY, token)

        async def execute() -> object:
            result = await schema.execute(QUERY, context_value=Context(services, principal=principal))
            assert not result.errors, result.errors
            return result

        async def replay() -> None:
            for sql, values in recorded:
                await conn.fetch(sql, *(values or []))

        async def compiled() -> object:
            return await conn.fetchval(COMPILED, ORG)

        async def encode() -> object:
            return json.dumps({"data": data}).encode()

        async def verify() -> object:
            return auth.verify(servers.SECRET, token)

        try:
            return [
                ("full request (ASGI call, no socket)", await cpu_ms(full, calls)),
                ("schema.execute only (context given)", await cpu_ms(execute, calls)),
                (f"ORM: the {len(recorded)} statements through tortoise", await cpu_ms(orm_work, calls)),
                ("ORM: 3 statements, selected columns, .values(), no count", await cpu_ms(orm_values, calls)),
                (f"asyncpg: the {len(recorded)} recorded statements", await cpu_ms(replay, calls)),
                ("asyncpg: one compiled statement, JSON built by PostgreSQL", await cpu_ms(compiled, calls)),
                ("graphql-core alone over plain dicts (parsed once)", await cpu_ms(graphql_floor(data), calls)),
                ("json.dumps of the answer", await cpu_ms(encode, calls)),
                ("JWT verify", await cpu_ms(verify, calls)),
            ]
        finally:
            await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=gen_data.default_name(1.0))
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    _out(f"CPU ms per call in this process, {args.calls} calls each, database {args.db}")
    for label, ms in asyncio.run(layers(args.db, args.calls)):
        _out(f"  {ms:7.3f}  {label}")


if __name__ == "__main__":
    main()
