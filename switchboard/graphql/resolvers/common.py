"""What resolvers share: decoding global IDs, running a use case in its transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from switchboard.events.outbox import Outbox
from switchboard.graphql.errors import BadInput
from switchboard.rules import ids, validation
from switchboard.rules.problems import DomainError, Field, Problem, invalid
from switchboard.services.transaction import atomic

if TYPE_CHECKING:
    from switchboard.graphql.context import Context

T = TypeVar("T")


def arg_pk(global_id: str, type_name: str) -> int:
    """The pk of a query argument ID; a malformed one is a top-level error."""
    try:
        return ids.decode_as(global_id, type_name)
    except ids.BadId as exc:
        raise BadInput(str(exc)) from exc


def optional_arg_pk(global_id: str | None, type_name: str) -> int | None:
    return None if global_id is None else arg_pk(global_id, type_name)


def arg_text(value: str | None, name: str) -> str | None:
    """A text argument used to search; one that no row can hold is a top-level error."""
    if value is not None and not validation.storable(value):
        raise BadInput(f"{name} contains a NUL character or an unpaired surrogate")
    return value


def input_pk(global_id: str, type_name: str, field: Field) -> int:
    """The pk of an input ID; a malformed one is a userError INVALID on that (logical) field."""
    try:
        return ids.decode_as(global_id, type_name)
    except ids.BadId as exc:
        raise invalid(str(exc), field) from exc


def optional_input_pk(global_id: str | None, type_name: str, field: Field) -> int | None:
    return None if global_id is None else input_pk(global_id, type_name, field)


async def run(ctx: Context, work: Callable[[Outbox], Awaitable[T]]) -> tuple[T | None, list[Problem]]:
    """Run ``work`` in one transaction; a DomainError rolls it back and becomes a userError."""
    try:
        async with atomic(ctx.bus) as outbox:
            result = await work(outbox)
    except DomainError as exc:
        return None, [exc.problem]
    return result, []
