"""Recognising a failure of the database or Redis (down, refusing, hanging) among exceptions.

Such a failure is not a bug of ours: a request that meets one gets the error
SERVICE_UNAVAILABLE with a message naming the service, and the log gets one
line, not a traceback. Everything else stays an internal error.
"""

from __future__ import annotations

import errno
import logging
import socket
import sys

from asyncpg.exceptions import InterfaceError, OperatorInterventionError, PostgresConnectionError
from tortoise.exceptions import DBConnectionError

from switchboard import redisconn

DATABASE = "the database"
REDIS = "Redis"
# A driver's "operation on a closed connection" (the server went away mid-request).
_CLOSED_MARKERS = ("connection is closed", "connection was closed", "pool is closing")
_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}


def _one(exc: BaseException) -> str | None:
    # Connection, timeout, or a cluster failing over (CLUSTERDOWN, TRYAGAIN, a slot not covered yet): away for now.
    if isinstance(exc, redisconn.AWAY):
        return REDIS
    # OperatorIntervention: shutting down, starting up, or our statement timeout cancelling a query.
    if isinstance(exc, PostgresConnectionError | OperatorInterventionError | DBConnectionError):
        return DATABASE
    if isinstance(exc, InterfaceError) and any(marker in str(exc) for marker in _CLOSED_MARKERS):
        return DATABASE
    # Refused, reset or timed out at the socket: the database is the only peer that reaches here
    # (Redis failures arrive as Redis's own exceptions above).
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror) or (
        isinstance(exc, OSError) and exc.errno in _UNREACHABLE
    ):
        return DATABASE
    return None


def unavailable(exc: BaseException) -> str | None:
    """The service whose failure ``exc`` is (or was caused by), or None for any other error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _one(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def message(service: str) -> str:
    return f"{service} is unavailable; try again shortly"


def log_failure(logger: logging.Logger, what: str, *args: object) -> None:
    """Log the exception being handled: one line when the database or Redis is away (expected during
    an outage, and retried), the traceback for anything else."""
    failure = sys.exc_info()[1]
    service = unavailable(failure) if failure is not None else None
    if service is None:
        logger.exception(what, *args)
    else:
        logger.warning(f"{what} ({service} unavailable: %s: %s)", *args, type(failure).__name__, failure)
