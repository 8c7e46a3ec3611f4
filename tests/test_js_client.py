"""npm clients against Switchboard: ``graphql-ws`` (Apollo's and urql's) and Apollo's PersistedQueryLink.

Contract section 2: a forbidden subscription gets an ``error`` message for its
operation, and the socket and its other subscriptions stay open, so that a client
which retries on a closed socket does not reconnect in a loop. The client runs in
node (tests/js); ``npm ci`` installs it into tests/js/node_modules on first use.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import servers
from tests.conftest import Org
from tests.queue_support import POSITION, create_queue, enqueue

JS = servers.ROOT / "tests" / "js"
THREAD_EVENTS = "subscription($t: ID!) { threadEvents(threadId: $t) { kind } }"

Line = dict[str, Any]
WAIT_SECONDS = 20.0


@pytest.fixture(scope="session")
def js_client() -> Path:
    if not all((JS / "node_modules" / name).is_dir() for name in ("graphql-ws", "@apollo/client")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, capture_output=True, timeout=600)
    return JS / "two_subscriptions.mjs"


class Node:
    """The node script's JSON lines, kept in order, awaited one condition at a time."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.seen: list[Line] = []

    async def until(self, wanted: Callable[[Line], bool]) -> Line:
        for earlier in self.seen:
            if wanted(earlier):
                return earlier
        assert self.process.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.process.stdout.readline(), WAIT_SECONDS)
            if not raw:
                stderr = await self.process.stderr.read() if self.process.stderr else b""
                raise AssertionError(f"node ended: {self.seen} {stderr.decode()[-2000:]}")
            line: Line = json.loads(raw)
            self.seen.append(line)
            if wanted(line):
                return line


def _position(line: Line) -> int:
    return int(line["value"]["data"]["queuePosition"]["queueLength"])


async def test_graphql_ws_client_keeps_streaming_and_does_not_reconnect_after_a_refusal(
    org: Org, js_client: Path
) -> None:
    outsider = await org.create_agent("Outsider")
    thread_id, _ = await org.start_thread()
    await create_queue(org, "q", routingStrategy="MANUAL")
    _, entry_id, _ = await enqueue(org)
    args = {
        "url": org.stack.ws_url(1),
        "token": outsider.token,
        "allowed": {"query": POSITION, "variables": {"e": entry_id}},
        "forbidden": {"query": THREAD_EVENTS, "variables": {"t": thread_id}},
    }
    process = await asyncio.create_subprocess_exec(
        "node",
        str(js_client),
        json.dumps(args),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    node = Node(process)
    try:
        refused = await node.until(lambda line: line.get("op") == "forbidden")
        assert refused["event"] == "error", refused
        assert [e["extensions"]["code"] for e in refused["error"]] == ["FORBIDDEN"]
        first = await node.until(lambda line: line.get("op") == "allowed")
        assert first["event"] == "next" and _position(first) == 1, first
        # After the refusal the allowed subscription still gets every change, on the same connection.
        await enqueue(org)
        second = await node.until(lambda line: line.get("op") == "allowed" and line is not first)
        assert second["event"] == "next" and _position(second) == 2, second
        assert process.stdin is not None
        process.stdin.close()
        done = await node.until(lambda line: line["event"] == "done")
        assert done["connected"] == 1, node.seen
        assert not [line for line in node.seen if line["event"] in ("closed", "complete")], node.seen
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.parametrize(
    ("accept", "use_get"),
    [(None, False), (None, True), ("application/json", False), ("application/json", True)],
    ids=["default-post", "default-get", "json-post", "json-get"],
)
async def test_apollo_persisted_query_link_registers_once_and_hits_on_the_other_process(
    org: Org, js_client: Path, accept: str | None, use_get: bool
) -> None:
    """Apollo's defaults send the hash first, resend with the query on PersistedQueryNotFound, then hit.

    Apollo Client 4 accepts ``application/graphql-response+json`` first (the miss
    is then a 400 it reads from the body); with ``application/json`` the miss is
    a 200. With ``useGETForHashedQueries`` the hashed requests are GETs and the
    registration a POST.
    """
    query = f"query Apq{secrets.token_hex(4)} {{ viewer {{ role organization }} }}"
    args = {
        "urls": [f"{org.stack.url(0)}/graphql", f"{org.stack.url(1)}/graphql"],
        "token": org.token("analyst"),
        "query": query,
        "accept": accept,
        "useGET": use_get,
    }
    process = await asyncio.create_subprocess_exec(
        "node",
        str(js_client.parent / "apollo_persisted.mjs"),
        json.dumps(args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()[-2000:]
    report = json.loads(stdout)
    viewer = {"viewer": {"__typename": "Viewer", "role": "analyst", "organization": org.id}}
    assert [r["data"] for r in report["results"]] == [viewer, viewer], report
    hashed = "GET" if use_get else "POST"
    miss = 400 if accept is None else 200
    assert report["requests"] == [
        {"method": hashed, "withQuery": False, "status": miss},
        {"method": "POST", "withQuery": True, "status": 200},
        {"method": hashed, "withQuery": False, "status": 200},
    ], report
