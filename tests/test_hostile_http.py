"""Hostile input over HTTP: refused early, clearly, without a traceback, without growing the server."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator

import pytest
from graphql import GraphQLSyntaxError

from switchboard import documents, graphql_http
from switchboard.bodylimit import MAX_BODY_BYTES
from tests.conftest import Org
from tests.hostile_support import (
    GRAPHQL_RESPONSE,
    ServerLogs,
    errors_of,
    gauge,
    post,
    scrape,
    series,
    still_serving,
)

VIEWER = b'{"query": "{ viewer { role } }"}'


def _padded(size: int) -> bytes:
    """A valid request of exactly ``size`` bytes (JSON allows trailing whitespace)."""
    return VIEWER + b" " * (size - len(VIEWER))


def _fields(count: int) -> bytes:
    """The issue's document: ``{ g_0 g_1 ... }`` with ``count`` fields."""
    return json.dumps({"query": "{ " + " ".join(f"g_{i}" for i in range(count)) + " }"}).encode()


async def _chunks(body: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def _healthz(org: Org) -> int:
    return (await org.http.get(f"{org.stack.url()}/healthz")).status_code


async def test_a_body_over_1_mib_gets_413_before_it_is_parsed(org: Org) -> None:
    logs = ServerLogs(org.stack)
    exactly = await post(org, _padded(MAX_BODY_BYTES))
    assert exactly.status_code == 200 and exactly.json()["data"] == {"viewer": {"role": "admin"}}
    one_more = await post(org, _padded(MAX_BODY_BYTES + 1))
    assert one_more.status_code == 413
    assert errors_of(one_more.json()) == ["PAYLOAD_TOO_LARGE"]
    # The issue's ~3 MB body, while /healthz is asked at the same time.
    big, health = await asyncio.gather(post(org, _fields(400_000), token=""), _healthz(org))
    assert big.status_code == 413 and health == 200
    assert "1048576" in big.json()["errors"][0]["message"]

    # Without a Content-Length (chunked) the bytes are counted as they arrive; the
    # limit is passed by the last part, or with more still to come.
    for size in (MAX_BODY_BYTES + 64 * 1024, 2 * MAX_BODY_BYTES):
        streamed = await org.http.post(
            f"{org.stack.url()}/graphql",
            content=_chunks(_padded(size)),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {org.token()}"},
        )
        assert streamed.status_code == 413
    logs.assert_clean()
    await still_serving(org)


async def test_a_document_over_15000_tokens_is_refused_while_others_are_served(org: Org) -> None:
    logs = ServerLogs(org.stack)
    body = _fields(115_000)
    assert 0.8 * MAX_BODY_BYTES < len(body) <= MAX_BODY_BYTES
    refused, health, viewer = await asyncio.gather(
        post(org, body, token=""), _healthz(org), org.data("{ viewer { role } }")
    )
    assert health == 200 and viewer == {"viewer": {"role": "admin"}}
    assert refused.status_code == 200
    (error,) = refused.json()["errors"]
    assert error["extensions"] == {"code": "QUERY_LIMIT_EXCEEDED", "limit": "tokens", "maximum": 15_000}
    strict = await post(org, body, headers={"Accept": GRAPHQL_RESPONSE})
    assert strict.status_code == 400 and "data" not in strict.json()
    assert strict.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    logs.assert_clean()


def test_the_token_limit_is_exact() -> None:
    # Six tokens, then comments (which count too) up to the limit.
    document = "{ viewer { role } }" + "\n# c" * (documents.MAX_TOKENS - 6)
    assert documents.parse_limited(document).definitions
    with pytest.raises(GraphQLSyntaxError) as refused:
        documents.parse_limited(document + "\n# c")
    assert refused.value.extensions == {"code": "QUERY_LIMIT_EXCEEDED", "limit": "tokens", "maximum": 15_000}


async def test_fields_repeated_past_the_validation_budget_are_refused(org: Org) -> None:
    logs = ServerLogs(org.stack)
    for query in ("{ " + "viewer { role } " * 3000 + "}", "{ viewer { " + "role " * 14_000 + "} }"):
        body = await org.gql(query)
        assert body["errors"][0]["extensions"] == {"code": "QUERY_LIMIT_EXCEEDED", "limit": "validation"}
    logs.assert_clean()


async def test_parse_and_validation_caches_are_bounded_in_bytes(org: Org) -> None:
    padding = "x" * (documents.MAX_CACHED_DOCUMENT - 200)
    for i in range(40):  # each one cacheable, together more than the cache holds
        assert (await org.data(f"{{ viewer {{ role }} }} # {i} {padding}")) == {"viewer": {"role": "admin"}}
    full = await scrape(org)
    held = gauge(full, "switchboard_document_cache_bytes")
    assert documents.CACHE_BYTES - documents.MAX_CACHED_DOCUMENT < held <= documents.CACHE_BYTES
    assert gauge(full, "switchboard_document_cache_entries") <= documents.CACHE_BYTES // len(padding)
    big = "x" * (4 * documents.MAX_CACHED_DOCUMENT)
    for i in range(5):  # too large to cache at all
        assert (await org.data(f"{{ viewer {{ role }} }} # {i} {big}")) == {"viewer": {"role": "admin"}}
    assert gauge(await scrape(org), "switchboard_document_cache_bytes") <= documents.CACHE_BYTES


async def test_metric_series_stay_bounded_whatever_clients_send(org: Org) -> None:
    await org.data("query Warm { viewer { role } }")
    await org.http.request("BREW", f"{org.stack.url()}/nowhere")
    before = series(await scrape(org))
    for i in range(500):
        token = org.token() if i % 2 else ""
        await post(org, json.dumps({"query": f"query Name{i} {{ viewer {{ role }} }}"}).encode(), token=token)
    for i in range(20):
        await org.http.request(f"BREW{i}", f"{org.stack.url()}/graphql/{i}")
    added = series(await scrape(org)) - before
    assert len(added) <= 10, sorted(added)


@pytest.mark.parametrize(
    ("content", "headers", "status", "phrase"),
    [
        (b'{"query": "{ viewer { role } }", "x": "\xff"}', {}, 400, "UTF-8"),
        (b'{"query": "{ viewer \xc3\x28 { role } }"}', {}, 400, "UTF-8"),
        (b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}", {}, 400, "64 levels"),
        (b'{"a":' + b"[" * 64 + b"]" * 64 + b"}", {}, 400, "64 levels"),
        (b"garbage", {"Content-Encoding": "gzip"}, 415, "Content-Encoding"),
        (gzip.compress(VIEWER), {"Content-Encoding": "gzip"}, 415, "Content-Encoding"),
        (VIEWER, {"Content-Type": "text/plain"}, 415, "content type"),
        (VIEWER, {"Content-Type": "application/json-seq"}, 415, "content type"),
        (b'{"query": "{ viewer { role } }", "operationName": 5}', {}, 400, "operationName"),
    ],
)
async def test_unreadable_bodies_get_a_clear_4xx_and_no_traceback(
    org: Org, content: bytes, headers: dict[str, str], status: int, phrase: str
) -> None:
    logs = ServerLogs(org.stack)
    for accept in ("application/json", GRAPHQL_RESPONSE):
        response = await post(org, content, headers={**headers, "Accept": accept})
        assert response.status_code == status, response.text
        body = response.json()
        assert phrase.lower() in body["errors"][0]["message"].lower()
        assert ("data" in body) is (accept == "application/json")
    logs.assert_clean()
    await still_serving(org)


async def test_json_nested_64_levels_is_read(org: Org) -> None:
    nested = b"[" * 62 + b"1" + b"]" * 62  # the body's object and "variables" make 64
    response = await post(org, b'{"query": "{ viewer { role } }", "variables": {"unused": ' + nested + b"}}")
    assert response.status_code == 200 and response.json()["data"] == {"viewer": {"role": "admin"}}


def test_json_depth_and_accept_negotiation() -> None:
    assert not graphql_http.nesting_exceeds({"a": [[{"b": 1}]]}, 4)
    assert graphql_http.nesting_exceeds({"a": [[{"b": {}}]]}, 4)
    with pytest.raises(graphql_http.BadJSON):
        graphql_http.loads(b'"\xff"')
    assert graphql_http.media_type(None) == "application/json"
    assert graphql_http.media_type("*/*") == "application/json"
    assert graphql_http.media_type(GRAPHQL_RESPONSE) == GRAPHQL_RESPONSE
    assert graphql_http.media_type(f"{GRAPHQL_RESPONSE}, application/json;q=0.9") == GRAPHQL_RESPONSE
    assert graphql_http.media_type(f"application/json, {GRAPHQL_RESPONSE};q=0.5") == "application/json"
    assert graphql_http.media_type(f"{GRAPHQL_RESPONSE};q=0") == "application/json"
