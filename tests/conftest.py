"""Integration fixtures: every test runs on both backends, in an organization of its own.

``stack`` is a set of real server processes (SQLite: one; PostgreSQL + Redis: two,
sharing the database and Redis). ``org`` talks to them over HTTP and WebSocket.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio

from tests import invariants, servers
from tests.wsclient import GraphQLWS


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgres_only: needs several server processes sharing PostgreSQL and Redis (races, fan-out)"
    )
    config.addinivalue_line(
        "markers", "cap_lowered: the test lowers collaboratorLimit under open invites; the cap invariant is not checked"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A postgres_only test is not generated for the SQLite stack (one process, no row locks)."""
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.get_closest_marker("postgres_only") and params.get("stack") == "sqlite":
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest) -> Iterator[servers.Stack]:
    with servers.running(request.param) as built:
        yield built


@dataclass
class AgentHandle:
    id: str
    token: str
    name: str


class Org:
    """A fresh organization on a stack, with helpers to call it as any role."""

    def __init__(self, stack: servers.Stack, http: httpx.AsyncClient) -> None:
        self.stack = stack
        self.http = http
        self.id = f"org-{secrets.token_hex(5)}"

    def token(
        self,
        role: str = "admin",
        sub: str | None = None,
        thread: str | None = None,
        ttl: int = 3600,
        org: str | None = None,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": sub or f"{role}-test",
            "org": org or self.id,
            "role": role,
            "iat": now,
            "exp": now + ttl,
        }
        if thread is not None:
            claims["thread"] = thread
        return jwt.encode(claims, servers.SECRET, algorithm="HS256")

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None, server: int = 0
    ) -> dict[str, Any]:
        """The whole JSON response (data and errors)."""
        token = token if token is not None else self.token("admin")
        response = await self.http.post(
            f"{self.stack.url(server)}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"} if token else {},
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def data(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        """The data of a response that must have no errors."""
        body = await self.gql(query, variables, **kw)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def create_agent(self, name: str = "Agent", status: str | None = "ONLINE", **fields: Any) -> AgentHandle:
        data = await self.data(
            "mutation($i: CreateAgentInput!) { createAgent(input: $i) { agent { id } userErrors { message } } }",
            {"i": {"name": name, **fields}},
        )
        payload = data["createAgent"]
        assert not payload["userErrors"], payload["userErrors"]
        agent_id = payload["agent"]["id"]
        handle = AgentHandle(agent_id, self.token("agent", sub=agent_id), name)
        if status is not None:
            await self.set_status(handle, status)
        return handle

    async def set_status(self, agent: AgentHandle, status: str, server: int = 0) -> None:
        data = await self.data(
            "mutation($s: AgentStatus!) { setAgentStatus(input: {status: $s}) { userErrors { message } } }",
            {"s": status},
            token=agent.token,
            server=server,
        )
        assert not data["setAgentStatus"]["userErrors"]

    async def start_thread(
        self, external_id: str | None = None, tier: str | None = None, thread_class: str = "NORMAL"
    ) -> tuple[str, str]:
        """A new BOT thread: (thread id, visitor token)."""
        visitor: dict[str, Any] = {"externalId": external_id or f"v-{secrets.token_hex(4)}"}
        if tier is not None:
            visitor["tier"] = tier
        data = await self.data(
            """mutation($i: StartThreadInput!) { startThread(input: $i) {
                 thread { id } visitorToken userErrors { message } } }""",
            {"i": {"visitor": visitor, "threadClass": thread_class}},
            token=self.token("service"),
        )
        payload = data["startThread"]
        assert not payload["userErrors"], payload["userErrors"]
        return payload["thread"]["id"], payload["visitorToken"]

    async def ws(self, token: str | None = None, server: int = 0) -> GraphQLWS:
        token = token if token is not None else self.token("admin")
        return await GraphQLWS.connect(self.stack.ws_url(server), {"Authorization": f"Bearer {token}"})


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A scratch directory of the test's own, removed afterwards."""
    path = servers.new_workdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of each kind, for tests that run the app's code in process."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'fresh.db'}"
        return
    name = servers.create_pg_database()
    try:
        yield servers.pg_database_url(name)
    finally:
        servers.drop_pg_database(name)


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@pytest_asyncio.fixture
async def org(stack: servers.Stack, http: httpx.AsyncClient) -> Org:
    return Org(stack, http)


@pytest_asyncio.fixture
async def other_org(stack: servers.Stack, http: httpx.AsyncClient) -> Org:
    return Org(stack, http)


@pytest_asyncio.fixture
async def check_invariants(request: pytest.FixtureRequest, org: Org) -> AsyncIterator[None]:
    """After the test, the contract's invariants hold in its organization (tests/invariants.py)."""
    yield
    caps = request.node.get_closest_marker("cap_lowered") is None
    await invariants.assert_hold(org.stack, org.id, caps=caps)
