"""The servers the PostGraphile comparison runs in turn, one process each, on this machine.

Switchboard starts exactly as the tests start it (``tests/servers.py``: uvicorn,
one process, log level warning); PostGraphile 4 from npm in a scratch folder, in
its CLI mode; the bare Starlette endpoint of ``bench/bare_starlette.py`` under the
same uvicorn settings as Switchboard.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests import servers

ROOT = Path(__file__).resolve().parent.parent
POSTGRAPHILE = "4.14.1"
INFLECTOR = "@graphile-contrib/pg-simplify-inflector@6.1.0"
# The production defaults (tests poll faster: 0.1 s and 0.5 s) so that the
# background sweepers cost what they cost in production.
PRODUCTION_POLLING = {"SWITCHBOARD_TIMER_POLL_SECONDS": "0.25", "SWITCHBOARD_RELAY_POLL_SECONDS": "1.0"}


@dataclass
class Process:
    """A server subprocess that is ready once its port accepts connections."""

    name: str
    command: Sequence[str]
    port: int
    log_path: Path
    cwd: Path = ROOT
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                list(self.command), cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_path.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@dataclass
class Running:
    """A started engine: its URL and the process id to profile."""

    url: str
    pid: int


def switchboard_env(database: str | None, workdir: Path) -> dict[str, str]:
    """One Switchboard process on PostgreSQL + Redis (``database``), or on a new SQLite file (None)."""
    if database is None:
        return servers.base_env({"SWITCHBOARD_DATABASE_URL": f"sqlite://{workdir / 'bench.db'}", **PRODUCTION_POLLING})
    return servers.base_env(
        {
            "SWITCHBOARD_DATABASE_URL": servers.pg_database_url(database),
            "SWITCHBOARD_REDIS_URL": servers.REDIS_URL,
            "SWITCHBOARD_REDIS_PREFIX": f"bench-{database}-{workdir.name}",
            **PRODUCTION_POLLING,
        }
    )


@contextmanager
def switchboard(database: str | None, workdir: Path) -> Iterator[Running]:
    env = switchboard_env(database, workdir)
    if database is None:
        servers.migrate(env)
    server = servers.Server(env, servers.free_port(), workdir / "switchboard.log")
    try:
        server.start()
        assert server.process is not None
        yield Running(server.url, server.process.pid)
    finally:
        server.stop()


def install_postgraphile(folder: Path) -> Path:
    """PostGraphile and the simplify inflector from npm into ``folder`` (once); the CLI's path."""
    cli = folder / "node_modules" / ".bin" / "postgraphile"
    manifest = folder / "node_modules" / "postgraphile" / "package.json"
    if cli.exists() and json.loads(manifest.read_text()).get("version") == POSTGRAPHILE:
        return cli
    if shutil.which("npm") is None:
        raise RuntimeError("npm is needed to install PostGraphile (apt-get install -y nodejs npm)")
    folder.mkdir(parents=True, exist_ok=True)
    packages = [f"postgraphile@{POSTGRAPHILE}", INFLECTOR]
    command = ["npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund", *packages]
    subprocess.run(command, check=True, capture_output=True)
    return cli


@contextmanager
def postgraphile(cli: Path, database: str, workdir: Path) -> Iterator[Running]:
    """PostGraphile's CLI on ``database``: one Node process, no query log, no GraphiQL, no JWT."""
    port = servers.free_port()
    command = [
        str(cli),
        "--connection",
        servers.pg_database_url(database),
        "--schema",
        "public",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--append-plugins",
        "@graphile-contrib/pg-simplify-inflector",
        "--no-setof-functions-contain-nulls",
        "--disable-graphiql",
        "--disable-query-log",
    ]
    server = Process("postgraphile", command, port, workdir / "postgraphile.log", cwd=cli.parent.parent.parent)
    try:
        server.start()
        yield Running(server.url, server.pid)
    finally:
        server.stop()


@contextmanager
def bare_starlette(workdir: Path) -> Iterator[Running]:
    port = servers.free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.bare_starlette:app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", "warning"]
    server = Process("bare starlette", command, port, workdir / "bare.log")
    try:
        server.start()
        yield Running(server.url, server.pid)
    finally:
        server.stop()
