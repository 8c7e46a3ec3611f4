"""The Viewer type: who is calling."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from switchboard.graphql.types import base, thread_lists
from switchboard.graphql.types.agents import Agent
from switchboard.graphql.types.base import InfoT
from switchboard.graphql.types.connections import ThreadConnection
from switchboard.graphql.types.invites import Invite
from switchboard.rules import policy
from switchboard.services import listing


@strawberry.type(description="Who is calling.")
class Viewer:
    role: str = strawberry.field(description="agent | supervisor | admin | analyst | service | visitor")
    organization: str = strawberry.field(description="The caller's organization (the token's org claim).")
    agent: Agent | None = strawberry.field(description="The calling agent, for agents.")
    agent_pk: strawberry.Private[int | None]

    @strawberry.field(description="Invites addressed to the calling agent that still await an answer.")
    async def pending_invites(self, info: InfoT) -> list[Invite]:
        if self.agent_pk is None:
            return []
        rows = await listing.pending_invites(info.context.tenant, self.agent_pk, datetime.now(UTC))
        return [Invite.from_model(row) for row in rows]

    @strawberry.field(description="Threads where the calling agent is an active collaborator (primary included).")
    async def threads(
        self,
        info: InfoT,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
        last: int | None = strawberry.UNSET,
        before: str | None = strawberry.UNSET,
    ) -> ThreadConnection:
        ctx = info.context
        scope = policy.own_threads_scope(await ctx.caller())
        query = listing.ThreadQuery(order="updated_at")
        sort = listing.thread_sort(query)
        request = base.keyset_args(first, after, last, before, sort.decode)
        return await thread_lists.page(info, listing.threads(ctx.tenant, scope, query), sort, request)
