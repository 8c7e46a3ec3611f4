"""Provisioning round trips: what an admin (or the bot integration) writes reads back the same."""

from __future__ import annotations

import asyncio

from tests import dbcheck
from tests.conftest import Org

AGENT_FIELDS = """id name email role department skills status maxConcurrentThreads maxConcurrentCollaborations
                  activeThreadCount activeCollaborationCount createdAt"""


async def test_create_and_update_agent_round_trip(org: Org) -> None:
    created = await org.data(
        f"""mutation($i: CreateAgentInput!) {{ createAgent(input: $i) {{ agent {{ {AGENT_FIELDS} }}
              userErrors {{ message }} }} }}""",
        {
            "i": {
                "name": "  Ann Lee ",
                "email": "ann@example.com",
                "role": "SUPERVISOR",
                "department": "billing",
                "skills": ["billing", "de", "billing"],
                "maxConcurrentThreads": 4,
                "maxConcurrentCollaborations": 2,
            }
        },
    )
    agent = created["createAgent"]["agent"]
    assert created["createAgent"]["userErrors"] == []
    expected = {
        "name": "Ann Lee",
        "email": "ann@example.com",
        "role": "SUPERVISOR",
        "department": "billing",
        "skills": ["billing", "de"],
        "status": "OFFLINE",
        "maxConcurrentThreads": 4,
        "maxConcurrentCollaborations": 2,
        "activeThreadCount": 0,
        "activeCollaborationCount": 0,
    }
    assert {k: agent[k] for k in expected} == expected
    # Read back by node (on the other process too), by list and by filter.
    for server in (0, 1):
        node = await org.data(
            f"query($id: ID!) {{ node(id: $id) {{ ... on Agent {{ {AGENT_FIELDS} }} }} }}",
            {"id": agent["id"]},
            server=server,
        )
        assert node["node"] == agent
    listed = await org.data(
        """{ all: agents { totalCount edges { node { id } } }
             billing: agents(filter: {skill: "billing", role: SUPERVISOR, department: "billing"}) { totalCount }
             none: agents(filter: {skill: "fr"}) { totalCount } }"""
    )
    assert listed["all"] == {"totalCount": 1, "edges": [{"node": {"id": agent["id"]}}]}
    assert listed["billing"]["totalCount"] == 1 and listed["none"]["totalCount"] == 0

    await _update_and_set_status(org, agent["id"])


async def _update_and_set_status(org: Org, agent_id: str) -> None:
    """The agent of the round trip, changed and set DO_NOT_DISTURB by an admin."""
    updated = await org.data(
        """mutation($id: ID!) { updateAgent(input: {agentId: $id, role: AGENT, skills: ["fr"], maxConcurrentThreads: 1})
             { agent { name role skills maxConcurrentThreads email } userErrors { message } } }""",
        {"id": agent_id},
    )
    assert updated["updateAgent"] == {
        "agent": {
            "name": "Ann Lee",
            "role": "AGENT",
            "skills": ["fr"],
            "maxConcurrentThreads": 1,
            "email": "ann@example.com",
        },
        "userErrors": [],
    }
    status = await org.data(
        "mutation($id: ID!) { setAgentStatus(input: {agentId: $id, status: DO_NOT_DISTURB}) { agent { status } } }",
        {"id": agent_id},
    )
    assert status["setAgentStatus"]["agent"]["status"] == "DO_NOT_DISTURB"
    busy = await org.data("{ agents(filter: {status: [DO_NOT_DISTURB]}) { totalCount } }")
    assert busy["agents"]["totalCount"] == 1


