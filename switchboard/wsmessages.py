"""What a client may send on the GraphQL WebSocket, checked before strawberry reads it.

Strawberry indexes messages as the protocol says they are shaped; anything
else (``[1]``, ``"x"``, a subscribe without an ``id`` or with a ``query`` that
is not a string) would fail inside it with a traceback. A message that is not
one of the protocol's closes the socket with 4400 and the reason, as
graphql-transport-ws says, on the legacy graphql-ws protocol too.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any

from graphql import GraphQLError
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from switchboard.graphql_http import BadJSON, loads

# A message over this size closes the socket (1009); uvicorn is started with
# the same ``ws_max_size``, this catches servers started without it.
MAX_MESSAGE_BYTES = 1024 * 1024
INVALID_MESSAGE = 4400
MESSAGE_TOO_BIG = 1009

_TRANSPORT_TYPES = {"connection_init", "ping", "pong", "subscribe", "complete"}
_LEGACY_TYPES = {"connection_init", "connection_terminate", "start", "stop"}


def _optional(value: Any, kind: type | tuple[type, ...]) -> bool:
    return value is None or isinstance(value, kind)


def _operation_problem(payload: Any) -> str | None:
    """What is wrong with a subscribe (start) payload, if anything."""
    if not isinstance(payload, Mapping):
        return "the payload must be an object"
    if not isinstance(payload.get("query"), str):
        return "payload.query must be a string"
    if not _optional(payload.get("variables"), Mapping):
        return "payload.variables must be an object"
    if not _optional(payload.get("operationName"), str):
        return "payload.operationName must be a string"
    if not _optional(payload.get("extensions"), Mapping):
        return "payload.extensions must be an object"
    return None


def _message_problem(message: Any, types: set[str], operation_types: set[str]) -> str | None:
    if not isinstance(message, Mapping) or not isinstance(message.get("type"), str):
        return "a message must be an object with a string type"
    kind = message["type"]
    if kind not in types:
        return f"unknown message type {kind[:40]!r}"
    if kind in operation_types and not (isinstance(message.get("id"), str) and message["id"]):
        return f"a {kind} message needs a string id"
    if kind in ("subscribe", "start"):
        return _operation_problem(message.get("payload"))
    return None


def transport_ws_problem(message: Any) -> str | None:
    """Why a graphql-transport-ws message is not one of the protocol's, or None."""
    return _message_problem(message, _TRANSPORT_TYPES, {"subscribe", "complete"})


def legacy_ws_problem(message: Any) -> str | None:
    """Why a legacy graphql-ws message is not one of the protocol's, or None."""
    return _message_problem(message, _LEGACY_TYPES, {"start", "stop"})


class CheckedWebSocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's adapter, with the message size limit and the JSON rules of HTTP bodies."""

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        while self.ws.application_state != WebSocketState.DISCONNECTED:
            try:
                received = await self.ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if received["type"] == "websocket.disconnect":
                return
            text = received.get("text")
            if not isinstance(text, str):
                raise NonTextMessageReceived
            if len(text) > MAX_MESSAGE_BYTES:
                await self.close(MESSAGE_TOO_BIG, "message over 1 MiB")
                return
            try:
                message = loads(text)
            except BadJSON as exc:
                if ignore_parsing_errors:
                    continue
                raise NonJsonMessageReceived from exc
            yield message


class CheckedTransportWSHandler(BaseGraphQLTransportWSHandler[Any, None]):
    async def handle_message(self, message: Any) -> None:
        problem = transport_ws_problem(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        await super().handle_message(message)

    @staticmethod
    def _get_pre_execution_close_reason(error: GraphQLError) -> str | None:
        # A document that does not parse or names no operation to run is that
        # operation's error, like a validation error: the caller's other
        # subscriptions on the socket go on.
        return None


class CheckedLegacyWSHandler(BaseGraphQLWSHandler[Any, None]):
    async def handle_message(self, message: Any) -> None:
        problem = legacy_ws_problem(message)
        if problem is not None:
            await self.websocket.close(INVALID_MESSAGE, problem)
            return
        await super().handle_message(message)
