"""One transaction per change, with its events; publish only after commit.

async with atomic(bus) as outbox:
    ...change rows...
    outbox.add(ThreadQueued(...))
# committed: the events are sequenced and on their way to every process
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tortoise.transactions import in_transaction

from switchboard import outages
from switchboard.events.bus import EventBus
from switchboard.events.outbox import Outbox

log = logging.getLogger(__name__)


@asynccontextmanager
async def atomic(bus: EventBus | None) -> AsyncIterator[Outbox]:
    outbox = Outbox()
    async with in_transaction() as connection:
        yield outbox
        outbox.published = await outbox.flush(connection)
    if bus is not None:
        await bus.publish(outbox.published)
    for callback in outbox.after_commit:
        try:
            await callback()
        except Exception:
            # The change is committed; a failed follow-up (a routing pass) is
            # retried by the periodic jobs, so it must not fail the mutation.
            outages.log_failure(log, "after-commit callback failed")
