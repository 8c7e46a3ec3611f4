"""Thread reads, startThread and resolveThread."""

from __future__ import annotations

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from switchboard import auth
from switchboard import ids as gids
from switchboard.context import Context
from switchboard.domain import threads as domain
from switchboard.domain.enums import InviteStatus, Permission, QueueEntryStatus, Role, ThreadStatus
from switchboard.domain.invites import ANSWERABLE
from switchboard.domain.pagination import Page, paginate, window
from switchboard.errors import Forbidden
from switchboard.models import Collaborator as CollaboratorRow
from switchboard.models import Invite as InviteRow
from switchboard.models import QueueEntry as QueueEntryRow
from switchboard.models import Thread as ThreadRow
from switchboard.resolvers.common import arg_pk, run, to_connection
from switchboard.schema.inputs import ResolveThreadInput, SortDirection, StartThreadInput, ThreadFilter, ThreadOrder
from switchboard.schema.payloads import StartThreadPayload, ThreadPayload, errors_of
from switchboard.schema.types import (
    InfoT,
    InviteConnection,
    InviteEdge,
    Thread,
    ThreadConnection,
    ThreadEdge,
)
from switchboard.schema.types import Invite as InviteType

VISITOR_TOKEN_TTL = 12 * 3600
ALL_READERS = (Role.AGENT, Role.ADMIN, Role.ANALYST, Role.SERVICE, Role.VISITOR)


def may_see_agents(info: InfoT) -> bool:
    """Visitors read their thread without agent identities."""
    return info.context.principal.role is not Role.VISITOR


async def visible_threads(ctx: Context) -> QuerySet[ThreadRow]:
    """The caller's threads: all for staff roles and supervisors, their own otherwise."""
    principal = ctx.require(*ALL_READERS)
    qs = ctx.tenant.q(ThreadRow)
    if principal.role is Role.VISITOR:
        return qs.filter(id=principal.thread_id)
    if principal.role is Role.AGENT and not await ctx.is_supervisor():
        mine = ctx.tenant.q(CollaboratorRow).filter(agent_id=principal.agent_id, active=True)
        return qs.filter(id__in=Subquery(mine.values("thread_id")))
    return qs


async def can_read_thread(ctx: Context, row: ThreadRow) -> bool:
    """Agents read their own threads, and any thread while it waits in a queue:
    deciding a claim needs the bot's context. Supervisors and staff roles read all."""
    principal = ctx.require(*ALL_READERS)
    if principal.role is Role.VISITOR:
        return row.id == principal.thread_id
    if principal.role is Role.AGENT and not await ctx.is_supervisor():
        if row.status is ThreadStatus.QUEUED:
            return True
        active = await ctx.loaders.active_collaborators.load(row.id)
        return any(c.agent_id == principal.agent_id for c in active)
    return True


async def invite_reveals_thread(ctx: Context, invite: InviteRow, row: ThreadRow) -> bool:
    """Whether an invite shows its whole thread: to whoever may read the thread, and to
    the invitee while they can answer it (not before a supervisor approved it).
    Otherwise an old invite would be a lasting window into another agent's conversation."""
    principal = ctx.principal
    if principal.role is not Role.AGENT or await ctx.is_supervisor():
        return True
    if invite.invitee_id == principal.agent_id and invite.status in ANSWERABLE:
        return True
    return await can_read_thread(ctx, row)


async def visible_entries(ctx: Context, qs: QuerySet[QueueEntryRow]) -> QuerySet[QueueEntryRow]:
    """Queue entries the caller may list: a plain agent sees WAITING ones and those of
    their own threads, never another agent's conversation; a visitor only their own."""
    principal = ctx.require(*ALL_READERS)
    if principal.role is Role.VISITOR:
        return qs.filter(thread_id=principal.thread_id)
    if principal.role is Role.AGENT and not await ctx.is_supervisor():
        mine = ctx.tenant.q(CollaboratorRow).filter(agent_id=principal.agent_id, active=True)
        return qs.filter(Q(status=QueueEntryStatus.WAITING) | Q(thread_id__in=Subquery(mine.values("thread_id"))))
    return qs


async def thread(info: InfoT, id: str) -> Thread | None:
    ctx = info.context
    ctx.require(*ALL_READERS)
    row = await ctx.loaders.thread.load(arg_pk(id, "Thread"))
    if row is None:
        return None
    if not await can_read_thread(ctx, row):
        if ctx.principal.role is Role.VISITOR:
            raise Forbidden("visitors may only read their own thread")
        return None
    return Thread.from_model(row)


