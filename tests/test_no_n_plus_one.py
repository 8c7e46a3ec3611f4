"""No N+1: every read of the contract runs as many SQL statements for 100 threads as for 5.

Each query below (the Query root's fields, with the nested connections and
relations the console and the dashboards read) runs on an organization with 5
threads in 2 queues, then again once it has 100 in 6 queues (with their visitors,
collaborators, invites, queue entries, messages and agents, agents growing with the threads). The count
of statements issued on behalf of the request must be the same: a statement per
row returned would show up as a difference. The app runs in this process on
SQLite so that the statements can be counted (``tests/sql_support.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from switchboard.models import Agent, Collaborator, Invite, Message, Organization, Queue, QueueEntry, Thread, Visitor
from switchboard.rules import ids
from switchboard.rules.enums import (
    AgentStatus,
    CollaboratorRole,
    InviteStatus,
    InviteType,
    MessageVisibility,
    Permission,
    QueueEntryStatus,
    SenderKind,
    ThreadStatus,
)
from tests.sql_support import counting, sign, sql_app

SECRET = "no-n-plus-one-secret-" + "x" * 20
ORG = "org-n-plus-one"

_seq = itertools.count(1)

AGENT = "id name email role department skills status maxConcurrentThreads activeThreadCount createdAt"
THREAD = f"""id status threadClass subject collaboratorLimit viewerPermission transferCount unreadCount
  lastVisitorMessageAt firstResponseAt createdAt
  visitor {{ id name externalId tier }} primaryAgent {{ {AGENT} }} lastPrimaryAgent {{ id name }}
  collaborators {{ id role permission active joinedAt agent {{ {AGENT} }} invitedBy {{ id name }} thread {{ id }} }}
  everyone: collaborators(includeInactive: true) {{ id agent {{ name }} }}
  invites(first: 5) {{ totalCount edges {{ cursor node {{ id status type
    inviter {{ id name }} invitee {{ id name }} approvedBy {{ id }} thread {{ id status }} }} }} }}
  pending: invites(status: [PENDING], last: 1) {{ totalCount edges {{ node {{ id }} }} }}
  queueEntry {{ id status position queueLength estimatedWaitSeconds queue {{ id name }} assignedAgent {{ id name }} }}
  messages(last: 3) {{ totalCount edges {{ cursor node {{ id senderKind displayName visibility body createdAt
    author {{ id name }} thread {{ id }} }} }} pageInfo {{ hasPreviousPage }} }}"""
ENTRY = """id priority status position queueLength estimatedWaitSeconds trigger attempt enqueuedAt assignedAt
  thread { id status visitor { name } primaryAgent { name } } queue { id name } assignedAgent { id name }"""
STATS = "stats { waiting waitingByPriority { priority count } longestWaitSeconds averageWaitSeconds"
STATS += " availableAgents estimatedWaitSeconds }"
QUEUE = f"id name skills {STATS} entries(first: 100) {{ totalCount edges {{ node {{ {ENTRY} }} }} }}"
PERIOD = "query($from: DateTime!, $to: DateTime!"
METRICS = """from to threadsStarted transferRate transfersRequested transferSuccessRate averageWaitSeconds
  p90WaitSeconds abandoned overflowed invitesSent inviteAcceptanceRate averageInviteResponseSeconds invitesExpired
  agentMessages visitorMessages averageFirstResponseSeconds p90FirstResponseSeconds
  transfersByTrigger { trigger count }
  byQueue { queue { id name } transfersRequested assigned cancelled overflowed averageWaitSeconds p90WaitSeconds }
  series(bucket: HOUR) { bucketStart transfersRequested assigned averageWaitSeconds invitesSent invitesAccepted }"""

# name -> (caller, query); the callers are made by ``_tokens``.
QUERIES: dict[str, tuple[str, str]] = {
    "threads (the dashboard)": (
        "admin",
        """{ threads(filter: {status: [ACTIVE]}, first: 100) { totalCount edges { node {
          id createdAt primaryAgent { id name } collaborators { agent { id name } } } } } }""",
    ),
    "threads, every relation": ("admin", f"{{ threads(first: 100) {{ totalCount edges {{ node {{ {THREAD} }} }} }} }}"),
    "threads, as the primary agent": ("primary", f"{{ threads(first: 100) {{ edges {{ node {{ {THREAD} }} }} }} }}"),
    "threads, as an expert": (
        "expert",
        "{ threads(first: 100) { edges { node { id viewerPermission unreadCount "
        "collaborators { agent { name } } invites(first: 2) { edges { node { id } } } } } } }",
    ),
    "threads, each visitor's threads": (
        "admin",
        """{ threads(first: 100) { edges { node { id visitor { id threads(first: 5) { totalCount
          edges { cursor node { id status primaryAgent { name } collaborators { agent { name } } } } } } } } } }""",
    ),
    "thread": ("admin", f"query($thread: ID!) {{ thread(id: $thread) {{ {THREAD} }} }}"),
    "invites": (
        "admin",
        """{ invites(first: 100) { totalCount edges { node { id status type permission urgency createdAt expiresAt
          inviter { id name } invitee { id name activeCollaborationCount } approvedBy { id }
          thread { id status primaryAgent { name } collaborators { agent { name } } } } } } }""",
    ),
    "invites, as the invitee": (
        "guest",
        "{ invites(first: 100) { edges { node { id inviter { name } thread { id } } } } }",
    ),
    "agents": ("admin", f"{{ agents(first: 100) {{ totalCount edges {{ node {{ {AGENT} }} }} }} }}"),
    "queues": ("admin", f"{{ queues {{ {QUEUE} }} }}"),
    "queue": ("admin", f"query($queue: ID!) {{ queue(id: $queue) {{ {QUEUE} }} }}"),
    "queueEntries": ("admin", f"{{ queueEntries(first: 100) {{ totalCount edges {{ node {{ {ENTRY} }} }} }} }}"),
    "queueEntries, assigned": (
        "admin",
        f"{{ queueEntries(filter: {{status: [ASSIGNED]}}, first: 100) {{ edges {{ node {{ {ENTRY} }} }} }} }}",
    ),
    "metrics": ("admin", f"{PERIOD}) {{ metrics(from: $from, to: $to) {{ {METRICS} }} }}"),
    "metrics of a queue": (
        "admin",
        f"{PERIOD}, $queue: ID) {{ metrics(from: $from, to: $to, queueId: $queue) {{ {METRICS} }} }}",
    ),
    "viewer (the console)": (
        "primary",
        """{ viewer { role organization agent { id name status role }
          pendingInvites { id type permission message inviter { name } thread { id subject } }
          threads(first: 100) { totalCount edges { node { id status subject unreadCount visitor { name externalId }
            primaryAgent { name } collaborators { agent { name } } } } } }
          queues { id name entries(first: 20) { edges { node { id priority position enqueuedAt } } } } }""",
    ),
    "viewer's pending invites": (
        "guest",
        """{ viewer { pendingInvites { id type permission message expiresAt inviter { name } invitee { name }
          thread { id subject visitor { name } primaryAgent { name } collaborators { agent { name } } } } } }""",
    ),
    "nodes": (
        "admin",
        """query($ids: [ID!]!) { nodes(ids: $ids) { id
          ... on Thread { status primaryAgent { name } visitor { name } }
          ... on Agent { name activeThreadCount }
          ... on Invite { inviteStatus: status inviter { name } invitee { name } thread { id } }
          ... on Collaborator { role agent { name } thread { id } }
          ... on QueueEntry { position queue { name } thread { id } }
          ... on Message { body author { name } displayName thread { id } }
          ... on Visitor { externalId } } }""",
    ),
    "node": ("admin", f"query($thread: ID!) {{ node(id: $thread) {{ ... on Thread {{ {THREAD} }} }} }}"),
    "settings": ("admin", "{ settings { queryCostBudget collaboratorLimitNormal serviceName } }"),
}


# Queries of one object whose answer need not grow with the organization.
SINGLE = {"thread", "node", "settings"}


@pytest_asyncio.fixture
async def app_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    async with sql_app(tmp_path, monkeypatch, SECRET) as (_, client):
        yield client


def token(role: str, sub: str) -> str:
    return sign(SECRET, ORG, role, sub)


async def counted(
    client: httpx.AsyncClient, bearer: str, query: str, variables: dict[str, Any]
) -> tuple[list[str], dict[str, Any]]:
    """The statements the request ran, and its whole response body."""
    with counting() as seen:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {bearer}"},
        )
    return seen, dict(response.json())


class World:
    """The organization's fixed cast; ``grow`` adds threads with everything around them."""

    def __init__(self, primary: Agent, expert: Agent, guest: Agent, queues: list[Queue]) -> None:
        self.primary, self.expert, self.guest, self.queues = primary, expert, guest, queues
        self.threads: list[Thread] = []
        self.node_ids: list[str] = []

    @classmethod
    async def create(cls) -> World:
        org, _ = await Organization.get_or_create(id=ORG)
        # AWAY: the router would otherwise assign the WAITING entries between the runs.
        primary = await Agent.create(org_id=org.id, name="Prim", max_concurrent_threads=1000, status=AgentStatus.AWAY)
        expert = await Agent.create(org_id=org.id, name="Expert", max_concurrent_collaborations=1000)
        guest = await Agent.create(org_id=org.id, name="Guest", max_concurrent_collaborations=1000)
        queues = [await Queue.create(org_id=org.id, name=f"q{i}", is_default=i == 0) for i in range(2)]
        return cls(primary, expert, guest, queues)

    async def add_queues(self, count: int) -> None:
        first = len(self.queues)
        self.queues += [await Queue.create(org_id=ORG, name=f"q{first + i}") for i in range(count)]

    async def grow(self, count: int) -> None:
        """``count`` ACTIVE threads (the expert on each, invites, messages, an ASSIGNED entry) and
        ``count`` QUEUED ones (WAITING entries), over both queues."""
        now = datetime.now(UTC)
        for n in range(count):
            await self._active(n, now)
            await self._queued(n, now)

    async def _active(self, n: int, now: datetime) -> None:
        visitor = await Visitor.create(org_id=ORG, external_id=f"v-a{len(self.threads)}", name=f"V{n}")
        thread = await Thread.create(
            org_id=ORG,
            visitor_id=visitor.id,
            status=ThreadStatus.ACTIVE,
            primary_agent_id=self.primary.id,
            assigned_at=now - timedelta(minutes=5),
        )
        self.threads.append(thread)
        invitee = await Agent.create(org_id=ORG, name=f"I{len(self.threads)}")
        staff = [
            await Collaborator.create(
                org_id=ORG,
                thread_id=thread.id,
                agent_id=self.primary.id,
                role=CollaboratorRole.PRIMARY,
                permission=Permission.ADMIN,
            ),
            await Collaborator.create(
                org_id=ORG,
                thread_id=thread.id,
                agent_id=self.expert.id,
                role=CollaboratorRole.EXPERT,
                permission=Permission.WRITE,
                invited_by_id=self.primary.id,
            ),
        ]
        invites = [
            await Invite.create(
                org_id=ORG,
                thread_id=thread.id,
                inviter_id=self.primary.id,
                invitee_id=who.id,
                type=InviteType.EXPERT,
                permission=Permission.WRITE,
                status=InviteStatus.PENDING,
                expires_at=now + timedelta(minutes=5),
            )
            for who in (self.guest, invitee)
        ]
        entry = await self._entry(thread, visitor, QueueEntryStatus.ASSIGNED, now)
        messages = await self._messages(thread, visitor, now)
        rows: list[Any] = [thread, visitor, invitee, entry, *staff, *invites, *messages]
        self.node_ids += [ids.encode(type(row).__name__, row.id) for row in rows]

    async def _messages(self, thread: Thread, visitor: Visitor, now: datetime) -> list[Message]:
        """The visitor's question and the primary's PUBLIC answer."""
        senders = [(SenderKind.VISITOR, f"visitor:{visitor.id}", None), (SenderKind.AGENT, "agent", self.primary.id)]
        return [
            await Message.create(
                org_id=ORG,
                thread_id=thread.id,
                sender_kind=kind,
                sender_key=key,
                author_id=author,
                visitor_id=visitor.id if author is None else None,
                visibility=MessageVisibility.PUBLIC,
                body=f"hello {i}",
                created_at=now - timedelta(minutes=4 - i),
                seq=next(_seq),
            )
            for i, (kind, key, author) in enumerate(senders)
        ]

    async def _queued(self, n: int, now: datetime) -> None:
        visitor = await Visitor.create(org_id=ORG, external_id=f"v-q{len(self.threads)}")
        thread = await Thread.create(org_id=ORG, visitor_id=visitor.id, status=ThreadStatus.QUEUED)
        await self._entry(thread, visitor, QueueEntryStatus.WAITING, now)

    async def _entry(self, thread: Thread, visitor: Visitor, status: QueueEntryStatus, now: datetime) -> QueueEntry:
        queue = self.queues[thread.id % len(self.queues)]
        enqueued = now - timedelta(minutes=10)
        assigned = status is QueueEntryStatus.ASSIGNED
        return await QueueEntry.create(
            org_id=ORG,
            thread_id=thread.id,
            queue_id=queue.id,
            visitor_id=visitor.id,
            status=status,
            enqueued_at=enqueued,
            overflow_at=enqueued + timedelta(minutes=15),
            assigned_at=now - timedelta(minutes=5) if assigned else None,
            assigned_agent_id=self.primary.id if assigned else None,
        )

    def tokens(self) -> dict[str, str]:
        return {
            "admin": token("admin", "admin"),
            "primary": token("agent", ids.encode("Agent", self.primary.id)),
            "expert": token("agent", ids.encode("Agent", self.expert.id)),
            "guest": token("agent", ids.encode("Agent", self.guest.id)),
        }

    def variables(self) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {
            "thread": ids.encode("Thread", self.threads[0].id),
            "queue": ids.encode("Queue", self.queues[0].id),
            "ids": self.node_ids[:100],  # the most one call takes
            "from": (now - timedelta(days=1)).isoformat(),
            "to": (now + timedelta(hours=1)).isoformat(),
        }


async def _statement_counts(client: httpx.AsyncClient, world: World) -> dict[str, tuple[int, int]]:
    """name -> (statements, size of the response) of each query."""
    tokens, variables = world.tokens(), world.variables()
    out = {}
    for name, (caller, query) in QUERIES.items():
        statements, body = await counted(client, tokens[caller], query, variables)
        assert not body.get("errors"), (name, body)
        out[name] = (len(statements), len(str(body)))
    return out


async def test_every_read_runs_as_many_statements_for_100_threads_as_for_5(app_client: httpx.AsyncClient) -> None:
    world = await World.create()
    await world.grow(5)
    # Per-process caches (the organization's budget settings) are filled once, not per request.
    await _statement_counts(app_client, world)
    small = await _statement_counts(app_client, world)
    await world.add_queues(4)  # lists of queues grow too: per-queue figures and entries
    await world.grow(95)
    large = await _statement_counts(app_client, world)
    for name in set(QUERIES) - SINGLE:
        assert large[name][1] > small[name][1], (name, "the larger world answered no more")
    differ = {name: (small[name][0], large[name][0]) for name in QUERIES if small[name][0] != large[name][0]}
    assert not differ, f"statements (5 threads, 100 threads) of the queries that grew: {differ}"
