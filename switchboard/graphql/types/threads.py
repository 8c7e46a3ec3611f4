"""Visitors, their threads, and the places of agents on them."""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON

from switchboard import models as m
from switchboard.events.cursors import decode_cursor
from switchboard.graphql.enums import (
    CollaboratorRole,
    InviteStatus,
    MessageVisibility,
    Permission,
    Sentiment,
    ThreadClass,
    ThreadStatus,
    VisitorTier,
)
from switchboard.graphql.loaders import now_or_later
from switchboard.graphql.types import base, connections, messages, queues, thread_lists
from switchboard.graphql.types.agents import Agent, agent_now, identity_now
from switchboard.graphql.types.base import InfoT, Node, gid
from switchboard.rules import policy
from switchboard.rules.caps import MAX_ACTIVE_COLLABORATORS as MAX_ACTIVE
from switchboard.rules.caps import MAX_LISTED_COLLABORATORS as MAX_LISTED
from switchboard.rules.caps import collaborator_cap, listed_collaborators
from switchboard.services import listing
from switchboard.services.pagination import empty_page, keyset_list
from switchboard.services.tenancy import limits_of

if TYPE_CHECKING:
    from switchboard.graphql.types.connections import InviteConnection, ThreadConnection
    from switchboard.graphql.types.messages import MessageConnection
    from switchboard.graphql.types.queues import QueueEntry

InviteConnectionRef = Annotated["InviteConnection", strawberry.lazy("switchboard.graphql.types.connections")]
ThreadConnectionRef = Annotated["ThreadConnection", strawberry.lazy("switchboard.graphql.types.connections")]
QueueEntryRef = Annotated["QueueEntry", strawberry.lazy("switchboard.graphql.types.queues")]
MessageConnectionRef = Annotated["MessageConnection", strawberry.lazy("switchboard.graphql.types.messages")]


@strawberry.type(description="A customer, known to the calling system by an external id.")
class Visitor(Node):
    external_id: str = strawberry.field(
        description="The id of this visitor in the calling system (unique per organization)."
    )
    name: str | None = strawberry.field(description="Display name, if the bot knows it.")
    tier: VisitorTier = strawberry.field(description="Service tier.")
    pk: strawberry.Private[int]

    @strawberry.field(description="This visitor's threads, newest first.")
    async def threads(
        self,
        info: InfoT,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
        last: int | None = strawberry.UNSET,
        before: str | None = strawberry.UNSET,
    ) -> ThreadConnectionRef:
        ctx = info.context
        caller = await ctx.allow(policy.Op.READ_THREADS)
        sort = listing.thread_sort(listing.ThreadQuery(visitor_id=self.pk))
        request = base.keyset_args(first, after, last, before, sort.decode)
        found = await ctx.loaders.visitor_threads.load((self.pk, policy.thread_scope(caller), request))
        return await thread_lists.connect(info, found, sort)

    @classmethod
    def from_model(cls, row: m.Visitor) -> Visitor:
        return cls(
            id=gid("Visitor", row.id),
            external_id=row.external_id,
            name=row.name,
            tier=row.tier,
            pk=row.id,
        )


@strawberry.type(description="One line of the bot's conversation with the visitor.")
class TranscriptLine:
    from_: str = strawberry.field(name="from", description="Who said it: visitor, bot, or an agent's name.")
    text: str = strawberry.field(description="What was said.")
    at: datetime | None = strawberry.field(description="When it was said.")


@strawberry.type(description="What the bot hands over so the agent does not ask again.")
class TransferContext:
    summary: str | None = strawberry.field(description="The bot's summary of the conversation.")
    sentiment: Sentiment | None = strawberry.field(description="The visitor's mood as the bot judged it.")
    intents: list[str] = strawberry.field(description="Intents the bot recognised.")
    tags: list[str] = strawberry.field(description="Free tags from the bot.")
    transcript: list[TranscriptLine] = strawberry.field(description="The conversation so far.")
    confidence: float | None = strawberry.field(description="The bot's confidence in its last answer (0..1).")
    extra: JSON | None = strawberry.field(description="Anything else the bot sent.")

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> TransferContext | None:
        if not data:
            return None
        return cls(
            summary=data.get("summary"),
            sentiment=data.get("sentiment"),
            intents=list(data.get("intents") or []),
            tags=list(data.get("tags") or []),
            transcript=[
                TranscriptLine(
                    from_=line["from"],
                    text=line["text"],
                    at=datetime.fromisoformat(line["at"]) if line.get("at") else None,
                )
                for line in data.get("transcript") or []
            ],
            confidence=data.get("confidence"),
            extra=data.get("extra"),
        )


