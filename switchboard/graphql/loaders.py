"""Per-request DataLoaders (strawberry's), all fetching through the caller's ``Tenant``."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader
from tortoise.functions import Count as Fn
from tortoise.models import Model
from tortoise.queryset import QuerySet

from switchboard import models as m
from switchboard.rules.enums import MessageVisibility, QueueEntryStatus
from switchboard.rules.pagination import KeysetRequest
from switchboard.rules.policy import Scope
from switchboard.runtime.event_rows import Rows
from switchboard.services import listing
from switchboard.services.estimates import queues_figures, wait_bases
from switchboard.services.messages import message_counts, thread_pages, unread_counts
from switchboard.services.pagination import Count, KeysetPage, keyset_pages
from switchboard.services.queueing import waiting_orders
from switchboard.services.statements import select_by_keys
from switchboard.services.tenancy import Tenant

M = TypeVar("M", bound=Model)
K = TypeVar("K")
V = TypeVar("V")
R = TypeVar("R")


def now_or_later(loader: DataLoader[K, V], key: K, convert: Callable[[V], R]) -> R | Awaitable[R]:
    """``convert`` of the key's value right away when the loader holds it (primed by a list's prefetch, or
    loaded earlier in the request), else an awaitable of it that batches like any load.

    A sync resolver returning this costs no coroutine, Task or future on the fast
    path; graphql-core awaits the result only when it is awaitable.
    """
    future = loader.cache_map.get(key) if loader.cache else None
    if future is not None and future.done() and not future.cancelled() and future.exception() is None:
        return convert(future.result())

    async def later() -> R:
        return convert(await loader.load(key))

    return later()


def _by_pk(tenant: Tenant, model: type[M]) -> DataLoader[int, M | None]:
    async def load(keys: Sequence[int]) -> list[M | None]:
        found = await tenant.many(model, keys)
        return [found.get(k) for k in keys]

    return DataLoader(load_fn=load)


def _grouped(
    tenant: Tenant, model: type[M], column: str, order: str = "id", **filters: Any
) -> DataLoader[int, list[M]]:
    shape = ("grouped", model, column, order, tuple(sorted(filters.items())))

    def make(org: str, wanted: list[int]) -> QuerySet[M]:
        return Tenant(org).q(model).filter(**{f"{column}__in": wanted}, **filters).order_by(order)

    async def load(keys: Sequence[int]) -> list[list[M]]:
        rows: list[M] = await select_by_keys(shape, make, tenant.org, list(set(keys)))
        groups: dict[int, list[M]] = defaultdict(list)
        for row in rows:
            groups[getattr(row, column)].append(row)
        return [groups.get(k, []) for k in keys]

    return DataLoader(load_fn=load)


# The columns the Agent type shows: what a list's agents are read with (no Model object per row).
AGENT_CARD_COLUMNS = (
    "id",
    "name",
    "email",
    "role",
    "department",
    "skills",
    "status",
    "max_concurrent_threads",
    "max_concurrent_collaborations",
    "active_thread_count",
    "active_collaboration_count",
    "created_at",
)


def _agent_cards(tenant: Tenant) -> DataLoader[int, dict[str, Any] | None]:
    """Agents as dicts of ``AGENT_CARD_COLUMNS``: a third cheaper than Models for a page's 30-odd agents."""

    async def load(keys: Sequence[int]) -> list[dict[str, Any] | None]:
        rows = await tenant.q(m.Agent).filter(id__in=list(set(keys))).values(*AGENT_CARD_COLUMNS)
        found = {row["id"]: row for row in rows}
        return [found.get(k) for k in keys]

    return DataLoader(load_fn=load)


def _per_queue(
    tenant: Tenant, loaders: Loaders, compute: Callable[[Tenant, list[m.Queue]], Awaitable[dict[int, Any]]]
) -> DataLoader[int, Any]:
    """Queue id -> ``compute``'s figure of it; the queues asked for in one tick computed together."""

    async def load(keys: Sequence[int]) -> list[Any]:
        queues = [q for q in await loaders.queue.load_many(list(dict.fromkeys(keys))) if q is not None]
        found = await compute(tenant, queues)
        return [found.get(key) for key in keys]

    return DataLoader(load_fn=load)


async def _queue_orders(tenant: Tenant, queues: list[m.Queue]) -> dict[int, list[int]]:
    return await waiting_orders(tenant, [q.id for q in queues])


