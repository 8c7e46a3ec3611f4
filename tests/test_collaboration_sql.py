"""Reading threads with their collaborators, agents and invites costs a fixed number of SQL statements.

The app runs in this process (httpx's ASGI transport, embedded SQLite) so that the
statements can be counted by wrapping the database client; only statements issued
on behalf of the request are counted, not those of the background sweepers.
"""

from __future__ import annotations

import contextvars
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from tortoise.backends.sqlite.client import SqliteClient

from switchboard.app import create_app
from switchboard.models import Agent, Collaborator, Invite, Organization, Thread, Visitor
from switchboard.rules import ids
from switchboard.rules.enums import CollaboratorRole, InviteStatus, InviteType, Permission, ThreadStatus
from switchboard.settings import Settings

SECRET = "sql-count-secret-" + "x" * 20
ORG = "org-sql"
_statements: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("statements", default=None)

READ = """query { threads(first: 100) { totalCount edges { node {
  id status collaboratorLimit viewerPermission transferCount
  visitor { id externalId } primaryAgent { id name } lastPrimaryAgent { id }
  collaborators { id role permission agent { id name activeCollaborationCount } invitedBy { id name } thread { id } }
  everyone: collaborators(includeInactive: true) { id }
  invites(first: 5) { totalCount edges { node {
    id status type inviter { id name } invitee { id name } thread { id } } } }
  pending: invites(status: [PENDING], last: 1) { totalCount edges { node { id } } }
  queueEntry { id }
} } } }"""


def _token(role: str, sub: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "org": ORG, "role": role, "iat": now, "exp": now + 600}, SECRET, algorithm="HS256")


def _counting(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def wrapper(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        seen = _statements.get()
        if seen is not None:
            seen.append(query)
        return await method(self, query, *args, **kwargs)

    return wrapper


@pytest_asyncio.fixture
async def app_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    for name in ("execute_query", "execute_query_dict", "execute_insert", "execute_many"):
        monkeypatch.setattr(SqliteClient, name, _counting(getattr(SqliteClient, name)))
    app = create_app(Settings(database_url=f"sqlite://{tmp_path / 'sql.db'}", jwt_secret=SECRET))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://switchboard") as client:
            yield client


async def _seed(threads: int) -> tuple[str, str]:
    """``threads`` ACTIVE threads, each with a primary, one expert and two invites; (primary, expert) ids."""
    org, _ = await Organization.get_or_create(id=ORG)
    primary = await Agent.create(org_id=org.id, name="Prim", max_concurrent_threads=100)
    expert = await Agent.create(org_id=org.id, name="Exp", max_concurrent_collaborations=100)
    guests = [await Agent.create(org_id=org.id, name=f"G{i}") for i in range(2)]
    now = datetime.now(UTC)
    for _ in range(threads):
        visitor = await Visitor.create(org_id=org.id, external_id=f"v-{secrets.token_hex(4)}")
        thread = await Thread.create(
            org_id=org.id, visitor_id=visitor.id, status=ThreadStatus.ACTIVE, primary_agent_id=primary.id
        )
        await Collaborator.create(
            org_id=org.id,
            thread_id=thread.id,
            agent_id=primary.id,
            role=CollaboratorRole.PRIMARY,
            permission=Permission.ADMIN,
        )
        await Collaborator.create(
            org_id=org.id,
            thread_id=thread.id,
            agent_id=expert.id,
            role=CollaboratorRole.EXPERT,
            permission=Permission.WRITE,
            invited_by_id=primary.id,
        )
        for guest, status in zip(guests, (InviteStatus.PENDING, InviteStatus.REJECTED), strict=True):
            await Invite.create(
                org_id=org.id,
                thread_id=thread.id,
                inviter_id=primary.id,
                invitee_id=guest.id,
                type=InviteType.EXPERT,
                permission=Permission.WRITE,
                status=status,
                expires_at=now + timedelta(minutes=5),
            )
    return ids.encode("Agent", primary.id), ids.encode("Agent", expert.id)


async def _count(client: httpx.AsyncClient, token: str) -> tuple[int, dict[str, Any]]:
    seen: list[str] = []
    reset = _statements.set(seen)
    try:
        response = await client.post("/graphql", json={"query": READ}, headers={"Authorization": f"Bearer {token}"})
    finally:
        _statements.reset(reset)
    body = response.json()
    assert not body.get("errors"), body
    return len(seen), body["data"]


async def test_reading_threads_runs_a_fixed_number_of_statements(app_client: httpx.AsyncClient) -> None:
    counts: dict[int, dict[str, int]] = {}
    total = 0
    # The organization's budget settings are read once per process (then cached): not per request.
    await app_client.post(
        "/graphql",
        json={"query": "{ viewer { role } }"},
        headers={"Authorization": f"Bearer {_token('admin', 'admin')}"},
    )
    for batch in (10, 40):
        _, expert_id = await _seed(batch)
        total += batch
        counts[total] = {}
        for who, token in (("admin", _token("admin", "admin")), ("agent", _token("agent", expert_id))):
            count, data = await _count(app_client, token)
            edges = data["threads"]["edges"]
            expected = total if who == "admin" else batch
            assert len(edges) == expected
            node = edges[0]["node"]
            assert len(node["collaborators"]) == 2 and node["invites"]["totalCount"] == 2
            assert node["pending"]["totalCount"] == 1 and node["collaboratorLimit"] == 3
            counts[total][who] = count
    assert counts[10] == counts[50], counts
    assert counts[50]["admin"] > 3, counts
    assert counts[50]["admin"] <= 20, counts
