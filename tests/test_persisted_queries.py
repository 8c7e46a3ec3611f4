"""Automatic persisted queries (Apollo's protocol) over HTTP, on both stacks.

A hash the server does not know gets ``PersistedQueryNotFound``; the query sent
with its hash registers it, for every process (Redis on the PostgreSQL stack);
a hash that is not the query's is refused; a persisted mutation stays refused
over GET.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

import httpx
import pytest

from tests.conftest import Org
from tests.queue_support import create_queue
from tests.wsclient import SubscriptionError

GRAPHQL_RESPONSE = "application/graphql-response+json"
MISMATCH = "the query's SHA-256 hash is not extensions.persistedQuery.sha256Hash"


def sha(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def persisted(query: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(query)}}


def unique_query() -> str:
    """A query no earlier test registered (the stores outlive a test)."""
    return f"query Q{secrets.token_hex(6)} {{ viewer {{ role }} }}"


async def send(org: Org, body: dict[str, Any], *, server: int = 0, accept: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {org.token('admin')}"}
    if accept:
        headers["Accept"] = accept
    return await org.http.post(f"{org.stack.url(server)}/graphql", json=body, headers=headers)


async def get(org: Org, params: dict[str, Any], *, server: int = 0) -> httpx.Response:
    encoded = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
    headers = {"Authorization": f"Bearer {org.token('admin')}", "Accept": "application/json"}
    return await org.http.get(f"{org.stack.url(server)}/graphql", params=encoded, headers=headers)


async def test_miss_register_then_hit_on_the_other_process(org: Org) -> None:
    query = unique_query()
    miss = await send(org, {"extensions": persisted(query)})
    assert miss.status_code == 200, miss.text
    [error] = miss.json()["errors"]
    assert error["message"] == "PersistedQueryNotFound"
    assert error["extensions"] == {"code": "PERSISTED_QUERY_NOT_FOUND"}
    assert miss.headers["cache-control"] == "private, no-cache, must-revalidate"
    registered = await send(org, {"query": query, "extensions": persisted(query)})
    assert registered.status_code == 200 and registered.json()["data"] == {"viewer": {"role": "admin"}}
    # Every process knows it now: POST and GET with the hash only, on the other server.
    hit = await send(org, {"extensions": persisted(query)}, server=1)
    assert hit.status_code == 200 and hit.json()["data"] == {"viewer": {"role": "admin"}}, hit.text
    assert hit.json()["extensions"]["cost"]["requestedQueryCost"] == 0
    by_get = await get(org, {"extensions": persisted(query)}, server=1)
    assert by_get.status_code == 200 and by_get.json()["data"] == {"viewer": {"role": "admin"}}, by_get.text


async def test_a_miss_under_the_new_media_type_is_a_request_error(org: Org) -> None:
    query = unique_query()
    miss = await send(org, {"extensions": persisted(query)}, accept=GRAPHQL_RESPONSE)
    assert miss.status_code == 400 and miss.headers["content-type"] == GRAPHQL_RESPONSE
    assert miss.json() == {
        "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
    }
    # A GET of an unknown hash by a browser-like client is not mistaken for a request for GraphiQL.
    response = await org.http.get(
        f"{org.stack.url()}/graphql",
        params={"extensions": json.dumps(persisted(query))},
        headers={"Authorization": f"Bearer {org.token('admin')}", "Accept": "*/*"},
    )
    assert response.json()["errors"][0]["message"] == "PersistedQueryNotFound"


async def test_a_hash_that_is_not_the_querys_is_refused(org: Org) -> None:
    query = unique_query()
    other = unique_query()
    response = await send(org, {"query": query, "extensions": persisted(other)})
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["message"] == MISMATCH
    assert error["extensions"]["code"] == "BAD_REQUEST"
    # Nothing was registered under either hash.
    for text in (query, other):
        miss = await send(org, {"extensions": persisted(text)}, server=1)
        assert miss.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_malformed_persisted_query_extensions_are_refused(org: Org) -> None:
    for bad, phrase in (
        ({"version": 2, "sha256Hash": "0" * 64}, "only version 1"),
        ({"version": 1, "sha256Hash": "xyz"}, "64 hexadecimal digits"),
        ("yes", "only version 1"),
    ):
        response = await send(org, {"extensions": {"persistedQuery": bad}})
        assert response.status_code == 400, response.text
        assert phrase in response.json()["errors"][0]["message"]


async def test_a_persisted_mutation_is_refused_over_get(org: Org) -> None:
    mutation = f'mutation M{secrets.token_hex(4)} {{ createAgent(input: {{name: "A"}}) {{ agent {{ id }} }} }}'
    registered = await send(org, {"query": mutation, "extensions": persisted(mutation)})
    assert registered.json()["data"]["createAgent"]["agent"]["id"]
    refused = await get(org, {"extensions": persisted(mutation)}, server=1)
    assert refused.status_code == 405 and refused.headers["allow"] == "POST"
    assert refused.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    with_query = await get(org, {"query": mutation, "extensions": persisted(mutation)})
    assert with_query.status_code == 405
    agents = await org.data("{ agents { totalCount } }")
    assert agents == {"agents": {"totalCount": 1}}


async def test_invalid_or_anonymous_queries_are_not_registered(org: Org) -> None:
    invalid = f"query I{secrets.token_hex(4)} {{ nope }}"
    body = (await send(org, {"query": invalid, "extensions": persisted(invalid)})).json()
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    anonymous = unique_query()
    response = await org.http.post(
        f"{org.stack.url()}/graphql", json={"query": anonymous, "extensions": persisted(anonymous)}
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    for text in (invalid, anonymous):
        miss = await send(org, {"extensions": persisted(text)})
        assert miss.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_persisted_queries_over_the_websocket(org: Org) -> None:
    """graphql-transport-ws subscribe messages take the same hashes, known to every process."""
    queue_id = await create_queue(org, "q")
    subscription = f"subscription S{secrets.token_hex(4)}($q: ID!) {{ queueStats(queueId: $q) {{ waiting }} }}"
    variables = {"q": queue_id}
    first = await org.ws(server=0)
    second = await org.ws(server=1)
    try:
        miss = await first.subscribe(None, variables, persisted(subscription))
        with pytest.raises(SubscriptionError) as refused:
            await miss.next(timeout=10)
        assert refused.value.errors[0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        mismatch = await first.subscribe(subscription, variables, persisted(unique_query()))
        with pytest.raises(SubscriptionError) as refused:
            await mismatch.next(timeout=10)
        assert refused.value.errors[0]["message"] == MISMATCH
        registered = await first.subscribe(subscription, variables, persisted(subscription))
        assert await registered.next(timeout=10) == {"queueStats": {"waiting": 0}}
        hit = await second.subscribe(None, variables, persisted(subscription))
        assert await hit.next(timeout=10) == {"queueStats": {"waiting": 0}}
        # A query registered over HTTP runs by its hash on the socket too.
        query = unique_query()
        await send(org, {"query": query, "extensions": persisted(query)})
        answer = await second.subscribe(None, None, persisted(query))
        assert await answer.next(timeout=10) == {"viewer": {"role": "admin"}}
    finally:
        await first.close()
        await second.close()