async def _queue_bases(tenant: Tenant, queues: list[m.Queue]) -> dict[int, Any]:
    return await wait_bases(tenant, queues, datetime.now(UTC))


async def _queue_figures(tenant: Tenant, queues: list[m.Queue]) -> dict[int, Any]:
    return await queues_figures(tenant, queues, datetime.now(UTC))


def _invites_by_thread(tenant: Tenant) -> DataLoader[tuple[int, tuple[str, ...]], list[m.Invite]]:
    """Invites of many threads at once, newest first; keyed by (thread id, status filter).

    One query per distinct status filter, however many threads: the caller
    pages each thread's list in memory (a thread has few invites).
    """

    async def load(keys: Sequence[tuple[int, tuple[str, ...]]]) -> list[list[m.Invite]]:
        by_filter: dict[tuple[str, ...], set[int]] = defaultdict(set)
        for thread_id, statuses in keys:
            by_filter[statuses].add(thread_id)
        groups: dict[tuple[int, tuple[str, ...]], list[m.Invite]] = defaultdict(list)
        for statuses, thread_ids in by_filter.items():
            qs = tenant.q(m.Invite).filter(thread_id__in=list(thread_ids))
            if statuses:
                qs = qs.filter(status__in=list(statuses))
            for row in await qs.order_by("-created_at", "-id"):
                groups[(row.thread_id, statuses)].append(row)
        return [groups.get(k, []) for k in keys]

    return DataLoader(load_fn=load)


def _unread(tenant: Tenant) -> DataLoader[tuple[int, int], int]:
    """(agent id, thread id) -> the agent's unread messages on the thread; one pass per agent (the caller)."""

    async def load(keys: Sequence[tuple[int, int]]) -> list[int]:
        by_agent: dict[int, list[int]] = defaultdict(list)
        for agent_id, thread_id in keys:
            by_agent[agent_id].append(thread_id)
        counts = {agent: await unread_counts(tenant, agent, threads) for agent, threads in by_agent.items()}
        return [counts[agent][thread] for agent, thread in keys]

    return DataLoader(load_fn=load)


Visibilities = frozenset[MessageVisibility]


def _message_counts(tenant: Tenant) -> DataLoader[tuple[int, Visibilities], int]:
    """(thread id, visibilities) -> how many such messages; one GROUP BY per visibility set."""

    async def load(keys: Sequence[tuple[int, Visibilities]]) -> list[int]:
        by_set: dict[Visibilities, list[int]] = defaultdict(list)
        for thread_id, seen in keys:
            by_set[seen].append(thread_id)
        counts = {seen: await message_counts(tenant, threads, seen) for seen, threads in by_set.items()}
        return [counts[seen][thread_id] for thread_id, seen in keys]

    return DataLoader(load_fn=load)


def _message_pages(
    tenant: Tenant, counts: DataLoader[tuple[int, Visibilities], int]
) -> DataLoader[tuple[int, Visibilities, KeysetRequest], KeysetPage[m.Message]]:
    """(thread id, visibilities, page arguments) -> that page of the thread's messages.

    The threads of a list asking for the same page (an inbox's last message of
    each) are read in one SELECT; their totalCount through ``counts``.
    """

    async def load(keys: Sequence[tuple[int, Visibilities, KeysetRequest]]) -> list[KeysetPage[m.Message]]:
        by_args: dict[tuple[Visibilities, KeysetRequest], list[int]] = defaultdict(list)
        for thread_id, seen, request in keys:
            by_args[(seen, request)].append(thread_id)
        pages = {}
        for (seen, request), threads in by_args.items():

            def count(thread_id: int, seen: Visibilities = seen) -> Callable[[], Awaitable[int]]:
                return lambda: counts.load((thread_id, seen))

            pages[(seen, request)] = await thread_pages(tenant, threads, seen, request, count)
        return [pages[(seen, request)][thread_id] for thread_id, seen, request in keys]

    return DataLoader(load_fn=load)


EntryPageKey = tuple[int, tuple[QueueEntryStatus, ...], Scope, KeysetRequest]


