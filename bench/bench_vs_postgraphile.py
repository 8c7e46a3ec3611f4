"""Switchboard against PostGraphile 4 and a bare Starlette endpoint, same data, same machine (issue 11).

    .venv/bin/python bench/bench_vs_postgraphile.py [--scale 1] [--db NAME] [--keep-db] [--fresh-data]
        [--seconds 8] [--connections 32] [--warmup 2] [--rounds 1] [--profile DIR] [--no-count]

1. Generates the data set (``bench/gen_data.py``: 500 agents, 100k threads, 200k
   collaborators, 300k invites at scale 1, plus the indexes each engine's
   dashboard needs) or reuses a database made for it.
2. Installs PostGraphile 4.14.1 and the simplify inflector from npm into a
   scratch folder (once); needs npm and wrk.
3. Runs, in turn and one process each: Switchboard on PostgreSQL + Redis,
   PostGraphile (CLI, no query log, no JWT) on the same database, Switchboard on
   SQLite, bare Starlette. Before an engine is measured its dashboard must equal
   the page read from the database directly (same threads, primary agents and
   collaborators; the same total). wrk (one thread, 32 connections, 8 s after a
   2 s warm-up) then drives the dashboard, the dashboard with ``totalCount``, and
   ``{ viewer { role } }`` (Switchboard on both databases and the bare endpoint).
   A measured run must have no non-2xx response and no socket error, every answer
   the size of the verified one, and the query must still answer right after.
4. Prints requests/s, p50 and p99 for each, the CPU time per request of the
   engine's process and of the PostgreSQL backends serving it (steadier than
   requests/s on a shared machine), the ratios the issue sets bars on, and the
   SQL statements Switchboard runs per request (counted in-process).
5. With ``--profile DIR``: one more dashboard run on Switchboard under py-spy
   (``DIR/dashboard.txt`` collapsed stacks for ``bench/profile_top.py``,
   ``DIR/dashboard.svg`` flame graph) and its top functions.

PostgreSQL is the tests' (``SWITCHBOARD_TEST_PG``, an admin URL such as
``postgres://root@127.0.0.1:5432/test``); point it at a server of its own when
the shared one is short of connections. Servers are stopped whatever happens;
the database is dropped unless ``--keep-db``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import jwt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import cpu, dashboard, engines, gen_data, inprocess, loadgen, profile_top  # noqa: E402
from bench.dataset import ORG  # noqa: E402
from tests import servers  # noqa: E402

SB_PG = "switchboard (PostgreSQL + Redis)"
SB_SQLITE = "switchboard (SQLite)"
POSTGRAPHILE = f"postgraphile {engines.POSTGRAPHILE}"
BARE = "bare starlette"
JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Measurement:
    engine: str
    query: str
    result: loadgen.WrkResult
    # CPU milliseconds per answered request: the engine's process, PostgreSQL's backends.
    server_ms: float
    database_ms: float


@dataclass
class Run:
    database: str
    workdir: Path
    load: loadgen.Load
    headers: dict[str, str]
    postgraphile_cli: Path
    expected: dashboard.Page


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def admin_token() -> str:
    now = int(time.time())
    claims = {"sub": "bench", "org": ORG, "role": "admin", "iat": now, "exp": now + 24 * 3600}
    return jwt.encode(claims, servers.SECRET, algorithm="HS256")


def measure(
    run: Run, engine: str, server: engines.Running, queries: Mapping[str, str], database: str | None
) -> list[Measurement]:
    """Each query under wrk; ``database`` names the PostgreSQL database whose backends' CPU counts."""
    done = []
    for name, query in queries.items():
        m = measure_one(run, engine, server, name, query, database)
        _out(f"  {engine:34} {name:22} {_figures(m)}")
        done.append(m)
    return done


def measure_one(
    run: Run, engine: str, server: engines.Running, name: str, query: str, database: str | None
) -> Measurement:
    lua = run.workdir / f"{engine.split()[0]}-{name}.lua"
    loadgen.script(lua, json.dumps({"query": query}), {**JSON, **run.headers})
    _, size = dashboard.fetch(server.url, query, run.headers)
    readings: list[cpu.Snapshot] = []

    def settle() -> None:
        dashboard.fetch(server.url, query, run.headers)
        readings.append(cpu.snapshot(server.pid, database))

    result = loadgen.wrk(f"{server.url}/graphql", lua, run.load, settle)
    server_s, database_s = cpu.spent(readings[0], server.pid, database)
    # Equal work under load too: every answer as big as the verified one (the headers
    # add at most a few hundred bytes), and the query still answers afterwards.
    per_answer = result.bytes_read / max(1, result.requests)
    dashboard.fetch(server.url, query, run.headers)
    if result.non_2xx or result.socket_errors or not size <= per_answer <= size + 1000:
        raise RuntimeError(
            f"{engine} {name}: errors in the measured run ({size} bytes expected per answer)"
            f"\n{result.command}\n{result.output}"
        )
    n = max(1, result.requests)
    return Measurement(engine, name, result, 1000 * server_s / n, 1000 * database_s / n)


