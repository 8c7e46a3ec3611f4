"""The Query root."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from switchboard.graphql.inputs import AgentFilter, InviteFilter, QueueEntryFilter, ThreadFilter, ThreadOrder
from switchboard.graphql.resolvers import agents, invites, metrics, nodes, organization, queues, threads
from switchboard.graphql.types.analytics import Metrics
from switchboard.graphql.types.base import InfoT, Node
from switchboard.graphql.types.connections import (
    AgentConnection,
    InviteConnection,
    QueueEntryConnection,
    ThreadConnection,
)
from switchboard.graphql.types.queues import Queue
from switchboard.graphql.types.settings import OrganizationSettings
from switchboard.graphql.types.threads import Thread
from switchboard.graphql.types.viewer import Viewer


@strawberry.type(description="Reads. Every field needs a token; nothing of another organization is visible.")
class Query:
    @strawberry.field(description="Any object by its global ID; null when missing or not visible.")
    async def node(self, info: InfoT, id: strawberry.ID) -> Node | None:
        return await nodes.node(info, id)

    @strawberry.field(description="Objects by global IDs, in order; null for each missing or invisible one.")
    async def nodes(self, info: InfoT, ids: list[strawberry.ID]) -> list[Node | None]:
        return await nodes.nodes(info, ids)

    @strawberry.field(description="Who is calling.")
    async def viewer(self, info: InfoT) -> Viewer:
        return await nodes.viewer(info)

    @strawberry.field(description="One thread; null when missing or not visible to the caller.")
    async def thread(self, info: InfoT, id: strawberry.ID) -> Thread | None:
        return await threads.thread(info, id)

    @strawberry.field(description="Threads visible to the caller.")
    async def threads(
        self,
        info: InfoT,
        filter: ThreadFilter | None = strawberry.UNSET,
        order_by: ThreadOrder | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
        last: int | None = strawberry.UNSET,
        before: str | None = strawberry.UNSET,
    ) -> ThreadConnection:
        return await threads.threads(info, filter, order_by, first=first, after=after, last=last, before=before)

    @strawberry.field(description="Invites visible to the caller, newest first.")
    async def invites(
        self,
        info: InfoT,
        filter: InviteFilter | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
        last: int | None = strawberry.UNSET,
        before: str | None = strawberry.UNSET,
    ) -> InviteConnection:
        return await invites.invites(info, filter, first=first, after=after, last=last, before=before)

    @strawberry.field(description="Agents of the organization.")
    async def agents(
        self,
        info: InfoT,
        filter: AgentFilter | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
        last: int | None = strawberry.UNSET,
        before: str | None = strawberry.UNSET,
    ) -> AgentConnection:
        return await agents.agents(info, filter, first=first, after=after, last=last, before=before)

    @strawberry.field(description="Queues of the organization.")
    async def queues(self, info: InfoT) -> list[Queue]:
        return await queues.queues(info)

    @strawberry.field(description="One queue by ID or name.")
    async def queue(
        self, info: InfoT, id: strawberry.ID | None = strawberry.UNSET, name: str | None = strawberry.UNSET
    ) -> Queue | None:
        return await queues.queue(info, id, name)

    @strawberry.field(description="Queue entries, in queue order within a queue.")
    async def queue_entries(
        self,
        info: InfoT,
        filter: QueueEntryFilter | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
        last: int | None = strawberry.UNSET,
        before: str | None = strawberry.UNSET,
    ) -> QueueEntryConnection:
        return await queues.queue_entries(info, filter, first=first, after=after, last=last, before=before)

    @strawberry.field(description="Figures over [from, to) computed from the stored history.")
    async def metrics(
        self,
        info: InfoT,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        queue_id: strawberry.ID | None = strawberry.UNSET,
    ) -> Metrics:
        return await metrics.metrics(info, from_, to, queue_id)

    @strawberry.field(description="The organization's settings.")
    async def settings(self, info: InfoT) -> OrganizationSettings:
        return await organization.settings(info)
