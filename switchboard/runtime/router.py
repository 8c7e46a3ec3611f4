"""Routing passes per organization, coalesced within the process.

``QueueRouter.kick(org)`` runs a pass after a commit that queued an entry or
freed capacity. Passes of one organization never overlap within a process;
kicks during a pass are served by one more. ``safety_pass`` (a scheduler job,
about every second) kicks every organization with WAITING entries, so nothing
waits on a kick that was lost (a crash between commit and kick, a capacity
change made elsewhere).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from switchboard import outages
from switchboard.events.bus import EventBus
from switchboard.models import QueueEntry
from switchboard.rules.enums import QueueEntryStatus
from switchboard.services import routing
from switchboard.services.tenancy import Tenant

log = logging.getLogger(__name__)


@dataclass
class _OrgPass:
    task: asyncio.Task[None] | None = None
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class QueueRouter:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.passes = 0
        self.assigned = 0
        self._orgs: dict[str, _OrgPass] = {}

    async def kick(self, org: str) -> None:
        """Run a pass that starts after this call; return when it is done."""
        state = self._orgs.setdefault(org, _OrgPass())
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        state.waiters.append(done)
        if state.task is None:
            state.task = asyncio.create_task(self._drain(org, state), name=f"routing-{org}")
        # The pass runs in its own task: a caller that goes away does not stop it.
        await asyncio.shield(done)

    async def _drain(self, org: str, state: _OrgPass) -> None:
        try:
            while state.waiters:
                batch, state.waiters = state.waiters, []
                try:
                    await self._pass(org)
                except Exception:
                    outages.log_failure(log, "routing pass for %s failed", org)
                for waiter in batch:
                    if not waiter.done():
                        waiter.set_result(None)
        finally:
            state.task = None
            if not state.waiters:
                self._orgs.pop(org, None)

    async def _pass(self, org: str) -> None:
        self.passes += 1
        self.assigned += await routing.route(Tenant(org), self.bus)

    async def safety_pass(self, now: datetime) -> int:
        """A pass for every organization with WAITING entries (no tenant: the org comes from the rows)."""
        orgs = await QueueEntry.filter(status=QueueEntryStatus.WAITING).distinct().values_list("org_id", flat=True)
        for org in orgs:
            await self.kick(str(org))
        return 0

    async def stop(self) -> None:
        tasks = [state.task for state in self._orgs.values() if state.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
