"""The GraphQL WebSocket connection: who may open it, and for how long.

A token is checked once, at ``connection_init`` (or from the upgrade request's
header); a bad or missing one closes the socket with 4401. The connection then
lives no longer than the token: one timer per connection, set for the token's
``exp``, closes it with 4401 (the client reconnects with a fresh token and
resumes with ``after``), and an operation that arrives after ``exp`` but before
that close does not run. A subscription the caller may not open is refused by
its resolver before it starts, which both protocols answer with an ``error``
message for that operation; the socket and its other operations stay open.
Automatic persisted queries work on graphql-transport-ws subscribe messages as
over HTTP (``resolve_persisted``); the legacy protocol sends queries in full.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError
from starlette.websockets import WebSocket, WebSocketState
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.subscriptions.protocols.graphql_ws.types import StartMessage

from switchboard import graphql_http
from switchboard.documents import is_large, validates
from switchboard.graphql.context import Context
from switchboard.runtime.persisted import sha256_hex
from switchboard.wsmessages import CheckedLegacyWSHandler, CheckedTransportWSHandler, CheckedWebSocketAdapter

UNAUTHORIZED = 4401
# The token could not be checked (the database did not answer): the client should come back.
TRY_AGAIN_LATER = 1013
TOKEN_KEYS = ("Authorization", "authorization", "token")

# What ``resolve_persisted`` returns for a message it answered itself (a message may be null).
REFUSED = object()

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

    async def handle_message(self, message: Any) -> None:
        resolved = await resolve_persisted(self, message)
        if resolved is not REFUSED:
            await super().handle_message(resolved)

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


async def resolve_persisted(handler: TransportWSHandler, message: Any) -> Any:
    """A subscribe message with its persisted query filled in (Apollo's protocol), or ``REFUSED``.

    As over HTTP (see ``switchboard.graphql_http``): a hash without ``query``
    runs the query registered under it or gets ``PersistedQueryNotFound`` as
    that operation's error; a query with its hash is checked and, once it
    validates, registered for every process. Anything else is left to the
    protocol's own checks.
    """
    payload = message.get("payload") if isinstance(message, dict) else None
    extensions = payload.get("extensions") if isinstance(payload, dict) else None
    persisted = isinstance(extensions, dict) and extensions.get("persistedQuery") is not None
    assert not persisted or isinstance(message, dict)
    if not (persisted and message.get("type") == "subscribe" and handler.connection_acknowledged):
        return message
    if not (isinstance(message.get("id"), str) and message["id"]):
        return message  # the protocol's checks close the socket
    assert isinstance(payload, dict)
    op_id, query = message.get("id"), payload.get("query")
    try:
        sha = graphql_http.persisted_hash(extensions)
    except HTTPException as exc:
        return await _refuse(handler, op_id, exc.reason, "BAD_REQUEST")
    assert sha is not None
    store = handler.context.services.persisted_queries
    if query is None:
        found = await store.get(sha)
        if found is None:
            return await _refuse(handler, op_id, "PersistedQueryNotFound", graphql_http.PERSISTED_QUERY_NOT_FOUND)
        return {**message, "payload": {**payload, "query": found}}
    if isinstance(query, str):
        if sha256_hex(query) != sha:
            return await _refuse(handler, op_id, graphql_http.HASH_MISMATCH, "BAD_REQUEST")
        schema = handler.schema._schema  # type: ignore[attr-defined]
        valid = await asyncio.to_thread(validates, schema, query) if is_large(query) else validates(schema, query)
        if valid:
            await store.put(sha, query)
    return message


async def _refuse(handler: TransportWSHandler, op_id: str, message: str, code: str) -> object:
    error = GraphQLError(message, extensions={"code": code})
    await handler.send_message({"id": op_id, "type": "error", "payload": [error.formatted]})
    return REFUSED