async def test_create_and_update_queue_round_trip(org: Org) -> None:
    fields = "id name skills routingStrategy maxWaitSeconds vipMaxWaitSeconds overflowAction stickyAgent"
    first = await org.data(
        f"""mutation {{ createQueue(input: {{name: "billing", skills: ["billing"], routingStrategy: LEAST_BUSY,
              maxWaitSeconds: 300, vipMaxWaitSeconds: 30, overflowAction: CALLBACK, stickyAgent: true}})
              {{ queue {{ {fields} }} userErrors {{ message }} }} }}"""
    )
    queue = first["createQueue"]["queue"]
    assert first["createQueue"]["userErrors"] == []
    assert {k: v for k, v in queue.items() if k != "id"} == {
        "name": "billing",
        "skills": ["billing"],
        "routingStrategy": "LEAST_BUSY",
        "maxWaitSeconds": 300,
        "vipMaxWaitSeconds": 30,
        "overflowAction": "CALLBACK",
        "stickyAgent": True,
    }
    read = await org.data(
        f"""query($id: ID) {{ byId: queue(id: $id) {{ {fields} }} byName: queue(name: "billing") {{ id }}
              queues {{ id }} }}""",
        {"id": queue["id"]},
        server=1,
    )
    assert read == {"byId": queue, "byName": {"id": queue["id"]}, "queues": [{"id": queue["id"]}]}
    duplicate = await org.data(
        'mutation { createQueue(input: {name: "billing"}) { queue { id } userErrors { field code } } }'
    )
    assert duplicate["createQueue"] == {"queue": None, "userErrors": [{"field": ["input", "name"], "code": "CONFLICT"}]}
    updated = await org.data(
        """mutation($id: ID!) { updateQueue(input: {queueId: $id, name: "accounts", maxWaitSeconds: 60})
             { queue { name maxWaitSeconds routingStrategy } userErrors { message } } }""",
        {"id": queue["id"]},
    )
    assert updated["updateQueue"] == {
        "queue": {"name": "accounts", "maxWaitSeconds": 60, "routingStrategy": "LEAST_BUSY"},
        "userErrors": [],
    }
    assert await dbcheck.count(org.stack, "queue", org.id) == 1


async def test_settings_round_trip(org: Org) -> None:
    fields = """inviteExpirySeconds collaboratorLimitNormal collaboratorLimitVip collaboratorLimitUrgent
                crossDepartmentApproval maxTransferAttempts transferRateLimitPerVisitorPerHour
                invitesPerAgentPerMinute unassignOnResolve serviceName reopenOnVisitorMessageSeconds
                messagesPerVisitorPerMinute queryCostBudget queryCostRestorePerSecond"""
    defaults = (await org.data(f"{{ settings {{ {fields} }} }}"))["settings"]
    assert defaults == {
        "inviteExpirySeconds": 300,
        "collaboratorLimitNormal": 3,
        "collaboratorLimitVip": 5,
        "collaboratorLimitUrgent": 7,
        "crossDepartmentApproval": False,
        "maxTransferAttempts": 3,
        "transferRateLimitPerVisitorPerHour": 10,
        "invitesPerAgentPerMinute": 30,
        "unassignOnResolve": True,
        "serviceName": "Support",
        "reopenOnVisitorMessageSeconds": 86400,
        "messagesPerVisitorPerMinute": 30,
        "queryCostBudget": 200000,
        "queryCostRestorePerSecond": 5000,
    }
    changes = {
        "inviteExpirySeconds": 60,
        "collaboratorLimitVip": 6,
        "crossDepartmentApproval": True,
        "unassignOnResolve": False,
        "invitesPerAgentPerMinute": 5,
        "serviceName": "Acme Help",
        "reopenOnVisitorMessageSeconds": 0,
        "queryCostBudget": 1000,
    }
    data = await org.data(
        f"""mutation($i: UpdateSettingsInput!) {{ updateSettings(input: $i) {{
              settings {{ {fields} }} userErrors {{ code }} }} }}""",
        {"i": changes},
    )
    assert data["updateSettings"]["userErrors"] == []
    assert data["updateSettings"]["settings"] == {**defaults, **changes}
    assert (await org.data(f"{{ settings {{ {fields} }} }}", server=1))["settings"] == {**defaults, **changes}


async def test_bad_settings_name_the_field_and_change_nothing(org: Org) -> None:
    update = """mutation($i: UpdateSettingsInput!) { updateSettings(input: $i) {
                  settings { serviceName } userErrors { code field } } }"""
    for bad, field in (
        ({"serviceName": "   "}, "serviceName"),
        ({"serviceName": "x" * 201}, "serviceName"),
        ({"serviceName": "a\u0000b"}, "serviceName"),
        ({"messagesPerVisitorPerMinute": 0}, "messagesPerVisitorPerMinute"),
        ({"reopenOnVisitorMessageSeconds": -1}, "reopenOnVisitorMessageSeconds"),
        ({"queryCostBudget": 0}, "queryCostBudget"),
    ):
        payload = (await org.data(update, {"i": {**bad, "inviteExpirySeconds": 61}}))["updateSettings"]
        assert payload == {"settings": None, "userErrors": [{"code": "INVALID", "field": ["input", field]}]}
    settings = (await org.data("{ settings { serviceName inviteExpirySeconds } }"))["settings"]
    assert settings == {"serviceName": "Support", "inviteExpirySeconds": 300}


