"""Tenancy in one place: every read and write of a tenant's rows goes through here.

A query built here is filtered by organization, so a foreign ID behaves exactly
like a missing one. Use cases and DataLoaders take a ``Tenant``; they never
call ``Model.filter`` on tenant tables themselves. ``Tenant.scoped`` turns the
access policy's ``Scope`` (which rows of a list a caller sees) into a filter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from tortoise.expressions import Q, Subquery
from tortoise.models import Model
from tortoise.queryset import QuerySet

from switchboard.models import Collaborator, Invite, Organization, QueueEntry, Thread
from switchboard.rules.caps import CollaboratorLimits
from switchboard.rules.enums import QueueEntryStatus
from switchboard.rules.policy import Scope
from switchboard.services.statements import select_one

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Tenant:
    """Data access scoped to one organization."""

    org: str

    def q(self, model: type[M]) -> QuerySet[M]:
        return model.filter(org_id=self.org)

    async def get(self, model: type[M], pk: int, *, for_update: bool = False) -> M | None:
        # The hottest reads there are (the thread a message locks, a token's agent): SQL made once per model.
        return await select_one(("get", model, for_update), _by_pk(model, for_update), self.org, pk)

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

    async def limits(self) -> CollaboratorLimits:
        org = await self.organization()
        return limits_of(org)

    def places_of(self, agent_id: int | None) -> QuerySet[Collaborator]:
        """The agent's active places (a subquery of thread ids)."""
        return self.q(Collaborator).filter(agent_id=agent_id, active=True)

    def scoped(self, model: type[M], scope: Scope) -> QuerySet[M]:
        """``model``'s rows (threads, queue entries, invites) that ``scope`` lets the caller see."""
        qs = self.q(model)
        if scope.everything:
            return qs
        column = "id" if model is Thread else "thread_id"
        clauses: list[Q] = []
        if scope.thread_id is not None:
            clauses.append(_q(column, scope.thread_id))
        if scope.member is not None:
            clauses.append(_q(f"{column}__in", Subquery(self.places_of(scope.member).values("thread_id"))))
        if scope.waiting and model is QueueEntry:
            clauses.append(Q(status=QueueEntryStatus.WAITING))
        if scope.party is not None and model is Invite:
            clauses.append(Q(inviter_id=scope.party) | Q(invitee_id=scope.party))
        if not clauses:
            return qs.filter(id__in=[])
        return qs.filter(Q(*clauses, join_type=Q.OR))


def _q(lookup: str, value: Any) -> Q:
    return Q(**{lookup: value})


def limits_of(org: Organization) -> CollaboratorLimits:
    return CollaboratorLimits(org.collaborator_limit_normal, org.collaborator_limit_vip, org.collaborator_limit_urgent)


def _by_pk(model: type[M], for_update: bool) -> Callable[[str, list[int]], QuerySet[M]]:
    def make(org: str, keys: list[int]) -> QuerySet[M]:
        qs = Tenant(org).q(model).filter(id=keys[0])
        return qs.select_for_update() if for_update else qs

    return make
