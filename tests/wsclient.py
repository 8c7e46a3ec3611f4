"""A small graphql-transport-ws client for tests (real WebSocket, real protocol)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Origin, Subprotocol

PROTOCOL = "graphql-transport-ws"


class WSClosed(Exception):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed {code}: {reason}")
        self.code = code
        self.reason = reason


class GraphQLWS:
    """One connection; several subscriptions multiplexed by id."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self._queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._next_id = 0
        self._reader: asyncio.Task[None] | None = None
        self.closed: WSClosed | None = None

    @classmethod
    async def connect(
        cls,
        url: str,
        payload: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        origin: str | None = None,
    ) -> GraphQLWS:
        """Open and initialise; raises WSClosed when the server refuses."""
        conn = await websockets.connect(
            url,
            subprotocols=[Subprotocol(PROTOCOL)],
            additional_headers=headers or {},
            origin=Origin(origin) if origin is not None else None,
            max_size=2**22,
        )
        client = cls(conn)
        await conn.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
        try:
            raw = await asyncio.wait_for(conn.recv(), 10)
        except websockets.ConnectionClosed as exc:
            raise WSClosed(exc.rcvd.code if exc.rcvd else None, exc.rcvd.reason if exc.rcvd else "") from exc
        message = json.loads(raw)
        if message.get("type") != "connection_ack":
            raise AssertionError(f"expected connection_ack, got {message}")
        client._reader = asyncio.create_task(client._read())
        return client

    async def _read(self) -> None:
        try:
            async for raw in self.conn:
                message = json.loads(raw)
                op = message.get("id")
                if op in self._queues:
                    await self._queues[op].put(message)
        except websockets.ConnectionClosed as exc:
            self.closed = WSClosed(exc.rcvd.code if exc.rcvd else None, exc.rcvd.reason if exc.rcvd else "")
        finally:
            for queue in self._queues.values():
                await queue.put({"type": "__closed__"})

    async def subscribe(
        self, query: str | None, variables: dict[str, Any] | None = None, extensions: dict[str, Any] | None = None
    ) -> Subscription:
        """``query`` None and ``extensions`` given: a persisted query by its hash only."""
        self._next_id += 1
        op = str(self._next_id)
        self._queues[op] = asyncio.Queue()
        payload: dict[str, Any] = {"variables": variables or {}}
        if query is not None:
            payload["query"] = query
        if extensions is not None:
            payload["extensions"] = extensions
        await self.conn.send(json.dumps({"id": op, "type": "subscribe", "payload": payload}))
        return Subscription(self, op)

    async def close(self) -> None:
        await self.conn.close()
        if self._reader is not None:
            await asyncio.wait([self._reader], timeout=5)

    async def __aenter__(self) -> GraphQLWS:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class Subscription:
    def __init__(self, client: GraphQLWS, op: str) -> None:
        self.client = client
        self.op = op
        self.completed = False
        self.errors: list[Any] | None = None

    async def next(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next payload's data; raises on error, completion or timeout."""
        message = await asyncio.wait_for(self.client._queues[self.op].get(), timeout)
        kind = message["type"]
        if kind == "next":
            payload = message["payload"]
            if payload.get("errors"):
                self.errors = payload["errors"]
                raise AssertionError(f"subscription errors: {payload['errors']}")
            return payload["data"]
        if kind == "error":
            self.errors = message["payload"]
            raise SubscriptionError(message["payload"])
        if kind == "complete":
            self.completed = True
            raise StopAsyncIteration
        raise self.client.closed or WSClosed(None, "closed")

    async def raw(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next protocol message as is."""
        return await asyncio.wait_for(self.client._queues[self.op].get(), timeout)

    async def refusal(self, timeout: float = 10.0) -> str:
        """The code of the ``error`` message that refused this operation (it fails if anything else comes)."""
        message = await self.raw(timeout)
        assert message["type"] == "error", message
        (error,) = message["payload"]
        return str(error["extensions"]["code"])

    async def nothing(self, within: float = 0.5) -> None:
        """Assert that no message arrives within ``within`` seconds."""
        try:
            message = await asyncio.wait_for(self.client._queues[self.op].get(), within)
        except TimeoutError:
            return
        raise AssertionError(f"expected no message, got {message}")

    async def stop(self) -> None:
        await self.client.conn.send(json.dumps({"id": self.op, "type": "complete"}))

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self

    async def __anext__(self) -> dict[str, Any]:
        return await self.next()


class SubscriptionError(Exception):
    def __init__(self, errors: Any) -> None:
        super().__init__(str(errors))
        self.errors = errors
