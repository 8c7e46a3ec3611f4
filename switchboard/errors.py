"""Top-level GraphQL errors (auth) and the userError shape of payloads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError

from switchboard.domain.enums import ErrorCode


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


class CursorExpired(GraphQLError):
    """A resume cursor older than the event log: the events right after it were pruned."""

    def __init__(self, retention_hours: int) -> None:
        super().__init__(
            f"this cursor is older than the events kept ({retention_hours} hours): "
            "subscribe again without `after` and reload the current state",
            extensions={"code": "CURSOR_EXPIRED"},
        )


@dataclass
class Problem:
    """A business-rule violation: becomes a ``UserError`` in the payload."""

    code: ErrorCode
    message: str
    field: list[str] | None = None


class DomainError(Exception):
    """Raised by the domain to abort a mutation (the transaction rolls back)."""

    def __init__(self, code: ErrorCode, message: str, field: list[str] | None = None) -> None:
        super().__init__(message)
        self.problem = Problem(code, message, field)


def not_found(what: str, field: list[str] | None = None) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"{what} not found", field)


def invalid(message: str, field: list[str] | None = None) -> DomainError:
    return DomainError(ErrorCode.INVALID, message, field)


def extensions_code(error: Any) -> str | None:
    ext = getattr(error, "extensions", None) or {}
    return ext.get("code")
