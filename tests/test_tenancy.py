"""Two organizations on the same servers cannot see or touch each other; a foreign ID is a missing one."""

from __future__ import annotations

from tests import dbcheck
from tests.collab_support import active_thread
from tests.conftest import Org

NODE = "query($id: ID!) { node(id: $id) { id } }"


async def test_foreign_ids_read_as_missing(org: Org, other_org: Org) -> None:
    agent = await org.create_agent("Ann")
    thread_id, _ = await org.start_thread("shared-ext")
    queue = await org.data('mutation { createQueue(input: {name: "general"}) { queue { id } } }')
    queue_id = queue["createQueue"]["queue"]["id"]
    for role in ("admin", "analyst", "service"):
        token = other_org.token(role)
        data = await other_org.data(
            """query($a: ID!, $t: ID!, $q: ID!) {
                 node(id: $a) { id } nodes(ids: [$a, $t, $q]) { id } thread(id: $t) { id }
                 queue(id: $q) { id } byName: queue(name: "general") { id } queues { id }
                 agents { totalCount } threads { totalCount } }""",
            {"a": agent.id, "t": thread_id, "q": queue_id},
            token=token,
        )
        assert data == {
            "node": None,
            "nodes": [None, None, None],
            "thread": None,
            "queue": None,
            "byName": None,
            "queues": [],
            "agents": {"totalCount": 0},
            "threads": {"totalCount": 0},
        }, role
    # Reading through the other organization's servers (the second process on PostgreSQL) changes nothing.
    mine = await org.data("{ agents { totalCount } threads { totalCount } }", server=1)
    assert mine == {"agents": {"totalCount": 1}, "threads": {"totalCount": 1}}


async def test_foreign_ids_cannot_be_changed(org: Org, other_org: Org) -> None:
    agent = await org.create_agent("Ann")
    queue = await org.data('mutation { createQueue(input: {name: "general"}) { queue { id } } }')
    queue_id = queue["createQueue"]["queue"]["id"]
    data = await other_org.data(
        """mutation($a: ID!, $q: ID!) {
             updateAgent(input: {agentId: $a, name: "Mallory"}) { agent { id } userErrors { field code } }
             setAgentStatus(input: {agentId: $a, status: OFFLINE}) { agent { id } userErrors { field code } }
             updateQueue(input: {queueId: $q, name: "stolen"}) { queue { id } userErrors { field code } } }""",
        {"a": agent.id, "q": queue_id},
    )
    assert data == {
        "updateAgent": {"agent": None, "userErrors": [{"field": ["input", "agentId"], "code": "NOT_FOUND"}]},
        "setAgentStatus": {"agent": None, "userErrors": [{"field": ["input", "agentId"], "code": "NOT_FOUND"}]},
        "updateQueue": {"queue": None, "userErrors": [{"field": ["input", "queueId"], "code": "NOT_FOUND"}]},
    }
    check = await org.data(
        "query($a: ID!, $q: ID!) { node(id: $a) { ... on Agent { name status } } queue(id: $q) { name } }",
        {"a": agent.id, "q": queue_id},
    )
    assert check == {"node": {"name": "Ann", "status": "ONLINE"}, "queue": {"name": "general"}}


async def test_tokens_of_one_organization_do_not_work_in_another(org: Org, other_org: Org) -> None:
    agent = await org.create_agent("Ann")
    thread_id, visitor_token = await org.start_thread()
    # An agent token naming the other organization: that organization has no such agent.
    body = await other_org.gql("{ viewer { role } }", token=other_org.token("agent", sub=agent.id))
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # The visitor token is signed for its own organization and thread only.
    own = await org.data("query($t: ID!) { thread(id: $t) { id } }", {"t": thread_id}, token=visitor_token)
    assert own["thread"] == {"id": thread_id}
    other_thread, _ = await other_org.start_thread()
    foreign = await org.data("query($t: ID!) { thread(id: $t) { id } }", {"t": other_thread}, token=visitor_token)
    assert foreign["thread"] is None


async def test_same_names_and_external_ids_are_separate_per_organization(org: Org, other_org: Org) -> None:
    for tenant in (org, other_org):
        data = await tenant.data(
            'mutation { createQueue(input: {name: "general"}) { queue { id } userErrors { code } } }'
        )
        assert data["createQueue"]["userErrors"] == []
    mine, _ = await org.start_thread("customer-1")
    theirs, _ = await other_org.start_thread("customer-1")
    q = "query($t: ID!) { thread(id: $t) { visitor { id externalId } } }"
    my_visitor = (await org.data(q, {"t": mine}))["thread"]["visitor"]
    their_visitor = (await other_org.data(q, {"t": theirs}))["thread"]["visitor"]
    assert my_visitor["externalId"] == their_visitor["externalId"] == "customer-1"
    assert my_visitor["id"] != their_visitor["id"]
    # Settings are per organization.
    await org.data("mutation { updateSettings(input: {collaboratorLimitNormal: 1}) { userErrors { code } } }")
    assert (await org.data("{ settings { collaboratorLimitNormal } }"))["settings"]["collaboratorLimitNormal"] == 1
    other = await other_org.data("{ settings { collaboratorLimitNormal } }")
    assert other["settings"]["collaboratorLimitNormal"] == 3
    assert await dbcheck.count(org.stack, "visitor", org.id) == 1
    assert await dbcheck.count(org.stack, "visitor", other_org.id) == 1


async def test_lists_of_the_same_shape_in_two_organizations_show_each_its_own(org: Org, other_org: Org) -> None:
    # A thread list's collaborators are read by a statement made once per shape and reused with
    # each request's organization and threads: the second organization must see its own rows.
    names = {}
    for tenant, name in ((org, "Ann"), (other_org, "Bob")):
        await active_thread(tenant, await tenant.create_agent(name))
        names[tenant.id] = name
    query = "{ threads(first: 5) { edges { node { primaryAgent { name } collaborators { agent { name } } } } } }"
    for _ in range(2):
        for tenant in (org, other_org):
            for server in (0, 1) if tenant.stack.name == "postgres" else (0,):
                [edge] = (await tenant.data(query, server=server))["threads"]["edges"]
                node = edge["node"]
                assert node["primaryAgent"] == {"name": names[tenant.id]}, (tenant.id, node)
                assert node["collaborators"] == [{"agent": {"name": names[tenant.id]}}], (tenant.id, node)
