"""Starting threads for visitors."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from switchboard.events.outbox import Outbox
from switchboard.events.types import ThreadStatusChanged
from switchboard.models import Thread, Visitor
from switchboard.rules import validation as v
from switchboard.rules.enums import ThreadClass, ThreadStatus, VisitorTier
from switchboard.services.tenancy import Tenant


async def find_or_create_visitor(
    tenant: Tenant, external_id: str, name: str | None, tier: VisitorTier | None
) -> Visitor:
    """Reuse the visitor with this externalId, updating the name and tier the bot sent."""
    external_id = v.required_text(external_id, ("visitor", "external_id"))
    name = v.text(name, ("visitor", "name"))
    visitor = await tenant.q(Visitor).filter(external_id=external_id).select_for_update().first()
    if visitor is None:
        try:
            # A savepoint: on PostgreSQL a failed INSERT would otherwise abort
            # the whole transaction, and the read below with it.
            async with in_transaction():
                visitor = await tenant.create(
                    Visitor, external_id=external_id, name=name, tier=tier or VisitorTier.NORMAL
                )
        except IntegrityError:
            # Another request created it between our read and insert (and has committed).
            visitor = await tenant.q(Visitor).filter(external_id=external_id).get()
        return visitor
    changed: list[str] = []
    if name is not None and name != visitor.name:
        visitor.name, changed = name, [*changed, "name"]
    if tier is not None and tier is not visitor.tier:
        visitor.tier, changed = tier, [*changed, "tier"]
    if changed:
        await visitor.save(update_fields=changed)
    return visitor


async def start(
    tenant: Tenant,
    outbox: Outbox,
    *,
    visitor: Visitor,
    channel: str | None,
    subject: str | None,
    thread_class: ThreadClass,
) -> Thread:
    channel = v.text(channel, ("channel",))
    subject = v.text(subject, ("subject",))
    thread = await tenant.create(
        Thread,
        visitor_id=visitor.id,
        status=ThreadStatus.BOT,
        thread_class=thread_class,
        channel=channel,
        subject=subject,
    )
    outbox.add(ThreadStatusChanged(org=tenant.org, thread_id=thread.id, status=ThreadStatus.BOT, started=True))
    return thread
