"""PostgreSQL and Redis going away under a running stack, and coming back.

Contract, "Running and failing": while PostgreSQL or Redis is unreachable
``/readyz`` answers 503 and requests that need the database fail with a clear
error within 10 seconds, never a hang; when it is back everything works again
without restarting Switchboard, and events committed meanwhile are delivered.

The stack here runs on a PostgreSQL cluster and a Redis of its own (never the
machine's shared ones), which the tests stop, pause and start again.
"""

from __future__ import annotations

import asyncio
import functools
import os
import random
import re
import signal
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from asyncpg.exceptions import ConnectionDoesNotExistError, QueryCanceledError
from redis.exceptions import (
    ClusterDownError,
    MovedError,
    NoScriptError,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError

from switchboard import outages, redisconn
from tests import dbcheck, invariants
from tests.collab_support import INVITE_EVENTS, active_thread, invite, invite_one, pk_of
from tests.conftest import Org
from tests.hostile_support import ServerLogs, scrape
from tests.outage_support import PrivateStack, private_stack
from tests.queue_support import eventually
from tests.workload import Workload, run

# Failing within 10 s is the contract; the database timeouts are 4 s.
FAIL_WITHIN = 10.0
AGENTS = "{ agents(first: 1) { totalCount } }"
CREATE_AGENT = 'mutation { createAgent(input: {name: "During"}) { agent { id } userErrors { message } } }'


@pytest.fixture(scope="module")
def private() -> Iterator[PrivateStack]:
    built = private_stack()
    try:
        yield built
    finally:
        built.close()


@pytest_asyncio.fixture
async def porg(private: PrivateStack) -> AsyncIterator[Org]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield Org(private.stack, client)


async def _timed(org: Org, query: str, server: int) -> tuple[float, dict[str, Any]]:
    start = time.monotonic()
    body = await org.gql(query, server=server)
    return time.monotonic() - start, body


async def _ready(org: Org, server: int) -> int:
    return (await org.http.get(f"{org.stack.url(server)}/readyz")).status_code


async def _fails_clearly(org: Org, server: int) -> None:
    """A query and a mutation each fail within 10 s with SERVICE_UNAVAILABLE; liveness stays 200."""
    for query in (AGENTS, CREATE_AGENT):
        took, body = await _timed(org, query, server)
        assert took < FAIL_WITHIN, (query, took)
        assert body["data"] is None, body
        assert [e["extensions"]["code"] for e in body["errors"]] == ["SERVICE_UNAVAILABLE"], body
        assert "database" in body["errors"][0]["message"]
    assert (await org.http.get(f"{org.stack.url(server)}/healthz")).status_code == 200


async def _recovered(org: Org, private: PrivateStack) -> None:
    for server in range(len(private.stack.servers)):
        await eventually(functools.partial(_is_ready, org, server), within=30)
        assert (await org.data(AGENTS, server=server))["agents"]["totalCount"] >= 0
        created = (await org.data(CREATE_AGENT, server=server))["createAgent"]
        assert created["agent"] and not created["userErrors"]
    # Not restarted: the same processes serve before and after.
    assert all(s.process is not None and s.process.poll() is None for s in private.stack.servers)


async def _fallbacks(org: Org, what: str) -> float:
    found = re.search(rf'^switchboard_redis_fallbacks_total{{what="{what}"}} (\S+)$', await scrape(org), re.M)
    return float(found.group(1)) if found else 0.0


async def _is_ready(org: Org, server: int) -> bool:
    return await _ready(org, server) == 200


async def test_postgres_stopped_fails_fast_and_clearly_then_recovers(porg: Org, private: PrivateStack) -> None:
    logs = ServerLogs(private.stack)
    await porg.create_agent("Before")
    private.postgres.stop()
    try:
        for server in range(2):
            assert await _ready(porg, server) == 503
            await _fails_clearly(porg, server)
    finally:
        private.postgres.start()
    await _recovered(porg, private)
    logs.assert_clean()


async def test_postgres_hanging_fails_within_10_seconds_then_recovers(porg: Org, private: PrivateStack) -> None:
    """A paused database accepts nothing and answers nothing: the timeouts end the wait, not the client."""
    logs = ServerLogs(private.stack)
    await porg.create_agent("Before")
    private.pause_postgres(signal.SIGSTOP)
    try:
        start = time.monotonic()
        assert await _ready(porg, 0) == 503
        assert time.monotonic() - start < FAIL_WITHIN
        results = await asyncio.gather(*(_timed(porg, AGENTS, i % 2) for i in range(6)))
        for took, body in results:
            assert took < FAIL_WITHIN and body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE", body
    finally:
        private.pause_postgres(signal.SIGCONT)
    await _recovered(porg, private)
    logs.assert_clean()


async def test_redis_stopped_degrades_and_committed_events_are_delivered(porg: Org, private: PrivateStack) -> None:
    logs = ServerLogs(private.stack)
    primary, invitee = await porg.create_agent("Prim"), await porg.create_agent("Inv")
    thread = await active_thread(porg, primary)
    async with await porg.ws(invitee.token, server=1) as ws:
        events = await ws.subscribe(INVITE_EVENTS)
        private.redis.stop()
        try:
            for server in range(2):
                assert await _ready(porg, server) == 503
            # The database is there: changes commit, and their events wait in the log.
            sent = await invite_one(porg, primary, thread, invitee)
        finally:
            private.redis.start()
        delivered = (await events.next(timeout=30))["inviteEvents"]
        assert (delivered["kind"], delivered["invite"]["id"]) == ("CREATED", sent["id"])
        for server in range(2):
            await eventually(functools.partial(_is_ready, porg, server), within=30)
        # Live delivery across processes is back, exactly once.
        second = await invite_one(porg, primary, await active_thread(porg, primary), invitee)
        live = (await events.next(timeout=10))["inviteEvents"]
        assert (live["kind"], live["invite"]["id"]) == ("CREATED", second["id"])
        assert int(live["cursor"][1:]) > int(delivered["cursor"][1:])
        await events.nothing(within=1.0)
    logs.assert_clean()


async def test_redis_hanging_holds_no_request_past_10_seconds(porg: Org, private: PrivateStack) -> None:
    """A paused Redis accepts connections and never answers: rate limits, publishing and readiness
    give up on it in time; the changes commit (their events go out through the log)."""
    logs = ServerLogs(private.stack)
    primary, invitee = await porg.create_agent("Prim"), await porg.create_agent("Inv")
    thread = await active_thread(porg, primary)
    assert private.redis.process is not None
    os.kill(private.redis.process.pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        assert await _ready(porg, 0) == 503
        assert time.monotonic() - start < FAIL_WITHIN
        start = time.monotonic()
        sent = await invite(porg, primary, thread, invitee)
        assert time.monotonic() - start < FAIL_WITHIN
        codes = [e["code"] for e in sent["userErrors"]]
        assert sent["invites"] or codes == ["SERVICE_UNAVAILABLE"], sent
        took, body = await _timed(porg, AGENTS, 1)
        assert took < FAIL_WITHIN and body["data"]["agents"]["totalCount"] >= 2, body
        # Degraded, not hidden: the limiter counted in the database, and the metrics say so.
        if sent["invites"]:
            assert await _fallbacks(porg, "invite-rate limit") >= 1, sent
    finally:
        os.kill(private.redis.process.pid, signal.SIGCONT)
    for server in range(2):
        await eventually(functools.partial(_is_ready, porg, server), within=30)
    logs.assert_clean()


def test_which_failures_count_as_an_outage() -> None:
    """Connection failures of either server (also wrapped in another exception) are outages;
    anything else stays an internal error, masked and logged with its traceback."""
    assert outages.unavailable(ConnectionRefusedError(111, "refused")) == outages.DATABASE
    assert outages.unavailable(TimeoutError()) == outages.DATABASE
    assert outages.unavailable(ConnectionDoesNotExistError("gone")) == outages.DATABASE
    assert outages.unavailable(QueryCanceledError("statement timeout")) == outages.DATABASE
    assert outages.unavailable(RedisConnectionError("refused")) == outages.REDIS
    try:
        try:
            raise ConnectionResetError()
        except ConnectionResetError as reset:
            raise RuntimeError("while reading") from reset
    except RuntimeError as wrapped:
        assert outages.unavailable(wrapped) == outages.DATABASE
    for other in (ValueError("bug"), FileNotFoundError("x"), KeyError("k")):
        assert outages.unavailable(other) is None
    # A cluster failing over is away for now; an error reply is not an outage, and never a fallback.
    for away in (ClusterDownError("CLUSTERDOWN"), TryAgainError("TRYAGAIN"), SlotNotCoveredError("slot 7")):
        assert outages.unavailable(away) == outages.REDIS and redisconn.is_outage(away)
    assert redisconn.is_outage(RedisConnectionError("refused"))
    for wrong in (MovedError("3999 127.0.0.1:7102"), ResponseError("WRONGTYPE"), NoScriptError("NOSCRIPT")):
        assert outages.unavailable(wrong) is None and not redisconn.is_outage(wrong)


async def test_postgres_restarted_under_traffic_loses_nothing_committed(porg: Org, private: PrivateStack) -> None:
    """Mixed traffic from four workers over both processes while PostgreSQL goes away for 3 s and
    comes back: requests in the gap fail with SERVICE_UNAVAILABLE, none with anything else, the
    traffic goes on afterwards, every thread whose start was answered is there, the invariants hold."""
    logs = ServerLogs(private.stack)
    workload = Workload(porg, random.Random(3))
    await workload.setup(agents=5, threads=4)

    async def outage() -> None:
        await asyncio.sleep(1.0)
        await asyncio.to_thread(private.postgres.stop)
        await asyncio.sleep(3.0)
        await asyncio.to_thread(private.postgres.start)

    until = time.monotonic() + 9
    await asyncio.gather(run(workload, workers=4, steps=10_000, until=until), outage())
    assert workload.failures == []
    felt = sum(n for kind, n in workload.outcomes.items() if kind.endswith(":SERVICE_UNAVAILABLE"))
    assert felt > 0, workload.outcomes
    for server in range(2):
        await eventually(functools.partial(_is_ready, porg, server), within=30)
    kept = await dbcheck.rows(private.stack, "SELECT id FROM thread WHERE org_id = ?", porg.id)
    assert {pk_of(v.thread) for v in workload.visitors} <= {row[0] for row in kept}
    await invariants.assert_hold(private.stack, porg.id)
    logs.assert_clean()
