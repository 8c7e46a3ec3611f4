"""What every GraphQL type shares: Node, PageInfo, pages of connections, facts for the access policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import strawberry
from strawberry.types import Info

from switchboard import models as m
from switchboard.graphql.errors import BadInput
from switchboard.rules import ids, policy
from switchboard.rules.pagination import KeysetRequest, SortKey, keyset_request
from switchboard.rules.problems import BadArgument
from switchboard.services.pagination import KeysetPage

if TYPE_CHECKING:
    from switchboard.graphql.context import Context

    InfoT = Info[Context, None]
else:
    InfoT = Info

C = TypeVar("C")


@strawberry.interface(description="An object with an opaque global ID.")
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global ID; clients never decode it.")


@strawberry.type(description="Where a page of a connection sits in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items precede this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first item of the page.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last item of the page.")


def gid(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(ids.encode(type_name, pk))


def keyset_args(
    first: int | None, after: str | None, last: int | None, before: str | None, decode: Callable[[str], Any]
) -> KeysetRequest:
    """A keyset connection's arguments, checked; a bad one is a top-level BAD_USER_INPUT error."""
    try:
        return keyset_request(first, after, last, before, decode)
    except BadArgument as exc:
        raise BadInput(str(exc)) from exc


def connection(
    page: KeysetPage[Any],
    sort: SortKey,
    conn_cls: Callable[..., C],
    edge_cls: Callable[..., Any],
    convert: Callable[[Any], Any],
) -> C:
    """A connection of a keyset page; its totalCount is counted only if selected (``count_total``)."""
    edges = [edge_cls(cursor=sort.cursor(k), node=convert(item)) for k, item in zip(page.keys, page.items, strict=True)]
    return conn_cls(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        page=page,
    )


async def count_total(root: Any) -> int:
    """The resolver of a connection's totalCount: the COUNT runs only when the field is selected."""
    return await root.page.total()


async def thread_facts(info: InfoT, row: m.Thread) -> policy.ThreadFacts:
    """What the access policy decides a thread's reach on (its active places come through a loader)."""
    members = await info.context.loaders.active_collaborators.load(row.id)
    return policy.ThreadFacts(row.id, row.status, frozenset(c.agent_id for c in members))


def invite_facts(row: m.Invite) -> policy.InviteFacts:
    return policy.InviteFacts(row.inviter_id, row.invitee_id, row.status)
