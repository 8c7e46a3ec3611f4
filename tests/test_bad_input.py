"""Bad input gets a clear error, nothing is half-written, and the server keeps serving."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from switchboard.graphql.errors import input_path
from switchboard.rules import ids, validation
from switchboard.rules.problems import DomainError
from tests import dbcheck
from tests.conftest import Org


async def _still_serving(org: Org) -> None:
    assert (await org.data("{ viewer { role } }"))["viewer"] == {"role": "admin"}


async def _post(org: Org, content: bytes, content_type: str = "application/json") -> tuple[int, dict[str, Any]]:
    response = await org.http.post(
        f"{org.stack.url()}/graphql",
        content=content,
        headers={"Authorization": f"Bearer {org.token()}", "Content-Type": content_type},
    )
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("content", "content_type", "phrase", "status"),
    [
        (b'{"query": "{ viewer { role } }"', "application/json", "JSON", 400),
        (b"\xff\xfe not utf-8", "application/json", "JSON", 400),
        (b'"just a string"', "application/json", "JSON object", 400),
        (b"42", "application/json", "JSON object", 400),
        (b"[]", "application/json", "Batching", 400),
        (b'{"query": 42}', "application/json", "query", 400),
        (b'{"query": "{ viewer { role } }", "variables": [1]}', "application/json", "variables", 400),
        (b'{"variables": {}}', "application/json", "query", 400),
        (b'{"query": "{ viewer { role } }"}', "text/plain", "content type", 415),
        (b"query={viewer{role}}", "application/x-www-form-urlencoded", "content type", 415),
    ],
)
async def test_unreadable_requests_get_a_clear_json_error(
    org: Org, content: bytes, content_type: str, phrase: str, status: int
) -> None:
    answered, body = await _post(org, content, content_type)
    assert answered == status
    assert body["data"] is None
    (error,) = body["errors"]
    code = "UNSUPPORTED_MEDIA_TYPE" if status == 415 else "BAD_REQUEST"
    assert phrase.lower() in error["message"].lower() and error["extensions"]["code"] == code
    await _still_serving(org)


async def test_unknown_operations_and_fields_are_validation_errors(org: Org) -> None:
    invalid = "GRAPHQL_VALIDATION_FAILED"
    cases = [
        ("{ viewer { role secretField } }", "secretField", invalid),
        ("{ noSuchQuery }", "noSuchQuery", invalid),
        ("mutation { dropEverything { ok } }", "dropEverything", invalid),
        ('mutation { createAgent(input: {name: "A", isRoot: true}) { agent { id } } }', "isRoot", invalid),
        ("{ viewer { role }", "Syntax Error", "GRAPHQL_PARSE_FAILED"),
        ('{ agents(first: "ten") { totalCount } }', "Int", invalid),
    ]
    for query, phrase, code in cases:
        for _ in range(2):  # the second time, from the validation and parser caches
            body = await org.gql(query)
            assert body.get("data") is None, body
            assert phrase.lower() in body["errors"][0]["message"].lower(), body
            assert body["errors"][0]["extensions"]["code"] == code, body
    response = await org.http.post(
        f"{org.stack.url()}/graphql",
        json={"query": "query A { viewer { role } }", "operationName": "Nope"},
        headers={"Authorization": f"Bearer {org.token()}"},
    )
    assert "Nope" in response.json()["errors"][0]["message"]
    assert await dbcheck.count(org.stack, "agent", org.id) == 0
    await _still_serving(org)


async def test_over_long_strings_are_invalid_and_write_nothing(org: Org) -> None:
    long_name = "x" * 201
    data = await org.data(
        "mutation($n: String!) { createAgent(input: {name: $n}) { agent { id } userErrors { field code message } } }",
        {"n": long_name},
    )
    (error,) = data["createAgent"]["userErrors"]
    assert data["createAgent"]["agent"] is None
    assert error["field"] == ["input", "name"] and error["code"] == "INVALID" and "200" in error["message"]
    exactly = await org.data(
        "mutation($n: String!) { createAgent(input: {name: $n}) { agent { name } userErrors { code } } }",
        {"n": "y" * 200},
    )
    assert exactly["createAgent"] == {"agent": {"name": "y" * 200}, "userErrors": []}
    # startThread: the visitor would be created first; a bad subject rolls it back too.
    start = await org.data(
        """mutation($s: String) { startThread(input: {visitor: {externalId: "new-visitor"}, subject: $s}) {
             thread { id } visitorToken userErrors { field code } } }""",
        {"s": "s" * 201},
        token=org.token("service"),
    )
    assert start["startThread"] == {
        "thread": None,
        "visitorToken": None,
        "userErrors": [{"field": ["input", "subject"], "code": "INVALID"}],
    }
    assert await dbcheck.count(org.stack, "visitor", org.id) == 0
    assert await dbcheck.count(org.stack, "thread", org.id) == 0
    assert await dbcheck.count(org.stack, "agent", org.id) == 1
    skills = await org.data(
        'mutation($s: [String!]) { createAgent(input: {name: "S", skills: $s}) { userErrors { field code } } }',
        {"s": ["ok", "k" * 101]},
    )
    assert skills["createAgent"]["userErrors"] == [{"field": ["input", "skills", "1"], "code": "INVALID"}]
    assert await dbcheck.count(org.stack, "agent", org.id) == 1
    await _still_serving(org)


def test_global_ids_have_one_spelling() -> None:
    assert ids.decode(ids.encode("Agent", 7)) == ("Agent", 7)
    for raw in ("Agent: 7", "Agent:07", "Agent:+7", "Agent:0_7", "Agent:0", "Agent:-7", "Robot:7", "Agent", "Agent:"):
        with pytest.raises(ids.BadId):
            ids.decode(base64.urlsafe_b64encode(raw.encode()).decode())


def test_message_limit_is_2000_characters() -> None:
    assert validation.text("m" * 2000, ("message",), limit=validation.MESSAGE_MAX) == "m" * 2000
    with pytest.raises(DomainError) as failed:
        validation.text("m" * 2001, ("message",), limit=validation.MESSAGE_MAX)
    # The problem names its logical field; the GraphQL layer maps it to the input path.
    assert input_path(failed.value.problem.field) == ["input", "message"] and "2000" in failed.value.problem.message


async def test_malformed_ids(org: Org) -> None:
    agent = await org.create_agent("Ann")
    # As arguments: a top-level BAD_USER_INPUT error naming the ID.
    for query, variables in (
        ("query($id: ID!) { node(id: $id) { id } }", {"id": "%%%"}),
        ("query($id: ID!) { thread(id: $id) { id } }", {"id": "bm90IGFuIGlk"}),
        ("query($id: ID!) { thread(id: $id) { id } }", {"id": agent.id}),  # an Agent ID where a Thread's goes
        ("query($id: ID!) { nodes(ids: [$id]) { id } }", {"id": "x" * 300}),
        ("query($id: ID) { queue(id: $id) { id } }", {"id": "UXVldWU6LTE"}),  # Queue:-1
        ('{ threads(filter: {visitorId: "nope"}) { totalCount } }', {}),
        ('{ agents(first: 5, after: "garbage") { totalCount } }', {}),
    ):
        body = await org.gql(query, variables)
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (query, body)
    # In inputs: a userError INVALID with the field's path; nothing changes.
    data = await org.data(
        """mutation { a: updateAgent(input: {agentId: "bogus", name: "X"}) { agent { id } userErrors { field code } }
             b: updateQueue(input: {queueId: "bogus"}) { queue { id } userErrors { field code } }
             c: setAgentStatus(input: {agentId: "bogus", status: AWAY}) { agent { id } userErrors { field code } } }"""
    )
    assert data["a"] == {"agent": None, "userErrors": [{"field": ["input", "agentId"], "code": "INVALID"}]}
    assert data["b"] == {"queue": None, "userErrors": [{"field": ["input", "queueId"], "code": "INVALID"}]}
    assert data["c"] == {"agent": None, "userErrors": [{"field": ["input", "agentId"], "code": "INVALID"}]}
    wrong_type = await org.data(
        'mutation($id: ID!) { updateQueue(input: {queueId: $id, name: "q"}) { userErrors { field code } } }',
        {"id": agent.id},
    )
    assert wrong_type["updateQueue"]["userErrors"] == [{"field": ["input", "queueId"], "code": "INVALID"}]
    assert (await org.data("query($id: ID!) { node(id: $id) { ... on Agent { name } } }", {"id": agent.id}))[
        "node"
    ] == {"name": "Ann"}
    await _still_serving(org)


async def test_out_of_range_numbers(org: Org) -> None:
    agent = await org.create_agent("Ann")
    bad = await org.data(
        """mutation { createAgent(input: {name: "Big", maxConcurrentThreads: 101}) {
             agent { id } userErrors { field code } } }"""
    )
    assert bad["createAgent"] == {
        "agent": None,
        "userErrors": [{"field": ["input", "maxConcurrentThreads"], "code": "INVALID"}],
    }
    negative = await org.data(
        """mutation($id: ID!) { updateAgent(input: {agentId: $id, name: "Changed", maxConcurrentCollaborations: -1})
             { agent { id } userErrors { field code } } }""",
        {"id": agent.id},
    )
    assert negative["updateAgent"]["userErrors"] == [
        {"field": ["input", "maxConcurrentCollaborations"], "code": "INVALID"}
    ]
    # One bad field refuses the whole change: the valid one is not applied either.
    settings = await org.data(
        """mutation { updateSettings(input: {inviteExpirySeconds: 60, maxTransferAttempts: 0}) {
             settings { inviteExpirySeconds } userErrors { field code } } }"""
    )
    assert settings["updateSettings"] == {
        "settings": None,
        "userErrors": [{"field": ["input", "maxTransferAttempts"], "code": "INVALID"}],
    }
    now = await org.data(
        "query($id: ID!) { node(id: $id) { ... on Agent { name } } settings { inviteExpirySeconds } }", {"id": agent.id}
    )
    assert now == {"node": {"name": "Ann"}, "settings": {"inviteExpirySeconds": 300}}
    queue = await org.data(
        'mutation { createQueue(input: {name: "q", maxWaitSeconds: 0}) { userErrors { field code } } }'
    )
    assert queue["createQueue"]["userErrors"] == [{"field": ["input", "maxWaitSeconds"], "code": "INVALID"}]
    # Page sizes and 32-bit overflow are refused before anything runs.
    page = await org.gql("{ agents(first: 101) { totalCount } }")
    assert page["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and "100" in page["errors"][0]["message"]
    overflow = await org.gql(
        'mutation { createAgent(input: {name: "O", maxConcurrentThreads: 4294967296}) { agent { id } } }'
    )
    assert overflow["data"] is None and "Int" in overflow["errors"][0]["message"]
    assert await dbcheck.count(org.stack, "agent", org.id) == 1
    assert await dbcheck.count(org.stack, "queue", org.id) == 0
    await _still_serving(org)
