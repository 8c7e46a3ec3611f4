"""Relay connections of the entity types."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from switchboard.graphql.types import agents, invites, queues, threads
from switchboard.graphql.types.base import PageInfo, connection, count_total
from switchboard.rules.pagination import SortKey
from switchboard.services.listing import AGENT_SORT, ENTRY_SORT, INVITE_SORT
from switchboard.services.pagination import KeysetPage

if TYPE_CHECKING:
    from switchboard.graphql.types.agents import Agent
    from switchboard.graphql.types.invites import Invite
    from switchboard.graphql.types.queues import QueueEntry
    from switchboard.graphql.types.threads import Thread

AgentRef = Annotated["Agent", strawberry.lazy("switchboard.graphql.types.agents")]
InviteRef = Annotated["Invite", strawberry.lazy("switchboard.graphql.types.invites")]
QueueEntryRef = Annotated["QueueEntry", strawberry.lazy("switchboard.graphql.types.queues")]
ThreadRef = Annotated["Thread", strawberry.lazy("switchboard.graphql.types.threads")]
TOTAL = "Exact number of items in the whole list (counted only when selected)."


@strawberry.type(description="A thread in a connection.")
class ThreadEdge:
    cursor: str = strawberry.field(description="Pass as after/before to page from here.")
    node: ThreadRef = strawberry.field(description="The thread.")


@strawberry.type(description="A page of threads.")
class ThreadConnection:
    edges: list[ThreadEdge] = strawberry.field(description="The page.")
    page_info: PageInfo = strawberry.field(description="Where the page sits.")
    page: strawberry.Private[KeysetPage[Any]]
    total_count: int = strawberry.field(resolver=count_total, description=TOTAL)


@strawberry.type(description="An invite in a connection.")
class InviteEdge:
    cursor: str = strawberry.field(description="Pass as after/before to page from here.")
    node: InviteRef = strawberry.field(description="The invite.")


@strawberry.type(description="A page of invites.")
class InviteConnection:
    edges: list[InviteEdge] = strawberry.field(description="The page.")
    page_info: PageInfo = strawberry.field(description="Where the page sits.")
    page: strawberry.Private[KeysetPage[Any]]
    total_count: int = strawberry.field(resolver=count_total, description=TOTAL)


@strawberry.type(description="An agent in a connection.")
class AgentEdge:
    cursor: str = strawberry.field(description="Pass as after/before to page from here.")
    node: AgentRef = strawberry.field(description="The agent.")


@strawberry.type(description="A page of agents.")
class AgentConnection:
    edges: list[AgentEdge] = strawberry.field(description="The page.")
    page_info: PageInfo = strawberry.field(description="Where the page sits.")
    page: strawberry.Private[KeysetPage[Any]]
    total_count: int = strawberry.field(resolver=count_total, description=TOTAL)


@strawberry.type(description="A queue entry in a connection.")
class QueueEntryEdge:
    cursor: str = strawberry.field(description="Pass as after/before to page from here.")
    node: QueueEntryRef = strawberry.field(description="The entry.")


@strawberry.type(description="A page of queue entries.")
class QueueEntryConnection:
    edges: list[QueueEntryEdge] = strawberry.field(description="The page.")
    page_info: PageInfo = strawberry.field(description="Where the page sits.")
    page: strawberry.Private[KeysetPage[Any]]
    total_count: int = strawberry.field(resolver=count_total, description=TOTAL)


def thread_connection(page: KeysetPage[Any], sort: SortKey) -> ThreadConnection:
    return connection(page, sort, ThreadConnection, ThreadEdge, threads.Thread.from_model)


def invite_connection(page: KeysetPage[Any]) -> InviteConnection:
    return connection(page, INVITE_SORT, InviteConnection, InviteEdge, invites.Invite.from_model)


def agent_connection(page: KeysetPage[Any]) -> AgentConnection:
    return connection(page, AGENT_SORT, AgentConnection, AgentEdge, agents.Agent.from_model)


def entry_connection(page: KeysetPage[Any]) -> QueueEntryConnection:
    return connection(page, ENTRY_SORT, QueueEntryConnection, QueueEntryEdge, queues.QueueEntry.from_model)
