"""conversationEvents resumes after a cursor with no gap and no duplicate, on every process.

(tests/test_conversation_stream.py belongs to the implementation's own tests; these are the
independent ones.)
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.collab_support import CHANGE, REMOVE, join
from tests.conftest import Org
from tests.conversation_support import (
    CONVERSATION,
    active,
    events,
    listening,
    missing_thread_id,
    outcome,
    page,
    posted,
    resolve,
    send,
)
from tests.wsclient import Subscription, SubscriptionError


def _brief(event: dict[str, Any]) -> tuple[str, str | None]:
    if event["kind"] == "MESSAGE":
        return ("MESSAGE", event["message"]["body"])
    return (event["kind"], event["status"])


async def _live(sub: Subscription, count: int) -> list[dict[str, Any]]:
    got = await events(sub, count)
    await sub.nothing(0.6)
    return got


async def test_resume_after_a_disconnect_with_messages_and_a_resolve_in_between(org: Org) -> None:
    ann = await org.create_agent("Ann")
    sue = await org.create_agent("Sue", role="SUPERVISOR")
    conv = await active(org, ann)
    console, widget = await org.ws(sue.token, server=0), await org.ws(conv.visitor_token, server=1)
    try:
        agent_sub = await console.subscribe(CONVERSATION, {"t": conv.thread_id})
        visitor_sub = await widget.subscribe(CONVERSATION, {"t": conv.thread_id})
        await listening(agent_sub, visitor_sub)
        await posted(org, conv.visitor_token, conv.thread_id, "my order is late")
        await posted(org, ann.token, conv.thread_id, "let me check", server=1)
        await posted(org, ann.token, conv.thread_id, "carrier lost it", visibility="INTERNAL")
        agent_seen = await _live(agent_sub, 3)
        visitor_seen = await _live(visitor_sub, 2)
    finally:
        await console.close()
        await widget.close()
    # While both are away, on both processes:
    await posted(org, conv.visitor_token, conv.thread_id, "are you there?", server=1)
    await posted(org, ann.token, conv.thread_id, "refund it", visibility="INTERNAL")
    await posted(org, ann.token, conv.thread_id, "refunded, sorry!", server=1)
    await resolve(org, ann, conv.thread_id)
    console, widget = await org.ws(sue.token, server=1), await org.ws(conv.visitor_token, server=0)
    try:
        agent_sub = await console.subscribe(CONVERSATION, {"t": conv.thread_id, "after": agent_seen[-1]["cursor"]})
        visitor_sub = await widget.subscribe(CONVERSATION, {"t": conv.thread_id, "after": visitor_seen[-1]["cursor"]})
        agent_missed = await _live(agent_sub, 4)
        visitor_missed = await _live(visitor_sub, 3)
        assert [_brief(e) for e in agent_missed] == [
            ("MESSAGE", "are you there?"),
            ("MESSAGE", "refund it"),
            ("MESSAGE", "refunded, sorry!"),
            ("STATUS_CHANGED", "RESOLVED"),
        ]
        assert [_brief(e) for e in visitor_missed] == [
            ("MESSAGE", "are you there?"),
            ("MESSAGE", "refunded, sorry!"),
            ("STATUS_CHANGED", "RESOLVED"),
        ]
        assert visitor_missed[1]["message"]["author"] is None
        # The same events carry the same cursors in both views; none repeats one seen before.
        agent_cursors = [e["cursor"] for e in agent_seen + agent_missed]
        assert len(set(agent_cursors)) == len(agent_cursors)
        by_body = {e["message"]["body"]: e["cursor"] for e in agent_missed if e["message"]}
        assert [e["cursor"] for e in visitor_missed[:2]] == [by_body["are you there?"], by_body["refunded, sorry!"]]
        # Live again on the resumed streams. Decision (contract silent): the visitor's stream stays
        # open on a RESOLVED thread, since their next message may reopen it.
        await posted(org, conv.visitor_token, conv.thread_id, "one more thing", server=1)
        for sub in (agent_sub, visitor_sub):
            tail = await _live(sub, 2)
            assert {_brief(e) for e in tail} == {("MESSAGE", "one more thing"), ("STATUS_CHANGED", "QUEUED")}
    finally:
        await console.close()
        await widget.close()


async def test_messages_sent_while_resuming_arrive_once_and_in_order(org: Org) -> None:
    ann = await org.create_agent("Ann")
    conv = await active(org, ann)
    client = await org.ws(ann.token, server=0)
    try:
        sub = await client.subscribe(CONVERSATION, {"t": conv.thread_id})
        await listening(sub)
        await posted(org, conv.visitor_token, conv.thread_id, "m0")
        mark = (await events(sub, 1))[0]["cursor"]
    finally:
        await client.close()
    for i in range(1, 6):
        await posted(org, ann.token, conv.thread_id, f"m{i}", server=i)
    for round_, server in enumerate((1, 0)):
        client = await org.ws(ann.token, server=server)
        try:
            resumed = await client.subscribe(CONVERSATION, {"t": conv.thread_id, "after": mark})
            base = 6 + 8 * round_
            # Posted while the stream replays: each must come exactly once, after what it missed.
            sends = [
                send(org, ann.token if i % 2 else conv.visitor_token, conv.thread_id, f"m{base + i}", server=i)
                for i in range(8)
            ]
            results, got = await asyncio.gather(_post_in_order(sends), events(resumed, base + 7))
            assert all(r["data"]["sendMessage"]["userErrors"] == [] for r in results)
            await resumed.nothing(0.6)
            assert [e["message"]["body"] for e in got] == [f"m{i}" for i in range(1, base + 8)]
            assert len({e["cursor"] for e in got}) == len(got)
        finally:
            await client.close()


async def _post_in_order(sends: list[Any]) -> list[dict[str, Any]]:
    """One after another (the order of commits is the order to expect), started at once with the stream."""
    return [await s for s in sends]


async def test_a_stream_may_not_be_opened_without_a_place(org: Org, other_org: Org) -> None:
    ann, stranger = await org.create_agent("Ann"), await org.create_agent("Stranger")
    conv = await active(org, ann)
    theirs = await active(other_org, await other_org.create_agent("Zed"))
    refusals = []
    for token in (stranger.token, org.token("analyst")):
        client = await org.ws(token)
        try:
            refusals.append(await (await client.subscribe(CONVERSATION, {"t": conv.thread_id})).refusal())
        finally:
            await client.close()
    assert refusals == ["FORBIDDEN", "FORBIDDEN"]
    # A malformed cursor is a clear error for that operation, not a stream from somewhere.
    client = await org.ws(ann.token)
    try:
        bad = await (await client.subscribe(CONVERSATION, {"t": conv.thread_id, "after": "not-a-cursor"})).raw()
        assert bad["type"] == "error" or (bad["type"] == "next" and bad["payload"].get("errors")), bad
    finally:
        await client.close()
    # A foreign thread is refused like a missing one (whatever the code, the same), for any caller.
    for token in (org.token("admin"), theirs.visitor_token):
        client = await org.ws(token)
        try:
            foreign_id = theirs.thread_id if token != theirs.visitor_token else conv.thread_id
            foreign = await (await client.subscribe(CONVERSATION, {"t": foreign_id})).refusal()
            missing = await (await client.subscribe(CONVERSATION, {"t": missing_thread_id()})).refusal()
            assert foreign == missing
        finally:
            await client.close()


async def test_the_widget_loads_history_then_streams_after_its_newest_cursor(org: Org) -> None:
    """The widget's and console's start: Thread.messages(last: n), then conversationEvents(after: the newest
    edge's cursor). Decision (the contract says a message's cursor is stable and that the stream resumes
    after a cursor; it does not say the two cursors are one): clients expect this hand-over to lose and
    repeat nothing, so the test holds the implementation to it."""
    ann = await org.create_agent("Ann")
    conv = await active(org, ann)
    for i, (token, visibility) in enumerate(
        [(conv.visitor_token, "PUBLIC"), (ann.token, "PUBLIC"), (ann.token, "INTERNAL"), (ann.token, "PUBLIC")]
    ):
        await posted(org, token, conv.thread_id, f"h{i}", visibility=visibility, server=i)
    views = {}
    for who, token in (("visitor", conv.visitor_token), ("agent", ann.token)):
        views[who] = (token, (await page(org, conv.thread_id, token=token, last=50))["edges"][-1]["cursor"])
    # Committed between the page and the subscription:
    await posted(org, ann.token, conv.thread_id, "gap public", server=1)
    await posted(org, ann.token, conv.thread_id, "gap note", visibility="INTERNAL")
    expected = {"visitor": ["gap public", "live"], "agent": ["gap public", "gap note", "live"]}
    clients = []
    try:
        subs = {}
        for i, (who, (token, cursor)) in enumerate(views.items()):
            clients.append(await org.ws(token, server=i))
            subs[who] = await clients[-1].subscribe(CONVERSATION, {"t": conv.thread_id, "after": cursor})
        await posted(org, conv.visitor_token, conv.thread_id, "live")
        for who, sub in subs.items():
            got = await _live(sub, len(expected[who]))
            assert [e["message"]["body"] for e in got] == expected[who], who
    finally:
        for client in clients:
            await client.close()


async def test_a_removed_collaborator_stops_receiving_the_conversation(org: Org) -> None:
    """Agents see a thread's conversation while they may read it: removal takes the stream away (it ends,
    as threadEvents does, or at least carries nothing more); a permission lowered to READ keeps it."""
    ann, exp, obs = await org.create_agent("Ann"), await org.create_agent("Exp"), await org.create_agent("Obs")
    conv = await active(org, ann)
    await join(org, ann, conv.thread_id, exp)
    await join(org, ann, conv.thread_id, obs)
    clients = [await org.ws(exp.token, server=0), await org.ws(obs.token, server=1)]
    try:
        removed, lowered = [await c.subscribe(CONVERSATION, {"t": conv.thread_id}) for c in clients]
        await listening(removed, lowered)
        await org.data(REMOVE, {"i": {"threadId": conv.thread_id, "agentId": exp.id}}, token=ann.token)
        await org.data(
            CHANGE, {"i": {"threadId": conv.thread_id, "agentId": obs.id, "permission": "READ"}}, token=ann.token
        )
        await posted(org, ann.token, conv.thread_id, "after the removal", visibility="INTERNAL", server=1)
        await posted(org, conv.visitor_token, conv.thread_id, "visitor after the removal")
        got = await events(lowered, 2)
        assert [e["message"]["body"] for e in got] == ["after the removal", "visitor after the removal"]
        try:
            leaked = await removed.next(1.0)
        except (StopAsyncIteration, TimeoutError, SubscriptionError):
            leaked = None
        assert leaked is None, leaked
    finally:
        for client in clients:
            await client.close()


async def test_one_order_for_racing_senders_in_the_page_the_stream_and_the_replay(org: Org) -> None:
    """Messages of a thread have one total order (their commits'): senders racing on two processes, the
    live stream, a replay and Thread.messages all agree on it."""
    ann, exp = await org.create_agent("Ann"), await org.create_agent("Exp")
    conv = await active(org, ann)
    await join(org, ann, conv.thread_id, exp)
    client = await org.ws(org.token("admin"), server=1)
    try:
        sub = await client.subscribe(CONVERSATION, {"t": conv.thread_id})
        await listening(sub)
        first = await posted(org, ann.token, conv.thread_id, "before the race")
        tokens = [ann.token, exp.token, conv.visitor_token, org.token("admin")]
        responses = await asyncio.gather(
            *(send(org, tokens[i % 4], conv.thread_id, f"race {i}", server=i) for i in range(16))
        )
        assert [outcome(r) for r in responses] == ["ok"] * 16, [r for r in responses if outcome(r) != "ok"]
        live = await _live(sub, 17)
    finally:
        await client.close()
    live_ids = [e["message"]["id"] for e in live]
    assert live_ids[0] == first["id"] and len(set(live_ids)) == 17
    history = await page(org, conv.thread_id, first=50, server=0)
    assert [e["node"]["id"] for e in history["edges"]] == live_ids
    client = await org.ws(exp.token, server=0)
    try:
        resumed = await client.subscribe(CONVERSATION, {"t": conv.thread_id, "after": live[0]["cursor"]})
        assert [e["message"]["id"] for e in await _live(resumed, 16)] == live_ids[1:]
    finally:
        await client.close()


async def test_a_replay_holds_only_its_own_thread(org: Org) -> None:
    """Two conversations interleaved: resuming one (with a cursor taken on it) replays none of the other's
    events, for its visitor and for a supervisor."""
    ann = await org.create_agent("Ann", maxConcurrentThreads=5)
    sue = await org.create_agent("Sue", role="SUPERVISOR")
    mine, theirs = await active(org, ann), await active(org, ann)
    client = await org.ws(mine.visitor_token)
    try:
        sub = await client.subscribe(CONVERSATION, {"t": mine.thread_id})
        await listening(sub)
        await posted(org, mine.visitor_token, mine.thread_id, "mine 0")
        mark = (await events(sub, 1))[0]["cursor"]
    finally:
        await client.close()
    for i in range(1, 4):
        await posted(org, theirs.visitor_token, theirs.thread_id, f"theirs {i}", server=i)
        await posted(org, ann.token, theirs.thread_id, f"theirs note {i}", visibility="INTERNAL")
        await posted(org, ann.token, mine.thread_id, f"mine {i}", server=i)
    await resolve(org, ann, theirs.thread_id)
    for token in (mine.visitor_token, sue.token):
        client = await org.ws(token, server=1)
        try:
            sub = await client.subscribe(CONVERSATION, {"t": mine.thread_id, "after": mark})
            assert [_brief(e) for e in await _live(sub, 3)] == [("MESSAGE", f"mine {i}") for i in range(1, 4)]
        finally:
            await client.close()
