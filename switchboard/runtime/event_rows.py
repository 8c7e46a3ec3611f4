"""The rows an event renders from, read once per process whoever renders it.

An event carries ids and a snapshot of the columns that change; it is rendered
from its rows with that snapshot put back, so a replayed event shows what the
live one showed. The database work of a fan-out does not grow with the
number of subscribers.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field

from tortoise.queryset import QuerySet

from switchboard import models as m
from switchboard.events.codec import BusEvent
from switchboard.events.snapshots import restore
from switchboard.events.types import InviteChanged, MessagePosted, PlaceEvent, ThreadEvent
from switchboard.services.statements import select_one
from switchboard.services.tenancy import Tenant

ROWS_KEPT = 1024


@dataclass
class Rows:
    """What one event renders from, snapshot values already put back."""

    thread: m.Thread | None = None
    collaborator: m.Collaborator | None = None
    invite: m.Invite | None = None
    agents: dict[int, m.Agent] = field(default_factory=dict)
    # A message and what its displayName is chosen from.
    message: m.Message | None = None
    visitor: m.Visitor | None = None
    organization: m.Organization | None = None


async def load(committed: BusEvent) -> Rows:
    event = committed.event
    tenant = Tenant(event.org)
    snap = event.snapshot if isinstance(event, ThreadEvent | InviteChanged) else {}
    rows = Rows()
    thread_id = committed.thread_id
    if isinstance(event, MessagePosted):
        await _message_rows(tenant, event, rows)
    elif thread_id is not None:
        rows.thread = await tenant.get(m.Thread, thread_id)
    if isinstance(event, PlaceEvent):
        rows.collaborator = await tenant.get(m.Collaborator, event.collaborator_id)
    invite_id = event.column("invite_id")
    if invite_id is not None:
        rows.invite = await tenant.get(m.Invite, invite_id)
    for name, row in (("thread", rows.thread), ("collaborator", rows.collaborator), ("invite", rows.invite)):
        if row is not None and name in snap:
            restore(row, snap[name])
    wanted = {event.column("actor_id")}
    if rows.collaborator is not None:
        wanted |= {rows.collaborator.agent_id, rows.collaborator.invited_by_id}
    if rows.invite is not None:
        wanted |= {rows.invite.inviter_id, rows.invite.invitee_id, rows.invite.approved_by_id}
    if rows.thread is not None:
        wanted |= {rows.thread.primary_agent_id, rows.thread.last_primary_agent_id}
    # A message's statement brought its author and its thread's primary already: most events need no more.
    missing = [pk for pk in wanted if pk is not None and pk not in rows.agents]
    rows.agents.update(await tenant.many(m.Agent, missing))
    return rows


def _message_query(org: str, keys: list[int]) -> QuerySet[m.Message]:
    related = ("thread", "visitor", "org", "author", "thread__primary_agent")
    return Tenant(org).q(m.Message).filter(id=keys[0]).select_related(*related)


async def _message_rows(tenant: Tenant, event: MessagePosted, rows: Rows) -> None:
    """The message with its thread, visitor, organization (serviceName), author and the thread's primary:
    one statement, where a second one for the agents would cost a round trip per process and message."""
    # Every process reads every message's rows: the join's SQL is made once (``select_one``).
    message: m.Message | None = await select_one("message rows", _message_query, tenant.org, event.message_id)
    if message is None:
        rows.thread = await tenant.get(m.Thread, event.thread_id)
        return
    rows.message, rows.thread, rows.organization = message, message.thread, message.org
    rows.visitor = message.visitor if message.visitor_id is not None else None
    if message.author_id is not None and message.author is not None:
        rows.agents[message.author_id] = message.author
    primary = message.thread.primary_agent_id
    if primary is not None and message.thread.primary_agent is not None:
        rows.agents[primary] = message.thread.primary_agent


class EventRows:
    """One per process: each event's rows are read once, whoever renders it.

    Keyed by ``(org, seq)`` (seqs are per organization); the newest ``ROWS_KEPT``
    are kept, enough for every live subscriber to render an event before it
    is dropped. A replay of older events simply loads them again.
    """

    def __init__(self, size: int = ROWS_KEPT) -> None:
        self.size = size
        self.loads = 0
        self._pending: OrderedDict[tuple[str, int], asyncio.Task[Rows]] = OrderedDict()

    async def get(self, event: BusEvent) -> Rows:
        key = (event.org, event.seq)
        task = self._pending.get(key)
        if task is None:
            self.loads += 1
            task = asyncio.ensure_future(load(event))
            self._pending[key] = task
            while len(self._pending) > self.size:
                self._pending.popitem(last=False)
        try:
            # Shielded: a subscriber going away must not cancel the load others wait for.
            return await asyncio.shield(task)
        except Exception:
            if self._pending.get(key) is task:
                del self._pending[key]
            raise
