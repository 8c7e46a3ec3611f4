"""Configuration: the only module that reads the environment.

Settings are read once, validated and frozen. A bad value raises
``SettingsError`` with one line that says what is wrong; the command line turns
it into that line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_DATABASE_URL = "sqlite://switchboard.db"
_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class SettingsError(Exception):
    """A setting has a value the server cannot run with."""


@dataclass(frozen=True)
class Settings:
    """Everything the process is configured with."""

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    jwt_secret: str = ""
    # Where the embedded default's generated secret is kept (None: from SWITCHBOARD_JWT_SECRET).
    jwt_secret_file: Path | None = None
    allowed_origins: tuple[str, ...] = ("*",)
    log_level: str = "INFO"
    # Tuning knobs for tests and benchmarks; not part of the public contract.
    # Prefix of every Redis key and channel, so that several deployments (or
    # test runs) can share one Redis server.
    redis_prefix: str = "switchboard"
    timer_poll_seconds: float = 0.25
    relay_poll_seconds: float = 1.0
    # How long the event log keeps events for ``after:`` resumes (the contract asks for 24 hours at least).
    event_retention_hours: int = 168
    # How long one database connect or statement may take before it fails (SERVICE_UNAVAILABLE):
    # a database that hangs must not hold a request longer than the contract's 10 seconds.
    database_timeout_seconds: float = 4.0
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        """True for the zero-setup default: SQLite, in-process bus, one process."""
        return self.database_url.startswith("sqlite")

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))

    @property
    def tortoise_db_url(self) -> str:
        """The URL as tortoise expects it (it names the scheme ``postgres``)."""
        if self.database_url.startswith("postgresql://"):
            return "postgres://" + self.database_url[len("postgresql://") :]
        return self.database_url

    @property
    def database_location(self) -> str:
        """Where the data is, for logs and messages: the SQLite file, or the URL without its credentials."""
        path = self.sqlite_path
        if path is not None:
            return f"SQLite file {path.absolute()}"
        parts = urlsplit(self.database_url)
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"

    @property
    def sqlite_path(self) -> Path | None:
        if not self.embedded:
            return None
        rest = self.database_url.split("://", 1)[1]
        return None if rest in ("", ":memory:") else Path(rest)


def _check_database_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        if not url.split("://", 1)[1]:
            raise SettingsError("SWITCHBOARD_DATABASE_URL: sqlite URL needs a path, e.g. sqlite://switchboard.db")
        if url.split("://", 1)[1] == ":memory:":
            # Each connection would get its own empty database: migrations would not be seen.
            raise SettingsError("SWITCHBOARD_DATABASE_URL: in-memory SQLite cannot serve; give a file path")
        return url
    if parts.scheme in ("postgres", "postgresql"):
        try:
            port_ok = parts.port is None or 0 < parts.port < 65536
        except ValueError:
            port_ok = False
        if not parts.hostname or not port_ok or not parts.path.strip("/"):
            raise SettingsError(f"SWITCHBOARD_DATABASE_URL: {url!r} is not postgres://user@host:port/database")
        return url
    raise SettingsError(f"SWITCHBOARD_DATABASE_URL: unsupported scheme {parts.scheme!r} (use sqlite:// or postgres://)")


def _check_redis_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix") or (parts.scheme != "unix" and not parts.hostname):
        raise SettingsError(f"SWITCHBOARD_REDIS_URL: {url!r} is not redis://host:port/db")
    try:
        _ = parts.port
    except ValueError as exc:
        raise SettingsError(f"SWITCHBOARD_REDIS_URL: bad port in {url!r}") from exc
    return url


def _check_origins(raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip() for o in raw.split(",") if o.strip())
    if not origins:
        raise SettingsError("SWITCHBOARD_ALLOWED_ORIGINS: empty; use * or a comma-separated list")
    for origin in origins:
        if origin == "*":
            continue
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise SettingsError(f"SWITCHBOARD_ALLOWED_ORIGINS: {origin!r} is not an origin like https://example.com")
    return tuple(o.rstrip("/") for o in origins)


MIN_SECRET_BYTES = 32  # HS256 keys shorter than its hash are weak (RFC 7518 3.2); PyJWT warns about them


def _dev_secret_file(database_url: str) -> Path:
    """Where the embedded default keeps its generated secret: beside the SQLite file."""
    db_path = Settings(database_url=database_url).sqlite_path
    return ((db_path.parent if db_path else Path(".")) / "switchboard.secret").absolute()


def _dev_secret(path: Path, create: bool) -> str:
    """The embedded default's signing secret, generated once (when ``create``) and kept at ``path``."""
    if path.exists():
        return _check_secret(path.read_text().strip(), str(path))
    if not create:
        raise SettingsError(
            f"SWITCHBOARD_JWT_SECRET: not set, and no development secret at {path} "
            "(`switchboard serve` creates one beside its database): run this in the folder the server runs in, "
            "point SWITCHBOARD_DATABASE_URL at the server's database, or set SWITCHBOARD_JWT_SECRET"
        )
    secret = secrets.token_urlsafe(48)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return secret


