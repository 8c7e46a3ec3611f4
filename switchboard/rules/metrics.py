"""Analytics: figures over a period, computed from the stored history.

Every figure can be reproduced with SQL over the tables ``thread``,
``queue_entry`` and ``invite``. Below, ``:org`` is the caller's organization,
``:from``/``:to`` the period (``[from, to)``, UTC) and ``:queue`` the optional
``queueId``. An entry belongs to the period by ``enqueued_at``, an invite by
``created_at``, a thread by ``created_at`` (cohorts: an entry enqueued in the
period counts as assigned even if it was assigned after ``to``)::

    -- E: the period's queue entries
    SELECT * FROM queue_entry WHERE org_id = :org
      AND enqueued_at >= :from AND enqueued_at < :to [AND queue_id = :queue]
    -- I: the period's invites
    SELECT * FROM invite WHERE org_id = :org AND created_at >= :from AND created_at < :to

    threadsStarted      = SELECT count(*) FROM thread WHERE org_id = :org
                            AND created_at >= :from AND created_at < :to
    transferRate        = (SELECT count(*) FROM thread t WHERE <same period> AND EXISTS
                            (SELECT 1 FROM queue_entry e WHERE e.thread_id = t.id [AND e.queue_id = :queue]))
                          / threadsStarted                       -- NULL when threadsStarted = 0
    transfersRequested  = SELECT count(*) FROM E
    transferSuccessRate = (SELECT count(*) FROM E WHERE status = 'ASSIGNED') / transfersRequested
    averageWaitSeconds  = SELECT avg(EXTRACT(EPOCH FROM assigned_at - enqueued_at)) FROM E
                            WHERE status = 'ASSIGNED'
    p90WaitSeconds      = SELECT percentile_disc(0.9) WITHIN GROUP (ORDER BY assigned_at - enqueued_at)
                            FROM E WHERE status = 'ASSIGNED'
                          -- nearest rank: the ceil(0.9 * n)-th smallest wait
    abandoned           = SELECT count(*) FROM E WHERE status = 'CANCELLED'
    overflowed          = SELECT count(*) FROM E WHERE status = 'OVERFLOWED'
    transfersByTrigger  = SELECT trigger, count(*) FROM E GROUP BY trigger
                          -- triggers with no entry are left out; most frequent first, ties in enum order
    invitesSent         = SELECT count(*) FROM I                 -- every type and status
    inviteAcceptanceRate = (SELECT count(*) FROM I WHERE status = 'ACCEPTED')
                          / (SELECT count(*) FROM I WHERE status IN ('ACCEPTED', 'REJECTED'))
                          -- answered invites only; NULL when none was answered
    averageInviteResponseSeconds = SELECT avg(EXTRACT(EPOCH FROM responded_at - created_at)) FROM I
                            WHERE status IN ('ACCEPTED', 'REJECTED') AND responded_at IS NOT NULL
    invitesExpired      = SELECT count(*) FROM I WHERE status = 'EXPIRED'
    agentMessages       = SELECT count(*) FROM message WHERE org_id = :org AND created_at >= :from
                            AND created_at < :to AND sender_kind = 'AGENT' AND visibility = 'PUBLIC'
    visitorMessages     = SELECT count(*) FROM message WHERE <same period> AND sender_kind = 'VISITOR'
    -- R: threads assigned in the period (their latest assignment by a queue) that got a response
    SELECT first_response_at - assigned_at AS r FROM thread WHERE org_id = :org
      AND assigned_at >= :from AND assigned_at < :to AND first_response_at IS NOT NULL
    averageFirstResponseSeconds = SELECT avg(EXTRACT(EPOCH FROM r)) FROM R
    p90FirstResponseSeconds     = SELECT percentile_disc(0.9) WITHIN GROUP (ORDER BY r) FROM R
    -- first_response_at: the created_at of the thread's first PUBLIC AGENT message at or after
    -- assigned_at (SELECT min(created_at) FROM message WHERE thread_id = t.id AND sender_kind = 'AGENT'
    -- AND visibility = 'PUBLIC' AND created_at >= t.assigned_at), written with that message.

Averages and rates are NULL when there is nothing to average. ``byQueue`` has
one row per queue of the organization (only ``:queue`` when given), by name,
with the entry figures above restricted to that queue (zeros for a queue
without entries). With ``queueId`` the entry figures and ``transferRate`` are
restricted to that queue; thread, invite and message figures (first responses
included) stay organization-wide, since none of them belongs to a queue.

``series(bucket)`` cuts the period into UTC hours or days: the first bucket
starts at ``from`` rounded down, the last one is the last to start before
``to``; every bucket is listed, empty ones with zeros. A bucket counts the
entries (by ``enqueued_at``) and invites (by ``created_at``) that fall both in
the bucket and in ``[from, to)``; ``assigned``/``averageWaitSeconds`` and
``invitesAccepted`` are of those.

Limits: ``from`` must be before ``to``, the period at most ``MAX_SPAN`` long and
an hourly series at most ``MAX_BUCKETS`` buckets.

The database sums the period's rows up by group (``EntryGroup``, ``InviteGroup``:
counts and summed seconds, per queue, trigger, status and bucket) and picks the
percentiles; the figures are put together here from those few groups. The row
forms (``EntryRow``, ``InviteRow``) state the same definitions one row at a time.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from switchboard.rules.enums import InviteStatus, QueueEntryStatus, TransferTrigger

MAX_SPAN = timedelta(days=366)
MAX_BUCKETS = 24 * 31
P90 = 0.9


class Bucket(str, Enum):
    HOUR = "HOUR"
    DAY = "DAY"


_BUCKET_WIDTH = {Bucket.HOUR: timedelta(hours=1), Bucket.DAY: timedelta(days=1)}


class PeriodError(ValueError):
    """The period or the series asked for is not allowed (the message says why)."""


# ---------------------------------------------------------------- rows


@dataclass(frozen=True)
class EntryRow:
    queue_id: int
    status: QueueEntryStatus
    trigger: TransferTrigger
    enqueued_at: datetime
    assigned_at: datetime | None

    @property
    def wait_seconds(self) -> float | None:
        """The wait of an assigned entry; None for the others."""
        if self.status is not QueueEntryStatus.ASSIGNED or self.assigned_at is None:
            return None
        return (self.assigned_at - self.enqueued_at).total_seconds()


@dataclass(frozen=True)
class InviteRow:
    status: InviteStatus
    created_at: datetime
    responded_at: datetime | None

    @property
    def answered(self) -> bool:
        return self.status in (InviteStatus.ACCEPTED, InviteStatus.REJECTED)

    @property
    def response_seconds(self) -> float | None:
        if not self.answered or self.responded_at is None:
            return None
        return (self.responded_at - self.created_at).total_seconds()


# ---------------------------------------------------------------- pure computations


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive time is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The period in UTC, or PeriodError when it is empty, reversed or too long."""
    start, end = utc(start), utc(end)
    if start >= end:
        raise PeriodError(f"from ({start.isoformat()}) must be before to ({end.isoformat()})")
    if end - start > MAX_SPAN:
        days = (end - start) / timedelta(days=1)
        raise PeriodError(f"the period spans {days:g} days; at most {MAX_SPAN.days} days are allowed")
    return start, end


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def percentile(values: Iterable[float], fraction: float) -> float | None:
    """Nearest rank: the ceil(fraction * n)-th smallest value (PostgreSQL's percentile_disc)."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(round(fraction * len(ordered), 9)))
    return ordered[rank - 1]


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def floor_to_bucket(moment: datetime, bucket: Bucket) -> datetime:
    moment = utc(moment)
    if bucket is Bucket.HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def bucket_starts(start: datetime, end: datetime, bucket: Bucket) -> list[datetime]:
    """Starts of the buckets covering [start, end); PeriodError beyond ``MAX_BUCKETS``."""
    width = _BUCKET_WIDTH[bucket]
    first = floor_to_bucket(start, bucket)
    count = math.ceil((utc(end) - first) / width)
    if count > MAX_BUCKETS:
        raise PeriodError(
            f"series(bucket: {bucket.value}) over this period has {count} buckets; at most {MAX_BUCKETS} are"
            f" allowed (use a shorter period or bucket: DAY)"
        )
    return [first + i * width for i in range(count)]


@dataclass(frozen=True)
class EntryFigures:
    transfers_requested: int = 0
    assigned: int = 0
    cancelled: int = 0
    overflowed: int = 0
    average_wait_seconds: float | None = None
    p90_wait_seconds: float | None = None


@dataclass(frozen=True)
class InviteFigures:
    sent: int = 0
    accepted: int = 0
    answered: int = 0
    expired: int = 0
    average_response_seconds: float | None = None

    @property
    def acceptance_rate(self) -> float | None:
        return ratio(self.accepted, self.answered)


@dataclass(frozen=True)
class Point:
    bucket_start: datetime
    transfers_requested: int
    assigned: int
    average_wait_seconds: float | None
    invites_sent: int
    invites_accepted: int


# ---------------------------------------------------------------- groups: what the database sums up


@dataclass(frozen=True)
class EntryGroup:
    """Entries alike in queue, trigger, status (and bucket, for a series): how many, and their waits."""

    queue_id: int | None  # None in a series (all queues)
    trigger: TransferTrigger | None  # None in a series (all triggers)
    status: QueueEntryStatus
    count: int
    waits: int = 0  # of them, assigned ones with a wait
    wait_seconds: float = 0.0  # those waits summed
    bucket: datetime | None = None


@dataclass(frozen=True)
class InviteGroup:
    """Invites alike in status (and bucket): how many, and their answers' response times."""

    status: InviteStatus
    count: int
    responses: int = 0
    response_seconds: float = 0.0
    bucket: datetime | None = None


