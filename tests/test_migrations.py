"""Real migrations: they match the models, and `switchboard migrate` applies them (twice is harmless)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import dbcheck, servers

TABLES = (
    "organization",
    "agent",
    "visitor",
    "thread",
    "collaborator",
    "invite",
    "queue",
    "queue_entry",
    "event",
    "org_event_counter",
    "message",
)

# Runs the tortoise autodetector (what `tortoise makemigrations` uses) against
# the migrations package; prints how many new migrations the models call for.
DRIFT_CHECK = textwrap.dedent(
    """
    import asyncio, sys
    from tortoise.cli.cli import tortoise_cli_context
    from tortoise.migrations.autodetector import MigrationAutodetector
    from switchboard.db import tortoise_config
    from switchboard.settings import Settings

    async def main() -> None:
        config = tortoise_config(Settings(database_url="sqlite://:memory:", jwt_secret="x" * 16))
        config["apps"]["models"]["models"].extend(sys.argv[1:])
        async with tortoise_cli_context(config) as ctx:
            writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
        print(len(writers))

    asyncio.run(main())
    """
)


def _pending_migrations(*extra_modules: str, path: Path | None = None) -> int:
    env = servers.base_env({})
    if path is not None:
        env["PYTHONPATH"] = str(path)
    done = subprocess.run(
        [sys.executable, "-c", DRIFT_CHECK, *extra_modules],
        cwd=str(servers.ROOT),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


def test_models_and_migrations_agree() -> None:
    assert _pending_migrations() == 0


def test_the_drift_check_notices_a_model_without_migration(tmp_path: Path) -> None:
    (tmp_path / "drift_model.py").write_text(
        "from tortoise import fields\nfrom tortoise.models import Model\n\n\n"
        "class Drift(Model):\n    id = fields.IntField(primary_key=True)\n\n    class Meta:\n        table = 'drift'\n"
    )
    assert _pending_migrations("drift_model", path=tmp_path) == 1


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[servers.Stack]:
    if request.param == "sqlite":
        yield servers.Stack("sqlite", servers.base_env({"SWITCHBOARD_DATABASE_URL": f"sqlite://{tmp_path / 'm.db'}"}))
        return
    name = servers.create_pg_database()
    try:
        yield servers.Stack("postgres", servers.base_env({"SWITCHBOARD_DATABASE_URL": servers.pg_database_url(name)}))
    finally:
        servers.drop_pg_database(name)


def _migrate(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "switchboard"), "migrate"],
        cwd=str(servers.ROOT),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_migrate_creates_the_schema_and_is_idempotent(empty_database: servers.Stack) -> None:
    migrations = sorted(p.stem for p in (servers.ROOT / "switchboard" / "migrations").glob("0*.py"))
    # It says what it applied, then that there is nothing left to apply (issue 8, item 9).
    applied = f"applied {len(migrations)} migration(s) to "
    for says in (applied, "is up to date (no migration to apply)"):
        done = await asyncio.to_thread(_migrate, empty_database.env)
        assert done.returncode == 0, done.stderr
        assert says in done.stdout, done.stdout
        assert says != applied or done.stdout.strip().endswith(", ".join(migrations)), done.stdout
        assert "Traceback" not in done.stderr
    assert done.stdout.strip().endswith("is up to date (no migration to apply)")
    for table in TABLES:
        assert await dbcheck.scalar(empty_database, f"SELECT COUNT(*) FROM {table}") is not None
    # Counters are per organization, made by an organization's first event.
    assert await dbcheck.scalar(empty_database, "SELECT COUNT(*) FROM org_event_counter") == 0
    assert await dbcheck.scalar(empty_database, "SELECT COUNT(*) FROM tortoise_migrations") == len(
        list((servers.ROOT / "switchboard" / "migrations").glob("0*.py"))
    )
