"""Tokens over HTTP and WebSocket: missing, forged, expired or malformed ones are refused."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import jwt
import pytest
import websockets

from tests import dbcheck, servers
from tests.conftest import Org
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


def _bad_tokens(org: Org) -> dict[str, str]:
    now = int(time.time())
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


async def test_agent_token_of_an_unknown_agent_is_unauthenticated(org: Org) -> None:
    agent = await org.create_agent("Ann")
    assert (await org.data(VIEWER, token=agent.token))["viewer"]["agent"]["id"] == agent.id
    ghost = "QWdlbnQ6OTk5OTk5OTk5"  # Agent:999999999, never created
    _unauthenticated(await org.gql(VIEWER, token=org.token("agent", sub=ghost)))


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
