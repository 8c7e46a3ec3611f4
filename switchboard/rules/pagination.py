"""Relay pagination by keyset: cursors carry a row's sort key, so pages never shift when rows arrive."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from switchboard.rules.problems import BadArgument

MAX_PAGE = 100
DEFAULT_PAGE = 20


# ---------------------------------------------------------------- keyset pages


@dataclass(frozen=True)
class KeysetRequest:
    """first/after/last/before over a list in a total order (``SortKey``, or one unique integer key).

    ``after``/``before`` are the sort key of a row (an int for a one-column key,
    a tuple otherwise), so a page fetched after (or before) it neither repeats
    nor skips rows however many were added elsewhere, and a deep page costs
    what the first does.
    """

    first: int | None = None
    after: Any = None
    last: int | None = None
    before: Any = None

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
    decode: Callable[[str], Any] = key_of,
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


@dataclass(frozen=True)
class SortKey:
    """A list's order for keyset pages: its columns, the last one unique (the id), all in one direction.

    Cursors carry the values of these columns (ints and datetimes) and ``name``,
    so a cursor of another list, or of another order of the same list, is
    refused instead of silently paging from a meaningless place.
    """

    name: str
    columns: tuple[str, ...]
    descending: bool = False

    def values(self, row: object) -> tuple[Any, ...]:
        return tuple(getattr(row, column) for column in self.columns)

    def cursor(self, values: tuple[Any, ...]) -> str:
        plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
        payload = json.dumps([self.name, plain], separators=(",", ":"))
        return base64.urlsafe_b64encode(f"s:{payload}".encode()).decode()

    def decode(self, cursor: str) -> tuple[Any, ...]:
        """The sort key a cursor of this list carries; ``BadArgument`` for anything else."""
        try:
            kind, payload = base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)
            name, plain = json.loads(payload) if kind == "s" else (None, None)
        except (ValueError, UnicodeDecodeError, TypeError) as exc:
            raise BadArgument(f"malformed cursor {cursor!r}") from exc
        if kind != "s" or not isinstance(plain, list) or len(plain) != len(self.columns):
            raise BadArgument(f"malformed cursor {cursor!r}")
        if name != self.name:
            raise BadArgument(f"cursor {cursor!r} belongs to another list or order")
        return tuple(_value(v, cursor) for v in plain)


def _value(plain: object, cursor: str) -> Any:
    if isinstance(plain, int) and not isinstance(plain, bool):
        return plain
    if isinstance(plain, str):
        try:
            moment = datetime.fromisoformat(plain)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment
    raise BadArgument(f"malformed cursor {cursor!r}")
