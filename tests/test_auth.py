"""Tokens over HTTP and WebSocket: missing, forged, expired or malformed ones are refused."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import datetime
from typing import Any

import jwt
import pytest
import websockets

from tests import dbcheck, servers
from tests.conftest import Org
from tests.queue_support import create_queue
from tests.wsclient import GraphQLWS, WSClosed

VIEWER = "{ viewer { role organization agent { id } } }"


def _claims(tenant: Org, **over: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "admin-test", "org": tenant.id, "role": "admin", "iat": now, "exp": now + 600}
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict[str, Any], secret: str = servers.SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def _unauthenticated(body: dict[str, Any]) -> str:
    assert body["data"] is None, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED", body
    return str(error["message"])


DAY = 24 * 3600


def _bad_tokens(org: Org) -> dict[str, str]:
    now = int(time.time())
    visitor = {"role": "visitor", "sub": "VmlzaXRvcjox", "thread": "VGhyZWFkOjE"}
    return {
        "forged": _sign(_claims(org), secret="another-secret-" + "y" * 20),
        "expired": _sign(_claims(org, iat=now - 7200, exp=now - 3600)),
        "garbage": "not.a.jwt",
        "alg-none": jwt.encode(_claims(org), key="", algorithm="none"),
        "no-org": _sign(_claims(org, org=None)),
        "no-exp": _sign(_claims(org, exp=None)),
        "unknown-role": _sign(_claims(org, role="root")),
        "agent-sub-not-an-agent-id": _sign(_claims(org, role="agent", sub="someone")),
        "visitor-without-thread": _sign(_claims(org, role="visitor", sub="VmlzaXRvcjox")),
        # Lifetimes: exp must be a number; 30 days at most (visitors: 7), from iat or else from now.
        "exp-as-string": _sign(_claims(org, exp=str(now + 600))),
        "iat-as-string": _sign(_claims(org, iat=str(now))),
        "exp-in-100-years": _sign(_claims(org, exp=now + 100 * 365 * DAY)),
        "31-days-from-iat": _sign(_claims(org, iat=now - 2 * DAY, exp=now + 29 * DAY)),
        "31-days-without-iat": _sign(_claims(org, iat=None, exp=now + 31 * DAY)),
        "visitor-for-8-days": _sign(_claims(org, **visitor, exp=now + 8 * DAY)),
        # Claims the database could not store or compare.
        "org-with-nul": _sign(_claims(org, org=org.id + "\x00")),
        "org-with-lone-surrogate": _sign(_claims(org, org=org.id + "\ud800")),
        "sub-with-nul": _sign(_claims(org, sub="admin\x00")),
        "empty-org": _sign(_claims(org, org="")),
    }


async def test_http_without_token_is_unauthenticated_and_writes_nothing(org: Org) -> None:
    _unauthenticated(await org.gql(VIEWER, token=""))
    body = await org.gql('mutation { createAgent(input: {name: "Eve"}) { agent { id } } }', token="")
    _unauthenticated(body)
    assert await dbcheck.scalar(org.stack, "SELECT COUNT(*) FROM agent WHERE org_id = ?", org.id) == 0
    # The server goes on serving authenticated callers.
    assert (await org.data(VIEWER))["viewer"]["role"] == "admin"


async def test_http_refuses_forged_expired_and_malformed_tokens(org: Org) -> None:
    for name, token in _bad_tokens(org).items():
        message = _unauthenticated(await org.gql(VIEWER, token=token))
        if name == "expired":
            assert "expired" in message
        if name == "forged":
            assert "signature" in message.lower()
    response = await org.http.post(
        f"{org.stack.url()}/graphql", json={"query": VIEWER}, headers={"Authorization": f"Basic {org.token()}"}
    )
    _unauthenticated(response.json())


async def test_http_token_accepted_until_exp_then_refused(org: Org) -> None:
    # Verified tokens are remembered per process: never past their exp.
    exp = int(time.time()) + 2
    token = _sign(_claims(org, exp=exp))
    for _ in range(3):
        assert (await org.data(VIEWER, token=token))["viewer"]["role"] == "admin"
    await asyncio.sleep(max(0.0, exp - time.time()) + 0.2)
    for _ in range(2):
        assert "expired" in _unauthenticated(await org.gql(VIEWER, token=token))


async def test_tokens_valid_up_to_the_limit_are_accepted(org: Org) -> None:
    now = int(time.time())
    admin = _sign(_claims(org, iat=now, exp=now + 30 * DAY))
    assert (await org.data(VIEWER, token=admin))["viewer"]["role"] == "admin"
    thread_id, _ = await org.start_thread()
    visitor_id = (await org.data("query($t: ID!) { thread(id: $t) { visitor { id } } }", {"t": thread_id}))["thread"][
        "visitor"
    ]["id"]
    visitor = _sign(_claims(org, role="visitor", sub=visitor_id, thread=thread_id, iat=now, exp=now + 7 * DAY))
    assert (await org.data(VIEWER, token=visitor))["viewer"]["role"] == "visitor"


async def test_http_accepts_a_valid_token_in_any_scheme_case_and_over_get(org: Org) -> None:
    for header in (f"Bearer {org.token('analyst')}", f"bearer {org.token('analyst')}"):
        response = await org.http.post(
            f"{org.stack.url()}/graphql", json={"query": VIEWER}, headers={"Authorization": header}
        )
        assert response.json()["data"]["viewer"] == {"role": "analyst", "organization": org.id, "agent": None}
    response = await org.http.get(
        f"{org.stack.url()}/graphql",
        params={"query": VIEWER},
        headers={"Authorization": f"Bearer {org.token('service')}", "Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.json()["data"]["viewer"]["role"] == "service"


EVERY_READ = [
    VIEWER,
    "{ agents { totalCount edges { node { name email } } } }",
    "{ queues { id name } }",
    "{ settings { inviteExpirySeconds } }",
    "{ threads { totalCount } }",
    "{ invites { totalCount } }",
    "{ queueEntries { totalCount } }",
    "mutation { setAgentStatus(input: {status: ONLINE}) { agent { id } } }",
]


async def test_agent_token_of_an_unknown_or_foreign_agent_is_unauthenticated_everywhere(
    org: Org, other_org: Org
) -> None:
    agent = await org.create_agent("Ann")
    await create_queue(org, "q")
    assert (await org.data(VIEWER, token=agent.token))["viewer"]["agent"]["id"] == agent.id
    ghost = org.token("agent", sub="QWdlbnQ6OTk5OTk5OTk5")  # Agent:999999999, never created
    foreign = other_org.token("agent", sub=agent.id)  # Ann, presented as a member of another organization
    for token in (ghost, foreign):
        for query in EVERY_READ:
            assert "agent" in _unauthenticated(await org.gql(query, token=token)), query
        with pytest.raises(WSClosed) as closed:
            await GraphQLWS.connect(org.stack.ws_url(), {"Authorization": f"Bearer {token}"})
        assert closed.value.code == 4401
    assert await dbcheck.scalar(org.stack, "SELECT COUNT(*) FROM agent WHERE org_id = ?", other_org.id) == 0


# ---------------------------------------------------------------- WebSocket


async def _viewer_over_ws(client: GraphQLWS) -> dict[str, Any]:
    sub = await client.subscribe(VIEWER)
    data = await sub.next()
    assert (await sub.raw())["type"] == "complete"
    return data["viewer"]


@pytest.mark.parametrize("key", ["Authorization", "authorization", "token"])
async def test_ws_token_in_connection_init(org: Org, key: str) -> None:
    token = org.token("analyst")
    value = token if key == "token" else f"Bearer {token}"
    server = 1 if key == "token" else 0  # the second process on PostgreSQL
    client = await GraphQLWS.connect(org.stack.ws_url(server), {key: value})
    try:
        assert (await _viewer_over_ws(client))["role"] == "analyst"
    finally:
        await client.close()


async def test_ws_token_in_upgrade_header(org: Org) -> None:
    agent = await org.create_agent("Ann")
    client = await GraphQLWS.connect(org.stack.ws_url(), {}, headers={"Authorization": f"Bearer {agent.token}"})
    try:
        viewer = await _viewer_over_ws(client)
        assert viewer["role"] == "agent" and viewer["agent"]["id"] == agent.id
    finally:
        await client.close()


async def test_ws_bad_or_missing_token_closes_with_4401(org: Org) -> None:
    payloads: list[dict[str, Any]] = [{}, {"Authorization": ""}]
    payloads += [{"Authorization": f"Bearer {token}"} for token in _bad_tokens(org).values()]
    for payload in payloads:
        with pytest.raises(WSClosed) as closed:
            await GraphQLWS.connect(org.stack.ws_url(), payload)
        assert closed.value.code == 4401, payload
    # A bad header token is refused too.
    with pytest.raises(WSClosed) as closed:
        await GraphQLWS.connect(org.stack.ws_url(), {}, headers={"Authorization": "Bearer not.a.jwt"})
    assert closed.value.code == 4401
    # The server still accepts good connections.
    client = await org.ws()
    await client.close()


async def _legacy_init(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Open a legacy ``graphql-ws`` connection; the first server message."""
    async with websockets.connect(url, subprotocols=["graphql-ws"]) as conn:  # type: ignore[list-item]
        await conn.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(conn.recv(), 10))
        except websockets.ConnectionClosed as exc:
            return {"closed": exc.rcvd.code if exc.rcvd else None}
        return message


