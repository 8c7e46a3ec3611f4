"""What operators and browsers rely on: health, readiness, metrics, GraphiQL, CORS, WebSocket origins."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from collections.abc import Iterator

import httpx
import pytest
import redis.asyncio as aioredis
import websockets

from switchboard.events.transport import SHARDS, shard_channels
from tests import servers
from tests.conftest import Org
from tests.wsclient import GraphQLWS


def _metric(text: str, metric: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text ``text`` (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(metric + ("{" if labels else " ")):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_health_and_readiness(org: Org) -> None:
    for server in range(len(org.stack.servers)):
        health = await org.http.get(f"{org.stack.url(server)}/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        ready = await org.http.get(f"{org.stack.url(server)}/readyz")
        expected = {"ready": True, "database": "ok"}
        if org.stack.name == "postgres":
            # Redis answers, and this process is subscribed to every shard channel of the events.
            expected.update(redis="ok", events="ok", redis_mode="single")
        assert ready.status_code == 200 and ready.json() == expected


@pytest.mark.postgres_only
async def test_on_a_single_redis_every_process_subscribes_to_every_shard_channel(org: Org) -> None:
    """Plain SUBSCRIBE on the 16 shard channels (the cluster's SSUBSCRIBE: tests/test_redis_cluster.py)."""
    channels = shard_channels(f"{org.stack.env['SWITCHBOARD_REDIS_PREFIX']}:events")
    client = aioredis.from_url(servers.REDIS_URL)
    try:
        counts = dict(await client.pubsub_numsub(*channels))
    finally:
        await client.aclose()
    assert [counts[channel.encode()] for channel in channels] == [len(org.stack.servers)] * SHARDS


async def test_metrics_count_requests_errors_latency_and_websockets(org: Org) -> None:
    url = org.stack.url()

    async def scrape() -> str:
        response = await org.http.get(f"{url}/metrics")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        return response.text

    before = await scrape()
    await org.data("query Probe { viewer { role } }")
    await org.gql('query Broken { thread(id: "nope") { id } }')
    client = await org.ws()
    try:
        during = await scrape()
        assert _metric(during, "switchboard_websockets_open") >= 1
    finally:
        await client.close()
    after = await scrape()
    posts = "switchboard_http_requests_total"
    assert (
        _metric(after, posts, method="POST", path="/graphql", status="200")
        >= _metric(before, posts, method="POST", path="/graphql", status="200") + 2
    )
    # By root field (the schema's, a bounded set), not by the client's operation name.
    assert _metric(after, "switchboard_graphql_operations_total", type="query", field="viewer") >= 1
    assert 'name="Probe"' not in after
    assert (
        _metric(after, "switchboard_graphql_errors_total", type="query")
        >= _metric(before, "switchboard_graphql_errors_total", type="query") + 1
    )
    assert _metric(after, "switchboard_http_request_seconds_count", path="/graphql") >= 2
    assert re.search(r'switchboard_http_request_seconds_bucket\{le="0.1",path="/graphql"\} \d', after)
    assert "# TYPE switchboard_graphql_operation_seconds histogram" in after
    # The gauge goes back down when the socket closes.
    deadline = time.monotonic() + 10
    while _metric(await scrape(), "switchboard_websockets_open") >= _metric(during, "switchboard_websockets_open"):
        assert time.monotonic() < deadline, "websocket gauge did not go down"
        await asyncio.sleep(0.05)


async def test_graphiql_is_served_to_browsers(org: Org) -> None:
    response = await org.http.get(f"{org.stack.url()}/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_cors_allows_any_origin_by_default(org: Org) -> None:
    origin = "https://console.example.org"
    preflight = await org.http.options(
        f"{org.stack.url()}/graphql",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in ("*", origin)
    allowed_headers = preflight.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers
    response = await org.http.post(
        f"{org.stack.url()}/graphql",
        json={"query": "{ viewer { role } }"},
        headers={"Origin": origin, "Authorization": f"Bearer {org.token()}"},
    )
    assert response.headers["access-control-allow-origin"] in ("*", origin)
    assert response.json()["data"] == {"viewer": {"role": "admin"}}
    client = await GraphQLWS.connect(org.stack.ws_url(), {"token": org.token()}, origin=origin)
    await client.close()


# ---------------------------------------------------------------- a configured origin list


GOOD_ORIGIN = "https://console.example.com"


@pytest.fixture(scope="module")
def restricted_server() -> Iterator[servers.Server]:
    workdir = servers.new_workdir()
    env = servers.base_env(
        {
            "SWITCHBOARD_DATABASE_URL": f"sqlite://{workdir / 'switchboard.db'}",
            "SWITCHBOARD_ALLOWED_ORIGINS": f"{GOOD_ORIGIN}, https://other.example.com",
        }
    )
    server = servers.Server(env, servers.free_port(), workdir / "server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _token(org: str = "org-origins") -> str:
    import jwt

    now = int(time.time())
    claims = {"sub": "a", "org": org, "role": "admin", "iat": now, "exp": now + 600}
    return jwt.encode(claims, servers.SECRET, algorithm="HS256")


async def test_configured_origins_are_enforced(restricted_server: servers.Server, http: httpx.AsyncClient) -> None:
    url = restricted_server.url
    client = await GraphQLWS.connect(restricted_server.ws_url, {"token": _token()}, origin=GOOD_ORIGIN)
    await client.close()
    # Non-browser clients send no Origin and are not subject to it.
    client = await GraphQLWS.connect(restricted_server.ws_url, {"token": _token()})
    await client.close()
    # A page on another origin is refused at the handshake.
    with pytest.raises(websockets.InvalidStatus) as refused:
        await GraphQLWS.connect(restricted_server.ws_url, {"token": _token()}, origin="https://evil.example")
    assert refused.value.response.status_code == 403
    preflight = await http.options(
        f"{url}/graphql", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers
    good = await http.options(
        f"{url}/graphql", headers={"Origin": GOOD_ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert good.headers["access-control-allow-origin"] == GOOD_ORIGIN
    simple = await http.post(
        f"{url}/graphql",
        json={"query": "{ viewer { role } }"},
        headers={"Origin": "https://evil.example", "Authorization": f"Bearer {_token()}"},
    )
    assert "access-control-allow-origin" not in simple.headers


# ---------------------------------------------------------------- readiness when the database goes away


@pytest.fixture
def doomed_postgres_server() -> Iterator[tuple[servers.Server, str]]:
    workdir = servers.new_workdir()
    name = servers.create_pg_database()
    env = servers.base_env(
        {
            "SWITCHBOARD_DATABASE_URL": servers.pg_database_url(name),
            "SWITCHBOARD_REDIS_URL": servers.REDIS_URL,
            "SWITCHBOARD_REDIS_PREFIX": f"sbtest-{name}",
        }
    )
    servers.migrate(env)
    server = servers.Server(env, servers.free_port(), workdir / "server.log")
    server.start()
    try:
        yield server, name
    finally:
        server.stop()
        servers.drop_pg_database(name)
        shutil.rmtree(workdir, ignore_errors=True)


async def test_readiness_fails_when_the_database_is_gone(
    doomed_postgres_server: tuple[servers.Server, str], http: httpx.AsyncClient
) -> None:
    server, name = doomed_postgres_server
    assert (await http.get(f"{server.url}/readyz")).status_code == 200
    await asyncio.to_thread(servers.drop_pg_database, name)
    response = await http.get(f"{server.url}/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False and str(body["database"]).startswith("down") and body["redis"] == "ok"
    # Still alive, and says so.
    assert (await http.get(f"{server.url}/healthz")).status_code == 200
