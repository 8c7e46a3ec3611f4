"""The ``switchboard`` command: serve, migrate, schema, token."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from switchboard import auth, db, ids
from switchboard import settings as settings_module
from switchboard.domain.enums import Role
from switchboard.settings import Settings, SettingsError


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
    """Fail fast with one line when the database is unreachable (or migrate the embedded one)."""
    try:
        if settings.embedded:
            await db.migrate(settings)
            return
        await db.init(settings)
        try:
            await db.ping()
        finally:
            await db.close()
    except Exception as exc:
        raise CommandError(f"database unreachable ({settings.database_url.split('@')[-1]}): {exc}") from exc


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
        # A bigger message is refused (1009) before it is buffered whole.
        ws_max_size=MAX_MESSAGE_BYTES,
    )


def _migrate() -> None:
    settings = settings_module.load()
    try:
        asyncio.run(db.migrate(settings))
    except Exception as exc:
        raise CommandError(f"migration failed: {exc}") from exc
    sys.stdout.write("database is up to date\n")


def _schema() -> None:
    from strawberry.printer import print_schema

    from switchboard.schema.schema import schema

    sys.stdout.write(print_schema(schema) + "\n")


def _token(args: argparse.Namespace) -> None:
    settings = settings_module.load()
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
