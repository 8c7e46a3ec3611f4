"""schemathesis in GraphQL mode over the served schema, with each role's token, on both backends.

Whatever the generated operation and arguments: no 5xx, no internal error, no
traceback in the servers' logs, the server keeps serving, and afterwards the
contract's invariants hold in the organization (tests/invariants.py).
Every query and mutation is called, with random and boundary arguments, a fixed
number of times per role (fixed seed).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests import invariants
from tests.collab_support import active_thread, invite_one, respond
from tests.conftest import Org
from tests.fuzz_support import KNOWN_IDS, fuzz, introspected_schema
from tests.hostile_support import ServerLogs, still_serving
from tests.queue_support import create_queue, enqueue

# Every query and mutation, this many times per role (about 60 requests per role).
PER_OPERATION = 2
ROLES = ["admin", "agent", "supervisor", "analyst", "service", "visitor"]


async def _seed(org: Org) -> dict[str, str]:
    """An organization with something of everything; the tokens of each role; its IDs in KNOWN_IDS."""
    primary = await org.create_agent("Primary", maxConcurrentThreads=3)
    helper = await org.create_agent("Helper")
    supervisor = await org.create_agent("Super", role="SUPERVISOR")
    queue = await create_queue(org, "Fuzz", routingStrategy="MANUAL")
    thread = await active_thread(org, primary)
    sent = await invite_one(org, primary, thread, helper)
    pending = await invite_one(org, primary, thread, supervisor)
    await respond(org, helper, sent["id"])
    waiting, entry, visitor_token = await enqueue(org, queue_id=queue)
    KNOWN_IDS[:] = [primary.id, helper.id, supervisor.id, queue, thread, waiting, sent["id"], pending["id"], entry]
    return {
        "admin": org.token("admin"),
        "agent": helper.token,
        "supervisor": supervisor.token,
        "analyst": org.token("analyst"),
        "service": org.token("service"),
        "visitor": visitor_token,
    }


def _judge(query: str, status: int, body: dict[str, Any]) -> None:
    assert status < 500, (status, query, body)
    codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
    assert "INTERNAL_SERVER_ERROR" not in codes, (query, body)


@pytest.mark.parametrize("role", ROLES)
async def test_generated_operations_never_fail_the_server(org: Org, role: str) -> None:
    tokens = await _seed(org)
    logs = ServerLogs(org.stack)
    schema = introspected_schema(org.stack.url(0), tokens["admin"])
    sent = fuzz(schema, org.stack.url(0), tokens[role], PER_OPERATION, _judge)
    assert sent >= len(list(schema.get_all_operations()))
    await still_serving(org)
    logs.assert_clean()
    # An admin's updateSettings may lower collaboratorLimit under seats already taken: allowed, and
    # binding new invites and accepts only (tests/test_collaboration_races.py relies on it).
    await invariants.assert_hold(org.stack, org.id, caps=role != "admin")
