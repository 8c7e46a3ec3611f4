"""Deadlines that fire by themselves: invite expiry, queue overflow.

Deadlines live in the database (``invite.expires_at``, ``queue_entry.overflow_at``),
so they survive restarts. Every process runs one ``Scheduler`` that asks each
sweeper, a few times a second, to fire what is due. A sweeper claims each due
row with a conditional UPDATE (``... WHERE status = <open> AND deadline <= now``)
and writes its event in the same transaction, so with any number of processes
exactly one of them fires each deadline, and its event goes out exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

log = logging.getLogger(__name__)


class Sweeper(Protocol):
    name: str

    async def sweep(self, now: datetime) -> int:
        """Fire every deadline due at ``now``; return how many this process fired."""
        ...


class Scheduler:
    def __init__(self, sweepers: Sequence[Sweeper], poll_seconds: float = 0.25) -> None:
        self.sweepers = list(sweepers)
        self.poll_seconds = poll_seconds
        self.fired: dict[str, int] = {s.name: 0 for s in self.sweepers}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def add(self, sweeper: Sweeper) -> None:
        self.sweepers.append(sweeper)
        self.fired.setdefault(sweeper.name, 0)

    def wake(self) -> None:
        """Sweep now (a deadline was just set close to now)."""
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="deadline-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run_once(self, now: datetime | None = None) -> int:
        now = now or datetime.now(UTC)
        total = 0
        for sweeper in self.sweepers:
            try:
                fired = await sweeper.sweep(now)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("sweeper %s failed: %s", sweeper.name, exc)
                continue
            self.fired[sweeper.name] += fired
            total += fired
        return total

    async def _run(self) -> None:
        while True:
            await self.run_once()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
