"""The WebSocket protocol uvicorn serves Switchboard with.

uvicorn's sans-I/O implementation (websockets' ``ServerProtocol``), minus the
upgrade request it would otherwise keep for the connection's whole life: a
visitor's widget holds one subscription open for as long as it waits, and the
request's parsed headers are about 2 KB of every such connection. The ASGI
scope keeps its own copy of the headers, which is all the application reads.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import Protocol
from websockets.server import ServerProtocol
from websockets.streams import StreamReader

# Passed to uvicorn by ``switchboard serve`` and the test servers.
PROTOCOL_CLASS = "switchboard.wsprotocol:WebSocketProtocol"


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """``websockets-sansio`` that lets go of the handshake request once it is answered."""

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        self.request: Any = None
        conn = self.conn
        # websockets' handshake parser keeps the request as a local of its
        # generator while it goes on to parse frames. Restart frame parsing
        # without it, but only for an accepted handshake and only where the
        # parser waits for the first byte of a frame: uvicorn hands us the
        # request alone, so that is where it is, and otherwise we keep it.
        if self.response.status_code == 101 and waits_for_a_frame(conn):
            conn.parser = Protocol.parse(conn)
            next(conn.parser)


def waits_for_a_frame(conn: ServerProtocol) -> bool:
    """True when the frame parser is suspended before a frame, having read nothing of it."""
    frames = getattr(conn.parser, "gi_yieldfrom", None)  # Protocol.parse, under ServerProtocol.parse
    waiting = getattr(frames, "gi_yieldfrom", None)
    return (
        conn.parser_exc is None
        and not conn.reader.buffer
        and getattr(waiting, "gi_code", None) is StreamReader.at_eof.__code__
    )
