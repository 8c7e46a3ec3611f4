"""Typing: live only (no cursor, never replayed), masked for the visitor, INTERNAL typing never reaching
them, at most one event per sender and thread per 2 seconds across processes."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from tests.collab_support import join
from tests.conftest import Org
from tests.conversation_support import (
    CONVERSATION,
    MARK_READ,
    active,
    events,
    listening,
    posted,
    start,
    typing,
    typing_ready,
)
from tests.queue_support import update_settings
from tests.wsclient import Subscription

THROTTLE_SECONDS = 2.0


def _typing(event: dict[str, Any]) -> tuple[str, str | None, bool | None]:
    assert event["cursor"] is None and event["message"] is None and event["status"] is None, event
    return (event["kind"], event["typingName"], event["typing"])


def _ok(response: dict[str, Any]) -> None:
    assert not response.get("errors"), response
    assert response["data"]["setTyping"] == {"ok": True, "userErrors": []}, response


async def test_typing_is_live_masked_and_internal_typing_stays_with_the_agents(org: Org) -> None:
    ann, exp = await org.create_agent("Ann"), await org.create_agent("Exp")
    conv = await active(org, ann, name="Vera")
    await join(org, ann, conv.thread_id, exp)
    clients = [await org.ws(t, server=i) for i, t in enumerate((conv.visitor_token, exp.token, ann.token))]
    try:
        widget, expert, primary = [await c.subscribe(CONVERSATION, {"t": conv.thread_id}) for c in clients]
        # The message that follows proves the streams registered: no wait for typing_ready.
        await listening(widget, expert, primary)
        await posted(org, ann.token, conv.thread_id, "start")
        marks = [(await s.next())["conversationEvents"]["cursor"] for s in (widget, expert, primary)]
        _ok(await typing(org, ann.token, conv.thread_id, server=1))
        assert _typing((await widget.next())["conversationEvents"]) == ("TYPING", "Support", True)
        assert _typing((await expert.next())["conversationEvents"]) == ("TYPING", "Ann", True)
        _ok(await typing(org, exp.token, conv.thread_id, visibility="INTERNAL"))
        assert _typing((await primary.next())["conversationEvents"]) == ("TYPING", "Exp", True)
        _ok(await typing(org, conv.visitor_token, conv.thread_id, server=1))
        assert _typing((await primary.next())["conversationEvents"]) == ("TYPING", "Vera", True)
        assert _typing((await expert.next())["conversationEvents"]) == ("TYPING", "Vera", True)
        # The expert's note being written never reached the widget.
        await widget.nothing(0.8)
        await posted(org, ann.token, conv.thread_id, "end")
        ended = (await widget.next())["conversationEvents"]
        assert (ended["kind"], ended["message"]["body"]) == ("MESSAGE", "end")
    finally:
        for client in clients:
            await client.close()
    # Replayed from before the typing: the messages only.
    for token, mark in zip((conv.visitor_token, exp.token), marks[:2], strict=True):
        client = await org.ws(token, server=1)
        try:
            sub = await client.subscribe(CONVERSATION, {"t": conv.thread_id, "after": mark})
            replayed = await events(sub, 1)
            assert (replayed[0]["kind"], replayed[0]["message"]["body"]) == ("MESSAGE", "end")
            await sub.nothing(0.6)
        finally:
            await client.close()


async def test_who_may_type(org: Org) -> None:
    ann, stranger = await org.create_agent("Ann"), await org.create_agent("Stranger")
    conv = await active(org, ann)
    body = await typing(org, org.token("analyst"), conv.thread_id)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    # A visitor has no notes to write: INTERNAL typing is refused like an INTERNAL message.
    body = await typing(org, conv.visitor_token, conv.thread_id, visibility="INTERNAL")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    # An agent with no place on the thread may not type in it either.
    body = await typing(org, stranger.token, conv.thread_id)
    assert not body.get("errors") and body["data"]["setTyping"]["ok"] is False, body
    assert [e["code"] for e in body["data"]["setTyping"]["userErrors"]] == ["FORBIDDEN_ACTION"]


async def _burst(org: Org, token: str, thread_id: str, calls: int) -> float:
    """``calls`` setTyping at once, spread over the processes; how long the burst took."""
    began = time.monotonic()
    responses = await asyncio.gather(*(typing(org, token, thread_id, server=i) for i in range(calls)))
    for response in responses:
        _ok(response)  # calls in between are accepted (and dropped)
    return time.monotonic() - began


async def _typing_names(sub: Subscription, allowed: int) -> Counter[str]:
    """Every TYPING event that arrives until things are quiet, by who is typing."""
    names: Counter[str] = Counter()
    while True:
        try:
            event = (await sub.next(2.5))["conversationEvents"]
        except TimeoutError:
            return names
        assert event["kind"] == "TYPING", event
        names[event["typingName"]] += 1
        assert sum(names.values()) <= allowed, names


async def test_typing_is_throttled_per_sender_and_thread_across_processes(org: Org) -> None:
    ann = await org.create_agent("Ann")
    sue = await org.create_agent("Sue", role="SUPERVISOR")
    conv = await active(org, ann, name="Vera")
    other = await active(org, ann)
    clients = [await org.ws(sue.token, server=i) for i in range(2)]
    try:
        subs = [await c.subscribe(CONVERSATION, {"t": conv.thread_id}) for c in clients]
        elsewhere = await clients[0].subscribe(CONVERSATION, {"t": other.thread_id})
        await listening(*subs, elsewhere)
        await typing_ready()
        took = await asyncio.gather(
            _burst(org, ann.token, conv.thread_id, 6),
            _burst(org, conv.visitor_token, conv.thread_id, 6),
            _burst(org, ann.token, other.thread_id, 4),
        )
        # One event per sender and thread per 2 s: exactly one each when the burst took under 2 s.
        per_sender = 1 + int(max(took) // THROTTLE_SECONDS)
        for sub in subs:
            names = await _typing_names(sub, 2 * per_sender)
            assert set(names) == {"Ann", "Vera"} and all(1 <= n <= per_sender for n in names.values()), names
        assert (await _typing_names(elsewhere, per_sender))["Ann"] >= 1
        # After the window, the next call goes out again (once).
        await asyncio.sleep(THROTTLE_SECONDS + 0.3)
        took_again = await _burst(org, ann.token, conv.thread_id, 3)
        again = 1 + int(took_again // THROTTLE_SECONDS)
        for sub in subs:
            names = await _typing_names(sub, again)
            assert set(names) == {"Ann"} and 1 <= names["Ann"] <= again, names
    finally:
        for client in clients:
            await client.close()


async def test_the_visitor_sees_the_current_service_name_typing(org: Org) -> None:
    ann = await org.create_agent("Ann")
    conv = await active(org, ann)
    await update_settings(org, serviceName="Acme Help")
    client = await org.ws(conv.visitor_token, server=1)
    try:
        sub = await client.subscribe(CONVERSATION, {"t": conv.thread_id})
        await listening(sub)
        await typing_ready()
        _ok(await typing(org, ann.token, conv.thread_id, server=0))
        assert _typing((await sub.next())["conversationEvents"]) == ("TYPING", "Acme Help", True)
        # The admin writes in the organization's name: the same single identity.
        _ok(await typing(org, org.token("admin"), conv.thread_id, server=1))
        assert _typing((await sub.next())["conversationEvents"]) == ("TYPING", "Acme Help", True)
        await sub.nothing(0.6)
    finally:
        await client.close()


async def test_typing_stops_are_events_too_outside_the_window(org: Org) -> None:
    ann = await org.create_agent("Ann")
    conv = await active(org, ann)
    client = await org.ws(conv.visitor_token, server=1)
    try:
        sub = await client.subscribe(CONVERSATION, {"t": conv.thread_id})
        await listening(sub)
        await typing_ready()
        _ok(await typing(org, ann.token, conv.thread_id))
        assert _typing((await sub.next())["conversationEvents"]) == ("TYPING", "Support", True)
        await asyncio.sleep(THROTTLE_SECONDS + 0.3)
        _ok(await typing(org, ann.token, conv.thread_id, is_typing=False, server=1))
        assert _typing((await sub.next())["conversationEvents"]) == ("TYPING", "Support", False)
        await sub.nothing(0.6)
    finally:
        await client.close()


async def test_roles_without_typing_or_read_marks(org: Org) -> None:
    """Contract 2's role table: the service may startThread, requestTransfer, cancelQueueEntry, reopenThread
    and sendMessage (as the bot), and read; setTyping and markThreadRead are not among them (FORBIDDEN)."""
    conv = await start(org)
    service = org.token("service")
    body = await typing(org, service, conv.thread_id)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    body = await org.gql(MARK_READ, {"i": {"threadId": conv.thread_id}}, token=service)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
