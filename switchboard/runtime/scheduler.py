"""The one periodic scheduler of a process: every background job runs from it.

Jobs: invite expiry and queue overflow (deadlines that fire by themselves), the
routing safety pass, the event bus's catch-up poll and its pruning. Deadlines
live in the database (``invite.expires_at``, ``queue_entry.overflow_at``), so
they survive restarts; a job claims each due row with a conditional UPDATE
(``... WHERE status = <open> AND deadline <= now``) and writes its event in the
same transaction, so with any number of processes exactly one of them fires
each deadline, and its event goes out exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

log = logging.getLogger(__name__)

# The longest the loop sleeps, so that a job added later starts soon.
MAX_SLEEP_SECONDS = 1.0


@dataclass(eq=False)
class Job:
    name: str
    every: float
    # Does what is due at ``now``; returns how many things it did (deadlines fired, events caught up...).
    run: Callable[[datetime], Awaitable[int]]
    # Runs in a task of its own, so that a long run never holds the other jobs back
    # (the routing pass); a detached job is not started again while it runs.
    detached: bool = False
    # Seconds after start of the first run (pruning waits a whole period).
    first_after: float = 0.0
    done: int = 0
    due: float = 0.0
    task: asyncio.Task[None] | None = None
    # Failing since its last success: the failure is logged once, not at every run
    # (jobs run every fraction of a second; an outage would flood the log).
    failing: bool = False


class Scheduler:
    def __init__(self, jobs: Sequence[Job] = ()) -> None:
        self.jobs = list(jobs)
        self._task: asyncio.Task[None] | None = None

    def add(self, job: Job) -> None:
        job.due = time.monotonic() + job.first_after
        self.jobs.append(job)

    async def start(self) -> None:
        start = time.monotonic()
        for job in self.jobs:
            job.due = start + job.first_after
        self._task = asyncio.create_task(self._loop(), name="scheduler")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *(job.task for job in self.jobs)) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run_due(self) -> None:
        """Run every job that is due (detached ones in their own task)."""
        for job in self.jobs:
            now = time.monotonic()
            if now < job.due or job.task is not None:
                continue
            job.due = now + job.every
            if job.detached:
                job.task = asyncio.create_task(self._detached(job), name=f"job-{job.name}")
            else:
                await self._run(job)

    async def _run(self, job: Job) -> None:
        try:
            job.done += await job.run(datetime.now(UTC))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not job.failing:
                log.warning(
                    "job %s failed: %s: %s (retrying every %.1fs)", job.name, type(exc).__name__, exc, job.every
                )
            job.failing = True
            return
        if job.failing:
            job.failing = False
            log.warning("job %s works again", job.name)

    async def _detached(self, job: Job) -> None:
        try:
            await self._run(job)
        finally:
            job.task = None

    async def _loop(self) -> None:
        while True:
            await self.run_due()
            next_due = min((job.due for job in self.jobs), default=time.monotonic() + MAX_SLEEP_SECONDS)
            await asyncio.sleep(min(max(next_due - time.monotonic(), 0.0), MAX_SLEEP_SECONDS))
