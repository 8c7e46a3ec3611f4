"""Running under uvicorn: what start-up tells the operator, and a SIGTERM that ends in exit 0.

Both ``switchboard serve`` and ``uvicorn asgi:app`` run the app in a uvicorn
``Server``; the app finds it through the SIGTERM handler uvicorn installs
while it serves (a bound method of the server), and finds nothing under any
other server, where it changes nothing.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import uvicorn

from switchboard.settings import Settings

log = logging.getLogger("switchboard")

# In-flight requests get this long after SIGTERM; the contract wants the process gone within 10 s.
GRACEFUL_SHUTDOWN_SECONDS = 7


def uvicorn_server() -> uvicorn.Server | None:
    """The uvicorn server running this process's app, if any."""
    if threading.current_thread() is not threading.main_thread():
        return None
    server = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    return server if isinstance(server, uvicorn.Server) else None


def stop_cleanly_on_sigterm(server: uvicorn.Server) -> None:
    """SIGTERM: stop accepting, finish in-flight requests, close WebSockets (1012), exit 0.

    uvicorn does all of that on SIGTERM, then raises the signal again once it has
    shut down, so that the process ends *by* the signal (exit -15). The contract
    asks for a clean exit 0: this handler asks the server to stop exactly as
    uvicorn's own does, without recording the signal to raise again. In-flight
    requests get ``GRACEFUL_SHUTDOWN_SECONDS`` unless the operator chose a limit.
    """

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("SIGTERM: finishing requests in flight, then exiting")
        server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    if server.config.timeout_graceful_shutdown is None:
        server.config.timeout_graceful_shutdown = GRACEFUL_SHUTDOWN_SECONDS


def log_startup(settings: Settings, server: uvicorn.Server | None, applied: list[str]) -> None:
    """Where the data and the secret are, and where to point a browser: what a newcomer looks for first."""
    if applied:
        log.info("database: applied %d migration(s): %s", len(applied), ", ".join(applied))
    log.info("database: %s", settings.database_location)
    log.info("events: %s", "Redis (shared by every process)" if settings.redis_url else "in-process (one process)")
    if settings.jwt_secret_file is not None:
        log.info("JWT secret: generated for development, kept in %s", settings.jwt_secret_file)
    else:
        log.info("JWT secret: from SWITCHBOARD_JWT_SECRET")
    if server is not None and server.config.uds is None and server.config.fd is None:
        host = server.config.host if server.config.host not in ("0.0.0.0", "::") else "127.0.0.1"
        url = f"http://{f'[{host}]' if ':' in host else host}:{server.config.port}"
        log.info("GraphiQL: %s/graphql (for a token: switchboard token --role admin --org ORG)", url)
