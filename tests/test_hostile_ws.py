"""Hostile input over WebSocket: a malformed message closes that socket (4400), never with a traceback."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets
from websockets.typing import Subprotocol

from switchboard.wsmessages import MAX_MESSAGE_BYTES
from tests import servers
from tests.conftest import Org
from tests.hostile_support import ServerLogs, still_serving
from tests.wsclient import SubscriptionError

TRANSPORT = "graphql-transport-ws"
LEGACY = "graphql-ws"
VIEWER = {"query": "{ viewer { role } }"}


async def _close_code(url: str, protocol: str, frames: list[str | bytes], init: dict[str, object] | None) -> int | None:
    """Sends ``frames`` (after connection_init when ``init`` is given); the code the server closes with."""
    async with websockets.connect(url, subprotocols=[Subprotocol(protocol)], max_size=None) as ws:
        if init is not None:
            await ws.send(json.dumps({"type": "connection_init", "payload": init}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        try:
            # A server that refuses a frame may close while the client is still writing it.
            for frame in frames:
                await ws.send(frame)
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert message["type"] in ("ka", "pong"), message
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


def _init(org: Org) -> dict[str, object]:
    return {"Authorization": f"Bearer {org.token()}"}


MALFORMED: list[str | bytes] = [
    "[1]",
    '"x"',
    "7",
    "null",
    "{not json",
    b"\x00\x01binary",
    '{"type": 3}',
    '{"type": "subscribe", "payload": {"query": 7}}',
    '{"type": "subscribe", "id": "1", "payload": {"query": 7}}',
    '{"type": "subscribe", "id": 5}',
    '{"type": "subscribe", "id": 5, "payload": {"query": "{ viewer { role } }"}}',
    '{"type": "subscribe", "id": "1", "payload": [1]}',
    '{"type": "subscribe", "id": "1", "payload": {"query": "{ viewer { role } }", "variables": [1]}}',
    '{"type": "subscribe", "id": "1", "payload": {"query": "{ viewer { role } }", "operationName": 3}}',
    '{"type": "complete"}',
    '{"type": "no-such-type"}',
    '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}",
]


async def test_malformed_graphql_transport_ws_messages_close_with_4400(org: Org) -> None:
    logs = ServerLogs(org.stack)
    url = org.stack.ws_url()
    for frame in MALFORMED:
        assert await _close_code(url, TRANSPORT, [frame], _init(org)) == 4400, frame
    before_init: list[str | bytes] = ["[1]", '"x"', b"\x00", "{not json"]
    for frame in before_init:  # before connection_init
        assert await _close_code(url, TRANSPORT, [frame], None) == 4400, frame
    # A well-formed subscribe before connection_init is unauthorised, as the protocol says.
    subscribe = json.dumps({"type": "subscribe", "id": "1", "payload": VIEWER})
    assert await _close_code(url, TRANSPORT, [subscribe], None) == 4401
    logs.assert_clean()
    await still_serving(org)


LEGACY_MALFORMED: list[str | bytes] = [
    "[1]",
    '"x"',
    '{"type": 3}',
    '{"type": "no-such-type"}',
    '{"type": "start", "id": "1", "payload": {"query": 7}}',
    '{"type": "start", "payload": {"query": "{ viewer { role } }"}}',
    '{"type": "start", "id": 5, "payload": {"query": "{ viewer { role } }"}}',
    '{"type": "start", "id": "1"}',
    '{"type": "stop"}',
]


async def test_malformed_legacy_graphql_ws_messages_close_with_4400(org: Org) -> None:
    logs = ServerLogs(org.stack)
    url = org.stack.ws_url()
    for frame in LEGACY_MALFORMED:
        assert await _close_code(url, LEGACY, [frame], _init(org)) == 4400, frame
    # Binary frames: the legacy protocol's own answer, a protocol error.
    assert await _close_code(url, LEGACY, [b"\x00"], _init(org)) == 1002
    logs.assert_clean()
    await still_serving(org)


async def test_a_message_over_1_mib_closes_that_socket_only(org: Org) -> None:
    logs = ServerLogs(org.stack)
    bystander = await org.ws()
    try:
        big = json.dumps(
            {"type": "subscribe", "id": "1", "payload": {"query": "{ viewer { role } }" + " " * MAX_MESSAGE_BYTES}}
        )
        for protocol in (TRANSPORT, LEGACY):
            assert await _close_code(org.stack.ws_url(), protocol, [big], _init(org)) == 1009
        # The other socket goes on.
        query = await bystander.subscribe("{ viewer { role } }")
        assert await query.next() == {"viewer": {"role": "admin"}}
    finally:
        await bystander.close()
    logs.assert_clean()


async def test_operations_that_cannot_run_get_an_error_and_the_socket_stays(org: Org) -> None:
    logs = ServerLogs(org.stack)
    client = await org.ws()
    try:
        cases = {
            "query A { viewer { role } } query B { viewer { organization } }": "OPERATION_RESOLUTION_FAILURE",
            "{ viewer { role }": "GRAPHQL_PARSE_FAILED",
            "{ viewer { role } }" + "\n# c" * 15_000: "QUERY_LIMIT_EXCEEDED",
        }
        for query, code in cases.items():
            refused = await client.subscribe(query)
            with pytest.raises(SubscriptionError) as failed:
                await refused.next()
            assert [e["extensions"]["code"] for e in failed.value.errors] == [code]
        fine = await client.subscribe("{ viewer { role } }")
        assert await fine.next() == {"viewer": {"role": "admin"}}
        assert client.closed is None
    finally:
        await client.close()
    logs.assert_clean()


@pytest.fixture
def plain_uvicorn() -> Iterator[servers.Server]:
    """``uvicorn asgi:app`` as the README allows, with uvicorn's own 16 MiB message limit."""
    workdir = servers.new_workdir()
    env = servers.base_env({"SWITCHBOARD_DATABASE_URL": f"sqlite://{workdir / 'plain.db'}"})
    port = servers.free_port()
    command = [sys.executable, "-m", "uvicorn", "asgi:app", "--port", str(port), "--log-level", "warning"]
    server = servers.Server(env, port, Path(workdir / "server.log"), command=command)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def test_the_app_closes_big_messages_whatever_uvicorn_allows(plain_uvicorn: servers.Server) -> None:
    big = json.dumps({"type": "connection_init", "payload": {"pad": "x" * MAX_MESSAGE_BYTES}})
    assert await _close_code(plain_uvicorn.ws_url, TRANSPORT, [big], None) == 1009
    assert "Traceback" not in plain_uvicorn.log_path.read_text()