def _figures(m: Measurement) -> str:
    r = m.result
    return (
        f"{r.requests_per_second:9,.0f} req/s  p50 {r.p50_ms:7.1f} ms  p99 {r.p99_ms:7.1f} ms"
        f"  cpu/req {m.server_ms:6.2f} ms server, {m.database_ms:5.2f} ms postgres"
    )


def check_dashboard(engine: str, url: str, run: Run, queries: Mapping[str, str]) -> None:
    page = dashboard.switchboard_page if engine == SB_PG else dashboard.postgraphile_page
    for name in ("dashboard", "dashboard+totalCount"):
        got = page(dashboard.fetch(url, queries[name], run.headers)[0])
        dashboard.verify(engine, got, run.expected, with_total=name.endswith("totalCount"))


def one_round(run: Run) -> list[Measurement]:
    done: list[Measurement] = []
    with engines.switchboard(run.database, run.workdir) as sb:
        check_dashboard(SB_PG, sb.url, run, dashboard.SWITCHBOARD)
        done += measure(run, SB_PG, sb, dashboard.SWITCHBOARD, run.database)
    with engines.postgraphile(run.postgraphile_cli, run.database, run.workdir) as pg:
        check_dashboard(POSTGRAPHILE, pg.url, run, dashboard.POSTGRAPHILE)
        done += measure(run, POSTGRAPHILE, pg, dashboard.POSTGRAPHILE, run.database)
    trivial = {"trivial": dashboard.SWITCHBOARD["trivial"]}
    with engines.switchboard(None, run.workdir) as sqlite:
        done += measure(run, SB_SQLITE, sqlite, trivial, None)
    with engines.bare_starlette(run.workdir) as bare:
        done += measure(run, BARE, bare, trivial, None)
    return done


@dataclass(frozen=True)
class Figures:
    """Medians over the rounds of one (engine, query), and every round's requests/s."""

    rate: float
    p50: float
    p99: float
    server_ms: float
    database_ms: float
    rates: list[float]


def summary(done: list[Measurement]) -> dict[tuple[str, str], Figures]:
    groups: dict[tuple[str, str], list[Measurement]] = {}
    for m in done:
        groups.setdefault((m.engine, m.query), []).append(m)
    return {
        key: Figures(
            statistics.median(m.result.requests_per_second for m in ms),
            statistics.median(m.result.p50_ms for m in ms),
            statistics.median(m.result.p99_ms for m in ms),
            statistics.median(m.server_ms for m in ms),
            statistics.median(m.database_ms for m in ms),
            [m.result.requests_per_second for m in ms],
        )
        for key, ms in groups.items()
    }


RATIOS = (
    ("dashboard: switchboard / postgraphile (bar 0.5, goal 1)", (SB_PG, "dashboard"), (POSTGRAPHILE, "dashboard")),
    (
        "dashboard+totalCount: switchboard / postgraphile",
        (SB_PG, "dashboard+totalCount"),
        (POSTGRAPHILE, "dashboard+totalCount"),
    ),
    ("trivial: switchboard SQLite / bare starlette (bar 0.3)", (SB_SQLITE, "trivial"), (BARE, "trivial")),
    ("trivial: switchboard PostgreSQL / bare starlette", (SB_PG, "trivial"), (BARE, "trivial")),
)


def report(done: list[Measurement], rounds: int, load: loadgen.Load) -> None:
    figures = summary(done)
    _out()
    wrk = f"wrk -t1 -c{load.connections} -d{load.seconds}s after a {load.warmup}s warm-up"
    _out(f"== results: median of {rounds} round(s); {wrk}; CPU ms per request of the engine's process and of")
    _out("   the PostgreSQL backends serving it")
    _out(f"{'query':22} {'engine':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms':>7} {'pg ms':>6}  rounds")
    for (engine, query), f in figures.items():
        each = ", ".join(f"{r:,.0f}" for r in f.rates)
        _out(
            f"{query:22} {engine:34} {f.rate:9,.0f} {f.p50:8.1f} {f.p99:8.1f}"
            f" {f.server_ms:7.2f} {f.database_ms:6.2f}  {each}"
        )
    _out()
    for label, top, bottom in RATIOS:
        if top in figures and bottom in figures:
            a, b = figures[top], figures[bottom]
            # Where the engine's own process is the bottleneck, its CPU per request bounds its rate.
            by_cpu = b.server_ms / a.server_ms if a.server_ms else float("nan")
            _out(f"ratio {label}: {a.rate / b.rate:.3f} by req/s, {by_cpu:.3f} by server CPU per request")


def count_statements(run: Run) -> None:
    url = servers.pg_database_url(run.database)
    token = run.headers["Authorization"].split()[1]

    async def count() -> dict[str, list[inprocess.Statement]]:
        async with inprocess.running(url, servers.SECRET) as app:
            return await inprocess.statements(app, token, dashboard.SWITCHBOARD)

    counted = asyncio.run(count())
    _out()
    _out("SQL statements per request, Switchboard on PostgreSQL (counted in-process; PostGraphile: 1 per query):")
    for name, statements in counted.items():
        _out(f"  {name:22} {len(statements)}")
        for sql, values in statements:
            _out(f"      {_brief(sql)}  -- {len(values or [])} parameters")


