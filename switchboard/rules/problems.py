"""Business-rule violations, with the logical field they concern.

A problem names its field by a logical path such as ``("invitee_ids", 2)`` or
``("context", "transcript", 0, "from")``: the use case's own names, in snake
case. The GraphQL layer maps a path to the input path a client sees
(``["input", "inviteeIds", "2"]``); nothing below it knows GraphQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.rules.enums import ErrorCode

Field = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One broken rule: becomes a userError of the mutation's payload."""

    code: ErrorCode
    message: str
    field: Field | None = None


class DomainError(Exception):
    """Raised to abort a change (its transaction rolls back) with one problem."""

    def __init__(self, code: ErrorCode, message: str, field: Field | None = None) -> None:
        super().__init__(message)
        self.problem = Problem(code, message, field)


def not_found(what: str, field: Field | None = None) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"{what} not found", field)


def invalid(message: str, field: Field | None = None) -> DomainError:
    return DomainError(ErrorCode.INVALID, message, field)


def conflict(message: str, field: Field | None = None) -> DomainError:
    return DomainError(ErrorCode.CONFLICT, message, field)


def forbidden(message: str, field: Field | None = None) -> DomainError:
    return DomainError(ErrorCode.FORBIDDEN_ACTION, message, field)


def limit_reached(message: str, field: Field | None = None) -> DomainError:
    return DomainError(ErrorCode.LIMIT_REACHED, message, field)


class BadArgument(ValueError):
    """A query argument no rule can accept (a malformed cursor, a page too large): a top-level error."""
