"""Relay pagination as plain arithmetic: offset cursors and the window a page selects."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

from switchboard.rules.problems import BadArgument

MAX_PAGE = 100
DEFAULT_PAGE = 20


@dataclass(frozen=True)
class PageRequest:
    """first/after/last/before, checked, cursors turned into offsets."""

    first: int | None = None
    after: int | None = None
    last: int | None = None
    before: int | None = None

    def window(self, total: int) -> tuple[int, int]:
        """The [start, stop) slice this request selects among ``total`` rows."""
        start = self.after + 1 if self.after is not None else 0
        stop = min(self.before, total) if self.before is not None else total
        start = min(start, stop)
        first, last = self.first, self.last
        if first is None and last is None:
            first = DEFAULT_PAGE
        if first is not None:
            stop = min(stop, start + first)
        if last is not None:
            start = max(start, stop - last)
        return start, stop


def cursor_for(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def offset_of(cursor: str) -> int:
    try:
        kind, value = base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)
        offset = int(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadArgument(f"malformed cursor {cursor!r}") from exc
    if kind != "o" or offset < 0:
        raise BadArgument(f"malformed cursor {cursor!r}")
    return offset


# ---------------------------------------------------------------- keyset pages


@dataclass(frozen=True)
class KeysetRequest:
    """first/after/last/before over a list ordered by one unique integer key (ascending).

    The cursor is the row's key itself, so a page fetched after (or before) it
    neither repeats nor skips rows however many were added elsewhere, and a deep
    page costs what the first does.
    """

    first: int | None = None
    after: int | None = None
    last: int | None = None
    before: int | None = None

    @property
    def backward(self) -> bool:
        """Read from the end (last without first): newest first, then put back in order."""
        return self.first is None and self.last is not None

    @property
    def size(self) -> int:
        """How many rows to read (one more tells whether the list goes on)."""
        if self.backward:
            assert self.last is not None
            return self.last
        return self.first if self.first is not None else DEFAULT_PAGE


def keyset_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"k:{key}".encode()).decode()


def key_of(cursor: str) -> int:
    try:
        kind, value = base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)
        key = int(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadArgument(f"malformed cursor {cursor!r}") from exc
    if kind != "k" or key < 0:
        raise BadArgument(f"malformed cursor {cursor!r}")
    return key


def _check_sizes(first: int | None, last: int | None) -> None:
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= MAX_PAGE:
            raise BadArgument(f"{name} must be between 0 and {MAX_PAGE}, got {value}")


def keyset_request(
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    decode: Callable[[str], int] = key_of,
) -> KeysetRequest:
    """Check a keyset connection's arguments; ``BadArgument`` when one is out of range or malformed.

    ``decode`` reads a cursor (``key_of`` by default; a list keyed by event seqs uses theirs).
    """
    _check_sizes(first, last)
    try:
        return KeysetRequest(
            first=first,
            after=decode(after) if after else None,
            last=last,
            before=decode(before) if before else None,
        )
    except ValueError as exc:
        raise BadArgument(str(exc)) from exc


def page_request(first: int | None, after: str | None, last: int | None, before: str | None) -> PageRequest:
    """Check a connection's arguments; ``BadArgument`` when one is out of range or malformed."""
    _check_sizes(first, last)
    return PageRequest(
        first=first,
        after=offset_of(after) if after else None,
        last=last,
        before=offset_of(before) if before else None,
    )
