"""The event log per organization (issue 13): each organization's seqs, cursors and commits are its own.

Over the wire on both stacks: one organization's activity does not move another's cursors, and a
resume replays exactly its own later events. On PostgreSQL: a transaction holding one
organization's counter does not hold another's mutations, and each process dispatches every
event once. In process, on each database: commits and rollbacks of several organizations at
once, the catch-up poll and the gap fill per organization, and the upgrade from the global
counter (0005), after which a cursor taken before it replays exactly the later events.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from tortoise import connections
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate as tortoise_migrate

from switchboard import db
from switchboard.events.bus import EventBus, ReplayFilter
from switchboard.events.codec import BusEvent
from switchboard.events.cursors import CursorExpired
from switchboard.events.transport import LocalTransport
from switchboard.events.types import ThreadStatusChanged, Topic
from switchboard.models import Event, Organization
from switchboard.rules.enums import ThreadStatus
from switchboard.services.transaction import atomic
from switchboard.settings import Settings
from tests import dbcheck, servers
from tests.conftest import Org
from tests.test_conversation_stream import MESSAGES, conversation, described, say, take, watch

SECRET = servers.SECRET


async def _cursors(org: Org, thread: str, token: str) -> dict[str, str]:
    edges = (await org.data(MESSAGES, {"t": thread}, token=token))["thread"]["messages"]["edges"]
    return {e["node"]["body"]: e["cursor"] for e in edges}


def _seq(cursor: str) -> int:
    return int(cursor[1:])


# ---------------------------------------------------------------- over the wire, both stacks


async def test_one_organizations_activity_does_not_move_anothers_cursors(org: Org, other_org: Org) -> None:
    mine = await conversation(org)
    theirs = await conversation(other_org)
    await say(org, mine.visitor, mine.thread, "a1")
    for i in range(6):
        await say(other_org, theirs.visitor, theirs.thread, f"b{i}", server=i % len(org.stack.servers))
    await say(org, mine.primary.token, mine.thread, "a2", server=len(org.stack.servers) - 1)
    cursors = await _cursors(org, mine.thread, mine.primary.token)
    # Nothing of the other organization's six commits between them: the next seq of this one's log.
    assert _seq(cursors["a2"]) == _seq(cursors["a1"]) + 1
    # The newest cursor is this organization's own count of events, whatever the others did.
    assert _seq(cursors["a2"]) == await dbcheck.count(org.stack, "event", org.id)
    theirs_cursors = await _cursors(other_org, theirs.thread, theirs.primary.token)
    assert _seq(theirs_cursors["b5"]) == await dbcheck.count(org.stack, "event", other_org.id)

    client = await org.ws(mine.primary.token, server=0)
    try:
        stream = await watch(client, mine.thread, after=cursors["a1"])
        assert described(await take(stream, 1)) == [("MESSAGE", "a2")]
        # The other organization goes on; this stream sees none of it, then its own next message.
        await say(other_org, theirs.visitor, theirs.thread, "b6", server=len(org.stack.servers) - 1)
        await say(org, mine.visitor, mine.thread, "a3", server=len(org.stack.servers) - 1)
        (a3,) = await take(stream, 1)
        assert described([a3]) == [("MESSAGE", "a3")] and _seq(a3["cursor"]) == _seq(cursors["a2"]) + 1
        await stream.nothing(0.3)
    finally:
        await client.close()


async def test_interleaved_organizations_each_replay_after_a_cursor_without_gap_or_duplicate(
    org: Org, other_org: Org
) -> None:
    convs = {o.id: (o, await conversation(o)) for o in (org, other_org)}
    servers_n = len(org.stack.servers)
    for i in range(8):
        for o, conv in convs.values():
            await say(o, conv.visitor, conv.thread, f"{o.id[-3:]}-{i}", server=(i + len(o.id)) % servers_n)
    for o, conv in convs.values():
        cursors = await _cursors(o, conv.thread, conv.primary.token)
        bodies = [f"{o.id[-3:]}-{i}" for i in range(8)]
        client = await o.ws(conv.primary.token, server=servers_n - 1)
        try:
            stream = await watch(client, conv.thread, after=cursors[bodies[2]])
            replayed = await take(stream, 5)
            assert described(replayed) == [("MESSAGE", body) for body in bodies[3:]]
            assert [e["cursor"] for e in replayed] == [cursors[body] for body in bodies[3:]]
            await stream.nothing(0.3)
        finally:
            await client.close()


# ---------------------------------------------------------------- PostgreSQL: locks and processes


async def _counter_waiters(url: str) -> int:
    """Backends of this database waiting on a lock (a writer queued behind an organization's counter)."""
    conn = await asyncpg.connect(url)
    try:
        sql = "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


@pytest.mark.postgres_only
async def test_a_transaction_holding_one_organizations_counter_does_not_hold_another(org: Org, other_org: Org) -> None:
    mine = await conversation(org)
    theirs = await conversation(other_org)
    url = org.stack.database_url.replace("postgres://", "postgresql://", 1)
    holder = await asyncpg.connect(url)
    try:
        transaction = holder.transaction()
        await transaction.start()
        # What every commit of ``org`` takes last, held until commit: this organization's counter row.
        await holder.execute("SELECT value FROM org_event_counter WHERE org_id = $1 FOR UPDATE", org.id)
        await asyncio.wait_for(say(other_org, theirs.visitor, theirs.thread, "not held", server=1), 10)
        waiting = asyncio.create_task(say(org, mine.visitor, mine.thread, "held", server=0))
        deadline = time.monotonic() + 10
        while await _counter_waiters(url) < 1:
            assert time.monotonic() < deadline, "the mutation of the held organization never queued"
            await asyncio.sleep(0.05)
        assert not waiting.done()
        # Meanwhile the other organization still commits.
        await asyncio.wait_for(say(other_org, theirs.visitor, theirs.thread, "still not held", server=0), 10)
        assert not waiting.done()
        await transaction.rollback()
        await asyncio.wait_for(waiting, 10)
    finally:
        await holder.close()
    assert list(await _cursors(org, mine.thread, mine.primary.token)) == ["held"]
    assert list(await _cursors(other_org, theirs.thread, theirs.primary.token)) == ["not held", "still not held"]


async def _dispatched(http: httpx.AsyncClient, url: str) -> float:
    text = (await http.get(f"{url}/metrics")).text
    match = re.search(r"^switchboard_events_dispatched (\S+)$", text, re.M)
    assert match, text
    return float(match.group(1))


async def _all_events(stack: servers.Stack) -> int:
    return int(await dbcheck.scalar(stack, "SELECT COUNT(*) FROM event"))


@pytest.mark.postgres_only
async def test_each_process_dispatches_every_organizations_events_once(org: Org, other_org: Org) -> None:
    convs = [(org, await conversation(org)), (other_org, await conversation(other_org))]
    urls = [org.stack.url(i) for i in range(len(org.stack.servers))]
    events_before = await _all_events(org.stack)
    before = [await _dispatched(org.http, url) for url in urls]

    async def talk(o: Org, thread: str, token: str, server: int) -> None:
        for i in range(5):
            await say(o, token, thread, f"m{i}", server=(server + i) % len(urls))

    await asyncio.gather(*(talk(o, c.thread, c.visitor, n) for n, (o, c) in enumerate(convs)))
    committed = await _all_events(org.stack) - events_before
    assert committed >= 10
    for url, was in zip(urls, before, strict=True):
        deadline = time.monotonic() + 15
        while await _dispatched(org.http, url) - was < committed:
            assert time.monotonic() < deadline, f"{url} did not dispatch every event"
            await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # a late duplicate (Redis, the catch-up poll, a gap fill) would count here
    assert [await _dispatched(org.http, url) - was for url, was in zip(urls, before, strict=True)] == [committed] * len(
        urls
    )


# ---------------------------------------------------------------- in process, on each database


@contextlib.asynccontextmanager
async def _bus_on(url: str) -> AsyncIterator[EventBus]:
    """This test process on the database, with a bus of its own (no transport: what it gets, it read)."""
    EXECUTOR_CACHE.clear()
    await db.init(Settings(database_url=url, jwt_secret=SECRET))
    bus = EventBus(LocalTransport())
    try:
        await bus.start()
        yield bus
    finally:
        await bus.stop()
        await db.close()
        EXECUTOR_CACHE.clear()


class Recorder:
    def __init__(self, bus: EventBus, org: str) -> None:
        self.events: list[BusEvent] = []
        bus.listen([("org", org)], self.events.append)

    @property
    def seqs(self) -> list[int]:
        return [e.seq for e in self.events]


async def _commit(bus: EventBus | None, org: str, thread_id: int, n: int = 1) -> None:
    async with atomic(bus) as outbox:
        for _ in range(n):
            outbox.add(ThreadStatusChanged(org=org, thread_id=thread_id, status=ThreadStatus.BOT))


async def _log(org: str) -> list[int]:
    return [row.seq for row in await Event.filter(org_id=org).order_by("seq") if row.seq is not None]


async def _replayed(bus: EventBus, org: str, after: int) -> list[int]:
    return [e.seq async for e in bus.replay(after, ReplayFilter(org, (Topic.THREAD,)), lambda _: True)]


async def test_concurrent_commits_of_several_organizations_number_each_from_one_without_holes(
    fresh_database: str,
) -> None:
    await db.migrate(Settings(database_url=fresh_database, jwt_secret=SECRET))
    async with _bus_on(fresh_database) as bus:
        a, b = Recorder(bus, "oa"), Recorder(bus, "ob")

        async def roll_back(org: str) -> None:
            with pytest.raises(RuntimeError):
                async with atomic(bus) as outbox:
                    outbox.add(ThreadStatusChanged(org=org, thread_id=-1, status=ThreadStatus.BOT))
                    raise RuntimeError("the change failed")

        work: list[Coroutine[Any, Any, None]] = []
        for i in range(12):
            work.append(_commit(bus, "oa" if i % 2 else "ob", i, 1 + i % 3))
            if i % 4 == 0:
                work.append(roll_back("oa" if i % 8 else "ob"))
        await asyncio.gather(*work)
        totals = {org: sum(1 + i % 3 for i in range(12) if ("oa" if i % 2 else "ob") == org) for org in ("oa", "ob")}
        for org, recorder in (("oa", a), ("ob", b)):
            assert await _log(org) == list(range(1, totals[org] + 1))
            assert recorder.seqs == list(range(1, totals[org] + 1))
            assert -1 not in {e.thread_id for e in recorder.events}
        assert bus.watermarks == totals


async def test_catch_up_and_gap_fill_work_per_organization(fresh_database: str) -> None:
    await db.migrate(Settings(database_url=fresh_database, jwt_secret=SECRET))
    async with _bus_on(fresh_database) as bus:
        for org in ("oa", "ob", "oc"):
            await _commit(bus, org, 1)
        a, b, c = Recorder(bus, "oa"), Recorder(bus, "ob"), Recorder(bus, "oc")
        # Committed elsewhere, with no notification reaching this bus (``None``: published nowhere).
        for _ in range(3):
            await _commit(None, "oa", 2)
        await _commit(None, "ob", 2, n=2)
        assert (a.events, b.events) == ([], [])
        # One read of every counter; only the organizations behind are read from the log.
        assert await bus.catch_up() == 5
        assert (a.seqs, b.seqs, c.seqs) == ([2, 3, 4], [2, 3], [])
        assert await bus.catch_up() == 0
        # A notification that comes after a missed one: the gap is filled from that organization's log first.
        await _commit(None, "ob", 3, n=2)
        async with atomic(None) as outbox:
            outbox.add(ThreadStatusChanged(org="ob", thread_id=4, status=ThreadStatus.BOT))
        fills = bus.gap_fills
        await bus.ingest(outbox.published[0])
        assert b.seqs == [2, 3, 4, 5, 6] and bus.gap_fills == fills + 1
        # The same event again (a late Redis copy, the poll): dropped.
        await bus.ingest(outbox.published[0])
        assert await bus.catch_up() == 0
        assert (a.seqs, b.seqs, c.seqs) == ([2, 3, 4], [2, 3, 4, 5, 6], [])
        assert bus.watermarks == {"oa": 4, "ob": 6, "oc": 1}


async def test_prune_keeps_a_whole_suffix_of_each_organizations_log(fresh_database: str) -> None:
    await db.migrate(Settings(database_url=fresh_database, jwt_secret=SECRET))
    async with _bus_on(fresh_database) as bus:
        bus.retention_hours = 24
        for org, n in (("oa", 6), ("ob", 3), ("oc", 2)):
            for _ in range(n):
                await _commit(bus, org, 1)
        old = datetime.now(UTC) - timedelta(hours=25)
        # Clocks differ a little between processes: oa's 3 looks newer than its 2 and 4.
        await Event.filter(org_id="oa", seq__in=[1, 2, 4]).update(created_at=old)
        await Event.filter(org_id="ob", seq=1).update(created_at=old)
        assert await bus.prune() == 5
        assert (await _log("oa"), await _log("ob"), await _log("oc")) == ([5, 6], [2, 3], [1, 2])
        for org, fresh, stale in (("oa", 4, 3), ("ob", 1, 0)):
            await bus.check_cursor(org, fresh)
            with pytest.raises(CursorExpired):
                await bus.check_cursor(org, stale)
        await bus.check_cursor("oc", 0)


async def test_a_cursor_taken_before_the_upgrade_replays_exactly_the_later_events(fresh_database: str) -> None:
    settings = Settings(database_url=fresh_database, jwt_secret=SECRET)
    EXECUTOR_CACHE.clear()
    async with TortoiseContext():
        await tortoise_migrate(config=db.tortoise_config(settings), target="models.0004_conversation")
    await db.init(settings)
    try:
        # Before 0005: one global counter; the two organizations' events interleave.
        for org in ("ma", "mb"):
            await Organization.create(id=org)
        for seq in range(1, 7):
            org = "ma" if seq % 2 else "mb"
            payload = {"status": "BOT", "previous": None}
            row = dict(topic="thread", kind="STATUS_CHANGED", thread_id=seq, payload=payload)
            await Event.create(seq=seq, org_id=org, created_at=datetime.now(UTC), **row)
        # An organization whose events outlived its row still gets a counter.
        row = dict(topic="thread", kind="STATUS_CHANGED", thread_id=0, payload={"status": "BOT", "previous": None})
        await Event.create(seq=7, org_id="mz", created_at=datetime.now(UTC), **row)
        # The head is 7, the newest seq: a thread head cursor of ``ma`` may read e7.
        await connections.get("default").execute_script("UPDATE event_counter SET value = 7 WHERE id = 1")
    finally:
        await db.close()
    EXECUTOR_CACHE.clear()
    assert await db.migrate(settings) == ["0005_org_event_log", "0006_backfill_thread_assigned_at"]
    async with _bus_on(fresh_database) as bus:
        assert bus.watermarks == {"ma": 7, "mb": 7, "mz": 7}
        await _commit(bus, "ma", 10, n=2)
        await _commit(bus, "mb", 11)
        # Seqs go on per organization; (org, seq) is unique, the same seq in two organizations is not a clash.
        assert await _log("ma") == [1, 3, 5, 8, 9] and await _log("mb") == [2, 4, 6, 8]
        assert await _replayed(bus, "ma", 3) == [5, 8, 9]
        assert await _replayed(bus, "ma", 5) == [8, 9]
        assert await _replayed(bus, "ma", 7) == [8, 9]
        assert await _replayed(bus, "mb", 4) == [6, 8]
        for org, after in (("ma", 1), ("ma", 7), ("mb", 2)):
            await bus.check_cursor(org, after)
        # The upgrade kept the message table's indexes (SQLite rebuilds the table to alter a column).
        assert {
            "uid_message_thread__e1fe7e",
            "idx_message_thread__9a999b",
            "idx_message_org_id_0c8752",
        } <= await _index_names("message")
        assert "idx_event_created_bab911" in await _index_names("event")


async def _index_names(table: str) -> set[str]:
    connection = connections.get("default")
    if connection.capabilities.dialect == "postgres":
        sql = "SELECT indexname AS name FROM pg_indexes WHERE tablename = $1"
        rows = await connection.execute_query_dict(sql, [table])
    else:
        rows = await connection.execute_query_dict("SELECT name FROM sqlite_master WHERE tbl_name = ?", [table])
    return {str(row["name"]) for row in rows}
