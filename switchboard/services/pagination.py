"""Keyset pages of tortoise queries: one SELECT of at most ``size + 1`` rows after (or before) a
row's sort key, and a COUNT only when someone asks for totalCount."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tortoise.expressions import Q, RawSQL
from tortoise.models import Model
from tortoise.queryset import QuerySet

from switchboard.rules.pagination import KeysetRequest, SortKey
from switchboard.services.statements import models_of, parameterized_sql

T = TypeVar("T")
M = TypeVar("M", bound=Model)

Count = Callable[[], Awaitable[int]]


@dataclass
class KeysetPage(Generic[T]):
    """A keyset page: the rows in list order, their sort keys, and how to count the whole list."""

    items: list[T]
    keys: list[Any]
    has_next: bool
    has_previous: bool
    # Counts the whole list (no window): called only if someone asks for totalCount.
    total: Count


async def _none() -> int:
    return 0


def empty_page() -> KeysetPage[Any]:
    """A page of a list the caller sees nothing of (no query)."""
    return KeysetPage([], [], False, False, _none)


def _sort(key: str | SortKey) -> SortKey:
    """A one-column key (``"seq"``) is an ascending order whose cursors are the bare integers."""
    return key if isinstance(key, SortKey) else SortKey(key, (key,))


def _key_of(key: str | SortKey) -> Callable[[Any], Any]:
    if isinstance(key, str):
        return lambda row: getattr(row, key)
    return key.values


def _as_tuple(values: Any) -> tuple[Any, ...]:
    return values if isinstance(values, tuple) else (values,)


def _beyond(columns: Sequence[str], values: Sequence[Any], greater: bool) -> Q:
    """Rows whose (columns) come strictly after (greater) or before ``values`` in lexicographic order.

    Written ``c1 >= v1 AND (c1 > v1 OR (c1 = v1 AND ...))``: the leading bound
    lets an index on the columns start its range scan right at the cursor (a
    portable spelling of PostgreSQL's row comparison ``(c1, c2) > (v1, v2)``).
    """
    op = "gt" if greater else "lt"
    head, value = columns[0], values[0]
    strict = Q(**{f"{head}__{op}": value})
    if len(columns) == 1:
        return strict
    rest = _beyond(columns[1:], values[1:], greater)
    return Q(**{f"{head}__{op}e": value}) & (strict | (Q(**{head: value}) & rest))


def _window(qs: QuerySet[M], request: KeysetRequest, sort: SortKey) -> QuerySet[M]:
    if request.after is not None:
        qs = qs.filter(_beyond(sort.columns, _as_tuple(request.after), greater=not sort.descending))
    if request.before is not None:
        qs = qs.filter(_beyond(sort.columns, _as_tuple(request.before), greater=sort.descending))
    return qs


def _reading_order(sort: SortKey, backward: bool) -> list[str]:
    """ORDER BY of the window: the list's order, or its reverse when reading from the end."""
    sign = "-" if sort.descending != backward else ""
    return [f"{sign}{column}" for column in sort.columns]


def _assemble(fetched: list[T], request: KeysetRequest, key_of: Callable[[T], Any], total: Count) -> KeysetPage[T]:
    """A page from the rows read in window order (``size + 1`` at most: one more says the list goes on)."""
    size = request.size
    more = len(fetched) > size
    rows = fetched[:size]
    if request.backward:
        rows.reverse()
        has_previous, has_next = more, request.before is not None
    else:
        has_previous, has_next = request.after is not None, more
        if request.last is not None and len(rows) > request.last:
            rows, has_previous = rows[len(rows) - request.last :], True
    return KeysetPage(rows, [key_of(r) for r in rows], has_next, has_previous, total)


async def keyset_paginate(qs: QuerySet[M], request: KeysetRequest, key: str | SortKey = "id") -> KeysetPage[M]:
    """One SELECT of at most ``size + 1`` rows of ``qs`` in the order ``key`` (a column, ascending, or a SortKey).

    first/after read forward, last/before from the end; with both first and
    last, last is taken from the forward page. A cursor given means rows exist
    on its side, so hasPreviousPage (after) and hasNextPage (before) say so
    without a query. The COUNT for totalCount runs only if it is asked for.
    """
    sort = _sort(key)
    size = request.size
    ordered = _window(qs, request, sort).order_by(*_reading_order(sort, request.backward))
    rows = list(await ordered.limit(size + 1)) if size > 0 else []
    return _assemble(rows, request, _key_of(key), qs.count)


def keyset_list(items: list[T], request: KeysetRequest, sort: SortKey) -> KeysetPage[T]:
    """The same page of a list already in memory and in ``sort``'s order (a thread's few invites)."""
    after, before = request.after, request.before
    # In list order, "later" means a greater key for an ascending list and a smaller one otherwise.
    later = (lambda a, b: a < b) if sort.descending else (lambda a, b: a > b)
    window = [
        row
        for row in items
        if (after is None or later(sort.values(row), after)) and (before is None or later(before, sort.values(row)))
    ]
    if request.backward:
        window.reverse()
    total = len(items)

    async def count() -> int:
        return total

    return _assemble(window[: request.size + 1], request, sort.values, count)


async def keyset_pages(
    qs: QuerySet[M],
    request: KeysetRequest,
    partition: str,
    parts: Iterable[int],
    count: Callable[[int], Count],
    key: str | SortKey = "id",
) -> dict[int, KeysetPage[M]]:
    """The same page of many lists at once (``qs`` split by the column ``partition``), in one SELECT.

    A window function numbers each list's rows in window order and keeps the
    first ``size + 1`` of each (SQLite and PostgreSQL alike). ``count(part)``
    counts one whole list, for totalCount.
    """
    wanted = sorted(set(parts))
    fetched: dict[int, list[M]] = {part: [] for part in wanted}
    size = request.size
    sort = _sort(key)
    if wanted and size > 0:
        direction = "DESC" if sort.descending != request.backward else "ASC"
        order = ", ".join(f'"{column}" {direction}' for column in sort.columns)
        ranked = _window(qs.filter(**{f"{partition}__in": wanted}), request, sort).annotate(
            window_rank=RawSQL(f'ROW_NUMBER() OVER (PARTITION BY "{partition}" ORDER BY {order})')
        )
        inner, params = parameterized_sql(ranked)
        sql = f"SELECT * FROM ({inner}) AS ranked WHERE ranked.window_rank <= {size + 1} ORDER BY ranked.window_rank"
        found: list[M] = await models_of(ranked, sql, params)
        for row in found:  # each list's rows in window (reading) order
            fetched[getattr(row, partition)].append(row)
    return {part: _assemble(rows, request, _key_of(key), count(part)) for part, rows in fetched.items()}
