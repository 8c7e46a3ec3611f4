"""Database wiring: the tortoise configuration, start-up and migrations."""

from __future__ import annotations

import logging
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate as tortoise_migrate

from switchboard.settings import Settings

log = logging.getLogger(__name__)

MODELS_MODULE = "switchboard.models"
MIGRATIONS_MODULE = "switchboard.migrations"


class DatabaseUnavailable(Exception):
    """The database could not be reached or set up at start."""


POOL_MIN = 2
POOL_MAX = 20


async def _reset_connection(connection: Any) -> None:
    # asyncpg's default reset (UNLISTEN, RESET ALL, advisory unlock, CLOSE ALL)
    # costs a round trip per release; we keep no session state, so rolling back
    # a transaction left open is all a returned connection needs.
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


def _connection(settings: Settings) -> str | dict[str, Any]:
    if not settings.is_postgres:
        return settings.tortoise_db_url
    config = expand_db_url(settings.tortoise_db_url)
    config["credentials"].setdefault("minsize", POOL_MIN)
    config["credentials"].setdefault("maxsize", POOL_MAX)
    config["credentials"]["reset"] = _reset_connection
    # A database that hangs fails the request instead of holding it (SERVICE_UNAVAILABLE):
    # ``timeout`` bounds each connect, ``command_timeout`` each statement.
    config["credentials"].setdefault("timeout", settings.database_timeout_seconds)
    config["credentials"].setdefault("command_timeout", settings.database_timeout_seconds)
    return config


def tortoise_config(settings: Settings) -> dict[str, Any]:
    """The tortoise configuration; ``TORTOISE_ORM`` below is the same for the tortoise CLI."""
    return {
        "connections": {"default": _connection(settings)},
        "apps": {
            "models": {
                "models": [MODELS_MODULE],
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _cli_config() -> dict[str, Any]:
    from switchboard import settings as settings_module

    return tortoise_config(settings_module.load())


async def init(settings: Settings) -> None:
    """Open the connection pool; visible to every task (tortoise's global fallback)."""
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)
    if settings.embedded:
        # One writer at a time is SQLite's rule; WAL lets readers go on beside it
        # and busy_timeout makes a second writer wait instead of failing.
        conn = connections.get("default")
        await conn.execute_script("PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000;")


async def close() -> None:
    await Tortoise.close_connections()


async def migrate(settings: Settings) -> list[str]:
    """Apply every pending migration (creates the schema on an empty database); the names applied."""
    applied: list[str] = []

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            applied.append(name)

    try:
        # A context of its own, closed on the way out: the pool the server then
        # opens is not touched, and no "Tortoise-ORM shutdown" is logged at start-up.
        async with TortoiseContext():
            await tortoise_migrate(config=tortoise_config(settings), progress=progress)
    except (TimeoutError, OSError) as exc:
        raise DatabaseUnavailable(f"database unreachable: {exc}") from exc
    return applied


async def check(settings: Settings) -> None:
    """Connect and answer one query, on connections of their own, closed (quietly) afterwards."""
    async with TortoiseContext():
        await Tortoise.init(config=tortoise_config(settings))
        await ping()


async def ping() -> None:
    """One round trip; raises when the database does not answer."""
    await connections.get("default").execute_query("SELECT 1")


def __getattr__(name: str) -> Any:
    # `tortoise -c switchboard.db.TORTOISE_ORM makemigrations` reads this.
    if name == "TORTOISE_ORM":
        return _cli_config()
    raise AttributeError(name)
