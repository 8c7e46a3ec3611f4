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


async def test_the_unique_index_itself_refuses_a_second_row_for_one_key(org: Org) -> None:
    """What holds when the thread lock is not there to serialise (a row written by any other path)."""
    import asyncpg

    primary = await org.create_agent("Prim")
    thread = await active_thread(org, primary)
    first = (
        await org.data(SEND, {"i": {"threadId": thread, "body": "x", "clientMessageId": "k"}}, token=primary.token)
    )["sendMessage"]["message"]
    conn = await asyncpg.connect(org.stack.database_url.replace("postgres://", "postgresql://", 1))
    try:
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                """INSERT INTO message (org_id, thread_id, sender_kind, sender_key, author_id, visibility, body,
                     client_message_id, created_at)
                   SELECT org_id, thread_id, sender_kind, sender_key, author_id, visibility, 'again',
                     client_message_id, created_at FROM message WHERE client_message_id = 'k' AND org_id = $1""",
                org.id,
            )
    finally:
        await conn.close()
    assert first["clientMessageId"] == "k"