def _grouped_counts(qs: QuerySet[Any], column: str, parts: list[int]) -> Callable[[int], Count]:
    """Part (a ``column`` value) -> its list's totalCount; every part counted by one GROUP BY when the first
    count is asked for (lists of one page, one list per queue or visitor)."""
    counted: asyncio.Future[dict[int, int]] | None = None

    async def every() -> dict[int, int]:
        grouped = qs.order_by().filter(**{f"{column}__in": parts}).annotate(n=Fn("id")).group_by(column)
        return {int(part): int(n) for part, n in await grouped.values_list(column, "n")}

    def count(part: int) -> Count:
        async def one() -> int:
            nonlocal counted
            if counted is None:
                counted = asyncio.ensure_future(every())
            return (await counted).get(part, 0)

        return one

    return count


def _entry_pages(tenant: Tenant) -> DataLoader[EntryPageKey, KeysetPage[m.QueueEntry]]:
    """(queue id, statuses, the caller's scope, page arguments) -> that page of the queue's entries.

    The queues of a list asking for the same page are read in one SELECT, their
    totalCounts in one GROUP BY.
    """

    async def load(keys: Sequence[EntryPageKey]) -> list[KeysetPage[m.QueueEntry]]:
        by_args: dict[tuple[tuple[QueueEntryStatus, ...], Scope, KeysetRequest], list[int]] = defaultdict(list)
        for queue_id, statuses, scope, request in keys:
            by_args[(statuses, scope, request)].append(queue_id)
        pages: dict[tuple[Any, ...], dict[int, KeysetPage[m.QueueEntry]]] = {}
        for (statuses, scope, request), queue_ids in by_args.items():
            qs = listing.entries(tenant, scope, listing.EntryQuery(statuses=list(statuses) or None))
            counts = _grouped_counts(qs, "queue_id", queue_ids)
            found = await keyset_pages(qs, request, "queue_id", queue_ids, counts, key=listing.ENTRY_SORT)
            pages[(statuses, scope, request)] = found
        return [pages[(statuses, scope, request)][queue_id] for queue_id, statuses, scope, request in keys]

    return DataLoader(load_fn=load)


VisitorPageKey = tuple[int, Scope, KeysetRequest]


def _visitor_threads(tenant: Tenant) -> DataLoader[VisitorPageKey, KeysetPage[m.Thread]]:
    """(visitor id, the caller's scope, page arguments) -> that page of the visitor's threads, newest first;
    the visitors of a list asking for the same page read in one SELECT (their counts in one GROUP BY)."""
    sort = listing.thread_sort(listing.ThreadQuery())

    async def load(keys: Sequence[VisitorPageKey]) -> list[KeysetPage[m.Thread]]:
        by_args: dict[tuple[Scope, KeysetRequest], list[int]] = defaultdict(list)
        for visitor_id, scope, request in keys:
            by_args[(scope, request)].append(visitor_id)
        pages: dict[tuple[Scope, KeysetRequest], dict[int, KeysetPage[m.Thread]]] = {}
        for (scope, request), visitor_ids in by_args.items():
            qs = listing.threads(tenant, scope, listing.ThreadQuery())
            counts = _grouped_counts(qs, "visitor_id", visitor_ids)
            pages[(scope, request)] = await keyset_pages(qs, request, "visitor_id", visitor_ids, counts, key=sort)
        return [pages[(scope, request)][visitor_id] for visitor_id, scope, request in keys]

    return DataLoader(load_fn=load)


def _organization(tenant: Tenant) -> DataLoader[str, m.Organization]:
    async def load(keys: Sequence[str]) -> list[m.Organization]:
        org = await tenant.organization()
        return [org for _ in keys]

    return DataLoader(load_fn=load)


