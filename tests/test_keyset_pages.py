"""Connections page by keyset (contract, "Queries"): cursors survive rows arriving elsewhere, last/before work."""

from __future__ import annotations

import base64
from typing import Any

from tests.collab_support import active_thread, invite_one
from tests.conftest import Org
from tests.queue_support import create_queue, enqueue

THREADS = """query($first: Int, $after: String, $last: Int, $before: String) {
  threads(first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
AGENTS = """query($first: Int, $after: String, $last: Int, $before: String) {
  agents(first: $first, after: $after, last: $last, before: $before) {
    totalCount edges { node { name } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""


def _ids(conn: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in conn["edges"]]


async def test_thread_pages_neither_repeat_nor_skip_while_threads_arrive(org: Org) -> None:
    older = [(await org.start_thread())[0] for _ in range(5)]
    newest_first = older[::-1]
    first = (await org.data(THREADS, {"first": 2}))["threads"]
    assert _ids(first) == newest_first[:2]
    assert first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"]

    arrived = [(await org.start_thread())[0] for _ in range(3)]  # ahead of the page read: offsets would shift
    second = (await org.data(THREADS, {"first": 2, "after": first["pageInfo"]["endCursor"]}))["threads"]
    assert _ids(second) == newest_first[2:4]
    assert second["pageInfo"]["hasPreviousPage"] and second["pageInfo"]["hasNextPage"]
    rest = (await org.data(THREADS, {"first": 10, "after": second["pageInfo"]["endCursor"]}))["threads"]
    assert _ids(rest) == newest_first[4:] and not rest["pageInfo"]["hasNextPage"]

    back = (await org.data(THREADS, {"last": 2, "before": second["pageInfo"]["startCursor"]}))["threads"]
    assert _ids(back) == newest_first[:2]
    assert back["pageInfo"]["hasNextPage"] and back["pageInfo"]["hasPreviousPage"]  # the 3 that arrived
    newer = (await org.data(THREADS, {"last": 10, "before": first["pageInfo"]["startCursor"]}))["threads"]
    assert _ids(newer) == arrived[::-1] and not newer["pageInfo"]["hasPreviousPage"]
    oldest = (await org.data(THREADS, {"last": 3}))["threads"]
    assert _ids(oldest) == newest_first[2:] and oldest["pageInfo"]["hasPreviousPage"]
    assert not oldest["pageInfo"]["hasNextPage"]
    assert [e["cursor"] for e in oldest["edges"]][-1] == rest["pageInfo"]["endCursor"]


async def test_agent_pages_forward_and_back_with_rows_added_at_the_end(org: Org) -> None:
    for name in "ABCDE":
        await org.create_agent(name, status=None)
    page = (await org.data(AGENTS, {"first": 2}))["agents"]
    assert [e["node"]["name"] for e in page["edges"]] == ["A", "B"] and page["totalCount"] == 5
    await org.create_agent("F", status=None)
    page = (await org.data(AGENTS, {"first": 3, "after": page["pageInfo"]["endCursor"]}))["agents"]
    assert [e["node"]["name"] for e in page["edges"]] == ["C", "D", "E"] and page["pageInfo"]["hasNextPage"]
    assert page["totalCount"] == 6
    back = (await org.data(AGENTS, {"last": 1, "before": page["pageInfo"]["startCursor"]}))["agents"]
    assert [e["node"]["name"] for e in back["edges"]] == ["B"] and back["pageInfo"]["hasPreviousPage"]
    tail = (await org.data(AGENTS, {"last": 2}))["agents"]
    assert [e["node"]["name"] for e in tail["edges"]] == ["E", "F"]


async def test_offset_foreign_and_malformed_cursors_are_bad_input(org: Org) -> None:
    await org.create_agent("A", status=None)
    await org.start_thread()
    agent_cursor = (await org.data(AGENTS, {"first": 1}))["agents"]["pageInfo"]["endCursor"]
    offset_cursor = base64.urlsafe_b64encode(b"o:3").decode()  # what the offset cursors were
    for variables in (
        {"after": agent_cursor},
        {"before": agent_cursor},
        {"after": offset_cursor},
        {"after": "garbage"},
        {"after": base64.urlsafe_b64encode(b's:["Thread.created_at.desc",["yesterday",1]]').decode()},
    ):
        body = await org.gql(THREADS, variables)
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (variables, body)
        assert "cursor" in error["message"]
    ordered = """query($after: String) { threads(orderBy: {field: UPDATED_AT, direction: DESC}, after: $after) {
      edges { node { id } } } }"""
    created_cursor = (await org.data(THREADS, {"first": 1}))["threads"]["pageInfo"]["endCursor"]
    body = await org.gql(ordered, {"after": created_cursor})  # a cursor of another order of the same list
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


ENTRIES = """query($q: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  queueEntries(filter: {queueId: $q}, first: $first, after: $after, last: $last, before: $before) {
    totalCount edges { node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }
  queue(id: $q) { entries(first: $first, after: $after, last: $last, before: $before) { edges { node { id } } } } }"""


async def test_queue_entries_page_in_queue_order_by_cursor(org: Org) -> None:
    queue = await create_queue(org, "manual", routingStrategy="MANUAL")
    normal = [(await enqueue(org, queue_id=queue))[1] for _ in range(2)]
    urgent = (await enqueue(org, queue_id=queue, priority="URGENT"))[1]
    order = [urgent, *normal]  # URGENT first, then by enqueue time
    page = await org.data(ENTRIES, {"q": queue, "first": 1})
    assert [e["node"]["id"] for e in page["queueEntries"]["edges"]] == order[:1]
    assert [e["node"]["id"] for e in page["queue"]["entries"]["edges"]] == order[:1]
    cursor = page["queueEntries"]["pageInfo"]["endCursor"]
    late_urgent = (await enqueue(org, queue_id=queue, priority="URGENT"))[1]  # lands after the cursor's entry
    rest = await org.data(ENTRIES, {"q": queue, "first": 10, "after": cursor})
    assert [e["node"]["id"] for e in rest["queueEntries"]["edges"]] == [late_urgent, *normal]
    assert [e["node"]["id"] for e in rest["queue"]["entries"]["edges"]] == [late_urgent, *normal]
    assert rest["queueEntries"]["totalCount"] == 4
    back = await org.data(ENTRIES, {"q": queue, "last": 2, "before": rest["queueEntries"]["pageInfo"]["endCursor"]})
    assert [e["node"]["id"] for e in back["queueEntries"]["edges"]] == [late_urgent, normal[0]]
    assert back["queueEntries"]["pageInfo"]["hasPreviousPage"] and back["queueEntries"]["pageInfo"]["hasNextPage"]


INVITES = """query($first: Int, $after: String, $last: Int, $before: String) {
  invites(first: $first, after: $after, last: $last, before: $before) {
    edges { node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""


async def test_invites_page_newest_first_by_cursor(org: Org) -> None:
    primary = await org.create_agent("Prim")
    guests = [await org.create_agent(f"G{i}") for i in range(4)]
    threads = [await active_thread(org, primary) for _ in range(2)]
    sent = [(await invite_one(org, primary, threads[i % 2], guest))["id"] for i, guest in enumerate(guests[:3])]
    newest_first = sent[::-1]
    page = (await org.data(INVITES, {"first": 2}))["invites"]
    assert [e["node"]["id"] for e in page["edges"]] == newest_first[:2]
    newer = (await invite_one(org, primary, threads[1], guests[3]))["id"]
    rest = (await org.data(INVITES, {"first": 5, "after": page["pageInfo"]["endCursor"]}))["invites"]
    assert [e["node"]["id"] for e in rest["edges"]] == newest_first[2:] and not rest["pageInfo"]["hasNextPage"]
    ahead = (await org.data(INVITES, {"last": 5, "before": page["pageInfo"]["startCursor"]}))["invites"]
    assert [e["node"]["id"] for e in ahead["edges"]] == [newer] and not ahead["pageInfo"]["hasPreviousPage"]


VISITOR_THREADS = """query($v: ID!, $first: Int, $after: String, $last: Int, $before: String) { node(id: $v) {
  ... on Visitor { threads(first: $first, after: $after, last: $last, before: $before) {
    totalCount edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } } }"""


async def test_a_visitors_threads_page_by_cursor_both_ways(org: Org) -> None:
    # Read in one batch with other visitors' pages (a windowed SELECT); the cursors carry times.
    older = [(await org.start_thread("v-pages"))[0] for _ in range(4)]
    await org.start_thread("v-other")
    newest_first = older[::-1]
    visitor = (await org.data("query($t: ID!) { thread(id: $t) { visitor { id } } }", {"t": older[0]}))["thread"]

    async def page(**args: Any) -> dict[str, Any]:
        found = await org.data(VISITOR_THREADS, {"v": visitor["visitor"]["id"], **args})
        return dict(found["node"]["threads"])

    first = await page(first=2)
    assert _ids(first) == newest_first[:2] and first["totalCount"] == 4
    assert first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"]
    rest = await page(first=10, after=first["pageInfo"]["endCursor"])
    assert _ids(rest) == newest_first[2:] and not rest["pageInfo"]["hasNextPage"]
    back = await page(last=1, before=rest["pageInfo"]["startCursor"])
    assert _ids(back) == newest_first[1:2] and back["pageInfo"]["hasPreviousPage"]
