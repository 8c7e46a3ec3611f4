"""Relay connections of the entity types."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from switchboard.graphql.types import agents, invites, queues, threads
from switchboard.graphql.types.base import PageInfo, connection
from switchboard.services.pagination import Page

if TYPE_CHECKING:
    from switchboard.graphql.types.agents import Agent
    from switchboard.graphql.types.invites import Invite
    from switchboard.graphql.types.queues import QueueEntry
    from switchboard.graphql.types.threads import Thread

AgentRef = Annotated["Agent", strawberry.lazy("switchboard.graphql.types.agents")]
InviteRef = Annotated["Invite", strawberry.lazy("switchboard.graphql.types.invites")]
QueueEntryRef = Annotated["QueueEntry", strawberry.lazy("switchboard.graphql.types.queues")]
ThreadRef = Annotated["Thread", strawberry.lazy("switchboard.graphql.types.threads")]


@strawberry.type(description="A thread in a connection.")
class ThreadEdge:
    cursor: str = strawberry.field(description="Pass as after/before to page from here.")
    node: ThreadRef = strawberry.field(description="The thread.")


@strawberry.type(description="A page of threads.")
class ThreadConnection:
    edges: list[ThreadEdge] = strawberry.field(description="The page.")
    page_info: PageInfo = strawberry.field(description="Where the page sits.")
    total_count: int = strawberry.field(description="Exact number of items in the whole list.")


@strawberry.type(description="An invite in a connection.")
class InviteEdge:
    cursor: str = strawberry.field(description="Pass as after/before to page from here.")
    node: InviteRef = strawberry.field(description="The invite.")


@strawberry.type(description="A page of invites.")
class InviteConnection:
    edges: list[InviteEdge] = strawberry.field(description="The page.")
    page_info: PageInfo = strawberry.field(description="Where the page sits.")
    total_count: int = strawberry.field(description="Exact number of items in the whole list.")


@strawberry.type(description="An agent in a connection.")
class AgentEdge:
    cursor: str = strawberry.field(description="Pass as after/before to page from here.")
    node: AgentRef = strawberry.field(description="The agent.")


@strawberry.type(description="A page of agents.")
class AgentConnection:
    edges: list[AgentEdge] = strawberry.field(description="The page.")
    page_info: PageInfo = strawberry.field(description="Where the page sits.")
    total_count: int = strawberry.field(description="Exact number of items in the whole list.")


@strawberry.type(description="A queue entry in a connection.")
class QueueEntryEdge:
    cursor: str = strawberry.field(description="Pass as after/before to page from here.")
    node: QueueEntryRef = strawberry.field(description="The entry.")


@strawberry.type(description="A page of queue entries.")
class QueueEntryConnection:
    edges: list[QueueEntryEdge] = strawberry.field(description="The page.")
    page_info: PageInfo = strawberry.field(description="Where the page sits.")
    total_count: int = strawberry.field(description="Exact number of items in the whole list.")


def thread_connection(page: Page[Any]) -> ThreadConnection:
    return connection(page, ThreadConnection, ThreadEdge, threads.Thread.from_model)


def invite_connection(page: Page[Any]) -> InviteConnection:
    return connection(page, InviteConnection, InviteEdge, invites.Invite.from_model)


def agent_connection(page: Page[Any]) -> AgentConnection:
    return connection(page, AgentConnection, AgentEdge, agents.Agent.from_model)


def entry_connection(page: Page[Any]) -> QueueEntryConnection:
    return connection(page, QueueEntryConnection, QueueEntryEdge, queues.QueueEntry.from_model)
