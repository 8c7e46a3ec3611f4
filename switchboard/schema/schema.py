"""The executable schema."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, ParserCache

from switchboard.observability import OperationLog
from switchboard.schema import unset
from switchboard.schema.analytics import Metrics
from switchboard.schema.mutation import Mutation
from switchboard.schema.query import Query
from switchboard.schema.subscription import Subscription
from switchboard.schema.types import Agent, Collaborator, Invite, Queue, QueueEntry, Thread, Visitor
from switchboard.schema.viewer import Viewer


def _should_mask(error: GraphQLError) -> bool:
    """Hide internals of unexpected failures; keep our own errors and validation messages."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    """MaskErrors without its runtime-Protocol isinstance check on every streamed result.

    That check costs more than the rest of the masking on a subscription that
    fans out to thousands of watchers; a plain attribute read does the same job.
    """

    def _process_result(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # Auth and input errors are expected traffic; log only the unexpected ones.
        unexpected = [e for e in errors if _should_mask(e)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


def build_schema() -> strawberry.Schema:
    from switchboard.limits import query_limit_rules

    unset.install([Query, Mutation, Visitor, Thread, Queue, Viewer, Metrics])
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Agent, Visitor, Thread, Collaborator, Invite, Queue, QueueEntry],
        extensions=[
            OperationLog,
            lambda: ParserCache(maxsize=1000),
            *query_limit_rules(),
            lambda: MaskUnexpectedErrors(should_mask_error=_should_mask, error_message="internal error"),
        ],
    )


schema = build_schema()