async def test_legacy_graphql_ws_protocol_authenticates_too(org: Org) -> None:
    message = await _legacy_init(org.stack.ws_url(), {"Authorization": f"Bearer {org.token('service')}"})
    assert message["type"] == "connection_ack"
    assert await _legacy_init(org.stack.ws_url(), {"Authorization": "Bearer forged"}) == {"closed": 4401}


# ---------------------------------------------------------------- a WebSocket lives no longer than its token

CREATE_AGENT = "mutation($n: String!) { createAgent(input: {name: $n}) { agent { id createdAt } } }"


async def test_ws_closes_with_4401_at_exp_and_runs_nothing_after_it(org: Org) -> None:
    exp = int(time.time()) + 3
    token = _sign(_claims(org, exp=exp))
    await create_queue(org, "q")
    client = await GraphQLWS.connect(org.stack.ws_url(), {"Authorization": f"Bearer {token}"})
    stats = await client.subscribe(
        "subscription($q: ID!) { queueStats(queueId: $q) { waiting } }", {"q": await _queue(org)}
    )
    assert "queueStats" in await stats.next()
    # Mutations keep coming on the socket until the server closes it.
    sent = 0
    while client.closed is None and sent < 400:
        sent += 1
        with contextlib.suppress(websockets.ConnectionClosed):
            await client.subscribe(CREATE_AGENT, {"n": f"a{sent}"})
        await asyncio.sleep(0.05)
    assert client.closed is not None and client.closed.code == 4401, client.closed
    created = await org.data("{ agents(first: 100) { edges { node { createdAt } } } }")
    times = [datetime.fromisoformat(e["node"]["createdAt"]) for e in created["agents"]["edges"]]
    assert times, "no mutation ran before exp"
    assert max(times).timestamp() < exp, (max(times), exp)
    await client.close()


async def _queue(org: Org) -> str:
    return str((await org.data("{ queues { id } }"))["queues"][0]["id"])


async def test_legacy_ws_closes_with_4401_at_exp(org: Org) -> None:
    token = _sign(_claims(org, exp=int(time.time()) + 2))
    async with websockets.connect(org.stack.ws_url(), subprotocols=["graphql-ws"]) as conn:  # type: ignore[list-item]
        await conn.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        assert json.loads(await asyncio.wait_for(conn.recv(), 10))["type"] == "connection_ack"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(conn.recv(), 10)  # keep-alives until the close
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
