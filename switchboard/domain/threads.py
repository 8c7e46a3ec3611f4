"""Starting threads and who may see them."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from switchboard.domain import validation as v
from switchboard.domain.enums import ThreadClass, ThreadStatus, VisitorTier
from switchboard.models import Organization, Thread, Visitor
from switchboard.subscriptions.outbox import Outbox
from switchboard.tenancy import Tenant


async def find_or_create_visitor(
    tenant: Tenant, external_id: str, name: str | None, tier: VisitorTier | None
) -> Visitor:
    """Reuse the visitor with this externalId, updating the name and tier the bot sent."""
    path = ["input", "visitor"]
    external_id = v.required_text(external_id, [*path, "externalId"])
    name = v.text(name, [*path, "name"])
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
    channel = v.text(channel, ["input", "channel"])
    subject = v.text(subject, ["input", "subject"])
    thread = await tenant.create(
        Thread,
        visitor_id=visitor.id,
        status=ThreadStatus.BOT,
        thread_class=thread_class,
        channel=channel,
        subject=subject,
    )
    outbox.add(
        tenant.org,
        "thread",
        "STATUS_CHANGED",
        thread_id=thread.id,
        payload={"status": ThreadStatus.BOT.value, "started": True},
    )
    return thread


def collaborator_limit(org: Organization, thread_class: ThreadClass) -> int:
    return {
        ThreadClass.NORMAL: org.collaborator_limit_normal,
        ThreadClass.VIP: org.collaborator_limit_vip,
        ThreadClass.URGENT: org.collaborator_limit_urgent,
    }[thread_class]
