"""A page of a tortoise query: one COUNT and one SELECT, whatever the page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from switchboard.rules.pagination import PageRequest

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
