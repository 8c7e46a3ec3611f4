"""Resume cursors of event subscriptions: ``e<seq>``."""

from __future__ import annotations

MAX_SEQ = 2**63 - 1


class CursorExpired(Exception):
    """A resume cursor older than the event log: the events right after it were pruned."""

    def __init__(self, retention_hours: int) -> None:
        super().__init__(
            f"this cursor is older than the events kept ({retention_hours} hours): "
            "subscribe again without `after` and reload the current state"
        )
        self.retention_hours = retention_hours


def encode_cursor(seq: int) -> str:
    return f"e{seq}"


def decode_cursor(cursor: str) -> int:
    """The seq of a cursor; ``ValueError`` when it is not one of ours."""
    digits = cursor[1:]
    # isdigit() also admits other scripts' digits; a seq is ASCII and fits a BIGINT.
    if not cursor.startswith("e") or len(cursor) > 20 or not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"malformed cursor {cursor!r}")
    if int(digits) > MAX_SEQ:
        raise ValueError(f"malformed cursor {cursor!r}")
    return int(digits)
