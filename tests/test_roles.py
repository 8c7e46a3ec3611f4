"""Who may call what (contract section 2), over HTTP, for every role of the foundation's operations.

Collaboration and queue mutations have their own tests; here: provisioning,
settings, startThread, setAgentStatus and the reads.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests import dbcheck
from tests.conftest import AgentHandle, Org
from tests.wsclient import GraphQLWS

OK = "ok"
FORBIDDEN = "FORBIDDEN"
UNAUTHENTICATED = "UNAUTHENTICATED"
NULL = "null"  # allowed, but the object is not visible to the caller

Check = Callable[[dict[str, Any]], None]


@dataclass
class World:
    """An organization with an agent, a supervisor, a queue and two threads."""

    org: Org
    agent: AgentHandle
    supervisor: AgentHandle
    bob: AgentHandle
    queue_id: str
    thread_id: str
    other_thread_id: str
    visitor_token: str


async def _world(org: Org) -> World:
    agent = await org.create_agent("Ann")
    supervisor = await org.create_agent("Sue", role="SUPERVISOR")
    bob = await org.create_agent("Bob")
    data = await org.data('mutation { createQueue(input: {name: "general"}) { queue { id } userErrors { message } } }')
    thread_id, visitor_token = await org.start_thread()
    other_thread_id, _ = await org.start_thread()
    queue_id = data["createQueue"]["queue"]["id"]
    return World(org, agent, supervisor, bob, queue_id, thread_id, other_thread_id, visitor_token)


def _operations(w: World) -> dict[str, tuple[str, dict[str, Any]]]:
    """Name -> (document, variables). Each document has exactly one root field."""
    unique = secrets.token_hex(3)
    return {
        "viewer": ("{ viewer { role organization } }", {}),
        "agents": ("{ agents { totalCount } }", {}),
        "settings": ("{ settings { inviteExpirySeconds } }", {}),
        "queues": ("{ queues { id } }", {}),
        "queue": ("query($id: ID) { queue(id: $id) { id name } }", {"id": w.queue_id}),
        "thread": ("query($id: ID!) { thread(id: $id) { id status } }", {"id": w.thread_id}),
        "other_thread": ("query($id: ID!) { thread(id: $id) { id } }", {"id": w.other_thread_id}),
        "threads": ("{ threads { totalCount } }", {}),
        "node_agent": ("query($id: ID!) { node(id: $id) { id } }", {"id": w.agent.id}),
        "node_thread": ("query($id: ID!) { node(id: $id) { id } }", {"id": w.other_thread_id}),
        "createAgent": (
            "mutation($n: String!) { createAgent(input: {name: $n}) { agent { id } userErrors { code } } }",
            {"n": f"new-{unique}"},
        ),
        "updateAgent": (
            'mutation($id: ID!) { updateAgent(input: {agentId: $id, department: "sales"}) '
            "{ agent { id } userErrors { code } } }",
            {"id": w.agent.id},
        ),
        "createQueue": (
            "mutation($n: String!) { createQueue(input: {name: $n}) { queue { id } userErrors { code } } }",
            {"n": f"q-{unique}"},
        ),
        "updateQueue": (
            "mutation($id: ID!) { updateQueue(input: {queueId: $id, maxWaitSeconds: 600}) "
            "{ queue { id } userErrors { code } } }",
            {"id": w.queue_id},
        ),
        "updateSettings": (
            "mutation { updateSettings(input: {inviteExpirySeconds: 120}) { settings { inviteExpirySeconds } "
            "userErrors { code } } }",
            {},
        ),
        "startThread": (
            "mutation($x: String!) { startThread(input: {visitor: {externalId: $x}}) { thread { id } "
            "userErrors { code } } }",
            {"x": f"ext-{unique}"},
        ),
        "setOwnStatus": (
            "mutation { setAgentStatus(input: {status: AWAY}) { agent { id status } userErrors { code } } }",
            {},
        ),
        "setOtherStatus": (
            "mutation($id: ID!) { setAgentStatus(input: {status: AWAY, agentId: $id}) { agent { id status } "
            "userErrors { code } } }",
            {"id": w.bob.id},
        ),
    }


READS = (
    "viewer",
    "agents",
    "settings",
    "queues",
    "queue",
    "thread",
    "other_thread",
    "threads",
    "node_agent",
    "node_thread",
)
PROVISIONING = ("createAgent", "updateAgent", "createQueue", "updateQueue", "updateSettings")

EXPECTED: dict[str, dict[str, str]] = {
    "admin": {
        **dict.fromkeys(READS, OK),
        **dict.fromkeys(PROVISIONING, OK),
        "startThread": OK,
        "setOwnStatus": "userError",
        "setOtherStatus": OK,
    },
    "analyst": {
        **dict.fromkeys(READS, OK),
        **dict.fromkeys(PROVISIONING, FORBIDDEN),
        "startThread": FORBIDDEN,
        "setOwnStatus": FORBIDDEN,
        "setOtherStatus": FORBIDDEN,
    },
    "service": {
        **dict.fromkeys(READS, OK),
        **dict.fromkeys(PROVISIONING, FORBIDDEN),
        "startThread": OK,
        "setOwnStatus": FORBIDDEN,
        "setOtherStatus": FORBIDDEN,
    },
    "agent": {
        **dict.fromkeys(READS, OK),
        "thread": NULL,
        "other_thread": NULL,
        "node_thread": NULL,
        **dict.fromkeys(PROVISIONING, FORBIDDEN),
        "startThread": FORBIDDEN,
        "setOwnStatus": OK,
        "setOtherStatus": FORBIDDEN,
    },
    "supervisor": {
        **dict.fromkeys(READS, OK),
        **dict.fromkeys(PROVISIONING, FORBIDDEN),
        "startThread": FORBIDDEN,
        "setOwnStatus": OK,
        "setOtherStatus": OK,
    },
    "visitor": {
        "viewer": OK,
        "agents": FORBIDDEN,
        "settings": FORBIDDEN,
        "queues": FORBIDDEN,
        "queue": FORBIDDEN,
        "thread": OK,
        # The contract's own example: "a visitor touching another thread" is FORBIDDEN.
        "other_thread": FORBIDDEN,
        "threads": OK,
        "node_agent": FORBIDDEN,
        "node_thread": FORBIDDEN,
        **dict.fromkeys(PROVISIONING, FORBIDDEN),
        "startThread": FORBIDDEN,
        "setOwnStatus": FORBIDDEN,
        "setOtherStatus": FORBIDDEN,
    },
    "none": {
        name: UNAUTHENTICATED for name in (*READS, *PROVISIONING, "startThread", "setOwnStatus", "setOtherStatus")
    },
}


def _token(w: World, role: str) -> str:
    if role == "agent":
        return w.agent.token
    if role == "supervisor":
        return w.supervisor.token
    if role == "visitor":
        return w.visitor_token
    if role == "none":
        return ""
    return w.org.token(role)


def _outcome(body: dict[str, Any]) -> str:
    errors = body.get("errors") or []
    if errors:
        assert len(errors) == 1, errors
        return str(errors[0]["extensions"]["code"])
    (value,) = body["data"].values()
    if value is None:
        return NULL
    if isinstance(value, dict) and value.get("userErrors"):
        return "userError"
    return OK


async def _counts(org: Org) -> tuple[int, int, int]:
    return (
        await dbcheck.count(org.stack, "agent", org.id),
        await dbcheck.count(org.stack, "queue", org.id),
        await dbcheck.count(org.stack, "thread", org.id),
    )


@pytest.mark.parametrize("role", list(EXPECTED))
async def test_role_matrix(org: Org, role: str) -> None:
    w = await _world(org)
    before = await _counts(org)
    token = _token(w, role)
    seen = {}
    for name, (document, variables) in _operations(w).items():
        seen[name] = _outcome(await org.gql(document, variables, token=token))
    assert seen == EXPECTED[role]
    if all(EXPECTED[role][name] != OK for name in ("createAgent", "createQueue", "startThread")):
        # Refused calls wrote nothing.
        assert await _counts(org) == before
    # Bob's status changed only where the matrix allowed it.
    status = await org.data("query($id: ID!) { node(id: $id) { ... on Agent { status } } }", {"id": w.bob.id})
    assert status["node"]["status"] == ("AWAY" if EXPECTED[role]["setOtherStatus"] == OK else "ONLINE")


@pytest.mark.parametrize("role", [r for r in EXPECTED if r != "none"])
async def test_role_matrix_over_websocket(org: Org, role: str) -> None:
    """The same rules hold for operations sent over graphql-transport-ws (on the second process on PostgreSQL)."""
    w = await _world(org)
    seen = {}
    client = await GraphQLWS.connect(org.stack.ws_url(1), {"Authorization": f"Bearer {_token(w, role)}"})
    try:
        for name, (document, variables) in _operations(w).items():
            sub = await client.subscribe(document, variables)
            message = await sub.raw()
            assert message["type"] == "next", message
            seen[name] = _outcome(message["payload"])
            assert (await sub.raw())["type"] == "complete"
    finally:
        await client.close()
    assert seen == EXPECTED[role]


async def test_visitor_reads_own_thread_without_agent_identities(org: Org) -> None:
    w = await _world(org)
    data = await org.data(
        """query($id: ID!) { thread(id: $id) { id status primaryAgent { id } collaborators { id }
             invites { totalCount } viewerPermission visitor { id } } viewer { role agent { id } } }""",
        {"id": w.thread_id},
        token=w.visitor_token,
    )
    thread = data["thread"]
    assert thread["id"] == w.thread_id and thread["status"] == "BOT"
    assert thread["primaryAgent"] is None and thread["collaborators"] == [] and thread["invites"]["totalCount"] == 0
    assert thread["viewerPermission"] == "READ"
    assert data["viewer"] == {"role": "visitor", "agent": None}
    # Their visitor node is theirs to read; another thread's is not.
    node = await org.data(
        "query($id: ID!) { node(id: $id) { id } }", {"id": thread["visitor"]["id"]}, token=w.visitor_token
    )
    assert node["node"] == {"id": thread["visitor"]["id"]}


async def test_supervisor_sees_every_thread_plain_agent_none(org: Org) -> None:
    w = await _world(org)
    sup = await org.data("{ threads { totalCount } viewer { role } }", token=w.supervisor.token)
    assert sup == {"threads": {"totalCount": 2}, "viewer": {"role": "supervisor"}}
    plain = await org.data("{ threads { totalCount } viewer { role threads { totalCount } } }", token=w.agent.token)
    assert plain == {"threads": {"totalCount": 0}, "viewer": {"role": "agent", "threads": {"totalCount": 0}}}


async def test_admin_setting_status_needs_an_agent_id(org: Org) -> None:
    data = await org.data(
        "mutation { setAgentStatus(input: {status: AWAY}) { agent { id } userErrors { field code } } }"
    )
    assert data["setAgentStatus"] == {"agent": None, "userErrors": [{"field": ["input", "agentId"], "code": "INVALID"}]}
