"""The metrics query: pure computations, and exact figures over seeded history on both backends.

The history is written straight into the stack's database from the test
process (the figures come from stored rows, not from the mutations that
normally write them), then read over the wire.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import pytest_asyncio
from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE

from switchboard.db import tortoise_config
from switchboard.models import Agent, Invite, Organization, Queue, QueueEntry, Thread, Visitor
from switchboard.rules import ids
from switchboard.rules import metrics as m
from switchboard.rules.enums import (
    AgentRole,
    InviteStatus,
    InviteType,
    Permission,
    QueueEntryStatus,
    RoutingStrategy,
    TransferTrigger,
)
from switchboard.settings import load
from tests import servers
from tests.conftest import Org

# ---------------------------------------------------------------- pure computations


def t(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, second, tzinfo=UTC)


def entry(status: QueueEntryStatus, enqueued: datetime, wait: float | None = None, queue: int = 1) -> m.EntryRow:
    assigned = enqueued + timedelta(seconds=wait) if wait is not None else None
    return m.EntryRow(queue, status, TransferTrigger.VISITOR_REQUEST, enqueued, assigned)


def test_percentile_is_nearest_rank() -> None:
    assert m.percentile([], 0.9) is None
    assert m.percentile([7.0], 0.9) == 7.0
    assert m.percentile([30.0, 600.0, 90.0], 0.9) == 600.0
    assert m.percentile(range(1, 11), 0.9) == 9  # ceil(0.9 * 10) = 9th
    assert m.percentile(range(1, 21), 0.9) == 18
    assert m.percentile(range(1, 12), 0.9) == 10  # ceil(9.9) = 10th
    assert m.percentile([5.0, 1.0], 0.5) == 1.0


def test_mean_and_ratio() -> None:
    assert m.mean([]) is None
    assert m.mean([1.0, 2.0, 6.0]) == 3.0
    assert m.ratio(1, 0) is None
    assert m.ratio(1, 4) == 0.25


def test_buckets_are_aligned_to_utc_and_cover_the_period() -> None:
    starts = m.bucket_starts(t(1, 10, 30), t(1, 13, 0), m.Bucket.HOUR)
    assert starts == [t(1, 10), t(1, 11), t(1, 12)]
    starts = m.bucket_starts(t(1, 10, 30), t(1, 13, 0, 1), m.Bucket.HOUR)
    assert starts[-1] == t(1, 13)
    assert m.bucket_starts(t(1, 23), t(3, 0, 0, 1), m.Bucket.DAY) == [t(1), t(2), t(3)]
    # A non-UTC offset is converted before rounding down.
    plus2 = datetime(2024, 3, 2, 1, 30, tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))
    assert m.floor_to_bucket(plus2, m.Bucket.DAY) == t(2)
    assert len(m.bucket_starts(t(1), t(1) + timedelta(days=31), m.Bucket.HOUR)) == m.MAX_BUCKETS
    with pytest.raises(m.PeriodError, match="745 buckets"):
        m.bucket_starts(t(1), t(1) + timedelta(days=31, hours=1), m.Bucket.HOUR)


def test_period_checks() -> None:
    naive = datetime(2024, 3, 1)
    assert m.check_period(naive, t(2)) == (t(1), t(2))
    with pytest.raises(m.PeriodError, match="before"):
        m.check_period(t(2), t(2))
    with pytest.raises(m.PeriodError, match="367 days"):
        m.check_period(t(1), t(1) + timedelta(days=367))


def test_entry_and_invite_figures() -> None:
    rows = [
        entry(QueueEntryStatus.ASSIGNED, t(1, 1), 30),
        entry(QueueEntryStatus.ASSIGNED, t(1, 1), 90),
        entry(QueueEntryStatus.CANCELLED, t(1, 2)),
        entry(QueueEntryStatus.OVERFLOWED, t(1, 2)),
        entry(QueueEntryStatus.WAITING, t(1, 3)),
    ]
    figures = m.entry_figures(rows)
    assert figures == m.EntryFigures(5, 2, 1, 1, 60.0, 90.0)
    assert m.entry_figures([]) == m.EntryFigures()
    invites = [
        m.InviteRow(InviteStatus.ACCEPTED, t(1), t(1, 0, 0, 20)),
        m.InviteRow(InviteStatus.REJECTED, t(1), t(1, 0, 1)),
        m.InviteRow(InviteStatus.EXPIRED, t(1), None),
        m.InviteRow(InviteStatus.PENDING, t(1), None),
    ]
    f = m.invite_figures(invites)
    assert (f.sent, f.accepted, f.answered, f.expired) == (4, 1, 2, 1)
    assert f.acceptance_rate == 0.5
    assert f.average_response_seconds == 40.0
    assert m.invite_figures([]).acceptance_rate is None


def test_series_groups_rows_by_bucket_within_the_period() -> None:
    rows = [
        entry(QueueEntryStatus.ASSIGNED, t(1, 1, 5), 10),
        entry(QueueEntryStatus.ASSIGNED, t(1, 1, 55), 30),
        entry(QueueEntryStatus.CANCELLED, t(1, 3)),
        entry(QueueEntryStatus.ASSIGNED, t(1, 0, 10), 5),  # before the period: ignored
    ]
    invites = [m.InviteRow(InviteStatus.ACCEPTED, t(1, 3, 30), t(1, 3, 31))]
    points = m.series(rows, invites, t(1, 0, 30), t(1, 4), m.Bucket.HOUR)
    assert [p.bucket_start for p in points] == [t(1, 0), t(1, 1), t(1, 2), t(1, 3)]
    assert points[0] == m.Point(t(1, 0), 0, 0, None, 0, 0)
    assert points[1] == m.Point(t(1, 1), 2, 2, 20.0, 0, 0)
    assert points[3] == m.Point(t(1, 3), 1, 0, None, 1, 1)


def test_trigger_counts_most_frequent_first() -> None:
    rows = [
        m.EntryRow(1, QueueEntryStatus.WAITING, TransferTrigger.KEYWORD, t(1), None),
        m.EntryRow(1, QueueEntryStatus.WAITING, TransferTrigger.LOW_CONFIDENCE, t(1), None),
        m.EntryRow(1, QueueEntryStatus.WAITING, TransferTrigger.LOW_CONFIDENCE, t(1), None),
        m.EntryRow(1, QueueEntryStatus.WAITING, TransferTrigger.VISITOR_REQUEST, t(1), None),
    ]
    assert m.trigger_counts(rows) == [
        (TransferTrigger.LOW_CONFIDENCE, 2),
        (TransferTrigger.VISITOR_REQUEST, 1),
        (TransferTrigger.KEYWORD, 1),
    ]


# ---------------------------------------------------------------- over the wire

FROM, TO = "2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z"
FAR = datetime(2100, 1, 1, tzinfo=UTC)

METRICS = """
query($from: DateTime!, $to: DateTime!, $queue: ID) {
  metrics(from: $from, to: $to, queueId: $queue) {
    from to threadsStarted transferRate transfersRequested transferSuccessRate
    averageWaitSeconds p90WaitSeconds abandoned overflowed
    invitesSent inviteAcceptanceRate averageInviteResponseSeconds invitesExpired
    transfersByTrigger { trigger count }
    byQueue { queue { name } transfersRequested assigned cancelled overflowed averageWaitSeconds p90WaitSeconds }
  }
}"""


@pytest_asyncio.fixture
async def db(stack: servers.Stack) -> AsyncIterator[None]:
    """The stack's database, opened from the test process to write history."""
    settings = load(stack.env)
    # Tortoise caches INSERT statements per connection name across inits; the two
    # backends share the name "default" but not the SQL dialect.
    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)
    if settings.embedded:
        await connections.get("default").execute_script("PRAGMA busy_timeout=5000;")
    try:
        yield
    finally:
        await Tortoise.close_connections()
        EXECUTOR_CACHE.clear()


