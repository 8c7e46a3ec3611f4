"""The WebSocket protocol we serve with: frames still flow, the handshake request is let go."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import uvicorn
import websockets
from starlette.types import Receive, Scope, Send
from websockets.http11 import Request
from websockets.server import ServerProtocol

from switchboard.wsprotocol import WebSocketProtocol, waits_for_a_frame
from tests.servers import free_port


class _Spy(WebSocketProtocol):
    requests: list[weakref.ref[Request]] = []

    def handle_connect(self, event: Request) -> None:
        _Spy.requests.append(weakref.ref(event))
        super().handle_connect(event)


async def _shout(scope: Scope, receive: Receive, send: Send) -> None:
    """Echoes every text message upper-cased, and the Host header it was opened with."""
    assert scope["type"] == "websocket"
    await receive()
    await send({"type": "websocket.accept"})
    host = dict(scope["headers"])[b"host"].decode()
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        reply = host if message["text"] == "host?" else message["text"].upper()
        await send({"type": "websocket.send", "text": reply})


async def test_frames_flow_and_the_handshake_request_is_released() -> None:
    port = free_port()
    config = uvicorn.Config(_shout, host="127.0.0.1", port=port, ws=_Spy, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.01)
    try:
        async with websockets.connect(f"ws://127.0.0.1:{port}/", max_size=2**20) as ws:
            # Short, 16-bit and 64-bit length frames, after the parser was restarted.
            for text in ("one", "x" * 300, "y" * 70_000):
                await ws.send(text)
                assert await ws.recv() == text.upper()
            await ws.send("host?")
            assert await ws.recv() == f"127.0.0.1:{port}"
            gc.collect()
            assert len(_Spy.requests) == 1
            assert _Spy.requests[0]() is None, "the upgrade request is still referenced"
            live: list[Any] = [c for c in server.server_state.connections if isinstance(c, WebSocketProtocol)]
            assert len(live) == 1 and live[0].request is None
    finally:
        server.should_exit = True
        await serving


UPGRADE = (
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def test_the_parser_counts_as_restartable_only_between_frames() -> None:
    between = ServerProtocol()
    between.receive_data(UPGRADE)
    assert waits_for_a_frame(between)
    # The two header bytes of a masked text frame: consumed, the mask still to come.
    inside = ServerProtocol()
    inside.receive_data(UPGRADE + b"\x81\x85")
    assert not inside.reader.buffer and not waits_for_a_frame(inside)
