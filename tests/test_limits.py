"""Query limits: depth, aliases and estimated cost are refused before anything runs.

Unit tests of the estimator need no server; the rest go over the wire on both backends.
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import OperationDefinitionNode, get_introspection_query, parse

from switchboard.graphql.limits import MAX_ALIASES, MAX_COST, MAX_DEPTH, Measure, limit_errors, measure_operation
from switchboard.graphql.schema import schema
from switchboard.rules import ids
from tests.conftest import Org
from tests.wsclient import SubscriptionError

INTROSPECTION = get_introspection_query(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
)


def measure(query: str, variables: dict[str, Any] | None = None) -> Measure:
    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    return measure_operation(schema._schema, document, operation, variables)


def deep(depth: int, root: str = "thread(id: $id)") -> str:
    """A selection ``depth`` fields deep (leaf included) alternating Thread.queueEntry and QueueEntry.thread."""
    inner = "id"
    for name in reversed(["queueEntry" if i % 2 == 0 else "thread" for i in range(depth - 2)]):
        inner = f"{name} {{ {inner} }}"
    return f"{root} {{ {inner} }}"


NESTED = "threads(first: 100) { edges { node { invites(first: 100) { edges { node { thread { %s } } } } } } }"


# ---------------------------------------------------------------- the estimator


def test_depth_counts_fields_on_the_longest_path() -> None:
    assert measure("{ viewer { role } }").depth == 2
    assert measure("{ settings { inviteExpirySeconds } viewer { agent { name } } }").depth == 3
    for depth in (2, 5, 12, 13):
        assert measure(f"query($id: ID!) {{ {deep(depth)} }}").depth == depth
    # Fragments add no level; the fields inside them do.
    fragments = """query($id: ID!) { thread(id: $id) { ...T } }
        fragment T on Thread { queueEntry { ... on QueueEntry { thread { id } } } }"""
    assert measure(fragments).depth == 4


def test_introspection_adds_no_depth_and_little_cost() -> None:
    got = measure(INTROSPECTION)
    assert got.depth == 0
    assert 0 < got.cost < MAX_COST // 10
    assert measure("{ __typename viewer { __typename } }").depth == 1


def test_aliases_are_counted_where_they_occur() -> None:
    assert measure("{ a: viewer { r: role } b: viewer { role } }").aliases == 3
    twice = "{ a: viewer { ...V } b: viewer { ...V } } fragment V on Viewer { x: role y: organization }"
    assert measure(twice).aliases == 6


def test_cost_multiplies_connection_sizes_down_the_tree() -> None:
    assert measure("{ viewer { role } settings { inviteExpirySeconds } }").cost == 0
    assert measure("{ threads { totalCount } }").cost == 20  # default page size
    assert measure("{ threads(first: 100) { edges { node { id } } } }").cost == 100
    assert measure("{ threads(last: 7) { pageInfo { hasNextPage } } }").cost == 7
    assert measure("{ threads(first: 1000) { totalCount } }").cost == 100  # clamped like the resolver
    assert measure("{ " + NESTED % "id" + " }").cost == 100 + 100 * 100
    assert measure("{ " + NESTED % "invites(first: 5) { totalCount }" + " }").cost == 100 + 10_000 + 50_000
    # Lists without pagination: the most they hold (tests/test_query_cost.py has the rest).
    assert measure("{ threads(first: 10) { edges { node { collaborators { id } } } } }").cost == 10 + 10 * 51
    assert measure('{ nodes(ids: ["a", "b", "c"]) { id } }').cost == 3
    # Aliased copies add up.
    aliased = "{ " + " ".join(f"a{i}: " + NESTED % "id" for i in range(5)) + " }"
    assert measure(aliased).cost == 5 * 10_100


def test_cost_resolves_variables_and_defaults() -> None:
    query = "query($n: Int = 3, $ids: [ID!]!) { threads(first: $n) { totalCount } nodes(ids: $ids) { id } }"
    assert measure(query, {"ids": ["a"]}).cost == 3 + 1
    assert measure(query, {"n": 50, "ids": ["a", "b"]}).cost == 50 + 2
    assert measure(query, {"n": None, "ids": []}).cost == 20
    inner = (
        "query($n: Int!) { threads(first: $n) { edges { node { ...F } } } } "
        "fragment F on Thread { invites(first: $n) { totalCount } }"
    )
    assert measure(inner, {"n": 40}).cost == 40 + 1600


def test_fragment_cycles_and_unknown_fields_do_not_break_the_estimator() -> None:
    cyclic = "{ viewer { ...A } } fragment A on Viewer { ...B } fragment B on Viewer { ...A role }"
    assert measure(cyclic).depth == 2
    assert measure("{ nope { deeper { still } } }").depth == 3


def test_messages_say_which_limit_and_by_how_much() -> None:
    errors = limit_errors(Measure(depth=15, aliases=31, cost=60_100))
    assert [e.message for e in errors] == [
        "query depth 15 exceeds the limit of 12 by 3",
        "query uses 31 aliases, which exceeds the limit of 30 by 1",
        "estimated query cost of 60100 nodes exceeds the limit of 50000 by 10100",
    ]
    assert errors[0].extensions == {
        "code": "QUERY_LIMIT_EXCEEDED",
        "limit": "depth",
        "value": 15,
        "maximum": 12,
        "excess": 3,
    }
    assert limit_errors(Measure(depth=MAX_DEPTH, aliases=MAX_ALIASES, cost=MAX_COST)) == []


# ---------------------------------------------------------------- over the wire


def refused(body: dict[str, Any], limit: str) -> str:
    assert body.get("data") is None, body
    errors = [e for e in body["errors"] if (e.get("extensions") or {}).get("limit") == limit]
    assert errors, body["errors"]
    assert errors[0]["extensions"]["code"] == "QUERY_LIMIT_EXCEEDED"
    return str(errors[0]["message"])


MISSING_THREAD = ids.encode("Thread", 2**62)


async def test_depth_limit(org: Org) -> None:
    allowed = await org.data(f"query($id: ID!) {{ {deep(12)} }}", {"id": MISSING_THREAD})
    assert allowed == {"thread": None}
    body = await org.gql(f"query($id: ID!) {{ {deep(13)} }}", {"id": MISSING_THREAD})
    assert refused(body, "depth") == "query depth 13 exceeds the limit of 12 by 1"
    body = await org.gql(f"query($id: ID!) {{ {deep(20)} }}", {"id": MISSING_THREAD})
    assert refused(body, "depth") == "query depth 20 exceeds the limit of 12 by 8"


async def test_alias_limit(org: Org) -> None:
    thirty = " ".join(f"s{i}: settings {{ inviteExpirySeconds }}" for i in range(30))
    data = await org.data(f"{{ {thirty} }}")
    assert len(data) == 30 and data["s0"] == {"inviteExpirySeconds": 300}
    body = await org.gql(f"{{ {thirty} extra: settings {{ inviteExpirySeconds }} }}")
    assert refused(body, "aliases") == "query uses 31 aliases, which exceeds the limit of 30 by 1"


async def test_cost_limit(org: Org) -> None:
    body = await org.gql("{ " + NESTED % "invites(first: 5) { totalCount }" + " }")
    assert refused(body, "cost") == "estimated query cost of 60100 nodes exceeds the limit of 50000 by 10100"
    aliased = "{ " + " ".join(f"a{i}: " + NESTED % "id" for i in range(5)) + " }"
    assert "by 500" in refused(await org.gql(aliased), "cost")
    # Variables count: first: $n is resolved from the request.
    query = "query($n: Int!) { " + NESTED % "invites(first: $n) { totalCount }" + " }"
    assert "by 100" in refused(await org.gql(query, {"n": 4}), "cost")
    data = await org.data(query, {"n": 3})
    assert data == {"threads": {"edges": []}}


async def test_introspection_is_accepted(org: Org) -> None:
    data = await org.data(INTROSPECTION)
    names = {t["name"] for t in data["__schema"]["types"]}
    assert {"Query", "Mutation", "Subscription", "Metrics", "Thread"} <= names


async def test_refused_mutation_changes_nothing(org: Org) -> None:
    creates = " ".join(f'a{i}: createAgent(input: {{name: "A{i}"}}) {{ agent {{ id }} }}' for i in range(31))
    body = await org.gql(f"mutation {{ {creates} }}")
    refused(body, "aliases")
    data = await org.data("{ agents { totalCount } }")
    assert data == {"agents": {"totalCount": 0}}


async def test_subscriptions_are_limited_too(org: Org) -> None:
    thread_id, _ = await org.start_thread()
    client = await org.ws()
    try:
        sub = await client.subscribe(
            f"subscription($id: ID!) {{ threadEvents(threadId: $id) {{ cursor {deep(12, 'thread')} }} }}",
            {"id": thread_id},
        )
        with pytest.raises(SubscriptionError) as info:
            await sub.next(timeout=10)
        messages = [e["message"] for e in info.value.errors]
        assert "query depth 13 exceeds the limit of 12 by 1" in messages
    finally:
        await client.close()


async def test_only_the_operation_that_runs_is_measured(org: Org) -> None:
    document = f"query Deep($id: ID!) {{ {deep(13)} }} query Shallow {{ settings {{ inviteExpirySeconds }} }}"
    response = await org.http.post(
        f"{org.stack.url()}/graphql",
        json={"query": document, "operationName": "Shallow"},
        headers={"Authorization": f"Bearer {org.token('admin')}"},
    )
    assert response.json()["data"] == {"settings": {"inviteExpirySeconds": 300}}
    response = await org.http.post(
        f"{org.stack.url()}/graphql",
        json={"query": document, "operationName": "Deep", "variables": {"id": MISSING_THREAD}},
        headers={"Authorization": f"Bearer {org.token('admin')}"},
    )
    assert refused(response.json(), "depth") == "query depth 13 exceeds the limit of 12 by 1"
