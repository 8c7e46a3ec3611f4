"""Collaboration over the wire (issue #3): invites, answers, places, resolve; both backends."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from tests.collab_support import (
    CHANGE,
    DECIDE,
    INVITE_EVENTS,
    LEAVE,
    REMOVE,
    RESOLVE,
    WITHDRAW,
    active_thread,
    agent_counts,
    codes,
    invite,
    invite_one,
    join,
    respond,
    settings,
    thread_view,
)
from tests.conftest import Org

# After each test, the contract's invariants hold in its organization.
pytestmark = pytest.mark.usefixtures("check_invariants")


async def test_accepting_makes_the_invitee_a_collaborator(org: Org) -> None:
    primary = await org.create_agent("Prim")
    expert = await org.create_agent("Exp")
    watcher = await org.create_agent("Obs")
    thread = await active_thread(org, primary)

    sent = await invite(org, primary, thread, expert, message="need billing", urgency="HIGH", expiresInSeconds=120)
    assert not sent["userErrors"]
    (inv,) = sent["invites"]
    assert (inv["status"], inv["type"], inv["permission"], inv["urgency"]) == ("PENDING", "EXPERT", "WRITE", "HIGH")
    assert inv["message"] == "need billing" and inv["inviter"]["id"] == primary.id
    lifetime = datetime.fromisoformat(inv["expiresAt"]) - datetime.fromisoformat(inv["createdAt"])
    assert 119 <= lifetime.total_seconds() <= 121
    # An OBSERVER is always READ, whatever was asked; the default lifetime is the org's 300 s.
    observed = await invite_one(org, primary, thread, watcher, type="OBSERVER", permission="ADMIN")
    assert observed["permission"] == "READ"
    lifetime = datetime.fromisoformat(observed["expiresAt"]) - datetime.fromisoformat(observed["createdAt"])
    assert 299 <= lifetime.total_seconds() <= 301

    answer = await respond(org, expert, inv["id"], "ACCEPT", estimatedSeconds=30, message="on my way")
    assert not answer["userErrors"]
    assert answer["invite"]["status"] == "ACCEPTED" and answer["invite"]["estimatedSeconds"] == 30
    assert answer["invite"]["responseMessage"] == "on my way" and answer["invite"]["respondedAt"]
    collaborator = answer["collaborator"]
    assert (collaborator["role"], collaborator["permission"], collaborator["active"]) == ("EXPERT", "WRITE", True)
    assert collaborator["agent"]["id"] == expert.id and collaborator["invitedBy"]["id"] == primary.id
    answer = await respond(org, watcher, observed["id"])
    assert (answer["collaborator"]["role"], answer["collaborator"]["permission"]) == ("OBSERVER", "READ")

    view = await thread_view(org, thread, token=expert.token)
    assert view["viewerPermission"] == "WRITE" and view["collaboratorLimit"] == 3
    assert {(c["agent"]["id"], c["role"]) for c in view["collaborators"]} == {
        (primary.id, "PRIMARY"),
        (expert.id, "EXPERT"),
        (watcher.id, "OBSERVER"),
    }
    assert view["invites"]["totalCount"] == 2
    assert (await thread_view(org, thread, token=watcher.token))["viewerPermission"] == "READ"
    assert await agent_counts(org, expert) == (0, 1)
    assert await agent_counts(org, primary) == (1, 0)


async def test_each_invitee_is_checked_and_the_others_still_go_out(org: Org, other_org: Org) -> None:
    primary = await org.create_agent("Prim")
    ok = await org.create_agent("Ok")
    away = await org.create_agent("Away", status="AWAY")
    dnd = await org.create_agent("Dnd", status="DO_NOT_DISTURB")
    offline = await org.create_agent("Off", status="OFFLINE")
    busy = await org.create_agent("Busy", maxConcurrentCollaborations=0)
    already = await org.create_agent("Already")
    foreign = await other_org.create_agent("Foreign")
    thread = await active_thread(org, primary)
    await join(org, primary, thread, already)
    await settings(org, collaboratorLimitNormal=10)

    payload = await invite(
        org, primary, thread, ok, primary, foreign, "not-an-id", dnd, offline, busy, already, ok, away
    )
    assert [i["invitee"]["id"] for i in payload["invites"]] == [ok.id, away.id]
    path = ["input", "inviteeIds"]
    assert codes(payload) == [
        ("INVALID", [*path, "1"]),
        ("NOT_FOUND", [*path, "2"]),
        ("INVALID", [*path, "3"]),
        ("AGENT_UNAVAILABLE", [*path, "4"]),
        ("AGENT_UNAVAILABLE", [*path, "5"]),
        ("LIMIT_REACHED", [*path, "6"]),
        ("CONFLICT", [*path, "7"]),
        ("CONFLICT", [*path, "8"]),
    ]
    # Whole-call problems: bad expiry, long message, unknown thread.
    bad = await invite(org, primary, thread, dnd, expiresInSeconds=0)
    assert codes(bad) == [("INVALID", ["input", "expiresInSeconds"])]
    bad = await invite(org, primary, thread, dnd, message="x" * 2001)
    assert codes(bad) == [("INVALID", ["input", "message"])]
    foreign_thread = await active_thread(other_org, foreign)
    bad = await invite(org, primary, foreign_thread, dnd)
    assert codes(bad) == [("NOT_FOUND", ["input", "threadId"])]


async def test_the_cap_counts_collaborators_and_open_invites(org: Org) -> None:
    primary = await org.create_agent("Prim")
    agents = [await org.create_agent(f"A{i}") for i in range(5)]
    thread = await active_thread(org, primary)
    await join(org, primary, thread, agents[0])
    payload = await invite(org, primary, thread, *agents[1:4])
    assert len(payload["invites"]) == 2
    assert codes(payload) == [("LIMIT_REACHED", ["input", "inviteeIds", "2"])]
    # A withdrawn invite frees its seat; a rejected one too.
    withdrawn = await org.data(WITHDRAW, {"i": {"inviteId": payload["invites"][0]["id"]}}, token=primary.token)
    assert withdrawn["withdrawInvite"]["invite"]["status"] == "WITHDRAWN"
    assert len((await invite(org, primary, thread, agents[3]))["invites"]) == 1
    assert codes(await invite(org, primary, thread, agents[4]))[0][0] == "LIMIT_REACHED"
    rejected = await respond(org, agents[2], payload["invites"][1]["id"], "REJECT", message="busy")
    assert rejected["invite"]["status"] == "REJECTED" and rejected["collaborator"] is None
    assert len((await invite(org, primary, thread, agents[4]))["invites"]) == 1
    vip = await active_thread(org, primary, thread_class="VIP")
    urgent = await active_thread(org, primary, thread_class="URGENT")
    assert (await thread_view(org, vip))["collaboratorLimit"] == 5
    assert (await thread_view(org, urgent))["collaboratorLimit"] == 7


async def test_only_the_primary_and_admin_collaborators_manage(org: Org) -> None:
    primary = await org.create_agent("Prim")
    reader = await org.create_agent("Reader")
    writer = await org.create_agent("Writer")
    boss = await org.create_agent("Boss")
    guest = await org.create_agent("Guest")
    stranger = await org.create_agent("Stranger")
    thread = await active_thread(org, primary)
    await join(org, primary, thread, reader, type="OBSERVER")
    await join(org, primary, thread, writer)
    await join(org, primary, thread, boss, type="GUIDE", permission="ADMIN")
    await settings(org, collaboratorLimitNormal=10)

    for who in (reader, writer, stranger):
        payload = await invite(org, who, thread, guest)
        assert codes(payload) == [("FORBIDDEN_ACTION", None)] and payload["invites"] == []
        change = await org.data(
            CHANGE, {"i": {"threadId": thread, "agentId": writer.id, "permission": "READ"}}, token=who.token
        )
        assert codes(change["changePermission"]) == [("FORBIDDEN_ACTION", None)]
        removed = await org.data(REMOVE, {"i": {"threadId": thread, "agentId": reader.id}}, token=who.token)
        assert codes(removed["removeCollaborator"]) == [("FORBIDDEN_ACTION", None)]
    # Roles that may never do it get a top-level FORBIDDEN.
    _, visitor_token = await org.start_thread()
    for token in (org.token("analyst"), visitor_token, org.token("service")):
        body = await org.gql(
            """mutation($i: InviteCollaboratorsInput!) { inviteCollaborators(input: $i) { invites { id } } }""",
            {"i": {"threadId": thread, "inviteeIds": [guest.id]}},
            token=token,
        )
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    # An ADMIN collaborator manages like the primary.
    sent = await invite_one(org, boss, thread, guest)
    assert sent["inviter"]["id"] == boss.id
    withdrawn = await org.data(WITHDRAW, {"i": {"inviteId": sent["id"]}}, token=boss.token)
    assert withdrawn["withdrawInvite"]["invite"]["status"] == "WITHDRAWN"
    removed = await org.data(REMOVE, {"i": {"threadId": thread, "agentId": writer.id}}, token=boss.token)
    assert removed["removeCollaborator"]["collaborator"]["active"] is False
    # A READ collaborator may leave.
    left = await org.data(LEAVE, {"i": {"threadId": thread}}, token=reader.token)
    assert left["leaveThread"]["collaborator"]["active"] is False and left["leaveThread"]["collaborator"]["leftAt"]
    assert await agent_counts(org, reader) == (0, 0)
    assert await agent_counts(org, writer) == (0, 0)
    assert (await thread_view(org, thread, token=reader.token)) is None


async def test_answers_defer_reject_and_not_answerable(org: Org, other_org: Org) -> None:
    primary = await org.create_agent("Prim")
    a = await org.create_agent("A")
    b = await org.create_agent("B")
    c = await org.create_agent("C")
    foreign = await other_org.create_agent("F")
    thread = await active_thread(org, primary)
    first = await invite_one(org, primary, thread, a)
    second = await invite_one(org, primary, thread, b)
    third = await invite_one(org, primary, thread, c)

    deferred = await respond(org, a, first["id"], "DEFER", message="in a call", estimatedSeconds=90)
    assert deferred["invite"]["status"] == "DEFERRED" and deferred["invite"]["estimatedSeconds"] == 90
    assert deferred["invite"]["responseMessage"] == "in a call"
    pending = await org.data("{ viewer { pendingInvites { id status } } }", token=a.token)
    assert pending["viewer"]["pendingInvites"] == [{"id": first["id"], "status": "DEFERRED"}]
    accepted = await respond(org, a, first["id"], "ACCEPT")
    assert accepted["invite"]["status"] == "ACCEPTED" and accepted["collaborator"]["role"] == "EXPERT"
    again = await respond(org, a, first["id"], "REJECT")
    assert codes(again) == [("NOT_ANSWERABLE", ["input", "inviteId"])] and again["invite"] is None

    assert (await respond(org, b, second["id"], "REJECT"))["invite"]["status"] == "REJECTED"
    assert codes(await respond(org, b, second["id"], "ACCEPT"))[0][0] == "NOT_ANSWERABLE"
    # Only the invitee answers; a foreign agent sees nothing.
    assert codes(await respond(org, primary, third["id"], "ACCEPT")) == [("FORBIDDEN_ACTION", ["input", "inviteId"])]
    assert codes(await respond(other_org, foreign, third["id"], "ACCEPT")) == [("NOT_FOUND", ["input", "inviteId"])]
    await org.data(WITHDRAW, {"i": {"inviteId": third["id"]}}, token=primary.token)
    assert codes(await respond(org, c, third["id"], "ACCEPT"))[0][0] == "NOT_ANSWERABLE"
    view = await thread_view(org, thread)
    statuses = {e["node"]["invitee"]["id"]: e["node"]["status"] for e in view["invites"]["edges"]}
    assert statuses == {a.id: "ACCEPTED", b.id: "REJECTED", c.id: "WITHDRAWN"}
    assert await agent_counts(org, b) == (0, 0) and await agent_counts(org, c) == (0, 0)


async def test_an_invite_expires_by_itself(org: Org) -> None:
    primary = await org.create_agent("Prim")
    invitee = await org.create_agent("Late")
    thread = await active_thread(org, primary)
    watchers = []
    for i, who in enumerate((primary, invitee)):
        client = await org.ws(who.token, server=i)
        watchers.append((client, await client.subscribe(INVITE_EVENTS)))
    await asyncio.sleep(0.2)
    sent = await invite_one(org, primary, thread, invitee, expiresInSeconds=1)
    try:
        for _, sub in watchers:
            created = await sub.next(5)
            assert created["inviteEvents"]["kind"] == "CREATED"
            expired = await sub.next(5)
            assert expired["inviteEvents"]["kind"] == "EXPIRED"
            assert expired["inviteEvents"]["invite"]["status"] == "EXPIRED"
            assert expired["inviteEvents"]["invite"]["id"] == sent["id"]
            await sub.nothing(1.0)
    finally:
        for client, _ in watchers:
            await client.close()
    answer = await respond(org, invitee, sent["id"])
    assert codes(answer) == [("EXPIRED", ["input", "inviteId"])]
    assert (await thread_view(org, thread))["invites"]["edges"][0]["node"]["status"] == "EXPIRED"
    pending = await org.data("{ viewer { pendingInvites { id } } }", token=invitee.token)
    assert pending["viewer"]["pendingInvites"] == []


async def test_cross_department_invites_need_approval(org: Org) -> None:
    await settings(org, crossDepartmentApproval=True)
    primary = await org.create_agent("Prim", department="billing")
    chief = await org.create_agent("Chief", department="billing", role="SUPERVISOR")
    other_chief = await org.create_agent("OtherChief", department="tech", role="SUPERVISOR")
    colleague = await org.create_agent("Colleague", department="billing")
    techie = await org.create_agent("Techie", department="tech")
    techie2 = await org.create_agent("Techie2", department="tech")
    thread = await active_thread(org, primary)
    client = await org.ws(chief.token)
    try:
        chief_events = await client.subscribe(INVITE_EVENTS)
        await asyncio.sleep(0.2)
        same = await invite_one(org, primary, thread, colleague)
        assert same["status"] == "PENDING"
        sent = await invite_one(org, primary, thread, techie, expiresInSeconds=600)
        assert sent["status"] == "PENDING_APPROVAL"
        event = (await chief_events.next())["inviteEvents"]
        assert (event["kind"], event["invite"]["id"]) == ("CREATED", sent["id"])
        # The invitee cannot answer yet; a supervisor of another department cannot decide.
        assert codes(await respond(org, techie, sent["id"]))[0][0] == "NOT_ANSWERABLE"
        wrong = await org.data(DECIDE, {"i": {"inviteId": sent["id"], "approve": True}}, token=other_chief.token)
        assert codes(wrong["decideInviteApproval"]) == [("FORBIDDEN_ACTION", ["input", "inviteId"])]
        await asyncio.sleep(1.1)
        approved = await org.data(DECIDE, {"i": {"inviteId": sent["id"], "approve": True}}, token=chief.token)
        inv = approved["decideInviteApproval"]["invite"]
        assert inv["status"] == "PENDING" and inv["approvedBy"]["id"] == chief.id
        # Expiry restarts at the approval: the full 600 s from now.
        assert datetime.fromisoformat(inv["expiresAt"]) > datetime.fromisoformat(sent["expiresAt"])
        event = (await chief_events.next())["inviteEvents"]
        assert (event["kind"], event["invite"]["status"]) == ("APPROVED", "PENDING")
        assert (await respond(org, techie, sent["id"]))["invite"]["status"] == "ACCEPTED"

        denied = await invite_one(org, primary, thread, techie2)
        decided = await org.data(DECIDE, {"i": {"inviteId": denied["id"], "approve": False}}, token=chief.token)
        assert decided["decideInviteApproval"]["invite"]["status"] == "CANCELLED"
        kinds = [(await chief_events.next())["inviteEvents"]["kind"] for _ in range(2)]
        assert kinds == ["CREATED", "CANCELLED"]
        again = await org.data(DECIDE, {"i": {"inviteId": denied["id"], "approve": True}}, token=chief.token)
        assert codes(again["decideInviteApproval"]) == [("CONFLICT", ["input", "inviteId"])]
    finally:
        await client.close()


async def test_change_permission_remove_and_leave(org: Org) -> None:
    primary = await org.create_agent("Prim")
    expert = await org.create_agent("Exp")
    helper = await org.create_agent("Helper")
    thread = await active_thread(org, primary)
    await join(org, primary, thread, expert)
    await join(org, primary, thread, helper, type="ASSISTANT")

    def change(agent: str, **values: str) -> dict[str, object]:
        return {"i": {"threadId": thread, "agentId": agent, **values}}

    done = await org.data(CHANGE, change(expert.id, permission="ADMIN", role="GUIDE"), token=primary.token)
    collaborator = done["changePermission"]["collaborator"]
    assert (collaborator["role"], collaborator["permission"]) == ("GUIDE", "ADMIN")
    assert (await thread_view(org, thread, token=expert.token))["viewerPermission"] == "ADMIN"
    for values, field in (
        ({"permission": "ADMIN", "role": "PRIMARY"}, "role"),
        ({"permission": "WRITE", "role": "OBSERVER"}, "permission"),
    ):
        bad = await org.data(CHANGE, change(helper.id, **values), token=primary.token)
        assert codes(bad["changePermission"]) == [("INVALID", ["input", field])]
    bad = await org.data(CHANGE, change(primary.id, permission="READ"), token=expert.token)
    assert codes(bad["changePermission"]) == [("INVALID", ["input", "agentId"])]
    missing = await org.create_agent("Missing")
    bad = await org.data(CHANGE, change(missing.id, permission="READ"), token=primary.token)
    assert codes(bad["changePermission"]) == [("NOT_FOUND", ["input", "agentId"])]

    bad = await org.data(REMOVE, {"i": {"threadId": thread, "agentId": primary.id}}, token=expert.token)
    assert codes(bad["removeCollaborator"]) == [("INVALID", ["input", "agentId"])]
    gone = await org.data(REMOVE, {"i": {"threadId": thread, "agentId": helper.id}}, token=expert.token)
    assert gone["removeCollaborator"]["collaborator"]["active"] is False
    bad = await org.data(LEAVE, {"i": {"threadId": thread}}, token=helper.token)
    assert codes(bad["leaveThread"]) == [("NOT_FOUND", ["input", "threadId"])]
    bad = await org.data(LEAVE, {"i": {"threadId": thread}}, token=primary.token)
    assert codes(bad["leaveThread"]) == [("CONFLICT", ["input", "threadId"])]
    view = await thread_view(org, thread)
    assert {c["agent"]["id"] for c in view["collaborators"]} == {primary.id, expert.id}
    assert {(c["agent"]["id"], c["active"]) for c in view["everyone"]} == {
        (primary.id, True),
        (expert.id, True),
        (helper.id, False),
    }
    # A removed agent may be invited again later.
    assert (await invite_one(org, primary, thread, helper))["status"] == "PENDING"


async def test_transfer_invite_hands_over_the_primary_role(org: Org) -> None:
    primary = await org.create_agent("Prim")
    successor = await org.create_agent("Next")
    full = await org.create_agent("Full", maxConcurrentThreads=0)
    thread = await active_thread(org, primary)
    handed_on = (await thread_view(org, thread))["transferCount"]

    refused = await invite(org, primary, thread, full, type="TRANSFER")
    assert codes(refused) == [("LIMIT_REACHED", ["input", "inviteeIds", "0"])]
    sent = await invite_one(org, primary, thread, successor, type="TRANSFER", permission="READ")
    assert (sent["type"], sent["permission"]) == ("TRANSFER", "ADMIN")
    second = await invite(org, primary, thread, full, type="TRANSFER")
    assert codes(second) == [("CONFLICT", ["input", "threadId"])]
    answer = await respond(org, successor, sent["id"])
    assert not answer["userErrors"]
    assert (answer["collaborator"]["role"], answer["collaborator"]["permission"]) == ("PRIMARY", "ADMIN")
    view = await thread_view(org, thread)
    assert view["primaryAgent"]["id"] == successor.id and view["lastPrimaryAgent"]["id"] == primary.id
    assert view["transferCount"] == handed_on + 1
    places = {c["agent"]["id"]: (c["role"], c["permission"]) for c in view["collaborators"]}
    assert places == {successor.id: ("PRIMARY", "ADMIN"), primary.id: ("EXPERT", "WRITE")}
    assert await agent_counts(org, primary) == (0, 1)
    assert await agent_counts(org, successor) == (1, 0)
    # The former primary no longer manages the thread.
    other = await org.create_agent("Other")
    assert codes(await invite(org, primary, thread, other)) == [("FORBIDDEN_ACTION", None)]


async def test_resolve_revokes_places_and_cancels_invites(org: Org) -> None:
    primary = await org.create_agent("Prim")
    expert = await org.create_agent("Exp")
    invitee = await org.create_agent("Invitee")
    chief = await org.create_agent("Chief", role="SUPERVISOR")
    thread = await active_thread(org, primary)
    await join(org, primary, thread, expert)
    open_invite = await invite_one(org, primary, thread, invitee)

    refused = await org.data(RESOLVE, {"i": {"threadId": thread}}, token=expert.token)
    assert codes(refused["resolveThread"]) == [("FORBIDDEN_ACTION", None)]
    done = await org.data(RESOLVE, {"i": {"threadId": thread}}, token=primary.token)
    resolved = done["resolveThread"]["thread"]
    assert resolved["status"] == "RESOLVED" and resolved["resolvedAt"]
    assert resolved["primaryAgent"] is None and resolved["lastPrimaryAgent"]["id"] == primary.id
    view = await thread_view(org, thread)
    assert view["collaborators"] == [] and all(not c["active"] for c in view["everyone"])
    assert view["invites"]["edges"][0]["node"]["status"] == "CANCELLED"
    assert await agent_counts(org, primary) == (0, 0) and await agent_counts(org, expert) == (0, 0)
    assert codes(await respond(org, invitee, open_invite["id"]))[0][0] == "NOT_ANSWERABLE"
    assert codes(await invite(org, primary, thread, invitee)) == [("CONFLICT", ["input", "threadId"])]
    again = await org.data(RESOLVE, {"i": {"threadId": thread}}, token=chief.token)
    assert codes(again["resolveThread"]) == [("CONFLICT", ["input", "threadId"])]

    # A supervisor may resolve; with unassignOnResolve off the primary stays.
    await settings(org, unassignOnResolve=False)
    second = await active_thread(org, primary)
    kept = await org.data(RESOLVE, {"i": {"threadId": second}}, token=chief.token)
    assert kept["resolveThread"]["thread"]["primaryAgent"]["id"] == primary.id
    # Invites to a resolved thread are refused even by an admin.
    body = await org.data(
        """mutation($i: InviteCollaboratorsInput!) { inviteCollaborators(input: $i) { userErrors { code field } } }""",
        {"i": {"threadId": second, "inviteeIds": [invitee.id]}},
    )
    assert body["inviteCollaborators"]["userErrors"] == [{"code": "CONFLICT", "field": ["input", "threadId"]}]