def entry_totals(groups: Iterable[EntryGroup], p90_wait: float | None) -> EntryFigures:
    statuses: Counter[QueueEntryStatus] = Counter()
    waits, wait_seconds = 0, 0.0
    for group in groups:
        statuses[group.status] += group.count
        waits += group.waits
        wait_seconds += group.wait_seconds
    return EntryFigures(
        transfers_requested=sum(statuses.values()),
        assigned=statuses[QueueEntryStatus.ASSIGNED],
        cancelled=statuses[QueueEntryStatus.CANCELLED],
        overflowed=statuses[QueueEntryStatus.OVERFLOWED],
        average_wait_seconds=wait_seconds / waits if waits else None,
        p90_wait_seconds=p90_wait,
    )


def invite_totals(groups: Iterable[InviteGroup]) -> InviteFigures:
    statuses: Counter[InviteStatus] = Counter()
    responses, response_seconds = 0, 0.0
    for group in groups:
        statuses[group.status] += group.count
        responses += group.responses
        response_seconds += group.response_seconds
    return InviteFigures(
        sent=sum(statuses.values()),
        accepted=statuses[InviteStatus.ACCEPTED],
        answered=statuses[InviteStatus.ACCEPTED] + statuses[InviteStatus.REJECTED],
        expired=statuses[InviteStatus.EXPIRED],
        average_response_seconds=response_seconds / responses if responses else None,
    )