@strawberry.type(description="A conversation with a visitor, served by the bot or by agents.")
class Thread(Node):
    status: ThreadStatus = strawberry.field(description="Where the thread is in its life.")
    thread_class: ThreadClass = strawberry.field(description="Decides the collaborator cap.")
    channel: str | None = strawberry.field(description="Where the visitor writes from (web, app, ...).")
    subject: str | None = strawberry.field(description="What the thread is about.")
    transfer_count: int = strawberry.field(description="How many times the thread was handed on.")
    created_at: datetime = strawberry.field(description="When the thread started.")
    updated_at: datetime = strawberry.field(description="When the thread last changed.")
    resolved_at: datetime | None = strawberry.field(description="When it was last resolved.")
    last_visitor_message_at: datetime | None = strawberry.field(
        description="When the visitor last wrote; null if never."
    )
    first_response_at: datetime | None = strawberry.field(
        description="The first PUBLIC message of an agent after the thread was last assigned."
    )
    row: strawberry.Private[m.Thread]
    # How much the caller sees (the access policy's answer where the thread was reached).
    reach: strawberry.Private[policy.Reach] = policy.Reach.FULL

    @strawberry.field(description="The visitor of this thread.")
    async def visitor(self, info: InfoT) -> Visitor:
        row = await info.context.loaders.visitor.load(self.row.visitor_id)
        assert row is not None  # a visitor is deleted with their threads
        return Visitor.from_model(row)

    # Sync resolvers returning the value or an awaitable of it (graphql-core awaits only the latter):
    # a list prefetches these for its page (``thread_lists``), so they usually cost no coroutine.
    @strawberry.field(description="The agent who owns the thread and talks to the visitor.")
    def primary_agent(self, info: InfoT) -> Agent | None:
        return identity_now(info, self.row.primary_agent_id, self.reach)  # type: ignore[no-any-return]

    @strawberry.field(description="The previous primary, kept for sticky routing on reopen.")
    def last_primary_agent(self, info: InfoT) -> Agent | None:
        return identity_now(info, self.row.last_primary_agent_id, self.reach)  # type: ignore[no-any-return]

    @strawberry.field(description="Active collaborators, the primary included; all past ones with includeInactive.")
    def collaborators(self, info: InfoT, include_inactive: bool | None = False) -> list[Collaborator]:
        caller = info.context.known_caller
        if caller is None:
            return _collaborators_later(info, self, include_inactive)  # type: ignore[return-value]
        return _collaborators_now(info, self, caller, include_inactive)  # type: ignore[no-any-return]

    @strawberry.field(description="Cap on non-primary active collaborators plus open invites.")
    async def collaborator_limit(self, info: InfoT) -> int:
        org = await info.context.loaders.organization.load(self.row.org_id)
        return collaborator_cap(limits_of(org), self.row.thread_class)

    @strawberry.field(description="Invites on this thread, newest first.")
    async def invites(
        self,
        info: InfoT,
        status: list[InviteStatus] | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
        last: int | None = strawberry.UNSET,
        before: str | None = strawberry.UNSET,
    ) -> InviteConnectionRef:
        request = base.keyset_args(first, after, last, before, listing.INVITE_SORT.decode)
        items: list[m.Invite] = []
        if policy.shows_identities(await info.context.caller(), self.reach):
            statuses = tuple(sorted({s.value for s in status or []}))
            items = await info.context.loaders.invites_by_thread.load((self.row.id, statuses))
        # A thread has few invites: the loader reads them all for every thread of a page at once.
        return connections.invite_connection(keyset_list(items, request, listing.INVITE_SORT))

    @strawberry.field(description="The newest queue entry of this thread, if it was ever queued.")
    async def queue_entry(self, info: InfoT) -> QueueEntryRef | None:
        if not policy.shows_details(self.reach):
            return None
        entries = await info.context.loaders.entries_by_thread.load(self.row.id)
        return queues.QueueEntry.from_model(entries[-1]) if entries else None

    @strawberry.field(description="What the bot handed over (summary, transcript, ...).")
    def context(self) -> TransferContext | None:
        return TransferContext.from_json(self.row.context) if policy.shows_details(self.reach) else None

    @strawberry.field(description="The caller's permission on this thread; null when the caller has none.")
    async def viewer_permission(self, info: InfoT) -> Permission | None:
        caller = await info.context.caller()
        place = None
        if caller.agent_id is not None:
            active = await info.context.loaders.active_collaborators.load(self.row.id)
            place = next((c.permission for c in active if c.agent_id == caller.agent_id), None)
        return policy.viewer_permission(caller, self.row.id, place)

    @strawberry.field(
        description=(
            "The conversation, oldest first (first/after pages forward, last/before from the newest). "
            "Visitors get PUBLIC messages only."
        )
    )
    async def messages(
        self,
        info: InfoT,
        visibility: list[MessageVisibility] | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
        last: int | None = strawberry.UNSET,
        before: str | None = strawberry.UNSET,
    ) -> MessageConnectionRef:
        # Cursors are the messages' event seqs: the same ones conversationEvents(after:) resumes from.
        request = base.keyset_args(first, after, last, before, decode_cursor)
        seen = policy.message_visibilities(await info.context.caller())
        if not policy.shows_details(self.reach):
            seen = frozenset()
        if visibility:
            seen = seen & set(visibility)
        if not seen:
            return messages.message_connection(empty_page())
        # Batched across the threads of a list that ask for the same page (one SELECT for all).
        page = await info.context.loaders.message_pages.load((self.row.id, frozenset(seen), request))
        return messages.message_connection(page)

    @strawberry.field(
        description=(
            "Messages the calling agent has not marked read, their own excluded; null for callers who are not agents."
        )
    )
    async def unread_count(self, info: InfoT) -> int | None:
        caller = await info.context.caller()
        if not policy.counts_unread(caller) or not policy.shows_details(self.reach):
            return None
        assert caller.agent_id is not None
        return await info.context.loaders.unread.load((caller.agent_id, self.row.id))

    @classmethod
    def from_model(cls, row: m.Thread, reach: policy.Reach = policy.Reach.FULL) -> Thread:
        return cls(
            id=gid("Thread", row.id),
            status=row.status,
            thread_class=row.thread_class,
            channel=row.channel,
            subject=row.subject,
            transfer_count=row.transfer_count,
            created_at=row.created_at,
            updated_at=row.updated_at,
            resolved_at=row.resolved_at,
            last_visitor_message_at=row.last_visitor_message_at,
            first_response_at=row.first_response_at,
            row=row,
            reach=reach,
        )


