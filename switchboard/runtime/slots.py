"""A subscription's latest-value slot: a slow reader only ever finds the newest value."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


class Slot(Generic[T]):
    """One subscription's latest-value slot: holds only the newest value not yet taken."""

    __slots__ = ("_last", "_latest", "_waiter")

    def __init__(self) -> None:
        self._last: object = None
        self._latest: T | None = None
        self._waiter: asyncio.Future[None] | None = None

    def put(self, value: T, key: object) -> bool:
        """Keep ``value`` unless its ``key`` equals the last one kept; wake the reader."""
        if key == self._last:
            return False
        self._last = key
        self._latest = value
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return True

    async def next(self) -> T:
        while self._latest is None:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        value, self._latest = self._latest, None
        return value