def _check_secret(secret: str, source: str) -> str:
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise SettingsError(
            f"SWITCHBOARD_JWT_SECRET: the secret from {source} must be at least {MIN_SECRET_BYTES} bytes "
            "(generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    return secret


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}: {raw!r} is not a number") from exc
    if not 0 < value <= 60:
        raise SettingsError(f"{name}: {value} is outside 0..60 seconds")
    return value


MIN_RETENTION_HOURS = 24


def _retention_hours(env: Mapping[str, str]) -> int:
    name = "SWITCHBOARD_EVENT_RETENTION_HOURS"
    raw = env.get(name)
    if raw is None:
        return Settings.event_retention_hours
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}: {raw!r} is not a whole number of hours") from exc
    if not MIN_RETENTION_HOURS <= value <= 24 * 3650:
        raise SettingsError(f"{name}: {value} is outside {MIN_RETENTION_HOURS}..87600 hours (resumes need a day)")
    return value


def _prefix(raw: str) -> str:
    if not raw.replace("-", "").replace("_", "").replace(":", "").isalnum() or len(raw) > 64:
        raise SettingsError(f"SWITCHBOARD_REDIS_PREFIX: {raw!r} must be 1..64 letters, digits, - _ :")
    return raw


def load(env: Mapping[str, str] | None = None, *, create_secret: bool = True) -> Settings:
    """Read and validate the settings from ``env`` (the process environment by default).

    ``create_secret=False`` (``switchboard token``) refuses rather than generate a
    development secret the server, beside another database, would not know.
    """
    env = os.environ if env is None else env
    database_url = _check_database_url(env.get("SWITCHBOARD_DATABASE_URL") or DEFAULT_DATABASE_URL)
    redis_raw = env.get("SWITCHBOARD_REDIS_URL") or None
    redis_url = _check_redis_url(redis_raw) if redis_raw else None
    secret = env.get("SWITCHBOARD_JWT_SECRET") or ""
    secret_file = None
    if not secret:
        if not database_url.startswith("sqlite"):
            raise SettingsError("SWITCHBOARD_JWT_SECRET: required when the database is not the embedded SQLite")
        secret_file = _dev_secret_file(database_url)
        secret = _dev_secret(secret_file, create_secret)
    else:
        _check_secret(secret, "the environment")
    level = (env.get("SWITCHBOARD_LOG_LEVEL") or "INFO").upper()
    if level not in _LOG_LEVELS:
        raise SettingsError(f"SWITCHBOARD_LOG_LEVEL: {level!r} is not one of {', '.join(_LOG_LEVELS)}")
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        jwt_secret=secret,
        jwt_secret_file=secret_file,
        allowed_origins=_check_origins(env.get("SWITCHBOARD_ALLOWED_ORIGINS") or "*"),
        log_level=level,
        redis_prefix=_prefix(env.get("SWITCHBOARD_REDIS_PREFIX") or "switchboard"),
        timer_poll_seconds=_float(env, "SWITCHBOARD_TIMER_POLL_SECONDS", 0.25),
        relay_poll_seconds=_float(env, "SWITCHBOARD_RELAY_POLL_SECONDS", 1.0),
        event_retention_hours=_retention_hours(env),
        database_timeout_seconds=_float(env, "SWITCHBOARD_DATABASE_TIMEOUT_SECONDS", 4.0),
    )


class _OneLine(logging.Filter):
    """asyncpg's pool logs a traceback each time it fails to reconnect while the database is down;
    the reason alone says it (the outage is expected, not a bug)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.getMessage()}: {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            record.args, record.exc_info, record.exc_text = None, None, None
        return True


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=getattr(logging, settings.log_level),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("asyncpg.pool").addFilter(_OneLine())
