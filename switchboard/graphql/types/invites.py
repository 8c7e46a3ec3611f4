"""Invites."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from switchboard import models as m
from switchboard.graphql.enums import InviteStatus, InviteType, Permission, Urgency
from switchboard.graphql.types import base, threads
from switchboard.graphql.types.agents import Agent, load_agent
from switchboard.graphql.types.base import InfoT, Node, gid
from switchboard.rules import policy

if TYPE_CHECKING:
    from switchboard.graphql.types.threads import Thread

ThreadRef = Annotated["Thread", strawberry.lazy("switchboard.graphql.types.threads")]


@strawberry.type(description="An agent asking a colleague onto a thread, or to take it over (TRANSFER).")
class Invite(Node):
    type: InviteType = strawberry.field(description="Why the colleague is invited.")
    permission: Permission = strawberry.field(description="Permission the invitee gets on accepting.")
    urgency: Urgency = strawberry.field(description="How urgently an answer is needed.")
    message: str | None = strawberry.field(description="The inviter's note.")
    status: InviteStatus = strawberry.field(description="Where the invite is in its life.")
    created_at: datetime = strawberry.field(description="When it was sent.")
    expires_at: datetime = strawberry.field(description="When it expires by itself unless answered.")
    responded_at: datetime | None = strawberry.field(description="When the invitee answered.")
    response_message: str | None = strawberry.field(description="The invitee's note with the answer.")
    estimated_seconds: int | None = strawberry.field(
        description="With DEFER or ACCEPT: when the invitee expects to join."
    )
    row: strawberry.Private[m.Invite]

    @strawberry.field(description="The thread the invite is for.")
    async def thread(self, info: InfoT) -> ThreadRef:
        row = await info.context.loaders.thread.load(self.row.thread_id)
        assert row is not None
        facts = await base.thread_facts(info, row)
        reach = policy.invite_thread_reach(await info.context.caller(), base.invite_facts(self.row), facts)
        return threads.Thread.from_model(row, reach)

    @strawberry.field(description="Who sent the invite.")
    async def inviter(self, info: InfoT) -> Agent:
        found = await load_agent(info, self.row.inviter_id)
        assert found is not None
        return found

    @strawberry.field(description="Who is invited.")
    async def invitee(self, info: InfoT) -> Agent:
        found = await load_agent(info, self.row.invitee_id)
        assert found is not None
        return found

    @strawberry.field(description="The supervisor who approved a cross-department invite.")
    async def approved_by(self, info: InfoT) -> Agent | None:
        return await load_agent(info, self.row.approved_by_id)

    @classmethod
    def from_model(cls, row: m.Invite) -> Invite:
        return cls(
            id=gid("Invite", row.id),
            type=row.type,
            permission=row.permission,
            urgency=row.urgency,
            message=row.message,
            status=row.status,
            created_at=row.created_at,
            expires_at=row.expires_at,
            responded_at=row.responded_at,
            response_message=row.response_message,
            estimated_seconds=row.estimated_seconds,
            row=row,
        )
