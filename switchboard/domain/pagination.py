"""Relay connections over tortoise querysets, with offset cursors and an exact total."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Generic, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from switchboard.errors import BadInput

T = TypeVar("T")
M = TypeVar("M", bound=Model)
MAX_PAGE = 100
DEFAULT_PAGE = 20


@dataclass
class Page(Generic[T]):
    items: list[T]
    offsets: list[int]
    total: int
    has_next: bool
    has_previous: bool


def cursor_for(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def offset_of(cursor: str) -> int:
    try:
        kind, value = base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)
        offset = int(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"malformed cursor {cursor!r}") from exc
    if kind != "o" or offset < 0:
        raise BadInput(f"malformed cursor {cursor!r}")
    return offset


def window(total: int, first: int | None, after: str | None, last: int | None, before: str | None) -> tuple[int, int]:
    """The [start, stop) slice that first/after/last/before select among ``total`` rows."""
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= MAX_PAGE:
            raise BadInput(f"{name} must be between 0 and {MAX_PAGE}, got {value}")
    start = offset_of(after) + 1 if after else 0
    stop = min(offset_of(before), total) if before else total
    start = min(start, stop)
    if first is None and last is None:
        first = DEFAULT_PAGE
    if first is not None:
        stop = min(stop, start + first)
    if last is not None:
        start = max(start, stop - last)
    return start, stop


async def paginate(
    qs: QuerySet[M],
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Page[M]:
    """One COUNT and one SELECT, whatever the page."""
    total = await qs.count()
    start, stop = window(total, first, after, last, before)
    items = list(await qs.offset(start).limit(stop - start)) if stop > start else []
    return Page(
        items=items,
        offsets=list(range(start, start + len(items))),
        total=total,
        has_next=stop < total,
        has_previous=start > 0,
    )
