"""Thread.messages is a keyset connection: first/after oldest first, last/before from the newest,
cursors that stay put while new messages arrive, an exact totalCount."""

from __future__ import annotations

from typing import Any

from tests.conftest import AgentHandle, Org
from tests.conversation_support import Conv, active, bodies, delete_events, page, posted


async def _history(org: Org, ann: AgentHandle, conv: Conv, count: int, start: int = 0) -> list[dict[str, Any]]:
    """``count`` messages m<start>.., every third one INTERNAL, senders alternating on two processes."""
    sent = []
    for i in range(start, start + count):
        if i % 3 == 2:
            sent.append(await posted(org, ann.token, conv.thread_id, f"m{i}", visibility="INTERNAL", server=i))
        elif i % 3 == 1:
            sent.append(await posted(org, org.token("admin"), conv.thread_id, f"m{i}", server=i))
        else:
            sent.append(await posted(org, ann.token, conv.thread_id, f"m{i}", server=i))
    return sent


def _names(first: int, last: int) -> list[str]:
    return [f"m{i}" for i in range(first, last)]


async def test_paging_forward_and_backward(org: Org) -> None:
    ann = await org.create_agent("Ann")
    conv = await active(org, ann)
    await _history(org, ann, conv, 25)
    forward: list[str] = []
    after = None
    pages = []
    while True:
        got = await page(org, conv.thread_id, token=ann.token, first=10, after=after)
        pages.append(got)
        forward += bodies(got)
        assert got["totalCount"] == 25
        if not got["pageInfo"]["hasNextPage"]:
            break
        after = got["pageInfo"]["endCursor"]
        assert after == got["edges"][-1]["cursor"]
    assert forward == _names(0, 25) and len(pages) == 3
    assert [p["pageInfo"]["hasPreviousPage"] for p in pages][1:] == [True, True]
    # From the newest: the last ten, still oldest first within the page.
    newest = await page(org, conv.thread_id, token=ann.token, last=10)
    assert bodies(newest) == _names(15, 25)
    assert (
        newest["pageInfo"]["hasPreviousPage"] is True
        and newest["pageInfo"]["startCursor"] == newest["edges"][0]["cursor"]
    )
    before = await page(org, conv.thread_id, token=ann.token, last=10, before=newest["pageInfo"]["startCursor"])
    assert bodies(before) == _names(5, 15)
    oldest = await page(org, conv.thread_id, token=ann.token, last=10, before=before["pageInfo"]["startCursor"])
    assert bodies(oldest) == _names(0, 5) and oldest["pageInfo"]["hasPreviousPage"] is False
    # Every message has one cursor, whichever way it was reached.
    cursors = {e["node"]["id"]: e["cursor"] for p in pages for e in p["edges"]}
    for edge in [*newest["edges"], *before["edges"], *oldest["edges"]]:
        assert cursors[edge["node"]["id"]] == edge["cursor"]
    # Between two cursors.
    middle = await page(
        org,
        conv.thread_id,
        token=ann.token,
        first=100,
        after=pages[0]["edges"][2]["cursor"],
        before=pages[1]["edges"][0]["cursor"],
    )
    assert bodies(middle) == _names(3, 10)
    # Filtered by visibility: the same order, the filter's own count.
    internal = await page(org, conv.thread_id, token=ann.token, first=4, v=["INTERNAL"])
    assert bodies(internal) == ["m2", "m5", "m8", "m11"] and internal["totalCount"] == 8
    later = await page(
        org, conv.thread_id, token=ann.token, first=10, after=internal["pageInfo"]["endCursor"], v=["INTERNAL"]
    )
    assert bodies(later) == ["m14", "m17", "m20", "m23"] and later["pageInfo"]["hasNextPage"] is False
    # A cursor names a message (keyset), so it keeps its place when the console switches the notes filter.
    mixed_after = await page(org, conv.thread_id, token=ann.token, first=3, after=internal["edges"][1]["cursor"])
    assert bodies(mixed_after) == ["m6", "m7", "m8"]
    # The visitor's connection counts and pages only what they may see.
    seen = await page(org, conv.thread_id, token=conv.visitor_token, first=100)
    assert bodies(seen) == [f"m{i}" for i in range(25) if i % 3 != 2] and seen["totalCount"] == 17


async def test_cursors_stay_put_while_messages_arrive(org: Org) -> None:
    ann = await org.create_agent("Ann")
    conv = await active(org, ann)
    await _history(org, ann, conv, 12)
    head = await page(org, conv.thread_id, token=ann.token, first=5)
    tail = await page(org, conv.thread_id, token=ann.token, last=5, server=1)
    assert bodies(tail) == _names(7, 12)
    await _history(org, ann, conv, 6, start=12)  # newer ones arrive meanwhile
    following = await page(org, conv.thread_id, token=ann.token, first=5, after=head["pageInfo"]["endCursor"])
    assert bodies(following) == _names(5, 10)
    earlier = await page(org, conv.thread_id, token=ann.token, last=5, before=tail["pageInfo"]["startCursor"])
    assert bodies(earlier) == _names(2, 7)
    rest = await page(org, conv.thread_id, token=ann.token, first=100, after=tail["pageInfo"]["endCursor"], server=1)
    assert bodies(rest) == _names(12, 18) and rest["totalCount"] == 18
    again = await page(org, conv.thread_id, token=ann.token, first=5)
    assert [e["cursor"] for e in again["edges"]] == [e["cursor"] for e in head["edges"]]
    assert (await page(org, conv.thread_id, token=ann.token, last=5))["totalCount"] == 18


async def test_page_sizes_are_bounded(org: Org) -> None:
    ann = await org.create_agent("Ann")
    conv = await active(org, ann)
    await _history(org, ann, conv, 3)
    assert bodies(await page(org, conv.thread_id, token=ann.token)) == _names(0, 3)  # default 20
    assert bodies(await page(org, conv.thread_id, token=ann.token, first=100)) == _names(0, 3)
    for args in ({"first": 101}, {"last": 101}, {"first": -1}):
        body = await org.gql(
            "query($t: ID!, $first: Int, $last: Int) { thread(id: $t) { messages(first: $first, last: $last) {"
            " totalCount } } }",
            {"t": conv.thread_id, **args},
            token=ann.token,
        )
        assert body.get("errors"), (args, body)
    bad_cursor = await org.gql(
        'query($t: ID!) { thread(id: $t) { messages(after: "not-a-cursor") { totalCount } } }',
        {"t": conv.thread_id},
        token=ann.token,
    )
    assert bad_cursor.get("errors"), bad_cursor


async def test_messages_outlive_their_events(org: Org) -> None:
    """ "Messages are kept for good (not pruned with events)": with the thread's event rows gone (as the
    retention sweep removes them), the conversation still pages the same, and new messages follow it."""
    ann = await org.create_agent("Ann")
    conv = await active(org, ann)
    await _history(org, ann, conv, 8)
    before = await page(org, conv.thread_id, token=ann.token, first=50)
    await delete_events(org)
    after = await page(org, conv.thread_id, token=ann.token, first=50, server=1)
    assert after == before
    tail = await page(org, conv.thread_id, token=ann.token, last=3)
    assert bodies(tail) == _names(5, 8)
    await _history(org, ann, conv, 2, start=8)
    newer = await page(org, conv.thread_id, token=ann.token, first=50, after=before["pageInfo"]["endCursor"])
    assert bodies(newer) == _names(8, 10) and newer["totalCount"] == 10
