"""CPU per request of one query in this process (ASGI, embedded SQLite, with or without Redis), sequential.

    .venv/bin/python bench/cost_overhead.py [--tree PATH] [--redis redis://127.0.0.1:6379/0] [--query '{ ... }']

Measures what the query-cost budget adds: run it once with ``--tree`` pointing
at a checkout without it (``git worktree add --detach /tmp/base main``) and
once on this one; the keys go under a fresh prefix and expire by themselves.
Prints the CPU and wall time per request of 5 runs of 1,000 requests, after 300
to warm up.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SECRET = "x" * 40


async def measure(query: str, redis_url: str | None) -> tuple[list[float], list[float], Any]:
    import httpx
    import jwt

    from switchboard.app import create_app
    from switchboard.settings import Settings

    now = int(time.time())
    extra: dict[str, Any] = {"redis_url": redis_url, "redis_prefix": f"cost-bench-{now}"} if redis_url else {}
    database = f"sqlite://{tempfile.mkdtemp()}/bench.db"
    app = create_app(Settings(database_url=database, jwt_secret=SECRET, **extra))
    claims = {"sub": "bench", "org": "bench", "role": "admin", "iat": now, "exp": now + 3600}
    headers = {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}
    cpu, wall = [], []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for _ in range(300):
                response = await client.post("/graphql", json={"query": query}, headers=headers)
            for _ in range(5):
                started, clock = time.process_time(), time.perf_counter()
                for _ in range(1000):
                    response = await client.post("/graphql", json={"query": query}, headers=headers)
                cpu.append((time.process_time() - started) * 1000)
                wall.append((time.perf_counter() - clock) * 1000)
    return cpu, wall, response.json()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--redis", default=None)
    parser.add_argument("--query", default="{ viewer { role } }")
    args = parser.parse_args()
    sys.path.insert(0, args.tree)
    cpu, wall, last = asyncio.run(measure(args.query, args.redis))
    out = sys.stdout.write
    import switchboard

    out(f"tree {Path(switchboard.__file__).parent.parent}, redis {args.redis}, query {args.query}\n")
    out(f"CPU µs/request: {[round(c) for c in cpu]}, median {statistics.median(cpu):.0f}\n")
    out(f"wall µs/request: median {statistics.median(wall):.0f}; last response {last}\n")


if __name__ == "__main__":
    main()
