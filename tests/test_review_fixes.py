"""Regressions found in the cross-cutting review (bad input, tenancy, event backbone)."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime

import redis.asyncio as aioredis

from switchboard.events.codec import BusEvent
from switchboard.events.transport import RedisTransport
from switchboard.events.types import SettingsChanged
from switchboard.rules import validation
from tests import dbcheck, servers
from tests.collab_support import (
    CHANGE,
    INVITE_EVENTS,
    LEAVE,
    THREAD_EVENTS,
    active_thread,
    invite_one,
    join,
    respond,
    settings,
)
from tests.conftest import Org

CREATE_AGENT = """mutation($n: String!) { createAgent(input: {name: $n}) {
  agent { id } userErrors { field code message } } }"""
TRANSFER_TO_AGENT = """mutation($i: RequestTransferInput!) { requestTransfer(input: $i) {
  invite { status } userErrors { field code } } }"""
TRANSFER = """mutation($t: ID!, $c: TransferContextInput) { requestTransfer(input: {threadId: $t, context: $c}) {
  thread { id status } userErrors { field code } } }"""


async def test_text_no_row_can_hold_is_invalid_on_every_backend(org: Org) -> None:
    """NUL (and an unpaired surrogate) used to pass on SQLite and fail as an internal error on PostgreSQL."""
    for bad in ("a\u0000b", "\u0000"):
        data = await org.data(CREATE_AGENT, {"n": bad})
        (error,) = data["createAgent"]["userErrors"]
        assert data["createAgent"]["agent"] is None
        assert error["field"] == ["input", "name"] and error["code"] == "INVALID"
    assert await dbcheck.count(org.stack, "agent", org.id) == 0

    await org.data('mutation { createQueue(input: {name: "q"}) { userErrors { code } } }')
    thread_id, _ = await org.start_thread()
    service = org.token("service")
    for context, field in (
        ({"extra": {"k": "a\u0000b"}}, ["input", "context", "extra"]),
        ({"extra": {"a\u0000": 1}}, ["input", "context", "extra"]),
        ({"summary": "x\u0000"}, ["input", "context", "summary"]),
        ({"transcript": [{"from": "bot", "text": "\u0000"}]}, ["input", "context", "transcript", "0", "text"]),
        ({"tags": ["ok", "t\u0000"]}, ["input", "context", "tags", "1"]),
    ):
        data = await org.data(TRANSFER, {"t": thread_id, "c": context}, token=service)
        assert data["requestTransfer"] == {"thread": None, "userErrors": [{"field": field, "code": "INVALID"}]}
    assert await dbcheck.count(org.stack, "queue_entry", org.id) == 0

    # Searching for such text is a clear argument error, not an internal one.
    body = await org.gql("query($n: String) { queue(name: $n) { id } }", {"n": "a\u0000"})
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    body = await org.gql("query($n: String) { agents(filter: {department: $n}) { totalCount } }", {"n": "\u0000"})
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await org.data("{ viewer { role } }"))["viewer"]["role"] == "admin"


def test_unpaired_surrogates_are_not_storable() -> None:
    assert not validation.storable("a\ud800b")
    assert validation.storable("a\U0001f600b")
    assert not validation.storable_json({"k": ["x", "\udc00"]})


async def test_non_finite_number_in_extra_is_invalid(org: Org) -> None:
    """1e400 in a JSON body parses as infinity; jsonb refuses it and JSON cannot render it."""
    await org.data('mutation { createQueue(input: {name: "q"}) { userErrors { code } } }')
    thread_id, _ = await org.start_thread()
    query = TRANSFER.replace("$c: TransferContextInput", "").replace("context: $c", "context: {extra: {n: 1e400}}")
    data = await org.data(query, {"t": thread_id}, token=org.token("service"))
    assert data["requestTransfer"]["userErrors"] == [{"field": ["input", "context", "extra"], "code": "INVALID"}]


async def test_a_failing_delivery_does_not_end_the_redis_subscription() -> None:
    """An exception while delivering one event (a gap fill with the database away) used to kill
    the process's only Redis listener for good; later events must still arrive."""
    client = aioredis.from_url(servers.REDIS_URL)
    transport = RedisTransport(client, f"sbtest-review-{secrets.token_hex(4)}:events")
    delivered: list[int] = []

    async def deliver(event: BusEvent) -> None:
        if event.seq == 1:
            raise RuntimeError("database unavailable")
        delivered.append(event.seq)

    await transport.start(deliver)
    try:
        await asyncio.wait_for(transport.connected.wait(), 10)
        now = datetime.now(UTC)
        event = SettingsChanged(org="o", changed=())
        assert await transport.publish([BusEvent(seq=1, at=now, event=event)])
        assert await transport.publish([BusEvent(seq=2, at=now, event=event)])
        for _ in range(200):
            if delivered:
                break
            await asyncio.sleep(0.05)
        assert delivered == [2]
    finally:
        await transport.stop()
        await client.aclose()


