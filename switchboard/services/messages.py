"""Reading the conversation: a thread's messages, unread counts, the message figures of metrics."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime

from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from switchboard.models import Message, ReadMark, Thread
from switchboard.rules import policy
from switchboard.rules.enums import MessageVisibility, SenderKind
from switchboard.rules.pagination import KeysetRequest
from switchboard.services import metric_sql
from switchboard.services.pagination import Count as CountFn
from switchboard.services.pagination import KeysetPage, keyset_pages
from switchboard.services.tenancy import Tenant


def _visible(qs: QuerySet[Message], visibilities: Collection[MessageVisibility]) -> QuerySet[Message]:
    if set(visibilities) != set(MessageVisibility):
        qs = qs.filter(visibility__in=[v.value for v in visibilities])
    return qs


async def thread_pages(
    tenant: Tenant,
    thread_ids: Sequence[int],
    visibilities: Collection[MessageVisibility],
    request: KeysetRequest,
    count: Callable[[int], CountFn],
) -> dict[int, KeysetPage[Message]]:
    """The same page of many threads' messages in one SELECT, by ``seq`` (commit order)."""
    qs = _visible(tenant.q(Message), visibilities)
    return await keyset_pages(qs, request, "thread_id", thread_ids, count, key="seq")


async def message_counts(
    tenant: Tenant, thread_ids: Sequence[int], visibilities: Collection[MessageVisibility]
) -> dict[int, int]:
    """How many messages of these visibilities each thread has (one GROUP BY)."""
    keys = sorted(set(thread_ids))
    rows = (
        await _visible(tenant.q(Message).filter(thread_id__in=keys), visibilities)
        .annotate(n=Count("id"))
        .group_by("thread_id")
        .values_list("thread_id", "n")
    )
    counts = {int(thread_id): int(n) for thread_id, n in rows}
    return {k: counts.get(k, 0) for k in keys}


async def unread_counts(tenant: Tenant, agent_id: int, thread_ids: Sequence[int]) -> dict[int, int]:
    """Per thread: messages after the agent's read mark that the agent did not write (two statements)."""
    keys = sorted(set(thread_ids))
    if not keys:
        return {}
    marks = dict(await tenant.q(ReadMark).filter(agent_id=agent_id, thread_id__in=keys).values_list("thread_id", "seq"))
    after = [Q(thread_id=k, seq__gt=marks[k]) for k in keys if k in marks]
    unmarked = [k for k in keys if k not in marks]
    if unmarked:
        after.append(Q(thread_id__in=unmarked))
    rows = (
        await tenant.q(Message)
        .filter(Q(*after, join_type=Q.OR))
        .exclude(sender_key=policy.agent_key(agent_id))
        .annotate(n=Count("id"))
        .group_by("thread_id")
        .values_list("thread_id", "n")
    )
    counts = {int(thread_id): int(n) for thread_id, n in rows}
    return {k: counts.get(k, 0) for k in keys}


def _period(tenant: Tenant, start: datetime, end: datetime) -> QuerySet[Message]:
    return tenant.q(Message).filter(created_at__gte=start, created_at__lt=end)


async def agent_message_count(tenant: Tenant, start: datetime, end: datetime) -> int:
    """PUBLIC messages of agents written in [start, end)."""
    return (
        await _period(tenant, start, end)
        .filter(sender_kind=SenderKind.AGENT, visibility=MessageVisibility.PUBLIC)
        .count()
    )


async def visitor_message_count(tenant: Tenant, start: datetime, end: datetime) -> int:
    """Messages of visitors written in [start, end)."""
    return await _period(tenant, start, end).filter(sender_kind=SenderKind.VISITOR).count()


async def first_responses(tenant: Tenant, start: datetime, end: datetime) -> tuple[float | None, float | None]:
    """Mean and p90 of the seconds from assignment to the first PUBLIC agent message, over the threads
    assigned in [start, end) that got one (summed up by the database)."""
    answered = tenant.q(Thread).filter(assigned_at__gte=start, assigned_at__lt=end, first_response_at__not_isnull=True)
    return await metric_sql.mean_and_p90(answered, "first_response_at", "assigned_at")
