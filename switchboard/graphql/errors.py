"""Top-level GraphQL errors, and where a problem's logical field is in the mutation's input."""

from __future__ import annotations

from collections.abc import Mapping

from graphql import GraphQLError

from switchboard.events.cursors import CursorExpired
from switchboard.rules.problems import BadArgument, Field
from switchboard.rules.validation import camel

# A logical field (or its prefix) -> the input path of one mutation, where its names differ.
Renames = Mapping[Field, list[str]]


class Unauthenticated(GraphQLError):
    def __init__(self, message: str = "authentication required") -> None:
        super().__init__(message, extensions={"code": "UNAUTHENTICATED"})


class Forbidden(GraphQLError):
    def __init__(self, message: str = "forbidden for this role") -> None:
        super().__init__(message, extensions={"code": "FORBIDDEN"})


class BadInput(GraphQLError):
    """Input that is wrong in a way the schema cannot express (a malformed ID argument)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})


class NotFound(GraphQLError):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found", extensions={"code": "NOT_FOUND"})


def bad_argument(exc: BadArgument) -> BadInput:
    return BadInput(str(exc))


def cursor_expired(exc: CursorExpired) -> GraphQLError:
    """A resume cursor older than the event log: the client subscribes again without ``after``."""
    return GraphQLError(str(exc), extensions={"code": "CURSOR_EXPIRED"})


def input_path(field: Field | None, renames: Renames | None = None) -> list[str] | None:
    """``("invitee_ids", 2)`` -> ``["input", "inviteeIds", "2"]``, or as ``renames`` says."""
    if field is None:
        return None
    for prefix, target in (renames or {}).items():
        if field[: len(prefix)] == prefix:
            return [*target, *_segments(field[len(prefix) :])]
    return ["input", *_segments(field)]


def _segments(field: Field) -> list[str]:
    return [camel(part) if isinstance(part, str) else str(part) for part in field]
