"""A page of a tortoise query: one COUNT and one SELECT, whatever the page (offsets),
or one SELECT and a COUNT only when asked for (keysets)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

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


@dataclass
class KeysetPage(Generic[M]):
    """A keyset page: the rows in list order, their keys, and the query the count comes from."""

    items: list[M]
    keys: list[int]
    has_next: bool
    has_previous: bool
    # The whole list (no window): count it only if someone asks for totalCount.
    whole: QuerySet[M]

    async def total(self) -> int:
        return await self.whole.count()


async def keyset_paginate(qs: QuerySet[M], request: KeysetRequest, key: str = "id") -> KeysetPage[M]:
    """One SELECT of at most ``size + 1`` rows of ``qs`` ordered by the unique integer column ``key``.

    first/after read forward (ascending), last/before from the end; with both
    first and last, last is taken from the forward page. A cursor given means
    rows exist on its side (rows of these lists are never deleted), so
    hasPreviousPage (after) and hasNextPage (before) say so without a query.
    """
    window = qs
    if request.after is not None:
        window = window.filter(**{f"{key}__gt": request.after})
    if request.before is not None:
        window = window.filter(**{f"{key}__lt": request.before})
    size = request.size
    ordered = window.order_by(f"-{key}" if request.backward else key)
    rows = list(await ordered.limit(size + 1)) if size > 0 else []
    more = len(rows) > size
    rows = rows[:size]
    if request.backward:
        rows.reverse()
        has_previous, has_next = more, request.before is not None
    else:
        has_previous, has_next = request.after is not None, more
        if request.last is not None and len(rows) > request.last:
            rows, has_previous = rows[len(rows) - request.last :], True
    return KeysetPage(rows, [getattr(r, key) for r in rows], has_next, has_previous, qs)
