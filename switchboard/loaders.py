"""Per-request DataLoaders, all scoped to the caller's organization."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from switchboard import models as m
from switchboard.tenancy import Tenant

M = TypeVar("M", bound=Model)


def _by_pk(tenant: Tenant, model: type[M]) -> DataLoader[int, M | None]:
    async def load(keys: Sequence[int]) -> list[M | None]:
        found = await tenant.many(model, keys)
        return [found.get(k) for k in keys]

    return DataLoader(load_fn=load)


def _grouped(
    tenant: Tenant, model: type[M], column: str, order: str = "id", **filters: Any
) -> DataLoader[int, list[M]]:
    async def load(keys: Sequence[int]) -> list[list[M]]:
        rows = await tenant.q(model).filter(**{f"{column}__in": list(set(keys))}, **filters).order_by(order)
        groups: dict[int, list[M]] = defaultdict(list)
        for row in rows:
            groups[getattr(row, column)].append(row)
        return [groups.get(k, []) for k in keys]

    return DataLoader(load_fn=load)


class Loaders:
    """One set per request (and per subscription event): caches never outlive it."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self.agent = _by_pk(tenant, m.Agent)
        self.visitor = _by_pk(tenant, m.Visitor)
        self.thread = _by_pk(tenant, m.Thread)
        self.collaborator = _by_pk(tenant, m.Collaborator)
        self.invite = _by_pk(tenant, m.Invite)
        self.queue = _by_pk(tenant, m.Queue)
        self.queue_entry = _by_pk(tenant, m.QueueEntry)
        self.active_collaborators = _grouped(tenant, m.Collaborator, "thread_id", active=True)
        self.all_collaborators = _grouped(tenant, m.Collaborator, "thread_id")
        self.entries_by_thread = _grouped(tenant, m.QueueEntry, "thread_id", order="enqueued_at")

    def by_type(self, type_name: str) -> DataLoader[int, Any]:
        loaders: dict[str, DataLoader[int, Any]] = {
            "Agent": self.agent,
            "Visitor": self.visitor,
            "Thread": self.thread,
            "Collaborator": self.collaborator,
            "Invite": self.invite,
            "Queue": self.queue,
            "QueueEntry": self.queue_entry,
        }
        return loaders[type_name]
