"""Tenancy in one place: every read and write of a tenant's rows goes through here.

A query built here is filtered by organization, so a foreign ID behaves exactly
like a missing one. Domain code and DataLoaders take a ``Tenant``; they never
call ``Model.filter`` on tenant tables themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from switchboard.models import Organization

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Tenant:
    """Data access scoped to one organization."""

    org: str

    def q(self, model: type[M]) -> QuerySet[M]:
        return model.filter(org_id=self.org)

    async def get(self, model: type[M], pk: int, *, for_update: bool = False) -> M | None:
        qs = self.q(model).filter(id=pk)
        if for_update:
            qs = qs.select_for_update()
        return await qs.first()

    async def many(self, model: type[M], pks: Iterable[int]) -> dict[int, M]:
        keys = list(set(pks))
        if not keys:
            return {}
        rows = await self.q(model).filter(id__in=keys)
        return {row.pk: row for row in rows}

    async def create(self, model: type[M], **values: Any) -> M:
        return await model.create(org_id=self.org, **values)

    async def organization(self, *, for_update: bool = False) -> Organization:
        """The organization row with its settings, created with defaults on first use.

        ``for_update`` locks the row until the transaction ends: changes to
        organization-wide state (settings, the default queue) then happen one
        at a time.
        """
        org = await Organization.get_or_none(id=self.org)
        if org is None:
            org, _ = await Organization.get_or_create(id=self.org)
        if for_update:
            org = await Organization.filter(id=self.org).select_for_update().get()
        return org
