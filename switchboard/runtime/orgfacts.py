"""What every request of an organization needs, cached per process: its query budget and queue count
(and the settings setTyping, called every few seconds while someone types, needs).

Each operation is measured (switchboard.graphql.limits) and charged against the
caller's budget before it runs, so reading the budget settings, and for a query
listing queues the organization's number of queues, must not cost a database
query per request. Both are kept per organization in this process and dropped
when the organization's settings change (``SettingsChanged``) or a queue is
created (``QueueChanged`` CREATED): one bus listener per cached organization,
delivered to every process by the event transport. So a cached value is at most
as stale as the event's delivery (the same as every live subscription), and
never older than ``TTL_SECONDS`` in any case (a missed event, a restart of
Redis). At most ``MAX_ORGS`` organizations are cached, least recently used out
first.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from switchboard.events.bus import EventBus, Subscriber
from switchboard.events.codec import BusEvent
from switchboard.events.types import QueueChanged, QueueEventKind, SettingsChanged, Topic
from switchboard.models import Organization, Queue

TTL_SECONDS = 30.0
MAX_ORGS = 10_000
# Model defaults: the organization's row is created on its first change.
_DEFAULTS = Organization._meta.fields_map


@dataclass
class OrgFacts:
    query_cost_budget: int
    query_cost_restore_per_second: int
    loaded_at: float
    # What setTyping needs (the names its event carries, whether a visitor's message would reopen),
    # and a visitor's sendMessage (their limit per minute).
    service_name: str = ""
    reopen_on_visitor_message_seconds: int = 0
    messages_per_visitor_per_minute: int = 0
    # Loaded the first time a query needs it.
    queue_count: int | None = None
    # Bumped by each queue created, so a count read while one was created is not kept.
    generation: int = 0
    listener: Subscriber | None = None


def _setting(row: Organization | None, name: str) -> Any:
    return getattr(row, name) if row is not None else _DEFAULTS[name].default


class OrgFactsCache:
    """One per process."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._orgs: OrderedDict[str, OrgFacts] = OrderedDict()
        self.loads = 0

    async def get(self, org: str) -> OrgFacts:
        """The organization's budget settings (read from the database at most once per ``TTL_SECONDS``)."""
        facts = self._orgs.get(org)
        now = time.monotonic()
        if facts is not None and now - facts.loaded_at < TTL_SECONDS:
            self._orgs.move_to_end(org)
            return facts
        self.loads += 1
        try:
            row = await Organization.get_or_none(id=org)
        except Exception:
            if facts is not None:
                # The database did not answer: the last values known are still the best guess.
                return facts
            raise
        fresh = OrgFacts(
            _setting(row, "query_cost_budget"),
            _setting(row, "query_cost_restore_per_second"),
            now,
            service_name=_setting(row, "service_name"),
            reopen_on_visitor_message_seconds=_setting(row, "reopen_on_visitor_message_seconds"),
            messages_per_visitor_per_minute=_setting(row, "messages_per_visitor_per_minute"),
        )
        self._store(org, fresh)
        return fresh

    async def queue_count(self, org: str) -> int:
        """How many queues the organization has."""
        facts = await self.get(org)
        if facts.queue_count is None:
            self.loads += 1
            generation = facts.generation
            count = await Queue.filter(org_id=org).count()
            if self._orgs.get(org) is facts and facts.generation == generation:
                facts.queue_count = count
            return count
        return facts.queue_count

    def _store(self, org: str, facts: OrgFacts) -> None:
        old = self._orgs.pop(org, None)
        if old is not None and old.listener is not None:
            facts.listener = old.listener
        else:
            keys = [("topic", (org, Topic.ORG.value)), ("topic", (org, Topic.QUEUE.value))]
            facts.listener = self.bus.listen(keys, lambda event: self._on_event(org, event))
        self._orgs[org] = facts
        while len(self._orgs) > MAX_ORGS:
            _, evicted = self._orgs.popitem(last=False)
            if evicted.listener is not None:
                self.bus.unregister(evicted.listener)

    def _on_event(self, org: str, event: BusEvent) -> None:
        inner = event.event
        if isinstance(inner, SettingsChanged):
            self.forget(org)
        elif isinstance(inner, QueueChanged) and inner.kind is QueueEventKind.CREATED:
            facts = self._orgs.get(org)
            if facts is not None:
                facts.queue_count = None
                facts.generation += 1

    def forget(self, org: str) -> None:
        facts = self._orgs.get(org)
        if facts is not None:
            # The listener stays with the next entry; only the values are dropped.
            facts.loaded_at = float("-inf")

    def stop(self) -> None:
        for facts in self._orgs.values():
            if facts.listener is not None:
                self.bus.unregister(facts.listener)
        self._orgs.clear()
