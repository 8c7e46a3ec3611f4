"""Private PostgreSQL and Redis servers to stop and start under a running stack.

The machine's shared PostgreSQL and Redis are never touched: the outage tests
run a cluster of their own (initdb in a temporary folder, on a free port) and a
redis-server of their own, and kill and restart those.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests import servers


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed under /usr/lib/postgresql/*/bin")
    return found[-1]


def _as_postgres(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI and sessions run as root.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class PostgresServer:
    """A throw-away cluster: trust authentication for ``root``, fsync off, on a free port."""

    port: int = field(default_factory=servers.free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="switchboard-pg-")))

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgres://root@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        subprocess.run(
            _as_postgres([_pg_bin("initdb"), "-D", str(self.data), "-U", "root", "--auth=trust", "--no-sync"]),
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
        subprocess.run(
            _as_postgres(
                [_pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start"]
            ),
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        """Stopped at once, as a crash would: clients see their connections drop."""
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]),
            check=False,
            capture_output=True,
        )

    def create_database(self, name: str) -> str:
        async def create() -> None:
            import asyncpg

            conn = await asyncpg.connect(self.url().replace("postgres://", "postgresql://", 1))
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()

        asyncio.run(create())
        return self.url(name)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def wait_until(check: object, within: float = 30.0, every: float = 0.2) -> None:
    assert callable(check)
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {check}")
        time.sleep(every)


@dataclass
class PrivateStack:
    """Two Switchboard processes on a private PostgreSQL and a private Redis."""

    stack: servers.Stack
    postgres: PostgresServer
    redis: servers.RedisServer

    def pause_postgres(self, sig: int) -> None:
        """SIGSTOP (or SIGCONT) every process of the private cluster: a database that hangs, not one that refuses."""
        postmaster = int((self.postgres.data / "postmaster.pid").read_text().split()[0])
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
        for pid in [postmaster, *map(int, children)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def close(self) -> None:
        self.stack.stop()
        self.postgres.remove()
        self.redis.stop()
        for server in self.stack.servers:
            shutil.rmtree(server.log_path.parent, ignore_errors=True)


def private_stack(processes: int = 2, settings: dict[str, str] | None = None) -> PrivateStack:
    postgres = PostgresServer()
    redis = servers.RedisServer()
    workdir = servers.new_workdir()
    try:
        postgres.init()
        postgres.start()
        redis.start()
        env = servers.base_env(
            {
                "SWITCHBOARD_DATABASE_URL": postgres.create_database("switchboard"),
                "SWITCHBOARD_REDIS_URL": redis.url,
                **(settings or {}),
            }
        )
        stack = servers.Stack("postgres", env)
        servers.migrate(env)
        for i in range(processes):
            stack.servers.append(servers.Server(env, servers.free_port(), workdir / f"server-{i}.log"))
            stack.servers[-1].start()
    except BaseException:
        PrivateStack(servers.Stack("postgres", {}), postgres, redis).close()
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return PrivateStack(stack, postgres, redis)