def _brief(sql: str) -> str:
    """A statement on one line, its column list shortened to a count."""
    sql = " ".join(sql.split())
    columns = re.match(r"SELECT (.+?) FROM ", sql)
    if columns and "," in columns.group(1):
        sql = f"SELECT <{columns.group(1).count(',') + 1} columns>{sql[columns.end() - 6 :]}"
    return sql if len(sql) <= 220 else sql[:217] + "..."


def profile(run: Run, folder: Path) -> None:
    """The dashboard on Switchboard under py-spy: raw stacks for the top list, then a flame graph."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    folder.mkdir(parents=True, exist_ok=True)
    query = dashboard.SWITCHBOARD["dashboard"]
    lua = loadgen.script(run.workdir / "profile.lua", json.dumps({"query": query}), {**JSON, **run.headers})
    with engines.switchboard(run.database, run.workdir) as sb:
        loadgen.wrk(f"{sb.url}/graphql", lua, loadgen.Load(run.load.connections, run.load.warmup, 0))
        for fmt, name in (("raw", "dashboard.txt"), ("flamegraph", "dashboard.svg")):
            command = [spy, "record", "--pid", str(sb.pid), "--rate", "200", "--format", fmt]
            command += ["--duration", str(run.load.seconds), "--output", str(folder / name)]
            recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(0.5)
            result = loadgen.wrk(f"{sb.url}/graphql", lua, loadgen.Load(run.load.connections, run.load.seconds, 0))
            _, err = recorder.communicate(timeout=60)
            if recorder.returncode:
                raise RuntimeError(f"py-spy failed: {err.decode()[-2000:]}")
            _out(f"profiled {name}: {result.requests_per_second:,.0f} req/s under py-spy ({' '.join(command)})")
    _out("\n".join(profile_top.table(profile_top.read(folder / "dashboard.txt"), 45, None)))


async def _free_connections() -> int:
    conn = await asyncpg.connect(servers.PG_ADMIN_URL.replace("postgres://", "postgresql://", 1))
    try:
        limit = int(await conn.fetchval("SHOW max_connections"))
        return limit - int(await conn.fetchval("SELECT count(*) FROM pg_stat_activity"))
    finally:
        await conn.close()


def _check_headroom() -> None:
    """Switchboard's pool (up to 20), PostGraphile's (10) and the in-process count (20) need connections."""
    free = asyncio.run(_free_connections())
    if free < 55:
        _out(
            f"warning: PostgreSQL has {free} free connections; an engine may fail to connect. Point"
            " SWITCHBOARD_TEST_PG at a PostgreSQL of the benchmark's own (its 'postgres://.../db' admin URL)."
        )


def _step(label: str, action: Callable[[], object]) -> None:
    started = time.perf_counter()
    action()
    _out(f"({label}: {time.perf_counter() - started:.1f}s)")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="data set size; 1.0 is the issue's (100k threads)")
    parser.add_argument("--db", help="database name (default sb_bench_<scale>)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep-db", action="store_true", help="keep the database for the next run")
    parser.add_argument("--fresh-data", action="store_true", help="generate the data again even if reusable")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="rounds of every engine in turn (medians); 0: none")
    parser.add_argument("--profile", type=Path, help="folder for a py-spy profile of Switchboard's dashboard")
    parser.add_argument("--no-count", action="store_true", help="skip counting Switchboard's SQL statements")
    parser.add_argument("--npm-dir", type=Path, default=Path(tempfile.gettempdir()) / "switchboard-bench-postgraphile")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    database = args.db or gen_data.default_name(args.scale)
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-vs-postgraphile-"))
    try:
        _check_headroom()
        _step("data set", lambda: gen_data.ensure(database, args.scale, args.seed, fresh=args.fresh_data))
        cli = engines.install_postgraphile(args.npm_dir)
        expected = asyncio.run(dashboard.expected(servers.pg_database_url(database)))
        load = loadgen.Load(args.connections, args.seconds, args.warmup)
        run = Run(database, workdir, load, {"Authorization": f"Bearer {admin_token()}"}, cli, expected)
        _out(
            f"dashboard: {len(expected.rows)} threads (ids {expected.rows[0].id}..{expected.rows[-1].id}), "
            f"{sum(len(r.collaborators) for r in expected.rows)} collaborators, {expected.total} ACTIVE in all"
        )
        done: list[Measurement] = []
        for n in range(args.rounds):
            _out(f"== round {n + 1} of {args.rounds}")
            done += one_round(run)
        if done:
            report(done, args.rounds, load)
        if not args.no_count:
            count_statements(run)
        if args.profile:
            profile(run, args.profile)
    finally:
        if not args.keep_db:
            gen_data.drop(database)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