async def test_start_thread_reuses_the_visitor_by_external_id(org: Org) -> None:
    start = """mutation($i: StartThreadInput!) { startThread(input: $i) {
                 thread { id status threadClass channel subject visitor { id externalId name tier } }
                 visitorToken userErrors { message } } }"""
    first = (
        await org.data(
            start,
            {"i": {"visitor": {"externalId": "crm-42", "name": "Vic"}, "channel": "web", "subject": "Refund"}},
            token=org.token("service"),
        )
    )["startThread"]
    assert first["userErrors"] == []
    thread = first["thread"]
    assert {k: thread[k] for k in ("status", "threadClass", "channel", "subject")} == {
        "status": "BOT",
        "threadClass": "NORMAL",
        "channel": "web",
        "subject": "Refund",
    }
    assert thread["visitor"]["externalId"] == "crm-42" and thread["visitor"]["tier"] == "NORMAL"
    second = (
        await org.data(
            start, {"i": {"visitor": {"externalId": "crm-42", "tier": "VIP"}, "threadClass": "VIP"}}, server=1
        )
    )["startThread"]
    assert second["thread"]["id"] != thread["id"]
    assert second["thread"]["visitor"] == {
        "id": thread["visitor"]["id"],
        "externalId": "crm-42",
        "name": "Vic",
        "tier": "VIP",
    }
    assert second["thread"]["threadClass"] == "VIP"
    assert await dbcheck.count(org.stack, "visitor", org.id) == 1
    # The visitor lists both threads; each visitor token opens only its own thread.
    threads = await org.data(
        "query($v: ID!) { node(id: $v) { ... on Visitor { threads { totalCount } } } }", {"v": thread["visitor"]["id"]}
    )
    assert threads["node"]["threads"]["totalCount"] == 2
    for mine, other, token in (
        (thread["id"], second["thread"]["id"], first["visitorToken"]),
        (second["thread"]["id"], thread["id"], second["visitorToken"]),
    ):
        seen = await org.gql(
            "query($a: ID!, $b: ID!) { a: thread(id: $a) { id } b: thread(id: $b) { id } }",
            {"a": mine, "b": other},
            token=token,
        )
        # Each token reads its own thread; the visitor's other thread is FORBIDDEN to it.
        assert seen["data"] == {"a": {"id": mine}, "b": None}
        assert [e["extensions"]["code"] for e in seen["errors"]] == ["FORBIDDEN"]


async def test_concurrent_start_threads_share_one_new_visitor(org: Org) -> None:
    start = """mutation($x: String!) { startThread(input: {visitor: {externalId: $x}}) {
                 thread { id visitor { id } } userErrors { message } } }"""
    for round_ in range(3):
        bodies = await asyncio.gather(
            *(org.gql(start, {"x": f"burst-{round_}"}, token=org.token("service"), server=i) for i in range(12))
        )
        assert [b.get("errors") for b in bodies] == [None] * 12
        payloads = [b["data"]["startThread"] for b in bodies]
        assert len({p["thread"]["visitor"]["id"] for p in payloads}) == 1
        assert len({p["thread"]["id"] for p in payloads}) == 12
    assert await dbcheck.count(org.stack, "visitor", org.id) == 3
    assert await dbcheck.count(org.stack, "thread", org.id) == 36


async def test_concurrent_queue_creation_leaves_exactly_one_default(org: Org) -> None:
    create = """mutation($n: String!, $d: Boolean!) { createQueue(input: {name: $n, isDefault: $d}) {
                  queue { id } userErrors { code } } }"""
    bodies = await asyncio.gather(
        *(org.gql(create, {"n": f"q{i}", "d": i % 3 == 0}, server=i) for i in range(12)),
        *(org.gql(create, {"n": "same", "d": False}, server=i) for i in range(4)),
    )
    assert [b.get("errors") for b in bodies] == [None] * 16
    conflicts = [b["data"]["createQueue"]["userErrors"] for b in bodies[12:]]
    assert sorted(map(len, conflicts)) == [0, 1, 1, 1] and all(e == [{"code": "CONFLICT"}] for e in conflicts if e)
    assert await dbcheck.count(org.stack, "queue", org.id) == 13
    defaults = await dbcheck.scalar(org.stack, "SELECT COUNT(*) FROM queue WHERE org_id = ? AND is_default", org.id)
    assert defaults == 1
