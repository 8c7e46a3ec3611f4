"""A forbidden subscription closes the socket with 4403 (contract section 2)."""

from __future__ import annotations

import pytest

from tests.conftest import Org
from tests.wsclient import WSClosed

THREAD_EVENTS = "subscription($t: ID!) { threadEvents(threadId: $t) { kind } }"


async def test_agent_without_a_place_on_the_thread_is_closed_with_4403(org: Org) -> None:
    outsider = await org.create_agent("Outsider")
    thread_id, _ = await org.start_thread()
    client = await org.ws(outsider.token)
    subscription = await client.subscribe(THREAD_EVENTS, {"t": thread_id})
    with pytest.raises(WSClosed) as closed:
        await subscription.next(timeout=5)
    assert closed.value.code == 4403
    await client.close()


async def test_the_server_keeps_serving_after_a_4403(org: Org) -> None:
    outsider = await org.create_agent("Outsider")
    thread_id, _ = await org.start_thread()
    client = await org.ws(outsider.token)
    subscription = await client.subscribe(THREAD_EVENTS, {"t": thread_id})
    with pytest.raises(WSClosed):
        await subscription.next(timeout=5)
    data = await org.data("{ viewer { role } }")
    assert data["viewer"]["role"] == "admin"
    admin = await org.ws()
    allowed = await admin.subscribe(THREAD_EVENTS, {"t": thread_id})
    await allowed.nothing(within=0.3)
    await admin.close()
