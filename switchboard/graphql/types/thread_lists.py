"""A page of a thread list, with the relations its selection reads prefetched for the whole page.

The nested fields (``primaryAgent``, ``collaborators``, ``Collaborator.agent``) are
sync resolvers that return what a loader already holds: after the prefetch, a
dashboard of 20 threads resolves them without a coroutine, Task or DataLoader
future per field, and the page's agents (primaries and collaborators alike) come
from one statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from strawberry.types.nodes import SelectedField

from switchboard import models as m
from switchboard.graphql.types import connections
from switchboard.graphql.types.base import InfoT
from switchboard.rules import policy
from switchboard.rules.pagination import KeysetRequest, SortKey
from switchboard.services.pagination import KeysetPage, keyset_paginate

if TYPE_CHECKING:
    from tortoise.queryset import QuerySet

    from switchboard.graphql.types.connections import ThreadConnection


def _fields(selections: Iterable[Any]) -> Iterator[SelectedField]:
    """The fields of a selection set, fragments flattened."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        else:
            yield from _fields(selection.selections)


def _under(selections: Iterable[Any], name: str) -> list[SelectedField]:
    """The fields selected under the fields called ``name`` among ``selections``."""
    return [sub for field in _fields(selections) if field.name == name for sub in _fields(field.selections)]


def node_fields(info: InfoT) -> list[SelectedField]:
    """The fields selected on the nodes of the connection being resolved (``edges { node { ... } }``)."""
    # selected_fields holds the connection field itself (once per alias node merged into it).
    connection = [sub for field in info.selected_fields for sub in _fields(field.selections)]
    return _under(_under(connection, "edges"), "node")


async def prefetch(info: InfoT, rows: list[m.Thread], fields: list[SelectedField]) -> None:
    """Load the page's collaborators and agents its selection reads, in one batch each, into the loaders."""
    if not rows or not policy.shows_identities(await info.context.caller()):
        return
    loaders = info.context.loaders
    agent_ids: set[int] = set()
    if any(f.name == "primaryAgent" for f in fields):
        agent_ids.update(r.primary_agent_id for r in rows if r.primary_agent_id is not None)
    places = [f for f in fields if f.name == "collaborators"]
    if places:
        everyone = any(f.arguments.get("includeInactive") for f in places)
        loader = loaders.all_collaborators if everyone else loaders.active_collaborators
        groups = await loader.load_many([r.id for r in rows])
        if everyone and any(not f.arguments.get("includeInactive") for f in places):
            await loaders.active_collaborators.load_many([r.id for r in rows])
        if any(sub.name == "agent" for place in places for sub in _fields(place.selections)):
            agent_ids.update(c.agent_id for group in groups for c in group)
    if agent_ids:
        await loaders.agent_card.load_many(sorted(agent_ids))


async def page(info: InfoT, qs: QuerySet[m.Thread], sort: SortKey, request: KeysetRequest) -> ThreadConnection:
    """One keyset page of ``qs`` as a connection, its selected relations prefetched."""
    return await connect(info, await keyset_paginate(qs, request, sort), sort)


async def connect(info: InfoT, found: KeysetPage[m.Thread], sort: SortKey) -> ThreadConnection:
    """A page read already (one of a batch) as a connection, its selected relations prefetched."""
    await prefetch(info, found.items, node_fields(info))
    return connections.thread_connection(found, sort)