async def test_replaying_a_thread_i_left_and_rejoined_does_not_end_at_my_old_departure(org: Org) -> None:
    """threadEvents(after:) used to end the stream at a replayed COLLABORATOR_LEFT of the caller,
    although they are back on the thread now."""
    primary = await org.create_agent("Prim")
    expert = await org.create_agent("Exp")
    thread = await active_thread(org, primary)
    client = await org.ws(primary.token)
    try:
        console = await client.subscribe(THREAD_EVENTS, {"t": thread})
        await asyncio.sleep(0.2)
        await join(org, primary, thread, expert)
        first = (await console.next())["threadEvents"]
        left = await org.data(LEAVE, {"i": {"threadId": thread}}, token=expert.token)
        assert not left["leaveThread"]["userErrors"]
        await join(org, primary, thread, expert)
        kinds = [first["kind"]]
        while kinds.count("COLLABORATOR_JOINED") < 2:
            kinds.append((await console.next())["threadEvents"]["kind"])
        assert "COLLABORATOR_LEFT" in kinds
    finally:
        await client.close()

    resumed = await org.ws(expert.token, server=len(org.stack.servers) - 1)
    try:
        sub = await resumed.subscribe(THREAD_EVENTS, {"t": thread, "after": first["cursor"]})
        replayed = [(await sub.next())["threadEvents"]["kind"] for _ in range(len(kinds) - 1)]
        assert replayed == kinds[1:]
        # Still live after the replay.
        change = await org.data(
            CHANGE, {"i": {"threadId": thread, "agentId": expert.id, "permission": "READ"}}, token=primary.token
        )
        assert not change["changePermission"]["userErrors"]
        later = [(await sub.next())["threadEvents"]["kind"] for _ in range(2)]
        assert later == ["INVITE_CHANGED", "PERMISSION_CHANGED"]
    finally:
        await resumed.close()


async def test_a_cursor_beyond_any_seq_is_a_clear_error(org: Org) -> None:
    """A 19-digit cursor passed the format check and failed in the database (BIGINT overflow)."""
    agent = await org.create_agent("Ann")
    thread = await active_thread(org, agent)
    client = await org.ws(agent.token)
    try:
        for query, variables in (
            (INVITE_EVENTS, {"after": "e9999999999999999999"}),
            (THREAD_EVENTS, {"t": thread, "after": "e9999999999999999999"}),
            (INVITE_EVENTS, {"after": "e\u0663"}),  # an Arabic-Indic digit
        ):
            sub = await client.subscribe(query, variables)
            message = await sub.raw()
            errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
            assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"], errors
        ok = await client.subscribe(INVITE_EVENTS, {"after": "e1"})
        await ok.nothing(0.3)
    finally:
        await client.close()