async def threads(
    info: InfoT,
    flt: ThreadFilter | None,
    order: ThreadOrder | None,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> ThreadConnection:
    ctx = info.context
    qs = await visible_threads(ctx)
    if flt is not None:
        qs = _filtered(ctx, qs, flt)
    column = "updated_at" if order is not None and order.field.value == "UPDATED_AT" else "created_at"
    descending = order is None or order.direction is SortDirection.DESC
    ordering = (f"-{column}", "-id") if descending else (column, "id")
    page = await paginate(qs.order_by(*ordering), first=first, after=after, last=last, before=before)
    return to_connection(page, ThreadConnection, ThreadEdge, Thread.from_model)


def _filtered(ctx: Context, qs: QuerySet[ThreadRow], flt: ThreadFilter) -> QuerySet[ThreadRow]:
    if flt.status:
        qs = qs.filter(status__in=list(flt.status))
    if flt.thread_class:
        qs = qs.filter(thread_class__in=list(flt.thread_class))
    if flt.primary_agent_id is not None:
        qs = qs.filter(primary_agent_id=arg_pk(flt.primary_agent_id, "Agent"))
    if flt.visitor_id is not None:
        qs = qs.filter(visitor_id=arg_pk(flt.visitor_id, "Visitor"))
    if flt.collaborator_agent_id is not None:
        agent = arg_pk(flt.collaborator_agent_id, "Agent")
        rows = ctx.tenant.q(CollaboratorRow).filter(agent_id=agent, active=True)
        qs = qs.filter(id__in=Subquery(rows.values("thread_id")))
    if flt.created_after is not None:
        qs = qs.filter(created_at__gte=flt.created_after)
    if flt.created_before is not None:
        qs = qs.filter(created_at__lt=flt.created_before)
    return qs


async def viewer_threads(
    info: InfoT, agent_pk: int | None, *, first: int | None, after: str | None, last: int | None, before: str | None
) -> ThreadConnection:
    ctx = info.context
    if agent_pk is None:
        page = await paginate(ctx.tenant.q(ThreadRow).filter(id=0), first=first)
    else:
        mine = ctx.tenant.q(CollaboratorRow).filter(agent_id=agent_pk, active=True)
        qs = ctx.tenant.q(ThreadRow).filter(id__in=Subquery(mine.values("thread_id")))
        page = await paginate(qs.order_by("-updated_at", "-id"), first=first, after=after, last=last, before=before)
    return to_connection(page, ThreadConnection, ThreadEdge, Thread.from_model)


async def visitor_threads(
    info: InfoT, visitor_pk: int, *, first: int | None, after: str | None, last: int | None, before: str | None
) -> ThreadConnection:
    ctx = info.context
    qs = (await visible_threads(ctx)).filter(visitor_id=visitor_pk)
    page = await paginate(qs.order_by("-created_at", "-id"), first=first, after=after, last=last, before=before)
    return to_connection(page, ThreadConnection, ThreadEdge, Thread.from_model)


async def thread_invites(
    info: InfoT,
    row: ThreadRow | None,
    status: list[InviteStatus] | None,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> InviteConnection:
    """A thread's invites, newest first: batched over every thread of the request.

    ``row`` is None for a thread the caller sees only the headline of."""
    ctx = info.context
    if row is None or not may_see_agents(info):
        items: list[InviteRow] = []
    else:
        statuses = tuple(sorted({s.value for s in status or []}))
        items = await ctx.loaders.invites_by_thread.load((row.id, statuses))
    start, stop = window(len(items), first, after, last, before)
    page = Page(
        items=items[start:stop],
        offsets=list(range(start, stop)),
        total=len(items),
        has_next=stop < len(items),
        has_previous=start > 0,
    )
    return to_connection(page, InviteConnection, InviteEdge, InviteType.from_model)


async def collaborator_limit(info: InfoT, row: ThreadRow) -> int:
    org = await info.context.loaders.organization.load(row.org_id)
    return domain.collaborator_limit(org, row.thread_class)


async def viewer_permission(info: InfoT, row: ThreadRow) -> Permission | None:
    ctx = info.context
    principal = ctx.principal
    if principal.role is Role.AGENT:
        active = await ctx.loaders.active_collaborators.load(row.id)
        mine = next((c for c in active if c.agent_id == principal.agent_id), None)
        if mine is not None:
            return mine.permission
        return Permission.READ if await ctx.is_supervisor() else None
    if principal.role is Role.ADMIN:
        return Permission.ADMIN
    if principal.role in (Role.ANALYST, Role.SERVICE):
        return Permission.READ
    return Permission.READ if row.id == principal.thread_id else None


async def start_thread(info: InfoT, data: StartThreadInput) -> StartThreadPayload:
    ctx = info.context
    ctx.require(Role.SERVICE, Role.ADMIN)

    async def work(outbox):  # type: ignore[no-untyped-def]
        await ctx.tenant.organization()
        visitor = await domain.find_or_create_visitor(
            ctx.tenant, data.visitor.external_id, data.visitor.name, data.visitor.tier
        )
        row = await domain.start(
            ctx.tenant,
            outbox,
            visitor=visitor,
            channel=data.channel,
            subject=data.subject,
            thread_class=data.thread_class,
        )
        return visitor, row

    result, problems = await run(ctx, work)
    if result is None:
        return StartThreadPayload(thread=None, visitor_token=None, user_errors=errors_of(problems))
    visitor, row = result
    token = auth.issue(
        ctx.settings.jwt_secret,
        role=Role.VISITOR,
        org=ctx.tenant.org,
        sub=gids.encode("Visitor", visitor.id),
        thread=gids.encode("Thread", row.id),
        ttl=VISITOR_TOKEN_TTL,
    )
    return StartThreadPayload(thread=Thread.from_model(row), visitor_token=token, user_errors=[])


async def resolve_thread(info: InfoT, data: ResolveThreadInput) -> ThreadPayload:
    from switchboard.resolvers import collaboration

    return await collaboration.resolve_thread(info, data)


__all__ = ["errors_of"]
