"""inviteEvents and threadEvents over the wire: audience, live changes, revocation, resume."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.collab_support import (
    CHANGE,
    INVITE_EVENTS,
    REMOVE,
    RESOLVE,
    THREAD_EVENTS,
    WITHDRAW,
    active_thread,
    invite_one,
    join,
    respond,
)
from tests.conftest import Org
from tests.wsclient import Subscription


async def until(sub: Subscription, field: str, kind: str, limit: int = 10) -> list[dict[str, Any]]:
    """Events up to and including the first of ``kind``."""
    seen = []
    for _ in range(limit):
        event = (await sub.next(5))[field]
        seen.append(event)
        if event["kind"] == kind:
            return seen
    raise AssertionError(f"no {kind} in {seen}")


async def ended(sub: Subscription) -> bool:
    try:
        await sub.next(5)
    except StopAsyncIteration:
        return True
    return False


async def test_a_permission_change_is_seen_live_by_the_console(org: Org) -> None:
    primary = await org.create_agent("Prim")
    expert = await org.create_agent("Exp")
    thread = await active_thread(org, primary)
    client = await org.ws(primary.token, server=0)
    try:
        console = await client.subscribe(THREAD_EVENTS, {"t": thread})
        await asyncio.sleep(0.2)
        sent = await invite_one(org, primary, thread, expert)
        created = (await console.next())["threadEvents"]
        assert created["kind"] == "INVITE_CHANGED" and created["invite"] == {"id": sent["id"], "status": "PENDING"}
        assert created["actor"]["id"] == primary.id
        await respond(org, expert, sent["id"], server=1)
        events = await until(console, "threadEvents", "INVITE_CHANGED")
        joined = next(e for e in events if e["kind"] == "COLLABORATOR_JOINED")
        assert joined["collaborator"]["agent"]["id"] == expert.id and joined["actor"]["id"] == expert.id
        changed = await org.data(
            CHANGE,
            {"i": {"threadId": thread, "agentId": expert.id, "permission": "READ"}},
            token=primary.token,
            server=1,
        )
        assert not changed["changePermission"]["userErrors"]
        event = (await console.next())["threadEvents"]
        assert event["kind"] == "PERMISSION_CHANGED"
        assert event["collaborator"]["agent"]["id"] == expert.id and event["collaborator"]["permission"] == "READ"
        assert event["actor"]["id"] == primary.id and event["thread"] == {"id": thread, "status": "ACTIVE"}
        await console.nothing(0.5)
    finally:
        await client.close()


async def test_a_revoked_agent_stops_receiving_thread_events(org: Org) -> None:
    primary = await org.create_agent("Prim")
    removed = await org.create_agent("Removed")
    stays = await org.create_agent("Stays")
    chief = await org.create_agent("Chief", role="SUPERVISOR")
    thread = await active_thread(org, primary)
    await join(org, primary, thread, removed)
    await join(org, primary, thread, stays)
    clients = [await org.ws(who.token, server=i) for i, who in enumerate((removed, stays, chief))]
    try:
        subs = [await c.subscribe(THREAD_EVENTS, {"t": thread}) for c in clients]
        await asyncio.sleep(0.2)
        await org.data(REMOVE, {"i": {"threadId": thread, "agentId": removed.id}}, token=primary.token)
        for sub in subs:
            event = (await sub.next())["threadEvents"]
            assert event["kind"] == "COLLABORATOR_REMOVED" and event["collaborator"]["agent"]["id"] == removed.id
        assert await ended(subs[0])
        await org.data(RESOLVE, {"i": {"threadId": thread}}, token=primary.token)
        for sub in subs[1:]:
            event = (await sub.next())["threadEvents"]
            assert (event["kind"], event["thread"]["status"]) == ("STATUS_CHANGED", "RESOLVED")
        assert await ended(subs[1])
        await subs[2].nothing(0.3)  # a supervisor keeps watching
    finally:
        for client in clients:
            await client.close()
    outsider = await org.ws(removed.token)
    try:
        refused = await outsider.subscribe(THREAD_EVENTS, {"t": thread})
        # Contract: a forbidden subscription gets an error message; the socket stays open.
        assert await refused.refusal() == "FORBIDDEN"
    finally:
        await outsider.close()


async def test_invite_events_reach_only_their_audience(org: Org) -> None:
    primary = await org.create_agent("Prim")
    invitee = await org.create_agent("Inv")
    bystander = await org.create_agent("By")
    thread = await active_thread(org, primary)
    clients = [await org.ws(who.token, server=i) for i, who in enumerate((primary, invitee, bystander))]
    try:
        subs = [await c.subscribe(INVITE_EVENTS) for c in clients]
        await asyncio.sleep(0.2)
        sent = await invite_one(org, primary, thread, invitee)
        await respond(org, invitee, sent["id"], "DEFER", message="soon", estimatedSeconds=20)
        for sub in subs[:2]:
            kinds = [(await sub.next())["inviteEvents"] for _ in range(2)]
            assert [k["kind"] for k in kinds] == ["CREATED", "DEFERRED"]
            assert kinds[0]["cursor"] != kinds[1]["cursor"]
            assert kinds[1]["invite"]["estimatedSeconds"] == 20
        await subs[2].nothing(0.5)
    finally:
        for client in clients:
            await client.close()
    admin = await org.ws(org.token("admin"))
    try:
        refused = await admin.subscribe(INVITE_EVENTS)
        assert await refused.refusal() == "FORBIDDEN"
    finally:
        await admin.close()


async def test_resuming_replays_missed_events_then_goes_live(org: Org) -> None:
    primary = await org.create_agent("Prim")
    invitee = await org.create_agent("Inv")
    threads = [await active_thread(org, primary) for _ in range(3)]
    client = await org.ws(invitee.token, server=0)
    sub = await client.subscribe(INVITE_EVENTS)
    await asyncio.sleep(0.2)
    first = await invite_one(org, primary, threads[0], invitee)
    seen = (await sub.next())["inviteEvents"]
    assert (seen["kind"], seen["invite"]["id"]) == ("CREATED", first["id"])
    await client.close()

    # Missed while disconnected: a new invite, a withdrawal, another invite, an answer.
    second = await invite_one(org, primary, threads[1], invitee)
    await org.data(WITHDRAW, {"i": {"inviteId": first["id"]}}, token=primary.token)
    third = await invite_one(org, primary, threads[2], invitee)
    await respond(org, invitee, third["id"], "REJECT")
    missed = [
        ("CREATED", second["id"]),
        ("WITHDRAWN", first["id"]),
        ("CREATED", third["id"]),
        ("REJECTED", third["id"]),
    ]

    client = await org.ws(invitee.token, server=1)
    try:
        sub = await client.subscribe(INVITE_EVENTS, {"after": seen["cursor"]})
        replayed = [(await sub.next())["inviteEvents"] for _ in missed]
        assert [(e["kind"], e["invite"]["id"]) for e in replayed] == missed
        cursors = [seen["cursor"], *(e["cursor"] for e in replayed)]
        assert len(set(cursors)) == len(cursors)
        # Replayed events show the invite as it was when the event happened, as the live ones did.
        assert [e["invite"]["status"] for e in replayed] == ["PENDING", "WITHDRAWN", "PENDING", "REJECTED"]
        await respond(org, invitee, second["id"], "ACCEPT", server=0)
        live = (await sub.next())["inviteEvents"]
        assert (live["kind"], live["invite"]["id"]) == ("ACCEPTED", second["id"])
        await sub.nothing(0.5)
    finally:
        await client.close()

    # The thread stream resumes the same way.
    client = await org.ws(primary.token, server=1)
    try:
        sub = await client.subscribe(THREAD_EVENTS, {"t": threads[1], "after": seen["cursor"]})
        events = await until(sub, "threadEvents", "COLLABORATOR_JOINED")
        kinds = [e["kind"] for e in events]
        assert kinds[0] == "INVITE_CHANGED" and events[0]["invite"]["id"] == second["id"]
        assert kinds[-1] == "COLLABORATOR_JOINED"
    finally:
        await client.close()


async def test_a_replayed_event_renders_as_the_live_one_did(org: Org) -> None:
    """Resuming from a cursor shows each event as it was delivered live, not as the rows are now."""
    primary = await org.create_agent("Prim")
    expert = await org.create_agent("Exp")
    chief = await org.create_agent("Chief", role="SUPERVISOR")
    thread = await active_thread(org, primary)
    client = await org.ws(chief.token, server=0)
    inviter = await org.ws(primary.token, server=0)
    try:
        console = await client.subscribe(THREAD_EVENTS, {"t": thread})
        invites = await inviter.subscribe(INVITE_EVENTS)
        await asyncio.sleep(0.2)
        sent = await invite_one(org, primary, thread, expert)
        await respond(org, expert, sent["id"], "DEFER", server=1)
        await respond(org, expert, sent["id"], "ACCEPT", server=1)
        await org.data(
            CHANGE,
            {"i": {"threadId": thread, "agentId": expert.id, "permission": "READ"}},
            token=primary.token,
        )
        await org.data(RESOLVE, {"i": {"threadId": thread}}, token=primary.token)
        live_thread = await until(console, "threadEvents", "STATUS_CHANGED", limit=20)
        live_invites = [(await invites.next())["inviteEvents"] for _ in range(3)]
    finally:
        await client.close()
        await inviter.close()
    assert [e["invite"]["status"] for e in live_invites] == ["PENDING", "DEFERRED", "ACCEPTED"]
    joined = next(e for e in live_thread if e["kind"] == "COLLABORATOR_JOINED")
    assert (joined["collaborator"]["permission"], joined["collaborator"]["active"]) == ("WRITE", True)
    assert joined["thread"]["status"] == "ACTIVE"

    # Resume from before the first event: every later change must not leak into the replay.
    first = live_thread[0]["cursor"]
    client = await org.ws(chief.token, server=1)
    inviter = await org.ws(primary.token, server=1)
    try:
        console = await client.subscribe(THREAD_EVENTS, {"t": thread, "after": "e0"})
        replayed = [(await console.next())["threadEvents"]]
        while replayed[-1]["cursor"] != live_thread[-1]["cursor"]:
            replayed.append((await console.next())["threadEvents"])
        invites = await inviter.subscribe(INVITE_EVENTS, {"after": "e0"})
        replayed_invites = [(await invites.next())["inviteEvents"] for _ in range(3)]
    finally:
        await client.close()
        await inviter.close()
    # The replay also holds what happened before the live subscription (the assignment).
    cursors = [e["cursor"] for e in replayed]
    assert replayed[cursors.index(first) :] == live_thread
    assert replayed_invites == live_invites