INVITE_THREAD = """query($id: ID!) { node(id: $id) { ... on Invite { status thread { id status
  context { summary } primaryAgent { id } collaborators { id } invites { totalCount } queueEntry { id } } } } }"""


async def test_an_old_invite_is_no_window_into_the_conversation(org: Org) -> None:
    """A plain agent reached any thread they had once been invited to (or had invited to) through
    Invite.thread, long after the invite closed: context, collaborators, invites and all."""
    primary = await org.create_agent("Prim")
    guest = await org.create_agent("Guest")
    thread = await active_thread(org, primary)
    sent = await invite_one(org, primary, thread, guest)

    # While the invite is open the invitee sees what they are asked to join.
    open_view = (await org.data(INVITE_THREAD, {"id": sent["id"]}, token=guest.token))["node"]
    assert open_view["thread"]["primaryAgent"] == {"id": primary.id}
    assert len(open_view["thread"]["collaborators"]) == 1

    assert not (await respond(org, guest, sent["id"], "REJECT"))["userErrors"]
    closed = (await org.data(INVITE_THREAD, {"id": sent["id"]}, token=guest.token))["node"]
    assert closed["status"] == "REJECTED"
    assert closed["thread"] == {
        "id": thread,
        "status": "ACTIVE",
        "context": None,
        "primaryAgent": None,
        "collaborators": [],
        "invites": {"totalCount": 0},
        "queueEntry": None,
    }
    listed = await org.data(
        "{ invites { edges { node { id thread { id collaborators { id } } } } } }", token=guest.token
    )
    assert listed["invites"]["edges"] == [{"node": {"id": sent["id"], "thread": {"id": thread, "collaborators": []}}}]
    # The primary, who is on the thread, still sees it all through the same invite.
    mine = (await org.data(INVITE_THREAD, {"id": sent["id"]}, token=primary.token))["node"]
    assert mine["thread"]["primaryAgent"] == {"id": primary.id} and mine["thread"]["invites"]["totalCount"] == 1


async def test_an_invite_awaiting_approval_does_not_show_the_conversation_yet(org: Org) -> None:
    await settings(org, crossDepartmentApproval=True)
    primary = await org.create_agent("Prim", department="sales")
    guest = await org.create_agent("Guest", department="billing")
    thread = await active_thread(org, primary)
    sent = await invite_one(org, primary, thread, guest)
    assert sent["status"] == "PENDING_APPROVAL"
    view = (await org.data(INVITE_THREAD, {"id": sent["id"]}, token=guest.token))["node"]
    assert view["thread"]["id"] == thread
    assert view["thread"]["collaborators"] == [] and view["thread"]["primaryAgent"] is None


async def test_agent_to_agent_transfer_refuses_bad_input_it_would_ignore(org: Org) -> None:
    """requestTransfer(toAgentId) used to accept any requiredSkills and context (even over every limit)."""
    primary = await org.create_agent("Prim")
    target = await org.create_agent("Next")
    thread = await active_thread(org, primary)
    for extra, field in (
        ({"requiredSkills": ["s" * 101]}, ["input", "requiredSkills", "0"]),
        ({"context": {"summary": "x" * 2001}}, ["input", "context", "summary"]),
        ({"context": {"confidence": 1.5}}, ["input", "context", "confidence"]),
    ):
        data = await org.data(
            TRANSFER_TO_AGENT, {"i": {"threadId": thread, "toAgentId": target.id, **extra}}, token=primary.token
        )
        assert data["requestTransfer"] == {"invite": None, "userErrors": [{"field": field, "code": "INVALID"}]}
    assert await dbcheck.count(org.stack, "invite", org.id) == 0
    ok = await org.data(TRANSFER_TO_AGENT, {"i": {"threadId": thread, "toAgentId": target.id}}, token=primary.token)
    assert ok["requestTransfer"]["userErrors"] == [] and ok["requestTransfer"]["invite"]["status"] == "PENDING"
