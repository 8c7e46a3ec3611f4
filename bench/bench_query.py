"""Requests per second of a trivial authenticated query on ONE server process.

    .venv/bin/python bench/bench_query.py [--backend sqlite|postgres|both] [--seconds 10]
                                          [--concurrency 32] [--tool auto|wrk|httpx]

Starts a fresh server (embedded SQLite, or PostgreSQL + Redis on a new database
that is dropped afterwards), signs an admin token, and POSTs
``{ viewer { role } }`` to /graphql as fast as the load tool can, after a short
warm-up. Uses ``wrk`` when installed (it is not the bottleneck), else a pool of
httpx clients. Prints the command, requests/s and latency percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import jwt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import loadgen  # noqa: E402
from tests import servers  # noqa: E402

QUERY = "{ viewer { role } }"


def _token() -> str:
    now = int(time.time())
    claims = {"sub": "bench", "org": "bench-org", "role": "admin", "iat": now, "exp": now + 3600}
    return jwt.encode(claims, servers.SECRET, algorithm="HS256")


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _wrk(url: str, token: str, seconds: int, concurrency: int, workdir: Path) -> None:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    lua = loadgen.script(workdir / "post.lua", json.dumps({"query": QUERY}), headers)
    result = loadgen.wrk(f"{url}/graphql", lua, loadgen.Load(connections=concurrency, seconds=seconds))
    _out("$ " + result.command)
    _out(result.output.rstrip())


async def _httpx(url: str, token: str, seconds: int, concurrency: int) -> None:
    _out(f"$ httpx: {concurrency} concurrent POST {url}/graphql {QUERY!r} for {seconds}s")
    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as client:

        async def worker(deadline: float, record: bool) -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post("/graphql", json={"query": QUERY})
                if response.status_code != 200 or "errors" in response.json():
                    errors += 1
                if record:
                    latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker(time.perf_counter() + 2, False) for _ in range(concurrency)))
        started = time.perf_counter()
        await asyncio.gather(*(worker(started + seconds, True) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    quantiles = statistics.quantiles(latencies, n=100)
    _out(f"requests: {len(latencies)} in {elapsed:.1f}s, errors: {errors}")
    _out(f"requests/s: {len(latencies) / elapsed:.0f}")
    _out(f"latency ms: p50 {quantiles[49] * 1000:.1f}  p90 {quantiles[89] * 1000:.1f}  p99 {quantiles[98] * 1000:.1f}")


def run(backend: str, seconds: int, concurrency: int, tool: str) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    database: str | None = None
    try:
        if backend == "sqlite":
            env = servers.base_env({"SWITCHBOARD_DATABASE_URL": f"sqlite://{workdir / 'bench.db'}"})
        else:
            database = servers.create_pg_database()
            env = servers.base_env(
                {
                    "SWITCHBOARD_DATABASE_URL": servers.pg_database_url(database),
                    "SWITCHBOARD_REDIS_URL": servers.REDIS_URL,
                    "SWITCHBOARD_REDIS_PREFIX": f"bench-{database}",
                }
            )
            servers.migrate(env)
        server = servers.Server(env, servers.free_port(), workdir / "server.log")
        server.start()
        try:
            _out(f"== backend: {backend} (one server process, uvicorn, log level WARNING)")
            token = _token()
            check = httpx.post(
                f"{server.url}/graphql", json={"query": QUERY}, headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            assert check.json() == {"data": {"viewer": {"role": "admin"}}}, check.text
            if tool == "wrk":
                _wrk(server.url, token, seconds, concurrency, workdir)
            else:
                asyncio.run(_httpx(server.url, token, seconds, concurrency))
        finally:
            server.stop()
    finally:
        if database is not None:
            servers.drop_pg_database(database)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--tool", choices=["auto", "wrk", "httpx"], default="auto")
    args = parser.parse_args()
    tool = args.tool if args.tool != "auto" else ("wrk" if shutil.which("wrk") else "httpx")
    for backend in ["sqlite", "postgres"] if args.backend == "both" else [args.backend]:
        run(backend, args.seconds, args.concurrency, tool)


if __name__ == "__main__":
    main()