class Loaders:
    """One set per request (and per subscription event): caches never outlive it."""

    # Each loader is made when first used (``__getattr__``): an event rendered for a subscriber (fresh
    # loaders primed with its rows) uses a few of these, and making them all was most of its cost.
    agent: DataLoader[int, m.Agent | None]
    # Agents shown in lists (prefetched by thread lists); ``agent`` stays the one the policy reads.
    agent_card: DataLoader[int, dict[str, Any] | None]
    visitor: DataLoader[int, m.Visitor | None]
    thread: DataLoader[int, m.Thread | None]
    collaborator: DataLoader[int, m.Collaborator | None]
    invite: DataLoader[int, m.Invite | None]
    queue: DataLoader[int, m.Queue | None]
    queue_entry: DataLoader[int, m.QueueEntry | None]
    active_collaborators: DataLoader[int, list[m.Collaborator]]
    all_collaborators: DataLoader[int, list[m.Collaborator]]
    entries_by_thread: DataLoader[int, list[m.QueueEntry]]
    invites_by_thread: DataLoader[tuple[int, tuple[str, ...]], list[m.Invite]]
    organization: DataLoader[str, m.Organization]
    message: DataLoader[int, m.Message | None]
    unread: DataLoader[tuple[int, int], int]
    message_counts: DataLoader[tuple[int, Visibilities], int]
    message_pages: DataLoader[tuple[int, Visibilities, KeysetRequest], KeysetPage[m.Message]]
    # Queue id -> ids of its WAITING entries in queue order (positions of a whole page from one query).
    queue_order: DataLoader[int, Any]
    # Queue id -> WaitBasis of its estimates.
    queue_wait_basis: DataLoader[int, Any]
    entry_pages: DataLoader[EntryPageKey, KeysetPage[m.QueueEntry]]
    visitor_threads: DataLoader[VisitorPageKey, KeysetPage[m.Thread]]
    # Queue id -> QueueFigures (Queue.stats) of every queue of a list from the same three queries.
    queue_figures: DataLoader[int, Any]

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def __getattr__(self, name: str) -> Any:
        # Called only for a loader not made yet: it is made and kept on the instance.
        make = _MAKERS.get(name)
        if make is None:
            raise AttributeError(name)
        loader = make(self)
        setattr(self, name, loader)
        return loader

    def primed(self, rows: Rows) -> Loaders:
        """These loaders, seeded with an event's rows (``runtime.event_rows``): priming costs no query."""
        if rows.thread is not None:
            self.thread.prime(rows.thread.id, rows.thread)
        if rows.collaborator is not None:
            self.collaborator.prime(rows.collaborator.id, rows.collaborator)
        if rows.invite is not None:
            self.invite.prime(rows.invite.id, rows.invite)
        if rows.message is not None:
            self.message.prime(rows.message.id, rows.message)
        if rows.visitor is not None:
            self.visitor.prime(rows.visitor.id, rows.visitor)
        if rows.organization is not None:
            self.organization.prime(rows.organization.id, rows.organization)
        for pk, agent in rows.agents.items():
            self.agent.prime(pk, agent)
        return self

    def by_type(self, type_name: str) -> DataLoader[int, Any]:
        loaders: dict[str, DataLoader[int, Any]] = {
            "Agent": self.agent,
            "Visitor": self.visitor,
            "Thread": self.thread,
            "Collaborator": self.collaborator,
            "Invite": self.invite,
            "Queue": self.queue,
            "QueueEntry": self.queue_entry,
            "Message": self.message,
        }
        return loaders[type_name]


_MAKERS: dict[str, Callable[[Loaders], DataLoader[Any, Any]]] = {
    "agent": lambda ls: _by_pk(ls.tenant, m.Agent),
    "agent_card": lambda ls: _agent_cards(ls.tenant),
    "visitor": lambda ls: _by_pk(ls.tenant, m.Visitor),
    "thread": lambda ls: _by_pk(ls.tenant, m.Thread),
    "collaborator": lambda ls: _by_pk(ls.tenant, m.Collaborator),
    "invite": lambda ls: _by_pk(ls.tenant, m.Invite),
    "queue": lambda ls: _by_pk(ls.tenant, m.Queue),
    "queue_entry": lambda ls: _by_pk(ls.tenant, m.QueueEntry),
    "active_collaborators": lambda ls: _grouped(ls.tenant, m.Collaborator, "thread_id", active=True),
    "all_collaborators": lambda ls: _grouped(ls.tenant, m.Collaborator, "thread_id"),
    "entries_by_thread": lambda ls: _grouped(ls.tenant, m.QueueEntry, "thread_id", order="enqueued_at"),
    "invites_by_thread": lambda ls: _invites_by_thread(ls.tenant),
    "organization": lambda ls: _organization(ls.tenant),
    "message": lambda ls: _by_pk(ls.tenant, m.Message),
    "unread": lambda ls: _unread(ls.tenant),
    "message_counts": lambda ls: _message_counts(ls.tenant),
    "message_pages": lambda ls: _message_pages(ls.tenant, ls.message_counts),
    "queue_order": lambda ls: _per_queue(ls.tenant, ls, _queue_orders),
    "queue_wait_basis": lambda ls: _per_queue(ls.tenant, ls, _queue_bases),
    "entry_pages": lambda ls: _entry_pages(ls.tenant),
    "visitor_threads": lambda ls: _visitor_threads(ls.tenant),
    "queue_figures": lambda ls: _per_queue(ls.tenant, ls, _queue_figures),
}
