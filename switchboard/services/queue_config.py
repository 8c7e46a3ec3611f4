"""Creating and changing queues."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.exceptions import IntegrityError

from switchboard.events.outbox import Outbox
from switchboard.events.types import QueueChanged, QueueEventKind
from switchboard.models import Queue
from switchboard.rules import validation as v
from switchboard.rules.enums import OverflowAction, RoutingStrategy
from switchboard.rules.problems import DomainError, conflict, not_found
from switchboard.services.tenancy import Tenant


@dataclass
class QueueFields:
    name: str | None = None
    skills: list[str] | None = None
    routing_strategy: RoutingStrategy | None = None
    max_wait_seconds: int | None = None
    vip_max_wait_seconds: int | None = None
    overflow_action: OverflowAction | None = None
    sticky_agent: bool | None = None
    is_default: bool | None = None


def _clean(fields: QueueFields, creating: bool) -> dict[str, object]:
    values: dict[str, object] = {}
    if creating or fields.name is not None:
        values["name"] = v.required_text(fields.name or "", ("name",))
    if fields.skills is not None:
        values["skills"] = v.skills(fields.skills, ("skills",))
    for name in ("max_wait_seconds", "vip_max_wait_seconds"):
        value = v.number(getattr(fields, name), (name,), *v.WAIT_RANGE)
        if value is not None:
            values[name] = value
    for name in ("routing_strategy", "overflow_action", "sticky_agent", "is_default"):
        if getattr(fields, name) is not None:
            values[name] = getattr(fields, name)
    return values


async def _name_taken(tenant: Tenant, name: object, own_id: int | None) -> bool:
    qs = tenant.q(Queue).filter(name=name)
    if own_id is not None:
        qs = qs.exclude(id=own_id)
    return await qs.exists()


def _conflict() -> DomainError:
    return conflict("a queue with this name exists", ("name",))


async def create(tenant: Tenant, outbox: Outbox, fields: QueueFields) -> Queue:
    values = _clean(fields, creating=True)
    # Serialises queue changes of the organization: exactly one default queue.
    await tenant.organization(for_update=True)
    if await _name_taken(tenant, values["name"], None):
        raise _conflict()
    # The first queue of an organization is its default, so requestTransfer always has one.
    if not values.get("is_default") and not await tenant.q(Queue).exists():
        values["is_default"] = True
    if values.get("is_default"):
        await tenant.q(Queue).filter(is_default=True).update(is_default=False)
    try:
        queue = await tenant.create(Queue, **values)
    except IntegrityError as exc:
        raise _conflict() from exc
    outbox.add(QueueChanged(org=tenant.org, kind=QueueEventKind.CREATED, queue_id=queue.id))
    return queue


async def update(tenant: Tenant, outbox: Outbox, queue_id: int, fields: QueueFields) -> Queue:
    values = _clean(fields, creating=False)
    await tenant.organization(for_update=True)
    queue = await tenant.get(Queue, queue_id, for_update=True)
    if queue is None:
        raise not_found("queue", ("queue_id",))
    if "name" in values and await _name_taken(tenant, values["name"], queue.id):
        raise _conflict()
    if values.get("is_default"):
        await tenant.q(Queue).filter(is_default=True).exclude(id=queue.id).update(is_default=False)
    if values:
        queue.update_from_dict(values)
        await queue.save()
        outbox.add(QueueChanged(org=tenant.org, kind=QueueEventKind.UPDATED, queue_id=queue.id))
    return queue