async def seed(org_id: str) -> dict[str, Queue]:
    """A day of history (2024-03-01) with rows just outside it on both sides."""
    org, _ = await Organization.get_or_create(id=org_id)
    queues = {
        name: await Queue.create(org=org, name=name, routing_strategy=RoutingStrategy.MANUAL)
        for name in ("sales", "billing", "empty")
    }
    inviter = await Agent.create(org=org, name="Inviter")
    invitee = await Agent.create(org=org, name="Invitee")
    visitor = await Visitor.create(org=org, external_id="v-1")

    async def thread(created: datetime) -> Thread:
        return await Thread.create(org=org, visitor=visitor, created_at=created)

    t0 = await thread(datetime(2024, 2, 29, 23, 0, tzinfo=UTC))  # before the period
    t1, t2, t3, t4 = [await thread(t(1, h, mi)) for h, mi in ((1, 10), (1, 20), (2, 5), (5, 0))]
    await thread(t(1, 23, 59, 59))  # started, never queued
    t6 = await thread(t(2))  # at `to`: outside

    async def queued(
        th: Thread, queue: str, status: QueueEntryStatus, trigger: TransferTrigger, at: datetime, wait: float | None
    ) -> None:
        await QueueEntry.create(
            org=org,
            thread=th,
            queue=queues[queue],
            status=status,
            trigger=trigger,
            visitor_id=visitor.pk,
            enqueued_at=at,
            overflow_at=FAR,
            assigned_at=at + timedelta(seconds=wait) if wait is not None else None,
        )

    s = QueueEntryStatus
    await queued(t1, "billing", s.ASSIGNED, TransferTrigger.VISITOR_REQUEST, t(1, 1, 10), 30)
    await queued(t2, "billing", s.ASSIGNED, TransferTrigger.LOW_CONFIDENCE, t(1, 1, 20), 90)
    await queued(t3, "billing", s.CANCELLED, TransferTrigger.VISITOR_REQUEST, t(1, 2, 5), None)
    await queued(t4, "sales", s.ASSIGNED, TransferTrigger.KEYWORD, t(1, 5, 0), 600)
    await queued(t0, "sales", s.OVERFLOWED, TransferTrigger.VISITOR_REQUEST, t(1, 0, 30), None)
    await queued(t1, "sales", s.WAITING, TransferTrigger.LOW_CONFIDENCE, t(1, 23, 0), None)
    before = datetime(2024, 2, 29, 23, 50, tzinfo=UTC)
    await queued(t0, "billing", s.ASSIGNED, TransferTrigger.VISITOR_REQUEST, before, 1)
    await queued(t6, "billing", s.ASSIGNED, TransferTrigger.VISITOR_REQUEST, t(2), 1)

    await _seed_invites(org, t1, inviter, invitee)
    return queues


