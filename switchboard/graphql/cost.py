"""Each operation's validation, limits and cost, charged to its caller's budget before it runs.

The standard rules and the choice of operation come first (``limits``), then
the operation's depth, aliases and estimated cost are measured against the
limits; an operation within them is charged its estimated cost against the
caller's budget (organization and token ``sub``): the organization's
``queryCostBudget`` points, refilling at ``queryCostRestorePerSecond``
(``switchboard.runtime.ratelimit``, shared by every process through Redis).
An operation costing more than the caller has is refused before it runs:
``RATE_LIMITED`` with ``retryAfterSeconds``; one costing more than the whole
budget can never run and is refused as ``QUERY_LIMIT_EXCEEDED`` (limit
``budget``). An unauthenticated request has no budget (its fields are refused
anyway).

Every query and mutation response that got as far as being measured carries
``extensions.cost`` in Shopify's shape: ``requestedQueryCost`` and, for a
caller with a budget, ``throttleStatus`` (``maximumAvailable``,
``currentlyAvailable``, ``restoreRate``). A subscription is charged once, when
it starts; its events carry no cost (a refusal over WebSocket is the protocol's
``error`` message, which has errors only).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, OperationType
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from switchboard.documents import LIMIT_EXCEEDED, is_large
from switchboard.graphql.context import Context
from switchboard.graphql.limits import limit_errors, measure_cached, measure_request, operations, request_errors
from switchboard.redisconn import ERRORS as REDIS_ERRORS
from switchboard.rules import budget
from switchboard.rules.enums import ErrorCode

log = logging.getLogger(__name__)


class QueryCost(SchemaExtension):
    """Validation, limits and budget; instantiated per operation by strawberry.

    The standard rules depend on the document only and are cached; the limits
    depend on the request's variables too (``first: $n``) and the budget on the
    caller, so both are checked for every request, after the standard rules
    passed. Setting ``pre_execution_errors`` here is how strawberry's own
    ValidationCache tells the executor that validation is done. A document too
    large to cache is validated and measured in a worker thread (see documents.py).
    """

    # Per instance once set (one instance per operation).
    requested: int | None = None
    throttle: budget.Spend | None = None
    report = True

    async def on_validate(self) -> AsyncIterator[None]:
        ec = self.execution_context
        document = ec.graphql_document
        if document is not None and ec.pre_execution_errors is None:
            ec.pre_execution_errors = await self._errors(ec, document)
        yield

    async def _errors(self, ec: ExecutionContext, document: DocumentNode) -> list[GraphQLError]:
        large = is_large(ec.query)
        errors = await asyncio.to_thread(request_errors, ec, document) if large else request_errors(ec, document)
        operation = next(operations(document, ec.operation_name), None)
        if errors or operation is None:
            return errors
        context = ec.context if isinstance(ec.context, Context) and ec.context.authenticated else None
        measure, needs_queues = await self._measure(ec, document, operation, None, large)
        if needs_queues:
            count = 0 if context is None else await context.services.org_facts.queue_count(context.principal.org)
            measure, _ = await self._measure(ec, document, operation, count, large)
        self.requested = measure.cost
        # A subscription's events carry no cost; its refusal does.
        self.report = operation.operation is not OperationType.SUBSCRIPTION
        errors = limit_errors(measure, operation)
        if not errors and context is not None:
            errors = await self._charge(context, measure.cost, operation)
        if errors:
            self.report = True
        return errors

    async def _measure(
        self,
        ec: ExecutionContext,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        queue_count: int | None,
        large: bool,
    ) -> tuple[Any, bool]:
        if large:  # never cached (documents.py): measured off the event loop
            args = (ec.schema._schema, document, operation, ec.variables, queue_count)
            return await asyncio.to_thread(measure_request, *args)
        return measure_cached(ec.schema._schema, ec.query, document, operation, ec.variables, queue_count)

    async def _charge(self, context: Context, cost: int, operation: OperationDefinitionNode) -> list[GraphQLError]:
        services, principal = context.services, context.principal
        facts = await services.org_facts.get(principal.org)
        capacity, rate = facts.query_cost_budget, facts.query_cost_restore_per_second
        try:
            spend = await services.query_costs.spend(principal.org, principal.sub, cost, capacity, rate)
        except REDIS_ERRORS:
            # Not an outage (the limiter degrades on those): an error reply, a misconfiguration to
            # see. Raised from here it would reach the client unmasked, Redis's message and all.
            log.exception("query cost budget: Redis refused the charge")
            return [GraphQLError("internal error", extensions={"code": "INTERNAL_SERVER_ERROR"})]
        self.throttle = spend
        if spend.allowed:
            return []
        return [refusal(cost, spend, operation)]

    def get_results(self) -> dict[str, Any]:
        if self.requested is None or not self.report:
            return {}
        cost: dict[str, Any] = {"requestedQueryCost": self.requested}
        if self.throttle is not None:
            cost["throttleStatus"] = {
                "maximumAvailable": self.throttle.capacity,
                "currentlyAvailable": self.throttle.available,
                "restoreRate": self.throttle.rate,
            }
        return {"cost": cost}


def refusal(cost: int, spend: budget.Spend, operation: OperationDefinitionNode | None = None) -> GraphQLError:
    """Why an operation within the limits may not run now (or ever, within this budget)."""
    if spend.retry_after is None:
        excess = cost - spend.capacity
        message = (
            f"estimated query cost of {cost} exceeds this caller's whole budget of {spend.capacity} "
            f"(organization setting queryCostBudget) by {excess}"
        )
        extensions = {"code": LIMIT_EXCEEDED, "limit": "budget", "value": cost, "maximum": spend.capacity}
        return GraphQLError(message, operation, extensions={**extensions, "excess": excess})
    message = (
        f"estimated query cost of {cost} exceeds the {spend.available} points this caller has left "
        f"(budget {spend.capacity}, restoring {spend.rate} per second): retry in {spend.retry_after} s"
    )
    extensions = {"code": ErrorCode.RATE_LIMITED.value, "retryAfterSeconds": spend.retry_after}
    return GraphQLError(message, operation, extensions=extensions)


def query_cost_rules() -> list[Any]:
    """Strawberry extensions enforcing the limits and the budget (classes: strawberry builds one per request)."""
    return [QueryCost]
