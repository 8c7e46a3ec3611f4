"""Thread reads and startThread."""

from __future__ import annotations

from switchboard import auth
from switchboard.events.outbox import Outbox
from switchboard.graphql.errors import Forbidden
from switchboard.graphql.inputs import SortDirection, StartThreadInput, ThreadFilter, ThreadOrder
from switchboard.graphql.payloads import StartThreadPayload, errors_of
from switchboard.graphql.resolvers.common import arg_pk, optional_arg_pk, run
from switchboard.graphql.types import base, thread_lists
from switchboard.graphql.types.base import InfoT
from switchboard.graphql.types.connections import ThreadConnection
from switchboard.graphql.types.threads import Thread
from switchboard.models import Thread as ThreadRow
from switchboard.models import Visitor as VisitorRow
from switchboard.rules import ids, policy
from switchboard.rules.enums import Role
from switchboard.rules.policy import Reach
from switchboard.services import listing
from switchboard.services import threads as service

VISITOR_TOKEN_TTL = 12 * 3600


async def thread(info: InfoT, id: str) -> Thread | None:
    ctx = info.context
    caller = await ctx.allow(policy.Op.READ_THREADS)
    row = await ctx.loaders.thread.load(arg_pk(id, "Thread"))
    if row is None:
        return None
    reach = policy.thread_reach(caller, await base.thread_facts(info, row))
    if reach is Reach.FORBIDDEN:
        raise Forbidden("visitors may only read their own thread")
    return Thread.from_model(row) if reach is Reach.FULL else None


def _query(flt: ThreadFilter | None, order: ThreadOrder | None) -> listing.ThreadQuery:
    query = listing.ThreadQuery(
        order="updated_at" if order is not None and order.field.value == "UPDATED_AT" else "created_at",
        descending=order is None or order.direction is SortDirection.DESC,
    )
    if flt is not None:
        query.statuses = flt.status
        query.classes = flt.thread_class
        query.primary_agent_id = optional_arg_pk(flt.primary_agent_id, "Agent")
        query.visitor_id = optional_arg_pk(flt.visitor_id, "Visitor")
        query.collaborator_agent_id = optional_arg_pk(flt.collaborator_agent_id, "Agent")
        query.created_after = flt.created_after
        query.created_before = flt.created_before
    return query


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
    caller = await ctx.allow(policy.Op.READ_THREADS)
    query = _query(flt, order)
    names_agent = query.primary_agent_id is not None or query.collaborator_agent_id is not None
    scope = policy.thread_scope(caller, names_agent=names_agent)
    sort = listing.thread_sort(query)
    request = base.keyset_args(first, after, last, before, sort.decode)
    return await thread_lists.page(info, listing.threads(ctx.tenant, scope, query), sort, request)


async def start_thread(info: InfoT, data: StartThreadInput) -> StartThreadPayload:
    ctx = info.context
    await ctx.allow(policy.Op.START_THREAD)

    async def work(outbox: Outbox) -> tuple[VisitorRow, ThreadRow]:
        await ctx.tenant.organization()
        visitor = await service.find_or_create_visitor(
            ctx.tenant, data.visitor.external_id, data.visitor.name, data.visitor.tier
        )
        row = await service.start(
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
        sub=ids.encode("Visitor", visitor.id),
        thread=ids.encode("Thread", row.id),
        ttl=VISITOR_TOKEN_TTL,
    )
    return StartThreadPayload(thread=Thread.from_model(row), visitor_token=token, user_errors=[])
