"""The ``switchboard`` command: serve, migrate, schema, token."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from switchboard import auth, db, redisconn
from switchboard import settings as settings_module
from switchboard.rules import ids
from switchboard.rules.enums import Role
from switchboard.settings import Settings, SettingsError

WORKER_HEALTHCHECK_SECONDS = 20


class CommandError(Exception):
    """A failure the command reports as one line."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchboard", description="Switchboard GraphQL server.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API (migrates the embedded database by itself)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    sub.add_parser("migrate", help="create or upgrade the database schema")
    sub.add_parser("schema", help="print the served GraphQL SDL")
    token = sub.add_parser("token", help="print a signed token")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--org", required=True)
    token.add_argument("--sub", default=None, help="subject; for agents and visitors a global ID")
    token.add_argument("--thread", default=None, help="visitors: the global ID of their thread")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    return parser


async def _check_database(settings: Settings) -> None:
    """Fail fast with one line when the database is unreachable (the server migrates the embedded one)."""
    try:
        await db.check(settings)
    except Exception as exc:
        raise CommandError(f"database unreachable ({settings.database_location}): {exc}") from exc


async def _check_redis(settings: Settings) -> None:
    """Fail fast with one line when Redis is unreachable or unusable (each process checks again)."""
    if settings.redis_url is None:
        return
    try:
        client = await redisconn.connect(settings.redis_url, settings.redis_prefix)
    except redisconn.RedisSetupError as exc:
        raise CommandError(str(exc)) from exc
    await client.aclose()


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from switchboard.wsmessages import MAX_MESSAGE_BYTES
    from switchboard.wsprotocol import PROTOCOL_CLASS

    settings = settings_module.load()
    if args.workers < 1:
        raise CommandError("--workers must be at least 1")
    if settings.embedded and args.workers > 1:
        raise CommandError(
            "the embedded default runs one process; "
            "set SWITCHBOARD_DATABASE_URL and SWITCHBOARD_REDIS_URL for --workers > 1"
        )
    if not 0 < args.port < 65536:
        raise CommandError(f"--port {args.port} is not a TCP port")
    asyncio.run(_check_database(settings))
    asyncio.run(_check_redis(settings))
    settings_module.configure_logging(settings)
    uvicorn.run(
        "switchboard.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level.lower(),
        ws=PROTOCOL_CLASS,
        # Compressing ~100-byte JSON frames costs CPU and per-connection memory for nothing.
        ws_per_message_deflate=False,
        # uvicorn kills a worker that has not answered its supervisor within this
        # many seconds; its default (5) restarts slow-starting workers in a loop
        # on a busy machine.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        # A bigger message is refused (1009) before it is buffered whole.
        ws_max_size=MAX_MESSAGE_BYTES,
    )


def _migrate() -> None:
    settings = settings_module.load()
    try:
        applied = asyncio.run(db.migrate(settings))
    except Exception as exc:
        raise CommandError(f"migration failed: {exc}") from exc
    where = settings.database_location
    if applied:
        sys.stdout.write(f"applied {len(applied)} migration(s) to {where}: {', '.join(applied)}\n")
    else:
        sys.stdout.write(f"{where} is up to date (no migration to apply)\n")


def _schema() -> None:
    from strawberry.printer import print_schema

    from switchboard.graphql.schema import schema

    sys.stdout.write(print_schema(schema) + "\n")


def _token(args: argparse.Namespace) -> None:
    # Never generate a secret here: one made beside another folder's database
    # would sign tokens the server rejects.
    settings = settings_module.load(create_secret=False)
    role = Role(args.role)
    sub = args.sub or f"{role.value}-cli"
    try:
        if role is Role.AGENT:
            ids.decode_as(sub, "Agent")
        if role is Role.VISITOR:
            ids.decode_as(sub, "Visitor")
            ids.decode_as(args.thread or "", "Thread")
        token = auth.issue(settings.jwt_secret, role=role, org=args.org, sub=sub, thread=args.thread, ttl=args.ttl)
    except (ids.BadId, ValueError) as exc:
        raise CommandError(f"cannot issue token: {exc}") from exc
    sys.stdout.write(token + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            _serve(args)
        elif args.command == "migrate":
            _migrate()
        elif args.command == "schema":
            _schema()
        elif args.command == "token":
            _token(args)
    except (SettingsError, CommandError) as exc:
        sys.stderr.write(f"switchboard: {exc}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
