"""0006: threads assigned before 0004 added ``thread.assigned_at`` get it from their queue assignment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate as tortoise_migrate

from switchboard import db
from switchboard.models import Organization, Queue, QueueEntry, Thread, Visitor
from switchboard.rules.enums import QueueEntryStatus, ThreadStatus
from switchboard.settings import Settings

SECRET = "test-secret-" + "x" * 24


async def _thread(org: Organization, queue: Queue, n: int, assigned: list[datetime | None]) -> Thread:
    """A thread as 0005 left it (no assigned_at), with one queue entry per item of ``assigned``."""
    visitor = await Visitor.create(org=org, external_id=f"v{n}")
    thread = await Thread.create(org=org, visitor=visitor, status=ThreadStatus.ACTIVE)
    for at in assigned:
        status = QueueEntryStatus.ASSIGNED if at is not None else QueueEntryStatus.CANCELLED
        now = datetime.now(UTC)
        await QueueEntry.create(
            org=org, thread=thread, queue=queue, visitor_id=visitor.id, status=status,
            enqueued_at=now, overflow_at=now, assigned_at=at,
        )  # fmt: skip
    return thread


async def test_assigned_at_is_taken_from_the_latest_queue_assignment(fresh_database: str) -> None:
    settings = Settings(database_url=fresh_database, jwt_secret=SECRET)
    EXECUTOR_CACHE.clear()
    async with TortoiseContext():
        await tortoise_migrate(config=db.tortoise_config(settings), target="models.0005_org_event_log")
    earlier = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    later = earlier + timedelta(hours=2)
    await db.init(settings)
    try:
        org = await Organization.create(id="backfill")
        queue = await Queue.create(org=org, name="Support")
        twice = await _thread(org, queue, 1, [earlier, later])
        never = await _thread(org, queue, 2, [None])
        kept = await _thread(org, queue, 3, [earlier])
        await Thread.filter(id=kept.id).update(assigned_at=later)
    finally:
        await db.close()
    EXECUTOR_CACHE.clear()
    assert await db.migrate(settings) == ["0006_backfill_thread_assigned_at"]
    await db.init(settings)
    try:
        got = {t.id: t.assigned_at for t in await Thread.all()}
    finally:
        await db.close()
        EXECUTOR_CACHE.clear()
    assert got == {twice.id: later, never.id: None, kept.id: later}
