"""The executor behind every operation: a long subscription must not grow with its events."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from typing import Any

import strawberry

from switchboard.graphql.errors import BadInput
from switchboard.graphql.schema import ExecutionContext, masked_errors, schema


@strawberry.type
class Tick:
    n: int
    label: str


@strawberry.type
class Query:
    ok: bool = True

    @strawberry.field
    def broken(self) -> int:
        raise RuntimeError("password=hunter2 in a stack trace")

    @strawberry.field
    def refused(self) -> int:
        raise BadInput("say please")


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self, count: int) -> AsyncIterator[Tick]:
        for n in range(count):
            yield Tick(n=n, label=f"t{n}")

    @strawberry.subscription
    async def crashes(self) -> AsyncIterator[int]:
        yield 1
        raise RuntimeError("password=hunter2 mid-stream")


def live_objects() -> int:
    gc.collect()
    return len(gc.get_objects())


async def test_a_subscription_holds_the_same_memory_after_500_more_events() -> None:
    toy = strawberry.Schema(query=Query, subscription=Subscription, execution_context_class=ExecutionContext)
    stream: Any = await toy.subscribe("subscription { ticks(count: 1000) { n label } }")
    for _ in range(20):
        result = await stream.__anext__()
    before = live_objects()
    for _ in range(500):
        result = await stream.__anext__()
    after = live_objects()
    assert result.errors is None
    assert result.data == {"ticks": {"n": 519, "label": "t519"}}
    # graphql-core's shared subfield memo kept ~16 objects per event (8,000 here).
    assert after - before < 200, f"{after - before} objects more after 500 events"
    await stream.aclose()


def test_the_served_schema_uses_this_executor() -> None:
    assert schema.execution_context_class is ExecutionContext


def _masking_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query, subscription=Subscription, extensions=[masked_errors], execution_context_class=ExecutionContext
    )


async def test_unexpected_failures_are_masked_and_coded_expected_ones_pass() -> None:
    result = await _masking_schema().execute("{ broken }")
    assert result.errors is not None
    (error,) = result.errors
    assert error.message == "internal error" and error.extensions == {"code": "INTERNAL_SERVER_ERROR"}
    assert "hunter2" not in str(error.formatted)
    result = await _masking_schema().execute("{ refused }")
    assert result.errors is not None
    assert result.errors[0].message == "say please"
    assert (result.errors[0].extensions or {}).get("code") == "BAD_USER_INPUT"


async def test_a_failure_inside_a_subscription_stream_is_masked() -> None:
    stream: Any = await _masking_schema().subscribe("subscription { crashes }")
    first = await stream.__anext__()
    assert first.data == {"crashes": 1} and not first.errors
    failed = await stream.__anext__()
    assert failed.errors is not None
    assert [e.message for e in failed.errors] == ["internal error"]
    assert "hunter2" not in str([e.formatted for e in failed.errors])
    await stream.aclose()
