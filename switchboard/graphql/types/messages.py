"""The conversation's messages, as the caller may see them (the access policy decides)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from switchboard import models as m
from switchboard.events.cursors import encode_cursor
from switchboard.graphql.enums import MessageVisibility, SenderKind
from switchboard.graphql.types import threads
from switchboard.graphql.types.agents import Agent, load_agent
from switchboard.graphql.types.base import InfoT, Node, PageInfo, gid
from switchboard.rules import policy
from switchboard.services.pagination import KeysetPage

if TYPE_CHECKING:
    from switchboard.graphql.types.threads import Thread

ThreadRef = Annotated["Thread", strawberry.lazy("switchboard.graphql.types.threads")]


@strawberry.type(description="One message of a thread's conversation.")
class Message(Node):
    sender_kind: SenderKind = strawberry.field(description="Who wrote it: VISITOR, BOT, AGENT or SYSTEM.")
    visibility: MessageVisibility = strawberry.field(description="PUBLIC, or INTERNAL (agents only).")
    body: str = strawberry.field(description="The text.")
    client_message_id: str | None = strawberry.field(description="The sender's idempotency key, if one was given.")
    created_at: datetime = strawberry.field(description="When it was written.")
    row: strawberry.Private[m.Message]

    @strawberry.field(description="The thread.")
    async def thread(self, info: InfoT) -> ThreadRef:
        return await threads.load_thread(info, self.row.thread_id)

    @strawberry.field(
        description="The agent who wrote it; null for other senders, and always null when the caller is a visitor."
    )
    async def author(self, info: InfoT) -> Agent | None:
        if not policy.shows_author(await info.context.caller()):
            return None
        return await load_agent(info, self.row.author_id)

    @strawberry.field(
        description=(
            "The name to show. To a visitor: the organization's serviceName for every AGENT, BOT and SYSTEM "
            "message, their own name for their own. To agents: the author's name, the visitor's name, or "
            "serviceName."
        )
    )
    async def display_name(self, info: InfoT) -> str:
        ctx = info.context
        caller = await ctx.caller()
        org = await ctx.loaders.organization.load(self.row.org_id)
        names = policy.Names(service=org.service_name)
        if self.row.sender_kind is SenderKind.AGENT and policy.shows_author(caller) and self.row.author_id:
            author = await ctx.loaders.agent.load(self.row.author_id)
            names = policy.Names(service=org.service_name, author=author.name if author else None)
        elif self.row.sender_kind is SenderKind.VISITOR and self.row.visitor_id is not None:
            visitor = await ctx.loaders.visitor.load(self.row.visitor_id)
            names = policy.Names(service=org.service_name, visitor=visitor.name if visitor else None)
        return policy.display_name(caller, self.row.sender_kind, names)

    @classmethod
    def from_model(cls, row: m.Message) -> Message:
        return cls(
            id=gid("Message", row.id),
            sender_kind=row.sender_kind,
            visibility=row.visibility,
            body=row.body,
            client_message_id=row.client_message_id,
            created_at=row.created_at,
            row=row,
        )


@strawberry.type(description="A message in a connection.")
class MessageEdge:
    cursor: str = strawberry.field(
        description=(
            "Pass as after/before to page from here; stable, and valid as conversationEvents(after:) "
            "(the message's place in the thread's commit order)."
        )
    )
    node: Message = strawberry.field(description="The message.")


@strawberry.type(description="A page of a thread's messages, oldest first.")
class MessageConnection:
    edges: list[MessageEdge] = strawberry.field(description="The page.")
    page_info: PageInfo = strawberry.field(description="Where the page sits.")
    page: strawberry.Private[KeysetPage[Any]]

    @strawberry.field(description="Exact number of messages in the whole list (counted only when asked for).")
    async def total_count(self) -> int:
        return await self.page.total()


def message_connection(page: KeysetPage[m.Message]) -> MessageConnection:
    edges = [
        MessageEdge(cursor=encode_cursor(key), node=Message.from_model(row))
        for key, row in zip(page.keys, page.items, strict=True)
    ]
    return MessageConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        page=page,
    )
