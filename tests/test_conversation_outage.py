"""A message committed while Redis is down still reaches every conversationEvents subscriber, once.

Contract ("Events"): "A committed change always produces its events, even when Redis was down at
the time: they are delivered once Redis is back." Two processes on PostgreSQL with a private
redis-server that the test stops and starts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from tests import servers
from tests.conftest import Org
from tests.conversation_support import CONVERSATION, active, events, listening, outcome, posted, send


@pytest.fixture(scope="module")
def outage_stack() -> Iterator[tuple[servers.Stack, servers.RedisServer]]:
    redis_server = servers.RedisServer()
    redis_server.start()
    try:
        with servers.running("postgres", processes=2, redis_url=redis_server.url) as stack:
            yield stack, redis_server
    finally:
        redis_server.stop()


async def _until_ready(http: httpx.AsyncClient, url: str, status: int) -> None:
    deadline = time.monotonic() + 15
    while (await http.get(f"{url}/readyz")).status_code != status:
        if time.monotonic() > deadline:
            raise AssertionError(f"/readyz never answered {status}")
        await asyncio.sleep(0.05)


async def test_messages_sent_during_a_redis_outage_are_delivered_once(
    outage_stack: tuple[servers.Stack, servers.RedisServer], http: httpx.AsyncClient
) -> None:
    stack, redis_server = outage_stack
    org = Org(stack, http)
    ann = await org.create_agent("Ann")
    conv = await active(org, ann)
    clients = [await org.ws(org.token("admin"), server=1), await org.ws(conv.visitor_token, server=0)]
    try:
        console, widget = [await c.subscribe(CONVERSATION, {"t": conv.thread_id}) for c in clients]
        await listening(console, widget)
        redis_server.stop()
        for server in (0, 1):
            await _until_ready(http, stack.url(server), 503)
        # An agent's message needs no Redis to be stored; if it was stored, its event must come.
        during = await send(org, ann.token, conv.thread_id, "while Redis is down", server=0)
        stored_during = outcome(during) == "ok"
        if not stored_during:
            # Refused with a clear error is allowed too ("fail with a clear error"), never a hang.
            assert during.get("errors") or during["data"]["sendMessage"]["userErrors"], during
        redis_server.start()
        for server in (0, 1):
            await _until_ready(http, stack.url(server), 200)
        after = await posted(org, ann.token, conv.thread_id, "Redis is back", server=1)
        expected = ["while Redis is down", "Redis is back"] if stored_during else ["Redis is back"]
        for sub in (console, widget):
            got = await events(sub, len(expected), within=20)
            assert [e["message"]["body"] for e in got] == expected
            assert got[-1]["message"]["id"] == after["id"]
            await sub.nothing(1.0)
    finally:
        for client in clients:
            await client.close()
