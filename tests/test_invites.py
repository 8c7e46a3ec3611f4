"""Invites: the rate limit, who reads them, transfers to another agent (continued from test_collaboration)."""

from __future__ import annotations

import pytest

from tests.collab_support import (
    TRANSFER,
    active_thread,
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


async def test_invites_per_agent_per_minute(org: Org) -> None:
    await settings(org, invitesPerAgentPerMinute=3, collaboratorLimitNormal=10)
    primary = await org.create_agent("Prim")
    agents = [await org.create_agent(f"A{i}") for i in range(5)]
    thread = await active_thread(org, primary)
    first = await invite(org, primary, thread, agents[0], server=0)
    second = await invite(org, primary, thread, agents[1], server=1)
    rest = await invite(org, primary, thread, agents[2], agents[3], agents[4], server=0)
    assert len(first["invites"]) == len(second["invites"]) == 1
    assert len(rest["invites"]) == 1
    assert codes(rest) == [
        ("RATE_LIMITED", ["input", "inviteeIds", "1"]),
        ("RATE_LIMITED", ["input", "inviteeIds", "2"]),
    ]
    # A refused invitee does not use up the allowance of another agent.
    other = await org.create_agent("OtherPrim")
    thread2 = await active_thread(org, other)
    assert len((await invite(org, other, thread2, agents[3], server=1))["invites"]) == 1


async def test_invite_reads_and_visibility(org: Org) -> None:
    primary = await org.create_agent("Prim")
    expert = await org.create_agent("Exp")
    invitee = await org.create_agent("Inv")
    outsider = await org.create_agent("Out")
    chief = await org.create_agent("Chief", role="SUPERVISOR")
    thread = await active_thread(org, primary)
    await join(org, primary, thread, expert)
    sent = await invite_one(org, primary, thread, invitee, type="GUIDE")
    query = """query($f: InviteFilter) { invites(filter: $f) { totalCount edges { node { id status type } } } }"""

    async def seen(token: str, flt: dict[str, object] | None = None) -> int:
        return (await org.data(query, {"f": flt}, token=token))["invites"]["totalCount"]  # type: ignore[no-any-return]

    assert await seen(primary.token) == 2  # sent
    assert await seen(expert.token) == 2  # received one, and on the thread
    assert await seen(invitee.token) == 1  # received
    assert await seen(outsider.token) == 0
    assert await seen(chief.token) == 2
    assert await seen(org.token("analyst")) == 2
    assert await seen(org.token("service")) == 2
    assert await seen(org.token("admin"), {"status": ["PENDING"]}) == 1
    assert await seen(org.token("admin"), {"type": ["GUIDE"], "inviteeId": invitee.id}) == 1
    assert await seen(org.token("admin"), {"inviterId": expert.id}) == 0
    assert await seen(org.token("admin"), {"threadId": thread}) == 2
    _, visitor_token = await org.start_thread()
    body = await org.gql(query, token=visitor_token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    pending = await org.data("{ viewer { pendingInvites { id } threads { totalCount } } }", token=invitee.token)
    assert pending["viewer"] == {"pendingInvites": [{"id": sent["id"]}], "threads": {"totalCount": 0}}
    mine = await org.data("{ viewer { threads { edges { node { id viewerPermission } } } } }", token=expert.token)
    assert mine["viewer"]["threads"]["edges"] == [{"node": {"id": thread, "viewerPermission": "WRITE"}}]
    assert await thread_view(org, thread, token=outsider.token) is None
    assert (await thread_view(org, thread, token=chief.token))["viewerPermission"] == "READ"
    listed = await org.data("{ threads { totalCount } }", token=outsider.token)
    assert listed["threads"]["totalCount"] == 0


async def test_request_transfer_to_an_agent_sends_a_transfer_invite(org: Org) -> None:
    primary = await org.create_agent("Prim")
    expert = await org.create_agent("Exp")
    successor = await org.create_agent("Next")
    thread = await active_thread(org, primary)
    await join(org, primary, thread, expert)
    variables = {"i": {"threadId": thread, "toAgentId": successor.id, "reason": "billing", "priority": "HIGH"}}

    unknown = await org.data(TRANSFER, {"i": {"threadId": thread, "toAgentId": thread}}, token=primary.token)
    assert codes(unknown["requestTransfer"])[0] == ("INVALID", ["input", "toAgentId"])
    refused = await org.data(TRANSFER, variables, token=expert.token)
    assert codes(refused["requestTransfer"]) == [("FORBIDDEN_ACTION", None)]
    sent = (await org.data(TRANSFER, variables, token=primary.token))["requestTransfer"]
    assert not sent["userErrors"] and sent["queueEntry"] is None and sent["thread"]["id"] == thread
    inv = sent["invite"]
    assert (inv["type"], inv["permission"], inv["urgency"], inv["message"]) == ("TRANSFER", "ADMIN", "HIGH", "billing")
    again = await org.data(TRANSFER, variables, token=org.token("service"))
    assert codes(again["requestTransfer"]) == [("CONFLICT", ["input", "threadId"])]

    answer = await respond(org, successor, inv["id"])
    assert answer["collaborator"]["role"] == "PRIMARY"
    view = await thread_view(org, thread)
    assert view["primaryAgent"]["id"] == successor.id
    assert {c["agent"]["id"]: c["role"] for c in view["collaborators"]} == {
        successor.id: "PRIMARY",
        primary.id: "EXPERT",
        expert.id: "EXPERT",
    }
    # The service hands over on behalf of the (new) primary.
    sent = await org.data(TRANSFER, {"i": {"threadId": thread, "toAgentId": expert.id}}, token=org.token("service"))
    assert codes(sent["requestTransfer"]) == [("CONFLICT", ["input", "toAgentId"])]  # already on the thread
    back = await org.create_agent("Back")
    sent = await org.data(TRANSFER, {"i": {"threadId": thread, "toAgentId": back.id}}, token=org.token("service"))
    assert sent["requestTransfer"]["invite"]["inviter"]["id"] == successor.id


async def test_only_the_primary_hands_the_thread_over(org: Org) -> None:
    """An ADMIN collaborator manages helpers but may not give the thread away (review fix)."""
    primary = await org.create_agent("Prim")
    deputy = await org.create_agent("Deputy")
    successor = await org.create_agent("Next")
    thread = await active_thread(org, primary)
    await join(org, primary, thread, deputy, type="GUIDE", permission="ADMIN")

    refused = await invite(org, deputy, thread, successor, type="TRANSFER")
    assert codes(refused) == [("FORBIDDEN_ACTION", None)] and refused["invites"] == []
    variables = {"i": {"threadId": thread, "toAgentId": successor.id}}
    refused = (await org.data(TRANSFER, variables, token=deputy.token))["requestTransfer"]
    assert codes(refused) == [("FORBIDDEN_ACTION", None)] and refused["invite"] is None
    # The deputy still invites helpers; the primary still hands over.
    assert (await invite_one(org, deputy, thread, successor))["type"] == "EXPERT"
    other = await org.create_agent("Other")
    sent = await org.data(TRANSFER, {"i": {"threadId": thread, "toAgentId": other.id}}, token=primary.token)
    assert sent["requestTransfer"]["invite"]["type"] == "TRANSFER"