async def _seed_invites(org: Organization, thread: Thread, inviter: Agent, invitee: Agent) -> None:
    """The day's invites (and one before it) on ``thread``."""

    async def invited(status: InviteStatus, at: datetime, answer: float | None) -> None:
        await Invite.create(
            org=org,
            thread=thread,
            inviter=inviter,
            invitee=invitee,
            type=InviteType.EXPERT,
            permission=Permission.WRITE,
            status=status,
            created_at=at,
            expires_at=FAR,
            responded_at=at + timedelta(seconds=answer) if answer is not None else None,
        )

    i = InviteStatus
    await invited(i.ACCEPTED, t(1, 1, 15), 20)
    await invited(i.REJECTED, t(1, 1, 25), 60)
    await invited(i.EXPIRED, t(1, 3, 0), None)
    await invited(i.ACCEPTED, t(1, 5, 30), 40)
    await invited(i.WITHDRAWN, t(1, 6, 0), None)
    await invited(i.ACCEPTED, datetime(2024, 2, 29, 22, 0, tzinfo=UTC), 5)  # before the period


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def queue_row(
    name: str, requested: int, assigned: int, cancelled: int, overflowed: int, avg: float | None, p90: float | None
) -> dict[str, Any]:
    return {
        "queue": {"name": name},
        "transfersRequested": requested,
        "assigned": assigned,
        "cancelled": cancelled,
        "overflowed": overflowed,
        "averageWaitSeconds": avg,
        "p90WaitSeconds": p90,
    }


async def test_figures_over_seeded_history(org: Org, other_org: Org, db: None) -> None:
    await seed(org.id)
    got = (await org.data(METRICS, {"from": FROM, "to": TO}, token=org.token("analyst")))["metrics"]
    assert when(got.pop("from")) == t(1) and when(got.pop("to")) == t(2)
    assert got.pop("inviteAcceptanceRate") == pytest.approx(2 / 3)
    assert got == {
        "threadsStarted": 5,
        "transferRate": 0.8,
        "transfersRequested": 6,
        "transferSuccessRate": 0.5,
        "averageWaitSeconds": 240.0,
        "p90WaitSeconds": 600.0,
        "abandoned": 1,
        "overflowed": 1,
        "invitesSent": 5,
        "averageInviteResponseSeconds": 40.0,
        "invitesExpired": 1,
        "transfersByTrigger": [
            {"trigger": "VISITOR_REQUEST", "count": 3},
            {"trigger": "LOW_CONFIDENCE", "count": 2},
            {"trigger": "KEYWORD", "count": 1},
        ],
        "byQueue": [
            queue_row("billing", 3, 2, 1, 0, 60.0, 90.0),
            queue_row("empty", 0, 0, 0, 0, None, None),
            queue_row("sales", 3, 1, 0, 1, 600.0, 600.0),
        ],
    }
    # Another organization sees none of it.
    theirs = (await other_org.data(METRICS, {"from": FROM, "to": TO}, token=other_org.token("analyst")))["metrics"]
    assert (theirs["threadsStarted"], theirs["transfersRequested"], theirs["invitesSent"], theirs["byQueue"]) == (
        0,
        0,
        0,
        [],
    )
    assert theirs["transferRate"] is None and theirs["averageWaitSeconds"] is None


