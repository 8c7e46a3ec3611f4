"""Query cost: real bounds in the estimate, ``extensions.cost``, and each caller's budget.

The bucket arithmetic and the estimator are unit tests (no server); the rest go
over the wire on both stacks. On PostgreSQL + Redis the two server processes
share one budget per caller, and a settings change reaches the other process's
cache through the event bus.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from graphql import (
    GraphQLObjectType,
    OperationDefinitionNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
    parse,
)

from switchboard.graphql.limits import LIST_BOUNDS, MAX_COST, QUEUE_LISTS, measure_operation
from switchboard.graphql.schema import schema
from switchboard.rules import budget
from switchboard.runtime.ratelimit import QueryCostLimiter
from tests import servers
from tests.conftest import Org
from tests.queue_support import create_queue, update_settings
from tests.sql_support import counting, sign, sql_app
from tests.wsclient import SubscriptionError

QUEUES = "{ queues { stats { waiting } entries(first: 100) { edges { node { id } } } } }"
CHEAP = "{ viewer { role } }"


def cost(query: str, variables: dict[str, Any] | None = None, queue_count: int | None = None) -> int:
    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    return measure_operation(schema._schema, document, operation, variables, queue_count).cost


# ---------------------------------------------------------------- the bucket, no server


def test_a_new_bucket_is_full_and_spends_down() -> None:
    bucket, outcome = budget.spend(None, 100.0, capacity=1000, rate=10, cost=300)
    assert outcome == budget.Spend(True, 700, 1000, 10)
    bucket, outcome = budget.spend(bucket, 100.0, 1000, 10, 700)
    assert outcome.allowed and outcome.available == 0


def test_a_refused_spend_takes_nothing_and_says_when_to_retry() -> None:
    bucket = budget.Bucket(level=40.0, at=0.0)
    after, outcome = budget.spend(bucket, 0.0, capacity=100, rate=10, cost=95)
    assert not outcome.allowed and outcome.available == 40 and outcome.retry_after == 6  # 55 points at 10/s
    assert after.level == 40.0
    # 5.5 s later the bucket holds exactly 95.
    after, outcome = budget.spend(after, 5.5, 100, 10, 95)
    assert outcome.allowed and outcome.available == 0


def test_the_bucket_refills_up_to_its_capacity_only() -> None:
    assert budget.refilled(budget.Bucket(0.0, 0.0), 3.0, capacity=100, rate=10) == 30.0
    assert budget.refilled(budget.Bucket(0.0, 0.0), 3600.0, capacity=100, rate=10) == 100.0
    # A clock that went back refills nothing.
    assert budget.refilled(budget.Bucket(20.0, 10.0), 5.0, capacity=100, rate=10) == 20.0


def test_a_cost_above_the_whole_budget_has_no_retry_time() -> None:
    _, outcome = budget.spend(None, 0.0, capacity=100, rate=1000, cost=101)
    assert not outcome.allowed and outcome.retry_after is None
    _, outcome = budget.spend(budget.Bucket(0.0, 0.0), 0.0, capacity=100, rate=1000, cost=1)
    assert outcome.retry_after == 1  # whole seconds, at least one


def test_the_in_process_limiter_keeps_one_bucket_per_caller() -> None:
    limiter = QueryCostLimiter(None, "test")
    assert limiter.spend_locally(("o", "a"), 80, 100, 1, now=0.0).available == 20
    assert not limiter.spend_locally(("o", "a"), 80, 100, 1, now=1.0).allowed
    assert limiter.spend_locally(("o", "b"), 80, 100, 1, now=1.0).allowed
    assert limiter.spend_locally(("o", "a"), 80, 100, 1, now=60.0).allowed


async def test_the_redis_script_does_the_same_arithmetic() -> None:
    """The Lua bucket against the test Redis (keys under a prefix of their own, expiring by themselves)."""
    client = aioredis.from_url(servers.REDIS_URL)
    try:
        limiter = QueryCostLimiter(client, f"test-{secrets.token_hex(6)}")
        first = await limiter.spend("o", "a", 60, capacity=100, rate=1)
        assert first == budget.Spend(True, 40, 100, 1)
        refused = await limiter.spend("o", "a", 60, capacity=100, rate=1)
        # (Redis's clock moved on a little: 1 point a second.)
        assert not refused.allowed and refused.available in (40, 41) and refused.retry_after in (19, 20)
        assert (await limiter.spend("o", "b", 100, capacity=100, rate=1)).available == 0
        # Costing nothing needs no round trip: this process's view, refilled to now.
        assert (await limiter.spend("o", "a", 0, capacity=100, rate=1)).available in (40, 41)
        key = limiter.key("o", "a")
        assert 0 < await client.ttl(key) <= 61  # gone once it would be full again
        whole = await limiter.spend("o", "a", 101, capacity=100, rate=1)
        assert not whole.allowed and whole.retry_after is None
    finally:
        await client.aclose()


async def test_callers_whose_names_join_alike_keep_their_own_redis_buckets() -> None:
    """``:`` may be in an organization's id and in a token's sub: ("o:x", "y") and ("o", "x:y") are two callers."""
    client = aioredis.from_url(servers.REDIS_URL)
    try:
        limiter = QueryCostLimiter(client, f"test-{secrets.token_hex(6)}")
        assert limiter.key("o:x", "y") != limiter.key("o", "x:y")
        assert (await limiter.spend("o:x", "y", 100, capacity=100, rate=1)).available == 0
        other = await limiter.spend("o", "x:y", 60, capacity=100, rate=1)
        assert other.allowed and other.available == 40
    finally:
        await client.aclose()


# ---------------------------------------------------------------- real bounds, no server


def _unpaginated_object_lists() -> set[tuple[str, str]]:
    found = set()
    for type_ in schema._schema.type_map.values():
        if type_.name.startswith("__") or not isinstance(type_, GraphQLObjectType):
            continue
        if type_.name.endswith("Connection"):
            continue
        for name, definition in type_.fields.items():
            paginated = "first" in definition.args or "last" in definition.args
            listed = is_list_type(get_nullable_type(definition.type))  # type: ignore[arg-type]
            if listed and not paginated and is_composite_type(get_named_type(definition.type)):
                found.add((type_.name, name))
    return found


def test_every_unpaginated_list_of_objects_has_a_declared_bound() -> None:
    declared = set(LIST_BOUNDS) | set(QUEUE_LISTS) | {("Query", "nodes")}
    assert {key for key in _unpaginated_object_lists() if key[1] != "userErrors"} <= declared


def test_queues_count_as_many_as_the_organization_has() -> None:
    assert cost(QUEUES, queue_count=3) == 3 + 3 * 100
    assert cost(QUEUES, queue_count=200) == 200 + 200 * 100
    # The query: 30 aliases over 200 queues, now far over the limit.
    aliased = "{ " + " ".join(f"q{i}: " + QUEUES[2:-2] for i in range(30)) + " }"
    assert cost(aliased, queue_count=200) == 30 * 20_200 > MAX_COST
    metrics = '{ metrics(from: "2024-01-01T00:00:00Z", to: "2024-01-02T00:00:00Z") { byQueue { queue { id } } } }'
    assert cost(metrics, queue_count=7) == 7


def test_capped_lists_count_their_cap() -> None:
    collaborators = "{ threads(first: 10) { edges { node { collaborators(includeInactive: $all) { id } } } } }"
    query = "query($all: Boolean) " + collaborators
    assert cost(query, {"all": True}) == 10 + 10 * 100
    assert cost(query, {"all": False}) == 10 + 10 * 51
    assert cost("{ viewer { pendingInvites { id } } }") == 100
    assert cost('{ queue(name: "q") { stats { waitingByPriority { count } } } }') == 4


# ---------------------------------------------------------------- over the wire


async def post(org: Org, query: str, token: str, server: int = 0, **extra: Any) -> dict[str, Any]:
    response = await org.http.post(
        f"{org.stack.url(server)}/graphql",
        json={"query": query, **extra},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_every_response_carries_its_cost(org: Org) -> None:
    token = org.token("admin", sub="cost-reader")
    body = await post(org, "{ threads(first: 7) { totalCount } }", token)
    assert body["extensions"]["cost"] == {
        "requestedQueryCost": 7,
        "throttleStatus": {"maximumAvailable": 200_000, "currentlyAvailable": 199_993, "restoreRate": 5_000},
    }
    mutation = 'mutation { createAgent(input: {name: "A"}) { agent { id } } }'
    body = await post(org, mutation, token)
    assert body["data"]["createAgent"]["agent"]["id"]
    assert body["extensions"]["cost"]["requestedQueryCost"] == 0
    assert body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 200_000
    # Refused by a limit: the estimate is still reported.
    nested = "threads(first: 100) { edges { node { invites(first: 100) { totalCount } } } }"
    body = await post(org, "{ " + " ".join(f"t{i}: {nested}" for i in range(5)) + " }", token)
    assert body["data"] is None and body["errors"][0]["extensions"]["limit"] == "cost"
    assert body["extensions"]["cost"] == {"requestedQueryCost": 5 * 10_100}


async def test_the_same_document_costs_what_its_variables_ask_each_time(org: Org) -> None:
    # The estimate of a document is remembered per operation and variables' values: a
    # cached one must never answer for other values (null is no page size: 20).
    token = org.token("admin", sub="cost-variables")
    paged = "query($n: Int = 3) { threads(first: $n) { totalCount } }"
    for n, expected in ((5, 5), (50, 50), (5, 5), (None, 20), (100, 100)):
        body = await post(org, paged, token, variables={"n": n})
        assert body["extensions"]["cost"]["requestedQueryCost"] == expected, (n, body)
    assert (await post(org, paged, token))["extensions"]["cost"]["requestedQueryCost"] == 3
    two = "query A($n: Int) { threads(first: $n) { totalCount } } query B { threads(first: 9) { totalCount } }"
    for name, expected in (("A", 4), ("B", 9), ("A", 4)):
        body = await post(org, two, token, variables={"n": 4}, operationName=name)
        assert body["extensions"]["cost"]["requestedQueryCost"] == expected, (name, body)


async def until(check: Any, what: str) -> Any:
    """Poll ``check`` until it returns something true (an event reaching another process)."""
    for _ in range(200):
        got = await check()
        if got:
            return got
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


async def test_a_spent_budget_refuses_until_it_refills_across_processes(org: Org) -> None:
    await update_settings(org, queryCostBudget=100, queryCostRestorePerSecond=1)
    token = org.token("analyst", sub="spender")

    async def settled() -> bool:
        body = await post(org, CHEAP, token, server=1)
        return bool(body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 100)

    await until(settled, "the other process sees the new budget")
    query = "{ threads(first: 60) { totalCount } }"
    first = await post(org, query, token, server=0)
    assert first["data"] == {"threads": {"totalCount": 0}}
    assert first["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 40
    # The other process spends from the same bucket.
    response = await org.http.post(
        f"{org.stack.url(1)}/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    second = response.json()
    assert second["data"] is None
    [error] = second["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert 1 <= error["extensions"]["retryAfterSeconds"] <= 20
    assert response.headers["retry-after"] == str(error["extensions"]["retryAfterSeconds"])
    assert "exceeds the 40 points this caller has left" in error["message"]
    assert second["extensions"]["cost"]["requestedQueryCost"] == 60
    # Another caller of the organization has a budget of its own.
    other = await post(org, query, org.token("analyst", sub="someone-else"), server=1)
    assert other["data"] == {"threads": {"totalCount": 0}}
    # A fast refill lets the caller in again at once.
    await update_settings(org, queryCostRestorePerSecond=100_000)

    async def allowed() -> bool:
        body = await post(org, query, token, server=1)
        return body.get("data") == {"threads": {"totalCount": 0}}

    await until(allowed, "the refilled budget lets the query run")


async def test_a_query_above_the_whole_budget_is_a_limit(org: Org) -> None:
    await update_settings(org, queryCostBudget=50)
    body = await post(org, "{ threads(first: 60) { totalCount } }", org.token("admin"))
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_LIMIT_EXCEEDED" and error["extensions"]["limit"] == "budget"
    assert error["message"] == (
        "estimated query cost of 60 exceeds this caller's whole budget of 50 "
        "(organization setting queryCostBudget) by 10"
    )


async def test_queue_lists_are_estimated_by_the_number_of_queues(org: Org) -> None:
    token = org.token("admin")
    await create_queue(org, "q0")
    body = await post(org, QUEUES, token)
    n = len(body["data"]["queues"])
    assert n >= 1 and body["extensions"]["cost"]["requestedQueryCost"] == n + n * 100
    for i in range(1, 17):
        await create_queue(org, f"q{i}")
    body = await post(org, QUEUES, token, server=1)
    n = len(body["data"]["queues"])
    assert n >= 17 and body["extensions"]["cost"]["requestedQueryCost"] == n + n * 100
    # The query, on 17 queues already: refused before it runs.
    aliased = "{ " + " ".join(f"q{i}: " + QUEUES[2:-2] for i in range(30)) + " }"
    body = await post(org, aliased, token)
    assert body["data"] is None and body["errors"][0]["extensions"]["limit"] == "cost"
    assert body["extensions"]["cost"]["requestedQueryCost"] == 30 * (n + n * 100)


# ---------------------------------------------------------------- statements per request (in process)

SECRET = "cost-count-secret-" + "x" * 20


@pytest_asyncio.fixture
async def app_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    async with sql_app(tmp_path, monkeypatch, SECRET) as (_, client):
        yield client


async def _statements_of(client: httpx.AsyncClient, query: str) -> tuple[list[str], dict[str, Any]]:
    admin = sign(SECRET, "org-count", "admin", "admin")
    with counting() as seen:
        response = await client.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {admin}"})
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    return seen, body


async def test_the_budget_and_queue_count_cost_no_statement_per_request(app_client: httpx.AsyncClient) -> None:
    first, _ = await _statements_of(app_client, CHEAP)
    assert len(first) == 1 and "organization" in first[0]  # the budget settings, once
    for _ in range(3):
        again, body = await _statements_of(app_client, CHEAP)
        assert again == [] and body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 200_000
    # A settings change (its SettingsChanged event) drops them: read once more, then cached again.
    await _statements_of(
        app_client, "mutation { updateSettings(input: {queryCostBudget: 1000}) { userErrors { message } } }"
    )
    reread, body = await _statements_of(app_client, CHEAP)
    assert len(reread) == 1 and body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 1000
    assert (await _statements_of(app_client, CHEAP))[0] == []
    # The queue count: once, then again after a queue is created (QueueChanged CREATED).
    listing = "{ queues { id } }"
    counted, _ = await _statements_of(app_client, listing)
    plain, body = await _statements_of(app_client, listing)
    assert len(counted) == len(plain) + 1 and "COUNT" in " ".join(counted).upper()
    n = len(body["data"]["queues"])
    assert body["extensions"]["cost"]["requestedQueryCost"] == n
    await _statements_of(app_client, 'mutation { createQueue(input: {name: "extra"}) { queue { id } } }')
    recounted, body = await _statements_of(app_client, listing)
    assert len(recounted) == len(plain) + 1 and body["extensions"]["cost"]["requestedQueryCost"] == n + 1


async def test_a_subscription_is_charged_when_it_starts(org: Org) -> None:
    queue_id = await create_queue(org, "watched")
    await update_settings(org, queryCostBudget=10, queryCostRestorePerSecond=1)
    token = org.token("admin", sub="watcher")

    async def settled() -> bool:
        body = await post(org, CHEAP, token)
        return bool(body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 10)

    await until(settled, "the new budget")
    stats = "subscription($q: ID!) { queueStats(queueId: $q) { waitingByPriority { count } } }"  # costs 4
    client = await org.ws(token)
    try:
        for _ in range(2):
            sub = await client.subscribe(stats, {"q": queue_id})
            first = await sub.raw(timeout=10)
            assert first["type"] == "next" and "extensions" not in first["payload"], first
            assert len(first["payload"]["data"]["queueStats"]["waitingByPriority"]) == 4
        refused = await client.subscribe(stats, {"q": queue_id})
        with pytest.raises(SubscriptionError) as info:
            await refused.next(timeout=10)
        [error] = info.value.errors
        assert error["extensions"]["code"] == "RATE_LIMITED" and error["extensions"]["retryAfterSeconds"] >= 1
    finally:
        await client.close()
