"""A page of a tortoise query: one COUNT and one SELECT, whatever the page (offsets),
or one SELECT and a COUNT only when asked for (keysets)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from tortoise.expressions import RawSQL
from tortoise.models import Model
from tortoise.queryset import QuerySet

from switchboard.rules.pagination import KeysetRequest, PageRequest

T = TypeVar("T")
M = TypeVar("M", bound=Model)


@dataclass
class Page(Generic[T]):
    items: list[T]
    offsets: list[int]
    total: int
    has_next: bool
    has_previous: bool


def page_of(items: list[T], request: PageRequest) -> Page[T]:
    """A page of a list already in memory (a thread's few invites)."""
    start, stop = request.window(len(items))
    return Page(items[start:stop], list(range(start, stop)), len(items), stop < len(items), start > 0)


async def paginate(qs: QuerySet[M], request: PageRequest) -> Page[M]:
    total = await qs.count()
    start, stop = request.window(total)
    items = list(await qs.offset(start).limit(stop - start)) if stop > start else []
    return Page(
        items=items,
        offsets=list(range(start, start + len(items))),
        total=total,
        has_next=stop < total,
        has_previous=start > 0,
    )


Count = Callable[[], Awaitable[int]]


@dataclass
class KeysetPage(Generic[M]):
    """A keyset page: the rows in list order, their keys, and how to count the whole list."""

    items: list[M]
    keys: list[int]
    has_next: bool
    has_previous: bool
    # Counts the whole list (no window): called only if someone asks for totalCount.
    total: Count


async def _none() -> int:
    return 0


def empty_page() -> KeysetPage[M]:
    """A page of a list the caller sees nothing of (no query)."""
    return KeysetPage([], [], False, False, _none)


def _window(qs: QuerySet[M], request: KeysetRequest, key: str) -> QuerySet[M]:
    if request.after is not None:
        qs = qs.filter(**{f"{key}__gt": request.after})
    if request.before is not None:
        qs = qs.filter(**{f"{key}__lt": request.before})
    return qs


def _assemble(fetched: list[M], request: KeysetRequest, key: str, total: Count) -> KeysetPage[M]:
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
    return KeysetPage(rows, [getattr(r, key) for r in rows], has_next, has_previous, total)


async def keyset_paginate(qs: QuerySet[M], request: KeysetRequest, key: str = "id") -> KeysetPage[M]:
    """One SELECT of at most ``size + 1`` rows of ``qs`` ordered by the unique integer column ``key``.

    first/after read forward (ascending), last/before from the end; with both
    first and last, last is taken from the forward page. A cursor given means
    rows exist on its side (rows of these lists are never deleted), so
    hasPreviousPage (after) and hasNextPage (before) say so without a query.
    """
    size = request.size
    ordered = _window(qs, request, key).order_by(f"-{key}" if request.backward else key)
    rows = list(await ordered.limit(size + 1)) if size > 0 else []
    return _assemble(rows, request, key, qs.count)


async def keyset_pages(
    qs: QuerySet[M],
    request: KeysetRequest,
    partition: str,
    parts: Iterable[int],
    count: Callable[[int], Count],
    key: str = "id",
) -> dict[int, KeysetPage[M]]:
    """The same page of many lists at once (``qs`` split by the column ``partition``), in one SELECT.

    A window function numbers each list's rows in window order and keeps the
    first ``size + 1`` of each (SQLite and PostgreSQL alike). ``count(part)``
    counts one whole list, for totalCount.
    """
    wanted = sorted(set(parts))
    fetched: dict[int, list[M]] = {part: [] for part in wanted}
    size = request.size
    if wanted and size > 0:
        direction = "DESC" if request.backward else "ASC"
        ranked = _window(qs.filter(**{f"{partition}__in": wanted}), request, key).annotate(
            window_rank=RawSQL(f'ROW_NUMBER() OVER (PARTITION BY "{partition}" ORDER BY "{key}" {direction})')
        )
        # Inlined by the ORM's own quoting (its values are ids and enum names).
        inner = ranked.sql(params_inline=True)
        sql = f'SELECT * FROM ({inner}) AS ranked WHERE ranked.window_rank <= {size + 1} ORDER BY ranked."{key}"'
        found: list[M] = list(await qs.model.raw(sql))  # type: ignore[arg-type]
        for row in found:
            fetched[getattr(row, partition)].append(row)
    out: dict[int, KeysetPage[M]] = {}
    for part, rows in fetched.items():
        if request.backward:
            rows.reverse()
        out[part] = _assemble(rows, request, key, count(part))
    return out
