"""Helpers shared by resolvers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from switchboard import ids
from switchboard.domain import validation
from switchboard.domain.pagination import Page, cursor_for
from switchboard.errors import BadInput, DomainError, Problem, invalid
from switchboard.schema.types import PageInfo
from switchboard.subscriptions.outbox import Outbox, atomic

if TYPE_CHECKING:
    from switchboard.context import Context

T = TypeVar("T")
C = TypeVar("C")


def to_connection(
    page: Page[Any], conn_cls: Callable[..., C], edge_cls: Callable[..., Any], convert: Callable[[Any], Any]
) -> C:
    edges = [
        edge_cls(cursor=cursor_for(o), node=convert(item)) for o, item in zip(page.offsets, page.items, strict=True)
    ]
    return conn_cls(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=page.total,
    )


def arg_pk(global_id: str, type_name: str) -> int:
    """The pk of a query argument ID; a malformed one is a top-level error."""
    try:
        return ids.decode_as(global_id, type_name)
    except ids.BadId as exc:
        raise BadInput(str(exc)) from exc


def arg_text(value: str | None, name: str) -> str | None:
    """A text argument used to search; one that no row can hold is a top-level error."""
    if value is not None and not validation.storable(value):
        raise BadInput(f"{name} contains a NUL character or an unpaired surrogate")
    return value


def input_pk(global_id: str, type_name: str, field: Sequence[str]) -> int:
    """The pk of an input ID; a malformed one is a userError INVALID on that field."""
    try:
        return ids.decode_as(global_id, type_name)
    except ids.BadId as exc:
        raise invalid(str(exc), list(field)) from exc


def optional_input_pk(global_id: str | None, type_name: str, field: Sequence[str]) -> int | None:
    return None if global_id is None else input_pk(global_id, type_name, field)


async def run(ctx: Context, work: Callable[[Outbox], Awaitable[T]]) -> tuple[T | None, list[Problem]]:
    """Run ``work`` in one transaction; a DomainError rolls it back and becomes a userError."""
    try:
        async with atomic(ctx.bus) as outbox:
            result = await work(outbox)
    except DomainError as exc:
        return None, [exc.problem]
    return result, []
