"""The GraphQL WebSocket connection: who may open it, and for how long.

A token is checked once, at ``connection_init`` (or from the upgrade request's
header); a bad or missing one closes the socket with 4401. The connection then
lives no longer than the token: one timer per connection, set for the token's
``exp``, closes it with 4401 (the client reconnects with a fresh token and
resumes with ``after``), and an operation that arrives after ``exp`` but before
that close does not run. A subscription the caller may not open is refused by
its resolver before it starts, which both protocols answer with an ``error``
message for that operation; the socket and its other operations stay open.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from typing import Any

from starlette.websockets import WebSocket, WebSocketState
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.subscriptions.protocols.graphql_ws.types import StartMessage

from switchboard.graphql.context import Context
from switchboard.wsmessages import CheckedLegacyWSHandler, CheckedTransportWSHandler, CheckedWebSocketAdapter

UNAUTHORIZED = 4401
# The token could not be checked (the database did not answer): the client should come back.
TRY_AGAIN_LATER = 1013
TOKEN_KEYS = ("Authorization", "authorization", "token")

# Closes started by expiry timers, kept until done (the loop holds tasks only weakly).
_closing: set[asyncio.Task[None]] = set()


class WebSocketAdapter(CheckedWebSocketAdapter):
    async def send_json(self, message: Any) -> None:
        # The token's expiry closes the socket from a timer while operations may
        # still be sending; their last messages have nowhere to go.
        if self.ws.application_state == WebSocketState.DISCONNECTED:
            return
        await super().send_json(message)

    async def close(self, code: int, reason: str) -> None:
        # We may already have closed it with our own code (4401); don't fail on the second close.
        if self.ws.application_state == WebSocketState.DISCONNECTED:
            return
        with contextlib.suppress(RuntimeError):
            await self.ws.close(code=code, reason=close_reason(reason))


# A close frame carries at most 125 bytes: the 2-byte code and 123 of reason. A longer
# reason (one quoting what the client sent) would fail the close itself with a traceback.
MAX_CLOSE_REASON_BYTES = 123


def close_reason(reason: str | None) -> str:
    """``reason`` cut to what a close frame carries, on a character boundary."""
    data = (reason or "").encode()
    if len(data) <= MAX_CLOSE_REASON_BYTES:
        return reason or ""
    return data[: MAX_CLOSE_REASON_BYTES - 3].decode(errors="ignore") + "..."


async def on_connect(context: Context) -> None:
    """Authenticate ``connection_init``'s token (else the upgrade header's) and arm the expiry timer."""
    params = context.connection_params or {}
    for key in TOKEN_KEYS:
        if params.get(key):
            await context.authenticate(params[key])
            break
    websocket: WebSocket = context.request
    if not context.authenticated:
        code, reason = (TRY_AGAIN_LATER, "Try again later") if context.unverified else (UNAUTHORIZED, "Unauthorized")
        await _close(websocket, code, reason)
        raise ConnectionRejectionError()
    expires_at = context.principal.expires_at
    if math.isfinite(expires_at):
        context.expiry = asyncio.get_running_loop().call_later(expires_at - time.time(), _expire, websocket)


def _expire(websocket: WebSocket) -> None:
    task = asyncio.get_running_loop().create_task(_close(websocket, UNAUTHORIZED, "Token expired"))
    _closing.add(task)
    task.add_done_callback(_closing.discard)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state is not WebSocketState.DISCONNECTED:
        with contextlib.suppress(RuntimeError):
            await websocket.close(code=code, reason=reason)


def _disarm(context: Context) -> None:
    if context.expiry is not None:
        context.expiry.cancel()
        context.expiry = None


class TransportWSHandler(CheckedTransportWSHandler):
    """graphql-transport-ws, with the token's lifetime enforced."""

    async def shutdown(self) -> None:
        # Called once, as the connection ends (overriding ``handle`` instead would
        # keep one more suspended frame alive per connection for its whole life).
        _disarm(self.context)
        await super().shutdown()

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)
        # The cancelled init timer (with its CancelledError traceback and frames)
        # would otherwise stay referenced for the connection's whole life.
        self.connection_init_timeout_task = None

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        # The timer may not have fired yet (a busy loop): what arrives after ``exp`` does not run.
        if self.context.expired():
            await self.websocket.close(UNAUTHORIZED, "Token expired")
            return
        await super().handle_subscribe(message)


class LegacyWSHandler(CheckedLegacyWSHandler):
    """The legacy graphql-ws protocol, with the same token lifetime."""

    async def cleanup(self) -> None:
        # Called once, as the connection ends.
        _disarm(self.context)
        await super().cleanup()

    async def handle_start(self, message: StartMessage) -> None:
        if self.context.expired():
            await self.websocket.close(UNAUTHORIZED, "Token expired")
            return
        await super().handle_start(message)
