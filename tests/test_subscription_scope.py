"""A forbidden subscription gets an ``error`` message; the socket and its other subscriptions stay open.

Contract section 2. Closing the socket (4403) would take the caller's other
subscriptions with it, and clients that retry on 4403 would reconnect in a loop.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets
from websockets.typing import Subprotocol

from tests.conftest import Org
from tests.queue_support import POSITION, create_queue, enqueue, update
from tests.wsclient import GraphQLWS

THREAD_EVENTS = "subscription($t: ID!) { threadEvents(threadId: $t) { kind } }"


async def test_a_forbidden_subscription_gets_an_error_and_the_others_keep_streaming(org: Org) -> None:
    outsider = await org.create_agent("Outsider")
    thread_id, _ = await org.start_thread()
    await create_queue(org, "q", routingStrategy="MANUAL")
    _, entry_id, _ = await enqueue(org)
    client = await org.ws(outsider.token)
    try:
        allowed = await client.subscribe(POSITION, {"e": entry_id})
        assert (await update(allowed))["queueLength"] == 1
        forbidden = await client.subscribe(THREAD_EVENTS, {"t": thread_id})
        assert await forbidden.refusal() == "FORBIDDEN"
        await forbidden.nothing(0.3)  # no "complete" after the error: the operation is over
        # The same socket goes on: the allowed stream gets the next change...
        await enqueue(org)
        assert (await update(allowed))["queueLength"] == 2
        # ...and takes new operations, the refused id included.
        again = await client.subscribe(THREAD_EVENTS, {"t": thread_id})
        assert await again.refusal() == "FORBIDDEN"
        viewer = await client.subscribe("{ viewer { role } }")
        assert (await viewer.next())["viewer"]["role"] == "agent"
        assert client.closed is None
    finally:
        await client.close()


async def test_refusals_say_why_before_the_stream_starts(org: Org) -> None:
    """Every refusal of a subscription's arguments is the operation's error, never a closed socket."""
    thread_id, visitor = await org.start_thread()
    client = await GraphQLWS.connect(org.stack.ws_url(1), {"Authorization": f"Bearer {visitor}"})
    other_thread, _ = await org.start_thread()
    try:
        cases: list[tuple[str, dict[str, Any], str]] = [
            (POSITION, {"t": other_thread}, "FORBIDDEN"),
            (THREAD_EVENTS, {"t": thread_id}, "FORBIDDEN"),
            ("subscription { inviteEvents { cursor } }", {}, "FORBIDDEN"),
            (POSITION, {"t": thread_id}, "NOT_FOUND"),  # the visitor's thread never queued
        ]
        for query, variables, code in cases:
            assert await (await client.subscribe(query, variables)).refusal() == code, query
        assert client.closed is None
    finally:
        await client.close()


async def _legacy(url: str, token: str) -> websockets.ClientConnection:
    conn = await websockets.connect(url, subprotocols=[Subprotocol("graphql-ws")])
    await conn.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    assert json.loads(await asyncio.wait_for(conn.recv(), 10))["type"] == "connection_ack"
    return conn


async def _message_for(conn: websockets.ClientConnection, op: str) -> dict[str, Any]:
    """The next message for operation ``op`` (keep-alives and other operations' messages skipped)."""
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(conn.recv(), 10))
        if message.get("id") == op:
            return message


async def test_legacy_graphql_ws_gets_an_error_message_too(org: Org) -> None:
    outsider = await org.create_agent("Outsider")
    thread_id, _ = await org.start_thread()
    await create_queue(org, "q", routingStrategy="MANUAL")
    _, entry_id, _ = await enqueue(org)
    conn = await _legacy(org.stack.ws_url(), outsider.token)
    try:
        start: dict[str, Any] = {"type": "start", "id": "ok", "payload": {"query": POSITION, "variables": {}}}
        start["payload"]["variables"] = {"e": entry_id}
        await conn.send(json.dumps(start))
        first = await _message_for(conn, "ok")
        assert first["type"] == "data" and first["payload"]["data"]["queuePosition"]["queueLength"] == 1
        refused = {"type": "start", "id": "no", "payload": {"query": THREAD_EVENTS, "variables": {"t": thread_id}}}
        await conn.send(json.dumps(refused))
        error = await _message_for(conn, "no")
        assert error["type"] == "error" and error["payload"]["extensions"]["code"] == "FORBIDDEN", error
        await enqueue(org)
        second = await _message_for(conn, "ok")
        assert second["type"] == "data" and second["payload"]["data"]["queuePosition"]["queueLength"] == 2
    finally:
        await conn.close()
