"""Reading threads with their collaborators, agents and invites costs a fixed number of SQL statements.

The app runs in this process (httpx's ASGI transport, embedded SQLite) so that the
statements can be counted by wrapping the database client; only statements issued
on behalf of the request are counted, not those of the background sweepers.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from switchboard.models import Agent, Collaborator, Invite, Organization, Thread, Visitor
from switchboard.rules import ids
from switchboard.rules.enums import CollaboratorRole, InviteStatus, InviteType, Permission, ThreadStatus
from tests.sql_support import counting, sign, sql_app

SECRET = "sql-count-secret-" + "x" * 20
ORG = "org-sql"

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
    return sign(SECRET, ORG, role, sub)


@pytest_asyncio.fixture
async def app_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    async with sql_app(tmp_path, monkeypatch, SECRET) as (_, client):
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
    with counting() as seen:
        response = await client.post("/graphql", json={"query": READ}, headers={"Authorization": f"Bearer {token}"})
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


PAGE = """query($after: String) { threads(first: 10, after: $after) { %s
  edges { node { id invites(first: 1) { edges { cursor node { id } } } } } pageInfo { endCursor hasNextPage } } }"""


async def _run(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    with counting() as seen:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {_token('admin', 'admin')}"},
        )
    body = response.json()
    assert not body.get("errors"), body
    return seen, body["data"]


async def test_a_deep_page_costs_what_the_first_does_and_counts_only_when_asked(app_client: httpx.AsyncClient) -> None:
    await _seed(45)
    await _run(app_client, PAGE % "", {})  # warm the per-organization caches (query cost budget)
    first, data = await _run(app_client, PAGE % "", {})
    assert not any("COUNT(" in sql.upper() for sql in first), first
    ids_seen = [e["node"]["id"] for e in data["threads"]["edges"]]
    after = data["threads"]["pageInfo"]["endCursor"]
    for _ in range(3):
        deep, data = await _run(app_client, PAGE % "", {"after": after})
        assert len(deep) == len(first), (first, deep)
        assert "OFFSET" not in deep[0].upper() and "LIMIT" in deep[0].upper()
        ids_seen += [e["node"]["id"] for e in data["threads"]["edges"]]
        after = data["threads"]["pageInfo"]["endCursor"]
    counted, data = await _run(app_client, PAGE % "totalCount", {"after": after})
    assert len(counted) == len(first) + 1 and data["threads"]["totalCount"] == 45
    assert len(data["threads"]["edges"]) == 5 and not data["threads"]["pageInfo"]["hasNextPage"]
    assert len(set(ids_seen)) == 40


async def test_a_threads_invites_page_by_cursor(app_client: httpx.AsyncClient) -> None:
    await _seed(1)
    query = """query($after: String, $before: String) { threads(first: 1) { edges { node {
      invites(first: 1, after: $after) { totalCount edges { cursor node { status } } pageInfo { hasNextPage } }
      back: invites(last: 1, before: $before) { edges { node { status } } pageInfo { hasPreviousPage } } } } } }"""
    _, data = await _run(app_client, query, {})
    node = data["threads"]["edges"][0]["node"]
    newest = node["invites"]["edges"][0]
    assert node["invites"]["totalCount"] == 2 and node["invites"]["pageInfo"]["hasNextPage"]
    _, data = await _run(app_client, query, {"after": newest["cursor"], "before": newest["cursor"]})
    node = data["threads"]["edges"][0]["node"]
    (older,) = node["invites"]["edges"]
    assert older["node"]["status"] != newest["node"]["status"] and not node["invites"]["pageInfo"]["hasNextPage"]
    assert node["back"]["edges"] == [] and not node["back"]["pageInfo"]["hasPreviousPage"]
