"""The Viewer type: who is calling."""

from __future__ import annotations

import strawberry

from switchboard.schema.types import Agent, InfoT, Invite, ThreadConnection


@strawberry.type(description="Who is calling.")
class Viewer:
    role: str = strawberry.field(description="agent | supervisor | admin | analyst | service | visitor")
    organization: str = strawberry.field(description="The caller's organization (the token's org claim).")
    agent: Agent | None = strawberry.field(description="The calling agent, for agents.")
    agent_pk: strawberry.Private[int | None]

    @strawberry.field(description="Invites addressed to the calling agent that still await an answer.")
    async def pending_invites(self, info: InfoT) -> list[Invite]:
        from switchboard.resolvers import collaboration

        return await collaboration.pending_invites(info, self.agent_pk)

    @strawberry.field(description="Threads where the calling agent is an active collaborator (primary included).")
    async def threads(
        self,
        info: InfoT,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
        last: int | None = strawberry.UNSET,
        before: str | None = strawberry.UNSET,
    ) -> ThreadConnection:
        from switchboard.resolvers import threads

        return await threads.viewer_threads(info, self.agent_pk, first=first, after=after, last=last, before=before)
