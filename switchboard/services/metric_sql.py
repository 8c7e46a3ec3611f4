"""The SQL of analytics: the period's rows summed up by group in the database.

A whole year of an organization's history is hundreds of thousands of entries and
invites; reading them into Python took seconds. The database returns a few
groups instead (``rules.metrics.EntryGroup``/``InviteGroup``: counts and summed
seconds) and the nearest-rank percentiles. The rows are chosen by the tenant's
own query (``Tenant.q``, its SQL and parameters as the ORM makes them); only the arithmetic on times is spelled per
database: PostgreSQL's intervals, SQLite's ``julianday`` (whose times have
millisecond precision, so its seconds are rounded to milliseconds).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise import connections
from tortoise.queryset import QuerySet

from switchboard.rules.enums import InviteStatus, QueueEntryStatus, TransferTrigger
from switchboard.rules.metrics import Bucket, EntryGroup, InviteGroup
from switchboard.services.statements import parameterized_sql

_WIDTH = {Bucket.HOUR: 3600, Bucket.DAY: 86400}
ASSIGNED = "status = 'ASSIGNED' AND assigned_at IS NOT NULL"
ANSWERED = "status IN ('ACCEPTED', 'REJECTED') AND responded_at IS NOT NULL"


def _postgres() -> bool:
    return bool(connections.get("default").capabilities.dialect == "postgres")


def _seconds_sum(later: str, earlier: str, where: str) -> str:
    """SUM of ``later - earlier`` in seconds over the rows matching ``where`` (NULL when none does)."""
    if _postgres():
        return f"EXTRACT(EPOCH FROM SUM(CASE WHEN {where} THEN {later} - {earlier} END))"
    return f"SUM(CASE WHEN {where} THEN ROUND((julianday({later}) - julianday({earlier})) * 86400.0, 3) END)"


def _bucket(column: str, bucket: Bucket) -> str:
    """The bucket of ``column``: its start on PostgreSQL (``date_bin`` from a UTC midnight: integer
    arithmetic, cheaper than date_trunc's time zone or numeric epochs), whole bucket widths since the
    epoch on SQLite (UTC hours and days align with it)."""
    if _postgres():
        return f"date_bin('{_WIDTH[bucket]} seconds', {column}, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
    return f"(CAST(strftime('%s', {column}) AS INTEGER) / {_WIDTH[bucket]})"


def _bucket_start(value: datetime | int | None, bucket: Bucket | None) -> datetime | None:
    if value is None or bucket is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromtimestamp(int(value) * _WIDTH[bucket], UTC)


async def _fetch(qs: QuerySet[Any], sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """``sql`` on the connection ``qs`` reads through (a transaction's, when there is one)."""
    return list(await qs._db.execute_query_dict(sql, params))


def _grouped(keys: str, column: str, bucket: Bucket | None) -> tuple[str, str]:
    """SELECT list and GROUP BY of ``keys`` and, with ``bucket``, the bucket of ``column`` (as ``bucket``)."""
    if bucket is None:
        return keys, keys
    expression = _bucket(column, bucket)
    return f"{keys}, {expression} AS bucket", f"{keys}, {expression}"


async def entry_groups(qs: QuerySet[Any], bucket: Bucket | None = None, *, detailed: bool = True) -> list[EntryGroup]:
    """The entries of ``qs`` grouped by status and, ``detailed``, queue and trigger; and by ``bucket``."""
    rows, params = parameterized_sql(qs)
    selected, grouped = _grouped('queue_id, "trigger", status' if detailed else "status", "enqueued_at", bucket)
    sql = (
        f"SELECT {selected}, COUNT(*) AS n, SUM(CASE WHEN {ASSIGNED} THEN 1 ELSE 0 END) AS waits,"
        f" {_seconds_sum('assigned_at', 'enqueued_at', ASSIGNED)} AS wait_seconds"
        f" FROM ({rows}) AS e GROUP BY {grouped}"
    )
    return [
        EntryGroup(
            queue_id=int(row["queue_id"]) if detailed else None,
            trigger=TransferTrigger(row["trigger"]) if detailed else None,
            status=QueueEntryStatus(row["status"]),
            count=int(row["n"]),
            waits=int(row["waits"] or 0),
            wait_seconds=float(row["wait_seconds"] or 0),
            bucket=_bucket_start(row.get("bucket"), bucket),
        )
        for row in await _fetch(qs, sql, params)
    ]


async def invite_groups(qs: QuerySet[Any], bucket: Bucket | None = None) -> list[InviteGroup]:
    """The invites of ``qs`` grouped by status (and bucket)."""
    rows, params = parameterized_sql(qs)
    selected, grouped = _grouped("status", "created_at", bucket)
    sql = (
        f"SELECT {selected}, COUNT(*) AS n, SUM(CASE WHEN {ANSWERED} THEN 1 ELSE 0 END) AS responses,"
        f" {_seconds_sum('responded_at', 'created_at', ANSWERED)} AS response_seconds"
        f" FROM ({rows}) AS i GROUP BY {grouped}"
    )
    return [
        InviteGroup(
            status=InviteStatus(row["status"]),
            count=int(row["n"]),
            responses=int(row["responses"] or 0),
            response_seconds=float(row["response_seconds"] or 0),
            bucket=_bucket_start(row.get("bucket"), bucket),
        )
        for row in await _fetch(qs, sql, params)
    ]


async def p90_waits(qs: QuerySet[Any]) -> dict[int | None, float]:
    """Nearest-rank 90th percentile of the waits of the assigned entries of ``qs``: per queue, and
    under None over all of them; a queue without assigned entries is left out."""
    rows, params = parameterized_sql(qs)
    if _postgres():
        sql = (
            "SELECT queue_id, EXTRACT(EPOCH FROM percentile_disc(0.9) WITHIN GROUP"
            f" (ORDER BY assigned_at - enqueued_at)) AS p90 FROM ({rows}) AS e WHERE {ASSIGNED}"
            " GROUP BY GROUPING SETS ((queue_id), ())"
        )
        args = params
    else:
        # The ceil(0.9 * n)-th smallest wait: (9n + 9) / 10 in integer arithmetic.
        wait = "ROUND((julianday(assigned_at) - julianday(enqueued_at)) * 86400.0, 3)"
        ranked = (
            f"SELECT {{part}} AS queue_id, wait, ROW_NUMBER() OVER (PARTITION BY {{part}} ORDER BY wait) AS rank,"
            f" COUNT(*) OVER (PARTITION BY {{part}}) AS n FROM (SELECT queue_id, {wait} AS wait FROM ({rows}) AS e0"
            f" WHERE {ASSIGNED}) AS e"
        )
        sql = (
            f"SELECT queue_id, wait AS p90 FROM ({ranked.format(part='queue_id')}) AS r WHERE rank = (9 * n + 9) / 10"
            f" UNION ALL SELECT NULL, wait FROM ({ranked.format(part='NULL')}) AS r WHERE rank = (9 * n + 9) / 10"
        )
        args = params * 2  # the rows twice, their "?" placeholders too
    # The grand total of no rows is a row too, with no percentile.
    return {
        (int(row["queue_id"]) if row["queue_id"] is not None else None): float(row["p90"])
        for row in await _fetch(qs, sql, args)
        if row["p90"] is not None
    }


async def mean_and_p90(qs: QuerySet[Any], later: str, earlier: str) -> tuple[float | None, float | None]:
    """Mean and nearest-rank 90th percentile of ``later - earlier`` in seconds over the rows of ``qs``."""
    rows, params = parameterized_sql(qs)
    if _postgres():
        sql = (
            f"SELECT EXTRACT(EPOCH FROM AVG({later} - {earlier})) AS mean, EXTRACT(EPOCH FROM percentile_disc(0.9)"
            f" WITHIN GROUP (ORDER BY {later} - {earlier})) AS p90 FROM ({rows}) AS r"
        )
    else:
        seconds = f"ROUND((julianday({later}) - julianday({earlier})) * 86400.0, 3)"
        sql = (
            f"WITH x AS (SELECT {seconds} AS s FROM ({rows}) AS r) SELECT (SELECT AVG(s) FROM x) AS mean,"
            " (SELECT s FROM (SELECT s, ROW_NUMBER() OVER (ORDER BY s) AS rank, COUNT(*) OVER () AS n FROM x)"
            " AS ranked WHERE rank = (9 * n + 9) / 10) AS p90"
        )
    found = (await _fetch(qs, sql, params))[0]
    return (
        float(found["mean"]) if found["mean"] is not None else None,
        float(found["p90"]) if found["p90"] is not None else None,
    )