async def test_one_queue_and_series(org: Org, other_org: Org, db: None) -> None:
    queues = await seed(org.id)
    billing = ids.encode("Queue", queues["billing"].pk)
    got = (await org.data(METRICS, {"from": FROM, "to": TO, "queue": billing}, token=org.token("analyst")))["metrics"]
    assert (got["threadsStarted"], got["transferRate"], got["transfersRequested"], got["invitesSent"]) == (5, 0.6, 3, 5)
    assert got["byQueue"] == [queue_row("billing", 3, 2, 1, 0, 60.0, 90.0)]

    series = """query($from: DateTime!, $to: DateTime!, $b: MetricsBucket!) { metrics(from: $from, to: $to) {
        series(bucket: $b) {
          bucketStart transfersRequested assigned averageWaitSeconds invitesSent invitesAccepted } } }"""
    hours = (await org.data(series, {"from": FROM, "to": TO, "b": "HOUR"}, token=org.token("analyst")))["metrics"]
    points = hours["series"]
    assert [when(p["bucketStart"]) for p in points] == [t(1, h) for h in range(24)]
    figures = {when(p.pop("bucketStart")).hour: tuple(p.values()) for p in points}
    assert figures[0] == (1, 0, None, 0, 0)
    assert figures[1] == (2, 2, 60.0, 2, 1)
    assert figures[2] == (1, 0, None, 0, 0)
    assert figures[3] == (0, 0, None, 1, 0)
    assert figures[5] == (1, 1, 600.0, 1, 1)
    assert figures[6] == (0, 0, None, 1, 0)
    assert figures[23] == (1, 0, None, 0, 0)
    assert all(figures[h] == (0, 0, None, 0, 0) for h in (4, *range(7, 23)))

    days = await org.data(series, {"from": FROM, "to": TO, "b": "DAY"}, token=org.token("admin"))
    assert days["metrics"]["series"] == [
        {
            "bucketStart": days["metrics"]["series"][0]["bucketStart"],
            "transfersRequested": 6,
            "assigned": 3,
            "averageWaitSeconds": 240.0,
            "invitesSent": 5,
            "invitesAccepted": 2,
        }
    ]
    assert when(days["metrics"]["series"][0]["bucketStart"]) == t(1)

    # A queue of another organization behaves like a missing one.
    body = await other_org.gql(METRICS, {"from": FROM, "to": TO, "queue": billing}, token=other_org.token("analyst"))
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_bad_periods_are_refused(org: Org) -> None:
    analyst = org.token("analyst")
    cases = [
        ({"from": TO, "to": FROM}, "before"),
        ({"from": FROM, "to": FROM}, "before"),
        ({"from": "2024-01-01T00:00:00Z", "to": "2025-02-01T00:00:00Z"}, "at most 366 days"),
        ({"from": FROM, "to": TO, "queue": "not-an-id"}, "malformed"),
    ]
    for variables, message in cases:
        body = await org.gql(METRICS, variables, token=analyst)
        assert body["data"] is None, body
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
        assert message in body["errors"][0]["message"], body
    body = await org.gql(
        """{ metrics(from: "2024-01-01T00:00:00Z", to: "2024-03-01T00:00:00Z") {
               series(bucket: HOUR) { assigned } } }""",
        token=analyst,
    )
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "1440 buckets" in body["errors"][0]["message"]


async def test_who_may_read_metrics(org: Org) -> None:
    query = """{ metrics(from: "2024-03-01T00:00:00Z", to: "2024-03-02T00:00:00Z") { threadsStarted } }"""
    for role in ("analyst", "admin", "service"):
        assert (await org.data(query, token=org.token(role)))["metrics"] == {"threadsStarted": 0}
    supervisor = await org.create_agent("Sue", status=None, role=AgentRole.SUPERVISOR.value)
    assert (await org.data(query, token=supervisor.token))["metrics"] == {"threadsStarted": 0}
    agent = await org.create_agent("Al", status=None)
    _, visitor_token = await org.start_thread()
    for token in (agent.token, visitor_token):
        body = await org.gql(query, token=token)
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await org.gql(query, token="")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
