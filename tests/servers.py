"""Real server processes for integration tests: SQLite (one process) or PostgreSQL + Redis (two)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from switchboard.wsmessages import MAX_MESSAGE_BYTES
from switchboard.wsprotocol import PROTOCOL_CLASS

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("SWITCHBOARD_TEST_PG", "postgres://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SWITCHBOARD_TEST_REDIS", "redis://127.0.0.1:6379/0")
# Any node of the three-master Redis Cluster that scripts/redis-cluster starts (scripts/test runs it).
CLUSTER_DEFAULT = "redis://127.0.0.1:7101/0"
CLUSTER_URL = os.environ.get("SWITCHBOARD_TEST_REDIS_CLUSTER", CLUSTER_DEFAULT)
SECRET = "test-secret-" + "x" * 24


SWITCHBOARD = str(Path(sys.executable).parent / "switchboard")


def launch(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """A server process as an operator starts it, its output in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=str(cwd), env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    # Generous: worker processes start slowly on a busy machine.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"not healthy: {log.read_text()[-2000:]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    env: dict[str, str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    # Another command line than the test servers' uvicorn one (``switchboard serve``, ``uvicorn asgi:app``).
    command: list[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def start(self) -> None:
        # The server writes into its own copy of the descriptor; ours closes at once.
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command
                or [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "switchboard.app:app_from_env",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                    "--ws",
                    PROTOCOL_CLASS,
                    "--ws-per-message-deflate",
                    "false",
                    "--ws-max-size",
                    str(MAX_MESSAGE_BYTES),
                ],
                cwd=str(ROOT),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90  # generous: a busy machine starts processes slowly
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        # Not left running (and holding its database connections) after the run gives up on it.
        self.stop()
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@dataclass
class Stack:
    """One backend's servers; every test works in its own organization on them."""

    name: str
    env: dict[str, str]
    servers: list[Server] = field(default_factory=list)
    cleanup: list[object] = field(default_factory=list)

    @property
    def database_url(self) -> str:
        return self.env["SWITCHBOARD_DATABASE_URL"]

    def url(self, i: int = 0) -> str:
        return self.servers[i % len(self.servers)].url

    def ws_url(self, i: int = 0) -> str:
        return self.servers[i % len(self.servers)].ws_url

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def base_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env.update(
        SWITCHBOARD_JWT_SECRET=SECRET,
        SWITCHBOARD_LOG_LEVEL="WARNING",
        SWITCHBOARD_TIMER_POLL_SECONDS="0.1",
        SWITCHBOARD_RELAY_POLL_SECONDS="0.5",
    )
    env.update(extra)
    return env


def migrate(env: Mapping[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "switchboard.cli", "migrate"],
        cwd=str(ROOT),
        env=dict(env),
        check=True,
        capture_output=True,
    )


def sqlite_stack(workdir: Path, settings: Mapping[str, str] | None = None) -> Stack:
    env = base_env({"SWITCHBOARD_DATABASE_URL": f"sqlite://{workdir / 'switchboard.db'}", **(settings or {})})
    stack = Stack("sqlite", env)
    stack.servers.append(Server(env, free_port(), workdir / "server-0.log"))
    for server in stack.servers:
        server.start()
    return stack


def pg_database_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_pg_database() -> str:
    name = f"sb_test_{secrets.token_hex(4)}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    return name


def drop_pg_database(name: str) -> None:
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def postgres_stack(
    workdir: Path, processes: int = 2, redis_url: str = REDIS_URL, settings: Mapping[str, str] | None = None
) -> Stack:
    name = create_pg_database()
    env = base_env(
        {
            "SWITCHBOARD_DATABASE_URL": pg_database_url(name),
            "SWITCHBOARD_REDIS_URL": redis_url,
            "SWITCHBOARD_REDIS_PREFIX": f"sbtest-{name}",
            **(settings or {}),
        }
    )
    stack = Stack("postgres", env)
    stack.cleanup.append(name)
    for i in range(processes):
        stack.servers.append(Server(env, free_port(), workdir / f"server-{i}.log"))
    try:
        migrate(env)
        for server in stack.servers:
            server.start()
    except BaseException:
        # running() never gets this stack to clean up: stop what started and drop the database here.
        stack.stop()
        drop_pg_database(name)
        raise
    return stack


@contextlib.contextmanager
def running(kind: str, **options: Any) -> Iterator[Stack]:
    """A started stack (``sqlite`` or ``postgres``), stopped and cleaned up afterwards:
    its processes, its PostgreSQL database and its work directory."""
    workdir = new_workdir()
    stack = sqlite_stack(workdir, **options) if kind == "sqlite" else postgres_stack(workdir, **options)
    try:
        yield stack
    finally:
        stack.stop()
        for name in stack.cleanup:
            drop_pg_database(str(name))
        shutil.rmtree(workdir, ignore_errors=True)


def ensure_redis_cluster() -> str:
    """The test cluster's URL; the default one is started (or reused) by scripts/redis-cluster,
    so that a test run without scripts/test finds it too."""
    if CLUSTER_URL == CLUSTER_DEFAULT:
        done = subprocess.run(
            ["bash", str(ROOT / "scripts" / "redis-cluster")], capture_output=True, text=True, timeout=60
        )
        if done.returncode != 0:
            raise RuntimeError(f"scripts/redis-cluster failed: {done.stderr.strip()}")
    return CLUSTER_URL


def new_workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="switchboard-test-"))


@dataclass
class RedisServer:
    """A private redis-server on a free port, to stop and restart under a running stack."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None