def trigger_totals(groups: Iterable[EntryGroup]) -> list[tuple[TransferTrigger, int]]:
    """Triggers that occurred, most frequent first; ties in the enum's order."""
    counts: Counter[TransferTrigger] = Counter()
    for group in groups:
        if group.trigger is not None:
            counts[group.trigger] += group.count
    order = {t: i for i, t in enumerate(TransferTrigger)}
    return sorted(((t, n) for t, n in counts.items() if n), key=lambda item: (-item[1], order[item[0]]))


def queue_totals(
    groups: Iterable[EntryGroup], queue_ids: Iterable[int], p90_waits: dict[int, float]
) -> dict[int, EntryFigures]:
    grouped: dict[int, list[EntryGroup]] = {pk: [] for pk in queue_ids}
    for group in groups:
        if group.queue_id in grouped:
            grouped[group.queue_id].append(group)
    return {pk: entry_totals(found, p90_waits.get(pk)) for pk, found in grouped.items()}


def series_of(
    entries: Iterable[EntryGroup], invites: Iterable[InviteGroup], start: datetime, end: datetime, bucket: Bucket
) -> list[Point]:
    """The groups of each bucket (their ``bucket`` the start of one) as the series' points."""
    starts = bucket_starts(start, end, bucket)
    entry_groups: dict[datetime, list[EntryGroup]] = {s: [] for s in starts}
    invite_groups: dict[datetime, list[InviteGroup]] = {s: [] for s in starts}
    for entry in entries:
        assert entry.bucket is not None
        entry_groups[utc(entry.bucket)].append(entry)
    for invite in invites:
        assert invite.bucket is not None
        invite_groups[utc(invite.bucket)].append(invite)
    points = []
    for s in starts:
        figures = entry_totals(entry_groups[s], None)
        invited = invite_totals(invite_groups[s])
        points.append(
            Point(
                s,
                figures.transfers_requested,
                figures.assigned,
                figures.average_wait_seconds,
                invited.sent,
                invited.accepted,
            )
        )
    return points


# ---------------------------------------------------------------- the same from rows (one row per group)


def entry_group(row: EntryRow, bucket: Bucket | None = None) -> EntryGroup:
    wait = row.wait_seconds
    at = floor_to_bucket(row.enqueued_at, bucket) if bucket else None
    return EntryGroup(row.queue_id, row.trigger, row.status, 1, int(wait is not None), wait or 0.0, at)


def invite_group(row: InviteRow, bucket: Bucket | None = None) -> InviteGroup:
    seconds = row.response_seconds
    at = floor_to_bucket(row.created_at, bucket) if bucket else None
    return InviteGroup(row.status, 1, int(seconds is not None), seconds or 0.0, at)


def _p90_wait(rows: Iterable[EntryRow]) -> float | None:
    return percentile((w for w in (row.wait_seconds for row in rows) if w is not None), P90)


def entry_figures(rows: Sequence[EntryRow]) -> EntryFigures:
    return entry_totals(map(entry_group, rows), _p90_wait(rows))


def invite_figures(rows: Iterable[InviteRow]) -> InviteFigures:
    return invite_totals(map(invite_group, rows))


def trigger_counts(rows: Iterable[EntryRow]) -> list[tuple[TransferTrigger, int]]:
    return trigger_totals(map(entry_group, rows))


def series(
    entries: Iterable[EntryRow], invites: Iterable[InviteRow], start: datetime, end: datetime, bucket: Bucket
) -> list[Point]:
    """The period's rows per bucket (rows outside [start, end) are ignored)."""
    start, end = utc(start), utc(end)
    return series_of(
        [entry_group(e, bucket) for e in entries if start <= utc(e.enqueued_at) < end],
        [invite_group(i, bucket) for i in invites if start <= utc(i.created_at) < end],
        start,
        end,
        bucket,
    )
