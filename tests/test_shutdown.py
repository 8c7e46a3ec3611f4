"""SIGTERM (contract "Running and failing"): stop accepting, finish requests in flight, close
WebSockets with 1001 or 1012, exit 0; nothing committed is lost.

Run as an operator runs it: ``switchboard serve`` (``--workers 2`` on PostgreSQL) and
``uvicorn asgi:app``, each a real process, with WebSockets open and a request in flight.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path

import jwt
import pytest

from tests import dbcheck, servers
from tests.conftest import Org
from tests.wsclient import GraphQLWS

CREATE_AGENT = 'mutation { createAgent(input: {name: "Late"}) { agent { name } } }'
STATS = "subscription($q: ID!) { queueStats(queueId: $q) { waiting } }"


def _command(kind: str, stack: str, port: int) -> list[str]:
    if kind == "uvicorn":
        return [sys.executable, "-m", "uvicorn", "asgi:app", "--port", str(port)]
    workers = ["--workers", "2"] if stack == "postgres" else []
    return [servers.SWITCHBOARD, "serve", "--port", str(port), *workers]


async def _request_in_flight(port: int, token: str, body: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A POST whose headers the app has (it asked for the body: ``100 Continue``) and whose body is held back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n".encode()
        + b"Expect: 100-continue\r\n\r\n"
    )
    await writer.drain()
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert interim.startswith(b"HTTP/1.1 100"), interim
    return reader, writer


async def _finish(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes) -> tuple[bytes, bytes]:
    writer.write(body)
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 20)  # the server closes the connection after a shutdown's response
    writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0], payload


async def _closed_with(client: GraphQLWS) -> int | None:
    for _ in range(200):
        if client.closed is not None:
            return client.closed.code
        await asyncio.sleep(0.05)
    raise AssertionError("the WebSocket was not closed")


@pytest.mark.parametrize("kind", ["serve", "uvicorn"])
async def test_sigterm_finishes_requests_closes_sockets_and_exits_0(org: Org, workdir: Path, kind: str) -> None:
    stack = org.stack
    env = dict(stack.env)
    if stack.name == "sqlite":  # a database of its own: the embedded default is one process
        env["SWITCHBOARD_DATABASE_URL"] = f"sqlite://{workdir / 'switchboard.db'}"
    port = servers.free_port()
    log = workdir / "server.log"
    process = servers.launch(_command(kind, stack.name, port), env, servers.ROOT if kind == "uvicorn" else workdir, log)
    try:
        url = f"http://127.0.0.1:{port}"
        servers.wait_healthy(url, process, log)
        queue = await org.http.post(
            f"{url}/graphql",
            json={"query": 'mutation { createQueue(input: {name: "q"}) { queue { id } } }'},
            headers={"Authorization": f"Bearer {org.token()}"},
        )
        queue_id = queue.json()["data"]["createQueue"]["queue"]["id"]
        clients = [
            await GraphQLWS.connect(f"ws://127.0.0.1:{port}/graphql", {"Authorization": f"Bearer {org.token()}"})
            for _ in range(2)
        ]
        for client in clients:
            assert "queueStats" in await (await client.subscribe(STATS, {"q": queue_id})).next()
        body = json.dumps({"query": CREATE_AGENT}).encode()
        reader, writer = await _request_in_flight(port, org.token(), body)

        process.send_signal(signal.SIGTERM)
        status, payload = await _finish(reader, writer, body)
        assert status.startswith(b"HTTP/1.1 200"), (status, payload)
        assert json.loads(payload)["data"] == {"createAgent": {"agent": {"name": "Late"}}}
        for client in clients:
            assert await _closed_with(client) in (1001, 1012)
        assert process.wait(30) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
    # What the in-flight request committed is there.
    database = servers.Stack(stack.name, env)
    sql = "SELECT COUNT(*) FROM agent WHERE org_id = ? AND name = 'Late'"
    assert await dbcheck.scalar(database, sql, org.id) == 1


async def test_a_request_that_never_ends_does_not_hold_up_sigterm(workdir: Path) -> None:
    """A client that never sends its body gets the graceful limit (7 s), then the process exits 0 anyway."""
    env = servers.base_env({"SWITCHBOARD_DATABASE_URL": f"sqlite://{workdir / 'stalled.db'}"})
    port = servers.free_port()
    log = workdir / "server.log"
    process = servers.launch([servers.SWITCHBOARD, "serve", "--port", str(port)], env, workdir, log)
    try:
        servers.wait_healthy(f"http://127.0.0.1:{port}", process, log)
        now = int(time.time())
        token = jwt.encode({"sub": "a", "org": "o", "role": "admin", "exp": now + 600}, servers.SECRET, "HS256")
        _, writer = await _request_in_flight(port, token, json.dumps({"query": CREATE_AGENT}).encode())
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()[-3000:]
        assert "timeout graceful shutdown exceeded" in log.read_text()
        writer.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