async def load_thread(info: InfoT, pk: int) -> Thread:
    """A thread reached through a relation of an object the caller already reads."""
    row = await info.context.loaders.thread.load(pk)
    assert row is not None
    return Thread.from_model(row)


@strawberry.type(description="An agent's place on a thread: role, permission, and whether it is current.")
class Collaborator(Node):
    role: CollaboratorRole = strawberry.field(description="The agent's role on this thread.")
    permission: Permission = strawberry.field(description="What the agent may do on this thread.")
    active: bool = strawberry.field(description="False once the agent left, was removed, or the thread resolved.")
    joined_at: datetime = strawberry.field(description="When the agent joined.")
    left_at: datetime | None = strawberry.field(description="When the agent stopped collaborating.")
    row: strawberry.Private[m.Collaborator]

    @strawberry.field(description="The thread.")
    async def thread(self, info: InfoT) -> Thread:
        return await load_thread(info, self.row.thread_id)

    @strawberry.field(description="The collaborating agent.")
    def agent(self, info: InfoT) -> Agent:
        # Never None: an agent with places is never deleted (prefetched by thread lists).
        return agent_now(info, self.row.agent_id)  # type: ignore[return-value]

    @strawberry.field(description="Who invited the agent (null for the first primary).")
    def invited_by(self, info: InfoT) -> Agent | None:
        return agent_now(info, self.row.invited_by_id)  # type: ignore[return-value]

    @classmethod
    def from_model(cls, row: m.Collaborator) -> Collaborator:
        return cls(
            id=gid("Collaborator", row.id),
            role=row.role,
            permission=row.permission,
            active=row.active,
            joined_at=row.joined_at,
            left_at=row.left_at,
            row=row,
        )


def _active(row: m.Collaborator) -> bool:
    return bool(row.active)


# Bounded as the query cost counts them (graphql/limits.py): the active ones, or every past one too.
def _active_collaborators(rows: list[m.Collaborator]) -> list[Collaborator]:
    return [Collaborator.from_model(row) for row in rows[:MAX_ACTIVE]]


def _listed_collaborators(rows: list[m.Collaborator]) -> list[Collaborator]:
    return [Collaborator.from_model(row) for row in listed_collaborators(rows, _active, MAX_LISTED)]


def _collaborators_now(info: InfoT, thread: Thread, caller: policy.Caller, include_inactive: bool | None) -> Any:
    if not policy.shows_identities(caller, thread.reach):
        return []
    loaders = info.context.loaders
    if include_inactive:
        return now_or_later(loaders.all_collaborators, thread.row.id, _listed_collaborators)
    return now_or_later(loaders.active_collaborators, thread.row.id, _active_collaborators)


async def _collaborators_later(info: InfoT, thread: Thread, include_inactive: bool | None) -> list[Collaborator]:
    found = _collaborators_now(info, thread, await info.context.caller(), include_inactive)
    return await found if inspect.isawaitable(found) else found  # type: ignore[no-any-return]
