"""The executable schema."""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import Enum
from typing import Any, cast

import strawberry
from graphql import GraphQLEnumType, GraphQLError, GraphQLSchema, GraphQLSyntaxError
from strawberry.extensions import MaskErrors
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from switchboard import outages
from switchboard.documents import OPERATION_RESOLUTION_FAILED, DocumentCache, classify_syntax_error
from switchboard.graphql import unset
from switchboard.graphql.cost import query_cost_rules
from switchboard.graphql.mutation import Mutation
from switchboard.graphql.query import Query
from switchboard.graphql.subscription import Subscription
from switchboard.graphql.types.agents import Agent
from switchboard.graphql.types.analytics import Metrics
from switchboard.graphql.types.invites import Invite
from switchboard.graphql.types.messages import Message
from switchboard.graphql.types.queues import Queue, QueueEntry
from switchboard.graphql.types.threads import Collaborator, Thread, Visitor
from switchboard.graphql.types.viewer import Viewer
from switchboard.observability import OperationLog

log = logging.getLogger(__name__)

# Strawberry's refusals of an operation it cannot pick or run here (unknown
# operationName, a query sent as a legacy graphql-ws subscription): client errors.
_EXPECTED_CODES = {CannotGetOperationTypeError: OPERATION_RESOLUTION_FAILED, InvalidOperationTypeError: "BAD_REQUEST"}


def should_mask(error: GraphQLError) -> bool:
    """Hide internals of unexpected failures; keep our own errors and validation messages."""
    original = error.original_error
    return (
        original is not None
        and not isinstance(original, GraphQLError)
        and type(original) not in _EXPECTED_CODES
        and outages.unavailable(original) is None
    )


def _service_unavailable(error: GraphQLError) -> bool:
    """The database or Redis failed under this field: a clear SERVICE_UNAVAILABLE and one log line."""
    original = error.original_error
    service = outages.unavailable(original) if original is not None else None
    if service is None:
        return False
    error.message = outages.message(service)
    error.extensions = {"code": "SERVICE_UNAVAILABLE"}
    log.warning("%s at %s: %s: %s", error.message, error.path, type(original).__name__, original)
    return True


class MaskUnexpectedErrors(MaskErrors):
    """MaskErrors without its runtime-Protocol isinstance check on every streamed result.

    That check costs more than the rest of the masking on a subscription that
    fans out to thousands of watchers; a plain attribute read does the same job.
    """

    def _process_result(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, fixed and made cheaper for long subscriptions.

    graphql-core 3.3 builds an executor per subscription event by copying the
    subscription's own. The copy shares the memo of collected subfields, which
    is keyed by the identity of each event's new root field list and keeps that
    list alive: it grows by one entry (about 16 objects) per event for the whole
    life of the subscription, so a visitor waiting through thousands of queue
    changes would hold thousands of them. Each event gets its own memo (no event
    could hit another's entries anyway).
    """

    def build_per_event_executor(self, payload: Any) -> ExecutionContext:
        executor = super().build_per_event_executor(payload)
        if hasattr(executor, "_relevant_sub_fields"):
            executor._relevant_sub_fields = {}
        return cast(ExecutionContext, executor)

    def __copy__(self) -> ExecutionContext:
        # ``copy.copy`` goes through ``__reduce_ex__``; copying the instance dict
        # is the same shallow copy at a fraction of the cost, paid per event.
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        return clone


def masked_errors() -> MaskUnexpectedErrors:
    """The error-masking extension of every operation (a factory: strawberry builds one per operation)."""
    return MaskUnexpectedErrors(should_mask_error=should_mask, error_message="internal error")


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        for error in errors:
            # Validation errors get their code where they are made (documents.py,
            # limits.py); a syntax error comes from strawberry's parser.
            if isinstance(error, GraphQLSyntaxError):
                classify_syntax_error(error)
            elif _service_unavailable(error):
                continue
            elif type(error.original_error) in _EXPECTED_CODES:
                error.extensions = {"code": _EXPECTED_CODES[type(error.original_error)]}
            elif error.path is None and not should_mask(error) and not (error.extensions or {}).get("code"):
                # graphql-core's refusal of the request's variables, before any field runs.
                error.extensions = {**(error.extensions or {}), "code": "BAD_USER_INPUT"}
        # Auth and input errors are expected traffic; log only the unexpected ones.
        unexpected = [e for e in errors if should_mask(e)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


def fast_enum_outputs(graphql_schema: GraphQLSchema) -> None:
    """Every enum member written by its name from a dict, the same name strawberry's serializer finds.

    Strawberry's enum type finds a member's name by comparing its value with each
    of the enum's values in turn, reading enum properties each time: the largest
    cost of a dashboard's collaborators after the SQL (two enums per row). Anything
    not a member of the enum's class still goes through strawberry's own path.
    """
    for named in graphql_schema.type_map.values():
        cls = getattr(named, "wrapped_cls", None)
        if not isinstance(named, GraphQLEnumType) or not (isinstance(cls, type) and issubclass(cls, Enum)):
            continue
        names: dict[Enum, str] = {}
        for member in cls:
            name = next((n for n, v in named.values.items() if member.value == v.value), None)
            if name is not None:
                names[member] = name
        named.coerce_output_value = _by_member(cls, names, named.coerce_output_value)  # type: ignore[method-assign,assignment]


def _by_member(cls: type[Enum], names: dict[Enum, str], slow: Callable[[Any], str]) -> Callable[[Any], str]:
    def coerce_output_value(value: Any) -> str:
        if type(value) is cls:
            name = names.get(value)
            if name is not None:
                return name
        return slow(value)

    return coerce_output_value


def build_schema() -> strawberry.Schema:
    unset.install([Query, Mutation, Visitor, Thread, Queue, Viewer, Metrics])
    built = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Agent, Visitor, Thread, Collaborator, Invite, Queue, QueueEntry, Message],
        extensions=[
            OperationLog,
            DocumentCache,
            *query_cost_rules(),
            masked_errors,
        ],
        execution_context_class=ExecutionContext,
    )
    fast_enum_outputs(built._schema)
    return built


schema = build_schema()
