"""GraphQL over HTTP as its specification says: media types, statuses, what GET and POST may run."""

from __future__ import annotations

from typing import Any

import httpx

from tests import dbcheck
from tests.conftest import Org
from tests.hostile_support import GRAPHQL_RESPONSE, ServerLogs, errors_of, still_serving

SUBSCRIPTION = 'subscription { queuePosition(threadId: "VGhyZWFkOjE=") { position } }'
TWO_QUERIES = "query A { viewer { role } } query B { viewer { organization } }"
QUERY_THEN_MUTATION = 'query A { viewer { role } } mutation B { createAgent(input: {name: "Eve"}) { agent { id } } }'


async def _request(
    org: Org, query: str, *, accept: str | None = None, method: str = "POST", name: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {org.token()}", **({"Accept": accept} if accept else {})}
    payload: dict[str, Any] = {"query": query, **({"operationName": name} if name else {})}
    url = f"{org.stack.url()}/graphql"
    if method == "GET":
        return await org.http.get(url, params=payload, headers=headers)
    return await org.http.post(url, json=payload, headers=headers)


async def _refused_before_execution(
    org: Org, query: str, code: str, method: str = "POST", name: str | None = None
) -> str:
    """Checks both media types; returns the error message."""
    plain = await _request(org, query, method=method, name=name)
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("application/json")
    assert plain.json()["data"] is None and errors_of(plain.json()) == [code]
    strict = await _request(org, query, accept=GRAPHQL_RESPONSE, method=method, name=name)
    assert strict.status_code == 400 and strict.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert "data" not in strict.json() and errors_of(strict.json()) == [code]
    return str(plain.json()["errors"][0]["message"])


async def test_failures_before_execution_are_4xx_under_graphql_response_json(org: Org) -> None:
    logs = ServerLogs(org.stack)
    await _refused_before_execution(org, "{ viewer { role }", "GRAPHQL_PARSE_FAILED")
    await _refused_before_execution(org, "{ viewer { secret } }", "GRAPHQL_VALIDATION_FAILED")
    aliases = "{ " + " ".join(f"s{i}: settings {{ inviteExpirySeconds }}" for i in range(31)) + " }"
    await _refused_before_execution(org, aliases, "QUERY_LIMIT_EXCEEDED")
    await _refused_before_execution(org, "query($n: Int!) { agents(first: $n) { totalCount } }", "BAD_USER_INPUT")
    unknown = await _refused_before_execution(
        org, "query A { viewer { role } }", "OPERATION_RESOLUTION_FAILURE", name="Nope"
    )
    assert "Nope" in unknown
    logs.assert_clean()


async def test_executed_operations_keep_data_and_200_under_both_media_types(org: Org) -> None:
    for accept in (None, "application/json", GRAPHQL_RESPONSE, f"{GRAPHQL_RESPONSE}, application/json;q=0.9"):
        ok = await _request(org, "{ viewer { role } }", accept=accept)
        assert ok.status_code == 200 and ok.json()["data"] == {"viewer": {"role": "admin"}}
        expected = GRAPHQL_RESPONSE if accept and accept.startswith(GRAPHQL_RESPONSE) else "application/json"
        assert ok.headers["content-type"].startswith(expected)
        # A field error happens during execution: the response has data (null here), so 200.
        failed = await _request(org, '{ thread(id: "nope") { id } }', accept=accept)
        assert failed.status_code == 200 and "data" in failed.json()
        assert errors_of(failed.json()) == ["BAD_USER_INPUT"]


async def test_a_subscription_over_http_is_a_graphql_error(org: Org) -> None:
    logs = ServerLogs(org.stack)
    for method in ("POST", "GET"):
        message = await _refused_before_execution(org, SUBSCRIPTION, "BAD_REQUEST", method=method)
        assert "WebSocket" in message
    logs.assert_clean()
    await still_serving(org)


async def test_several_operations_need_an_operation_name(org: Org) -> None:
    logs = ServerLogs(org.stack)
    for method in ("POST", "GET"):
        message = await _refused_before_execution(org, TWO_QUERIES, "OPERATION_RESOLUTION_FAILURE", method=method)
        assert "operationName" in message and "2 operations" in message
        named = await _request(org, TWO_QUERIES, method=method, name="B")
        assert named.json()["data"] == {"viewer": {"organization": org.id}}
    await _refused_before_execution(org, QUERY_THEN_MUTATION, "OPERATION_RESOLUTION_FAILURE")
    assert await dbcheck.count(org.stack, "agent", org.id) == 0
    logs.assert_clean()


async def test_mutations_over_get_are_405(org: Org) -> None:
    for accept in (None, GRAPHQL_RESPONSE):
        response = await _request(org, QUERY_THEN_MUTATION, accept=accept, method="GET", name="B")
        assert response.status_code == 405 and response.headers["allow"] == "POST"
        assert errors_of(response.json()) == ["METHOD_NOT_ALLOWED"]
    assert await dbcheck.count(org.stack, "agent", org.id) == 0
    query = await _request(org, QUERY_THEN_MUTATION, method="GET", name="A")
    assert query.json()["data"] == {"viewer": {"role": "admin"}}
