"""Entity types. Built from model rows; relations resolve through per-request loaders."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from switchboard import ids
from switchboard import models as m
from switchboard.schema.enums import (
    AgentRole,
    AgentStatus,
    CollaboratorRole,
    InviteStatus,
    InviteType,
    OverflowAction,
    Permission,
    Priority,
    QueueEntryStatus,
    RoutingStrategy,
    Sentiment,
    ThreadClass,
    ThreadStatus,
    TransferTrigger,
    Urgency,
    VisitorTier,
)

if TYPE_CHECKING:
    from switchboard.context import Context

    InfoT = Info[Context, None]
else:
    InfoT = Info


@strawberry.interface(description="An object with an opaque global ID.")
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global ID; clients never decode it.")


@strawberry.type(description="Where a page of a connection sits in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items precede this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first item of the page.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last item of the page.")


def gid(type_name: str, pk: int | None) -> strawberry.ID | None:
    return None if pk is None else strawberry.ID(ids.encode(type_name, pk))


async def _load(info: InfoT, type_name: str, pk: int | None) -> Any:
    if pk is None:
        return None
    return await info.context.loaders.by_type(type_name).load(pk)


# ---------------------------------------------------------------- agents and visitors


@strawberry.type(description="A person who serves visitors and collaborates on threads.")
class Agent(Node):
    name: str = strawberry.field(description="Display name.")
    email: str | None = strawberry.field(description="Work e-mail address.")
    role: AgentRole = strawberry.field(description="AGENT or SUPERVISOR (of their department).")
    department: str | None = strawberry.field(description="Department; cross-department invites may need approval.")
    skills: list[str] = strawberry.field(description="Skills that routing matches against queues and entries.")
    status: AgentStatus = strawberry.field(description="Current availability.")
    max_concurrent_threads: int = strawberry.field(description="Threads this agent may serve as PRIMARY at once.")
    max_concurrent_collaborations: int = strawberry.field(
        description="Threads this agent may collaborate on (non-primary) at once."
    )
    active_thread_count: int = strawberry.field(description="Threads this agent serves as PRIMARY now.")
    active_collaboration_count: int = strawberry.field(description="Threads this agent collaborates on now.")
    created_at: datetime = strawberry.field(description="When the agent was provisioned.")

    @classmethod
    def from_model(cls, row: m.Agent) -> Agent:
        return cls(
            id=strawberry.ID(ids.encode("Agent", row.id)),
            name=row.name,
            email=row.email,
            role=row.role,
            department=row.department,
            skills=list(row.skills or []),
            status=row.status,
            max_concurrent_threads=row.max_concurrent_threads,
            max_concurrent_collaborations=row.max_concurrent_collaborations,
            active_thread_count=row.active_thread_count,
            active_collaboration_count=row.active_collaboration_count,
            created_at=row.created_at,
        )


async def load_agent(info: InfoT, pk: int | None) -> Agent | None:
    row = await _load(info, "Agent", pk)
    return Agent.from_model(row) if row else None


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
    ) -> Annotated[ThreadConnection, strawberry.lazy("switchboard.schema.types")]:
        from switchboard.resolvers import threads as r

        return await r.visitor_threads(info, self.pk, first=first, after=after, last=last, before=before)

    @classmethod
    def from_model(cls, row: m.Visitor) -> Visitor:
        return cls(
            id=strawberry.ID(ids.encode("Visitor", row.id)),
            external_id=row.external_id,
            name=row.name,
            tier=row.tier,
            pk=row.id,
        )


# ---------------------------------------------------------------- threads


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
    row: strawberry.Private[m.Thread]
    # Reached through an invite by an agent who may not read the thread: only its
    # headline (id, status, class, channel, subject, visitor) shows.
    redacted: strawberry.Private[bool] = False

    @strawberry.field(description="The visitor of this thread.")
    async def visitor(self, info: InfoT) -> Visitor:
        row = await _load(info, "Visitor", self.row.visitor_id)
        return Visitor.from_model(row)

    @strawberry.field(description="The agent who owns the thread and talks to the visitor.")
    async def primary_agent(self, info: InfoT) -> Agent | None:
        from switchboard.resolvers import threads as r

        if self.redacted or not r.may_see_agents(info):
            return None
        return await load_agent(info, self.row.primary_agent_id)

    @strawberry.field(description="The previous primary, kept for sticky routing on reopen.")
    async def last_primary_agent(self, info: InfoT) -> Agent | None:
        from switchboard.resolvers import threads as r

        if self.redacted or not r.may_see_agents(info):
            return None
        return await load_agent(info, self.row.last_primary_agent_id)

    @strawberry.field(description="Active collaborators, the primary included; all past ones with includeInactive.")
    async def collaborators(self, info: InfoT, include_inactive: bool | None = False) -> list[Collaborator]:
        from switchboard.resolvers import threads as r

        if self.redacted or not r.may_see_agents(info):
            return []
        loader = (
            info.context.loaders.all_collaborators if include_inactive else info.context.loaders.active_collaborators
        )
        return [Collaborator.from_model(row) for row in await loader.load(self.row.id)]

    @strawberry.field(description="Cap on non-primary active collaborators plus open invites.")
    async def collaborator_limit(self, info: InfoT) -> int:
        from switchboard.resolvers import threads as r

        return await r.collaborator_limit(info, self.row)

    @strawberry.field(description="Invites on this thread, newest first.")
    async def invites(
        self,
        info: InfoT,
        status: list[InviteStatus] | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
        last: int | None = strawberry.UNSET,
        before: str | None = strawberry.UNSET,
    ) -> InviteConnection:
        from switchboard.resolvers import threads as r

        row = None if self.redacted else self.row
        return await r.thread_invites(info, row, status, first=first, after=after, last=last, before=before)

    @strawberry.field(description="The newest queue entry of this thread, if it was ever queued.")
    async def queue_entry(self, info: InfoT) -> QueueEntry | None:
        if self.redacted:
            return None
        entries = await info.context.loaders.entries_by_thread.load(self.row.id)
        return QueueEntry.from_model(entries[-1]) if entries else None

    @strawberry.field(description="What the bot handed over (summary, transcript, ...).")
    def context(self) -> TransferContext | None:
        return None if self.redacted else TransferContext.from_json(self.row.context)

    @strawberry.field(description="The caller's permission on this thread; null when the caller has none.")
    async def viewer_permission(self, info: InfoT) -> Permission | None:
        from switchboard.resolvers import threads as r

        return await r.viewer_permission(info, self.row)

    @classmethod
    def from_model(cls, row: m.Thread) -> Thread:
        return cls(
            id=strawberry.ID(ids.encode("Thread", row.id)),
            status=row.status,
            thread_class=row.thread_class,
            channel=row.channel,
            subject=row.subject,
            transfer_count=row.transfer_count,
            created_at=row.created_at,
            updated_at=row.updated_at,
            resolved_at=row.resolved_at,
            row=row,
        )


async def load_thread(info: InfoT, pk: int | None) -> Thread | None:
    row = await _load(info, "Thread", pk)
    return Thread.from_model(row) if row else None


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
        found = await load_thread(info, self.row.thread_id)
        assert found is not None
        return found

    @strawberry.field(description="The collaborating agent.")
    async def agent(self, info: InfoT) -> Agent:
        found = await load_agent(info, self.row.agent_id)
        assert found is not None
        return found

    @strawberry.field(description="Who invited the agent (null for the first primary).")
    async def invited_by(self, info: InfoT) -> Agent | None:
        return await load_agent(info, self.row.invited_by_id)

    @classmethod
    def from_model(cls, row: m.Collaborator) -> Collaborator:
        return cls(
            id=strawberry.ID(ids.encode("Collaborator", row.id)),
            role=row.role,
            permission=row.permission,
            active=row.active,
            joined_at=row.joined_at,
            left_at=row.left_at,
            row=row,
        )


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
    async def thread(self, info: InfoT) -> Thread:
        from switchboard.resolvers import threads as r

        found = await load_thread(info, self.row.thread_id)
        assert found is not None
        found.redacted = not await r.invite_reveals_thread(info.context, self.row, found.row)
        return found

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
            id=strawberry.ID(ids.encode("Invite", row.id)),
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


# ---------------------------------------------------------------- queues


@strawberry.type(description="How many WAITING entries have one priority.")
class PriorityCount:
    priority: Priority = strawberry.field(description="The priority.")
    count: int = strawberry.field(description="WAITING entries with it.")


@strawberry.type(description="A queue's live figures.")
class QueueStats:
    waiting: int = strawberry.field(description="Entries WAITING now.")
    waiting_by_priority: list[PriorityCount] = strawberry.field(description="WAITING entries per priority.")
    longest_wait_seconds: int = strawberry.field(description="How long the oldest WAITING entry has waited.")
    average_wait_seconds: float | None = strawberry.field(description="Mean wait of entries assigned in the last hour.")
    available_agents: int = strawberry.field(description="Agents ONLINE with free capacity who can serve this queue.")
    estimated_wait_seconds: int | None = strawberry.field(description="Estimated wait of a NORMAL entry joining now.")


WAITING_ONLY = [QueueEntryStatus.WAITING]


@strawberry.type(description="Where threads wait for a human agent.")
class Queue(Node):
    name: str = strawberry.field(description="Unique name within the organization.")
    skills: list[str] = strawberry.field(description="Skills an agent needs to serve this queue.")
    routing_strategy: RoutingStrategy = strawberry.field(description="How entries reach agents.")
    max_wait_seconds: int = strawberry.field(description="Wait after which an entry overflows.")
    vip_max_wait_seconds: int = strawberry.field(description="The same for VIP and ENTERPRISE visitors.")
    overflow_action: OverflowAction = strawberry.field(description="What happens to an overflowed entry.")
    sticky_agent: bool = strawberry.field(
        description="On reopen, offer the thread to its last primary first when that agent can take it."
    )
    is_default: bool = strawberry.field(description="The queue used when requestTransfer names none.")
    row: strawberry.Private[m.Queue]

    @strawberry.field(description="Live figures of this queue.")
    async def stats(self, info: InfoT) -> QueueStats:
        from switchboard.resolvers import queues as r

        return await r.queue_stats(info, self.row)

    @strawberry.field(description="Entries of this queue (WAITING by default), in queue order.")
    async def entries(
        self,
        info: InfoT,
        status: list[QueueEntryStatus] | None = WAITING_ONLY,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
        last: int | None = strawberry.UNSET,
        before: str | None = strawberry.UNSET,
    ) -> QueueEntryConnection:
        from switchboard.resolvers import queues as r

        return await r.queue_entries_of(info, self.row, status, first=first, after=after, last=last, before=before)

    @classmethod
    def from_model(cls, row: m.Queue) -> Queue:
        return cls(
            id=strawberry.ID(ids.encode("Queue", row.id)),
            name=row.name,
            skills=list(row.skills or []),
            routing_strategy=row.routing_strategy,
            max_wait_seconds=row.max_wait_seconds,
            vip_max_wait_seconds=row.vip_max_wait_seconds,
            overflow_action=row.overflow_action,
            sticky_agent=row.sticky_agent,
            is_default=row.is_default,
            row=row,
        )


@strawberry.type(description="A thread's request for a human, waiting in (or gone from) a queue.")
class QueueEntry(Node):
    priority: Priority = strawberry.field(description="Queue priority.")
    status: QueueEntryStatus = strawberry.field(description="Where the entry is in its life.")
    trigger: TransferTrigger = strawberry.field(description="What made the bot (or someone) ask for a human.")
    reason: str | None = strawberry.field(description="Free text reason.")
    required_skills: list[str] = strawberry.field(description="Skills the serving agent needs.")
    attempt: int = strawberry.field(description="1 for the thread's first transfer request, 2 for the second, ...")
    enqueued_at: datetime = strawberry.field(description="When the entry joined the queue.")
    assigned_at: datetime | None = strawberry.field(description="When an agent got it.")
    overflow_action: OverflowAction | None = strawberry.field(description="Set when the entry OVERFLOWED.")
    row: strawberry.Private[m.QueueEntry]

    @strawberry.field(description="The thread.")
    async def thread(self, info: InfoT) -> Thread:
        found = await load_thread(info, self.row.thread_id)
        assert found is not None
        return found

    @strawberry.field(description="The queue.")
    async def queue(self, info: InfoT) -> Queue:
        row = await _load(info, "Queue", self.row.queue_id)
        return Queue.from_model(row)

    @strawberry.field(description="1-based place among WAITING entries of the queue; null when not waiting.")
    async def position(self, info: InfoT) -> int | None:
        from switchboard.resolvers import queues as r

        return (await r.entry_place(info, self.row)).position

    @strawberry.field(description="WAITING entries in the queue now.")
    async def queue_length(self, info: InfoT) -> int:
        from switchboard.resolvers import queues as r

        return (await r.entry_place(info, self.row)).queue_length

    @strawberry.field(description="Estimated seconds until an agent takes this entry; null when not waiting.")
    async def estimated_wait_seconds(self, info: InfoT) -> int | None:
        from switchboard.resolvers import queues as r

        return (await r.entry_place(info, self.row)).estimated_wait_seconds

    @strawberry.field(description="The agent who got the entry.")
    async def assigned_agent(self, info: InfoT) -> Agent | None:
        from switchboard.resolvers import threads as r

        if not r.may_see_agents(info):
            return None
        return await load_agent(info, self.row.assigned_agent_id)

    @classmethod
    def from_model(cls, row: m.QueueEntry) -> QueueEntry:
        return cls(
            id=strawberry.ID(ids.encode("QueueEntry", row.id)),
            priority=row.priority,
            status=row.status,
            trigger=row.trigger,
            reason=row.reason,
            required_skills=list(row.required_skills or []),
            attempt=row.attempt,
            enqueued_at=row.enqueued_at,
            assigned_at=row.assigned_at,
            overflow_action=row.overflow_action,
            row=row,
        )


# ---------------------------------------------------------------- settings


@strawberry.type(description="The organization's rules for invites, queues and transfers.")
class OrganizationSettings:
    invite_expiry_seconds: int = strawberry.field(description="Default lifetime of an invite.")
    collaborator_limit_normal: int = strawberry.field(description="Collaborator cap of NORMAL threads.")
    collaborator_limit_vip: int = strawberry.field(description="Collaborator cap of VIP threads.")
    collaborator_limit_urgent: int = strawberry.field(description="Collaborator cap of URGENT threads.")
    cross_department_approval: bool = strawberry.field(
        description="Invites to another department need a supervisor's approval."
    )
    max_transfer_attempts: int = strawberry.field(description="Transfer requests allowed per thread.")
    transfer_rate_limit_per_visitor_per_hour: int = strawberry.field(
        description="Transfer requests allowed per visitor per hour."
    )
    invites_per_agent_per_minute: int = strawberry.field(description="Invites one agent may send per minute.")
    unassign_on_resolve: bool = strawberry.field(
        description="Resolving clears the primary, so a reopened thread goes back through the queue."
    )

    @classmethod
    def from_model(cls, row: m.Organization) -> OrganizationSettings:
        return cls(
            invite_expiry_seconds=row.invite_expiry_seconds,
            collaborator_limit_normal=row.collaborator_limit_normal,
            collaborator_limit_vip=row.collaborator_limit_vip,
            collaborator_limit_urgent=row.collaborator_limit_urgent,
            cross_department_approval=row.cross_department_approval,
            max_transfer_attempts=row.max_transfer_attempts,
            transfer_rate_limit_per_visitor_per_hour=row.transfer_rate_limit_per_visitor_per_hour,
            invites_per_agent_per_minute=row.invites_per_agent_per_minute,
            unassign_on_resolve=row.unassign_on_resolve,
        )


# ---------------------------------------------------------------- connections


@strawberry.type(description="A thread in a connection.")
class ThreadEdge:
    cursor: str = strawberry.field(description="Pass as after/before to page from here.")
    node: Thread = strawberry.field(description="The thread.")


@strawberry.type(description="A page of threads.")
class ThreadConnection:
    edges: list[ThreadEdge] = strawberry.field(description="The page.")
    page_info: PageInfo = strawberry.field(description="Where the page sits.")
    total_count: int = strawberry.field(description="Exact number of items in the whole list.")


@strawberry.type(description="An invite in a connection.")
class InviteEdge:
    cursor: str = strawberry.field(description="Pass as after/before to page from here.")
    node: Invite = strawberry.field(description="The invite.")


@strawberry.type(description="A page of invites.")
class InviteConnection:
    edges: list[InviteEdge] = strawberry.field(description="The page.")
    page_info: PageInfo = strawberry.field(description="Where the page sits.")
    total_count: int = strawberry.field(description="Exact number of items in the whole list.")


@strawberry.type(description="An agent in a connection.")
class AgentEdge:
    cursor: str = strawberry.field(description="Pass as after/before to page from here.")
    node: Agent = strawberry.field(description="The agent.")


@strawberry.type(description="A page of agents.")
class AgentConnection:
    edges: list[AgentEdge] = strawberry.field(description="The page.")
    page_info: PageInfo = strawberry.field(description="Where the page sits.")
    total_count: int = strawberry.field(description="Exact number of items in the whole list.")


@strawberry.type(description="A queue entry in a connection.")
class QueueEntryEdge:
    cursor: str = strawberry.field(description="Pass as after/before to page from here.")
    node: QueueEntry = strawberry.field(description="The entry.")


@strawberry.type(description="A page of queue entries.")
class QueueEntryConnection:
    edges: list[QueueEntryEdge] = strawberry.field(description="The page.")
    page_info: PageInfo = strawberry.field(description="Where the page sits.")
    total_count: int = strawberry.field(description="Exact number of items in the whole list.")
