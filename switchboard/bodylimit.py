"""The request body limit: a body over 1 MiB gets 413 before anything reads or parses it.

A pure ASGI middleware, so that it costs nothing for normal requests: with a
``Content-Length`` (every ordinary client sends one) the decision is made from
the header alone and the server (h11 or httptools) never delivers more bytes
than it announced; a request with neither header has no body; only a chunked
body is counted as it arrives, and refused as soon as it passes the limit.
Compressed bodies are refused (415): decompressing would let a small body grow
past the limit.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard.graphql_http import error_response

MAX_BODY_BYTES = 1024 * 1024
# An oversized body is read and dropped, up to this much, before the 413 goes
# out: closing a socket with unread data resets it, and the client would see
# a broken connection instead of the answer. Past this, the socket is closed.
DRAIN_BYTES = 16 * MAX_BODY_BYTES


class _BodyTooLarge(Exception):
    """Raised from ``receive`` once a streamed body passes the limit."""

    def __init__(self, more_body: bool) -> None:
        super().__init__("request body too large")
        self.more_body = more_body


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _content_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


class RequestBodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        encoding = _header(scope, b"content-encoding")
        if encoding is not None and encoding.strip().lower() not in ("", "identity"):
            refusal = error_response(
                _header(scope, b"accept"),
                415,
                f"Content-Encoding {encoding.strip()!r} is not supported: send the request body uncompressed",
            )
            await refusal(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > self.max_bytes:
            await self._too_large(scope, receive, send, drain=length <= DRAIN_BYTES)
        elif length is None and _header(scope, b"transfer-encoding") is not None:
            await self._counted(scope, receive, send)
        else:
            # A length the server holds the body to, or no body at all (HTTP/1.1: neither header).
            await self.app(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge(message.get("more_body", False))
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except _BodyTooLarge as exc:
            if started:
                raise
            # Once the last part has arrived, a further receive() would wait for the client to go.
            await self._too_large(scope, receive, send, drain=exc.more_body)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, *, drain: bool) -> None:
        if drain:
            await _drain(receive)
        refusal = error_response(
            _header(scope, b"accept"),
            413,
            f"the request body is over the limit of {self.max_bytes} bytes",
            headers={"Connection": "close"},
        )
        await refusal(scope, receive, send)


async def _drain(receive: Receive) -> None:
    """Read and drop what is left of a body, up to ``DRAIN_BYTES``."""
    dropped = 0
    while dropped <= DRAIN_BYTES:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        dropped += len(message.get("body", b""))
