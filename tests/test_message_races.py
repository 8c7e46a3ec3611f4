"""Retries of one message racing on two server processes (PostgreSQL): one row, one event, one answer.

SQLite runs one process and one transaction at a time, so only the PostgreSQL
stack (two processes, real row locks and the unique index) can show the race.
"""

from __future__ import annotations

import asyncio
import secrets

import pytest

from tests import dbcheck
from tests.collab_support import active_thread
from tests.conftest import Org
from tests.test_messages import SEND

pytestmark = pytest.mark.postgres_only


async def test_retries_with_one_key_racing_on_two_processes_write_once(org: Org) -> None:
    primary = await org.create_agent("Prim")
    thread = await active_thread(org, primary)
    visitor_id = (await org.data("query($t: ID!) { thread(id: $t) { visitor { id } } }", {"t": thread}))["thread"]
    visitor = org.token("visitor", sub=visitor_id["visitor"]["id"], thread=thread)
    for round_ in range(3):
        key = f"retry-{secrets.token_hex(4)}"
        variables = {"i": {"threadId": thread, "body": f"hello {round_}", "clientMessageId": key}}
        racers = [
            org.data(SEND, variables, token=token, server=i % 2)
            for i, token in enumerate([visitor] * 6 + [primary.token] * 6)
        ]
        results = [r["sendMessage"] for r in await asyncio.gather(*racers)]
        assert all(not r["userErrors"] for r in results), results
        # One message per sender (the key is the sender's own), whichever process answered.
        assert len({r["message"]["id"] for r in results[:6]}) == 1
        assert len({r["message"]["id"] for r in results[6:]}) == 1
        rows = await dbcheck.scalar(
            org.stack, "SELECT COUNT(*) FROM message WHERE org_id = ? AND client_message_id = ?", org.id, key
        )
        assert rows == 2
    events = await dbcheck.scalar(
        org.stack, "SELECT COUNT(*) FROM event WHERE org_id = ? AND kind = 'MESSAGE_POSTED'", org.id
    )
    assert events == 6
