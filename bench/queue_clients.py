"""The benchmark's client processes for bench_queue_positions.py: lean queuePosition widgets.

Client sockets live in separate processes so that reading 10,000 messages does
not share one event loop with the measurement. They share the machine's cores
with the servers, so they are kept lean (see ``_Widget``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, cast

import uvloop
from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

QUERY = "subscription { queuePosition { status position queueLength estimatedWaitSeconds } }"
PROTOCOL = Subprotocol("graphql-transport-ws")


class _Widget(asyncio.Protocol):
    """One visitor's widget: a graphql-transport-ws subscription read frame by frame.

    The clients share this machine's two cores with the servers being measured,
    so they must cost as little as possible per update. websockets' sans-I/O
    protocol does the handshake and every frame the widget sends (masked);
    frames from the server are read here directly: they are unmasked and
    uvicorn never fragments them, and parsing them by hand costs a fraction of
    the library's generator-based parser. Reading in ``data_received`` needs no
    task or future per message, and stamps each update when its bytes arrive.
    """

    def __init__(self, url: str, visitor_token: str) -> None:
        self.ws = ClientProtocol(parse_uri(url), subprotocols=[PROTOCOL], max_size=2**20)
        self.token = visitor_token
        self.first: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.on_update: Callable[[_Widget, float, dict[str, Any]], None] | None = None
        self.on_failure: Callable[[str], None] | None = None
        self.transport: asyncio.Transport | None = None
        self.open = False
        self.final = False
        self.buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)
        self.ws.send_request(self.ws.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        at = time.time()
        if self.open:
            self._read_frames(at, data)
            return
        self.ws.receive_data(data)
        if self.ws.handshake_exc is not None:
            self._fail(f"handshake failed: {self.ws.handshake_exc}")
            return
        for event in self.ws.events_received():
            if isinstance(event, Response):
                if event.status_code != 101:
                    self._fail(f"handshake refused: {event.status_code}")
                    return
                # The server says nothing more until it has our connection_init.
                self.open = True
                init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {self.token}"}}
                self._send(init)

    def _read_frames(self, at: float, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while len(buffer) >= 2:
            size, start = buffer[1] & 0x7F, 2
            if size == 126:
                size, start = int.from_bytes(buffer[2:4], "big"), 4
            elif size == 127:
                size, start = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < start or len(buffer) < start + size:
                return
            opcode, payload = buffer[0] & 0x0F, bytes(buffer[start : start + size])
            del buffer[: start + size]
            if opcode == Opcode.TEXT:
                self._on_message(at, json.loads(payload))
            elif opcode == Opcode.PING:
                self.ws.send_pong(payload)
                self._flush()
            elif opcode == Opcode.CLOSE:
                self._fail(f"closed by the server: {payload!r}")

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost: {exc}")

    def _on_message(self, at: float, message: dict[str, Any]) -> None:
        if message["type"] == "connection_ack":
            self._send({"id": "1", "type": "subscribe", "payload": {"query": QUERY}})
        elif message["type"] == "next":
            update = message["payload"]["data"]["queuePosition"]
            self.final = update["status"] != "WAITING"
            if not self.first.done():
                self.first.set_result(update["position"])
            elif self.on_update is not None:
                self.on_update(self, at, update)
        elif message["type"] == "complete" and self.final:
            pass  # the stream ends after the entry's final state, as it should
        elif message["type"] != "pong":
            self._fail(f"unexpected message: {message}")

    def _send(self, message: dict[str, Any]) -> None:
        self.ws.send_text(json.dumps(message).encode())
        self._flush()

    def _flush(self) -> None:
        assert self.transport is not None
        for chunk in self.ws.data_to_send():
            if chunk:
                self.transport.write(chunk)

    def _fail(self, reason: str) -> None:
        if not self.first.done():
            self.first.set_exception(RuntimeError(reason))
        elif self.on_failure is not None:
            self.on_failure(reason)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _open(url: str, visitor_token: str) -> _Widget:
    parsed = parse_uri(url)
    loop = asyncio.get_running_loop()
    _, widget = await loop.create_connection(lambda: _Widget(url, visitor_token), parsed.host, parsed.port)
    await asyncio.wait_for(widget.first, 60)
    return widget


class _Round:
    """One change: the first update each live widget receives after it was armed."""

    def __init__(self, live: set[_Widget]) -> None:
        self.pending = set(live)
        self.got: list[tuple[float, str, int | None]] = []
        self.ended: set[_Widget] = set()
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for widget in live:
            widget.on_update = self.on_update
            widget.on_failure = self.on_failure

    def on_update(self, widget: _Widget, at: float, update: dict[str, Any]) -> None:
        if widget not in self.pending:
            return
        self.pending.discard(widget)
        self.got.append((at, update["status"], update["position"]))
        if update["status"] != "WAITING":
            self.ended.add(widget)
        if not self.pending and not self.finished.done():
            self.finished.set_result(None)

    def on_failure(self, reason: str) -> None:
        # A watcher that can no longer be updated fails the round now, not at its timeout.
        if not self.finished.done():
            self.finished.set_exception(RuntimeError(reason))


async def _client_main(urls: list[str], work: list[tuple[int, str]], pipe: Connection, rounds: int) -> None:
    gate = asyncio.Semaphore(100)

    async def open_one(server: int, visitor_token: str) -> _Widget:
        async with gate:
            return await _open(urls[server], visitor_token)

    widgets = await asyncio.gather(*(open_one(s, t) for s, t in work))
    pipe.send(("subscribed", [w.first.result() for w in widgets]))
    live = set(widgets)
    loop = asyncio.get_running_loop()
    for _ in range(rounds):
        round_ = _Round(live)
        pipe.send(("armed", len(round_.pending)))
        await asyncio.wait_for(round_.finished, 120)
        pipe.send(("received", round_.got))
        live -= round_.ended
    await loop.run_in_executor(None, pipe.recv)
    for widget in widgets:
        widget.close()


def _client(urls: list[str], work: list[tuple[int, str]], pipe: Connection, rounds: int) -> None:
    uvloop.run(_client_main(urls, work, pipe, rounds))
