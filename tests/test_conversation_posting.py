"""Who may post what (contract 3, "Conversation"): roles, thread status, places on the thread.

A refused message writes nothing (no message row, no event row) and sends nothing on
conversationEvents; every accepted one is seen there once, in order.
"""

from __future__ import annotations

from typing import Any

from tests.collab_support import CHANGE, join
from tests.conftest import AgentHandle, Org
from tests.conversation_support import (
    CONVERSATION,
    Conv,
    active,
    events,
    listening,
    manual_queue,
    outcome,
    posted,
    queued,
    resolve,
    send,
    start,
    stored,
)
from tests.queue_support import claim, transfer
from tests.wsclient import Subscription


async def _refused(org: Org, token: str, thread_id: str, expected: str, visibility: str | None = None) -> None:
    """A message that must be refused with ``expected`` and leave no row and no event behind."""
    before = await stored(org)
    response = await send(org, token, thread_id, f"refused {expected}", visibility=visibility)
    assert outcome(response) == expected, response
    if not response.get("errors"):
        assert response["data"]["sendMessage"]["message"] is None, response
    assert await stored(org) == before


def _said(sent: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [("MESSAGE", m["id"]) for m in sent]


async def _drain(sub: Subscription, expected: list[tuple[str, str]]) -> None:
    """The watcher saw exactly ``expected`` ((MESSAGE, id) or (STATUS_CHANGED, status)), in order, and nothing else."""
    seen = await events(sub, len(expected))
    got = [(e["kind"], e["message"]["id"] if e["kind"] == "MESSAGE" else e["status"]) for e in seen]
    assert got == expected, seen
    assert all(e["cursor"] for e in seen)
    await sub.nothing(0.6)


async def test_the_visitor_posts_public_messages_while_the_thread_is_open(org: Org) -> None:
    conv = await start(org, "Vera")
    watcher = await org.ws(org.token("admin"), server=1)
    try:
        sub = await watcher.subscribe(CONVERSATION, {"t": conv.thread_id})
        await listening(sub)
        sent = [await posted(org, conv.visitor_token, conv.thread_id, "in BOT")]
        await transfer(org, conv.thread_id, queueId=await manual_queue(org))
        queued_message = await posted(org, conv.visitor_token, conv.thread_id, "in QUEUED")
        agent = await org.create_agent("Ann")
        mine = await active(org, agent, name="Vic")
        await _refused(org, mine.visitor_token, mine.thread_id, "FORBIDDEN", visibility="INTERNAL")
        # Another thread of the same organization is not the visitor's: FORBIDDEN (contract 2's own example).
        await _refused(org, mine.visitor_token, conv.thread_id, "FORBIDDEN")
        await _refused(org, conv.visitor_token, conv.thread_id, "FORBIDDEN", visibility="INTERNAL")
        active_message = await posted(org, mine.visitor_token, mine.thread_id, "in ACTIVE")
        await _drain(sub, [*_said(sent), ("STATUS_CHANGED", "QUEUED"), *_said([queued_message])])
        sent.append(queued_message)
    finally:
        await watcher.close()
    for message, body in zip([*sent, active_message], ("in BOT", "in QUEUED", "in ACTIVE"), strict=True):
        assert (message["senderKind"], message["visibility"], message["body"]) == ("VISITOR", "PUBLIC", body)
        assert message["author"] is None
    assert sent[0]["displayName"] == "Vera" and active_message["displayName"] == "Vic"


async def test_the_bot_keeps_the_visitor_company_until_a_human_has_the_thread(org: Org) -> None:
    conv = await start(org)
    service = org.token("service")
    watcher = await org.ws(org.token("admin"))
    try:
        sub = await watcher.subscribe(CONVERSATION, {"t": conv.thread_id})
        await listening(sub)
        sent = [await posted(org, service, conv.thread_id, "Hi, I am the bot", server=1)]
        # The bot posts PUBLIC only: an internal note is not the bot's to write (the contract lists PUBLIC).
        await _refused(org, service, conv.thread_id, "FORBIDDEN", visibility="INTERNAL")
        queue_id = await manual_queue(org)
        entry = (await transfer(org, conv.thread_id, queueId=queue_id))["data"]["requestTransfer"]["queueEntry"]
        sent.append(await posted(org, service, conv.thread_id, "Someone is coming"))
        await _drain(sub, [*_said(sent[:1]), ("STATUS_CHANGED", "QUEUED"), *_said(sent[1:])])
        ann = await org.create_agent("Ann")
        taken = await org.data(
            "mutation($e: ID!) { claimQueueEntry(input: {queueEntryId: $e}) { userErrors { code } } }",
            {"e": entry["id"]},
            token=ann.token,
        )
        assert taken["claimQueueEntry"]["userErrors"] == []
        await _refused(org, service, conv.thread_id, "CONFLICT")
        await _drain(sub, [("STATUS_CHANGED", "ACTIVE")])
    finally:
        await watcher.close()
    for message in sent:
        assert (message["senderKind"], message["visibility"], message["author"]) == ("BOT", "PUBLIC", None)
        assert message["displayName"] == "Support"


async def _team(org: Org) -> tuple[Conv, dict[str, AgentHandle]]:
    """An ACTIVE thread with an agent in every place the contract names, and two with none."""
    await org.data("mutation { updateSettings(input: {collaboratorLimitNormal: 10}) { userErrors { code } } }")
    names = ("primary", "writer", "admin", "guide", "reader", "observer", "outsider")
    team = {name: await org.create_agent(name.title()) for name in names}
    team["supervisor"] = await org.create_agent("Sue", role="SUPERVISOR")
    conv = await active(org, team["primary"])
    p = team["primary"]
    await join(org, p, conv.thread_id, team["writer"])
    await join(org, p, conv.thread_id, team["admin"], permission="ADMIN")
    await join(org, p, conv.thread_id, team["guide"], type="GUIDE")
    await join(org, p, conv.thread_id, team["reader"], permission="READ")
    await join(org, p, conv.thread_id, team["observer"], type="OBSERVER")
    return conv, team


# (PUBLIC, INTERNAL) by place on an ACTIVE thread.
AGENT_MATRIX = {
    "primary": ("ok", "ok"),
    "writer": ("ok", "ok"),
    "admin": ("ok", "ok"),
    "guide": ("FORBIDDEN_ACTION", "ok"),
    "reader": ("FORBIDDEN_ACTION", "FORBIDDEN_ACTION"),
    "observer": ("FORBIDDEN_ACTION", "FORBIDDEN_ACTION"),
    "outsider": ("FORBIDDEN_ACTION", "FORBIDDEN_ACTION"),
    "supervisor": ("FORBIDDEN_ACTION", "ok"),
}


async def test_agents_post_by_their_place_on_the_thread(org: Org) -> None:
    conv, team = await _team(org)
    watcher = await org.ws(org.token("admin"), server=1)
    sent: list[dict[str, Any]] = []
    try:
        sub = await watcher.subscribe(CONVERSATION, {"t": conv.thread_id})
        await listening(sub)
        for i, (place, verdicts) in enumerate(AGENT_MATRIX.items()):
            agent = team[place]
            for visibility, verdict in zip(("PUBLIC", "INTERNAL"), verdicts, strict=True):
                if verdict != "ok":
                    await _refused(org, agent.token, conv.thread_id, verdict, visibility)
                    continue
                message = await posted(
                    org, agent.token, conv.thread_id, f"{place} {visibility}", visibility=visibility, server=i
                )
                assert (message["senderKind"], message["visibility"]) == ("AGENT", visibility)
                assert message["author"] == {"id": agent.id, "name": agent.name}
                # To agents, displayName is the author's name.
                assert message["displayName"] == agent.name
                sent.append(message)
        for visibility in ("PUBLIC", "INTERNAL"):
            system = await posted(org, org.token("admin"), conv.thread_id, f"admin {visibility}", visibility=visibility)
            assert (system["senderKind"], system["visibility"], system["author"]) == ("SYSTEM", visibility, None)
            assert system["displayName"] == "Support"
            sent.append(system)
            await _refused(org, org.token("analyst"), conv.thread_id, "FORBIDDEN", visibility)
        await _refused(org, "", conv.thread_id, "UNAUTHENTICATED")
        await _drain(sub, _said(sent))
    finally:
        await watcher.close()


async def test_agents_post_while_queued_and_not_once_resolved(org: Org) -> None:
    prim, writer = await org.create_agent("Prim"), await org.create_agent("Writer")
    sue = await org.create_agent("Sue", role="SUPERVISOR")
    conv = await active(org, prim)
    await join(org, prim, conv.thread_id, writer)
    handed = await transfer(
        org, conv.thread_id, token=prim.token, queueId=await manual_queue(org), trigger="AGENT_REQUEST"
    )
    assert handed["data"]["requestTransfer"]["thread"]["status"] == "QUEUED", handed
    # The helper stays on the queued thread and keeps talking; the former primary has no place left.
    assert (await posted(org, writer.token, conv.thread_id, "still here", server=1))["senderKind"] == "AGENT"
    await posted(org, writer.token, conv.thread_id, "note", visibility="INTERNAL")
    await posted(org, sue.token, conv.thread_id, "coaching", visibility="INTERNAL")
    await _refused(org, sue.token, conv.thread_id, "FORBIDDEN_ACTION", "PUBLIC")
    await _refused(org, prim.token, conv.thread_id, "FORBIDDEN_ACTION", "PUBLIC")
    # The helper takes it from the queue and resolves it (only an ACTIVE thread can be resolved).
    entry = handed["data"]["requestTransfer"]["queueEntry"]["id"]
    assert (await claim(org, writer, entry))["userErrors"] == []
    await resolve(org, writer, conv.thread_id)
    # Resolving revokes every collaborator and the thread is no longer QUEUED or ACTIVE. The contract
    # allows two readings (a status refusal, CONFLICT, as for the visitor and the bot; or "everything
    # else", FORBIDDEN_ACTION): either, as long as nothing is written.
    for agent in (writer, prim):
        for visibility in ("PUBLIC", "INTERNAL"):
            before = await stored(org)
            response = await send(org, agent.token, conv.thread_id, "after the end", visibility=visibility)
            assert outcome(response) in ("CONFLICT", "FORBIDDEN_ACTION"), response
            assert await stored(org) == before


async def test_a_permission_change_decides_the_next_message(org: Org) -> None:
    prim, helper = await org.create_agent("Prim"), await org.create_agent("Helper")
    conv = await active(org, prim)
    await join(org, prim, conv.thread_id, helper)
    await posted(org, helper.token, conv.thread_id, "as writer")

    async def change(server: int, **values: str) -> None:
        data = await org.data(
            CHANGE, {"i": {"threadId": conv.thread_id, "agentId": helper.id, **values}}, token=prim.token, server=server
        )
        assert data["changePermission"]["userErrors"] == [], data

    await change(1, permission="READ")
    for server in (0, 1):
        response = await send(org, helper.token, conv.thread_id, "as reader", server=server)
        assert outcome(response) == "FORBIDDEN_ACTION", response
    await change(0, permission="WRITE")
    await posted(org, helper.token, conv.thread_id, "writer again", server=1)
    await change(1, permission="WRITE", role="GUIDE")
    assert outcome(await send(org, helper.token, conv.thread_id, "guide public")) == "FORBIDDEN_ACTION"
    await posted(org, helper.token, conv.thread_id, "guide note", visibility="INTERNAL")
    history = await org.data(
        "query($t: ID!) { thread(id: $t) { messages { totalCount edges { node { body } } } } }",
        {"t": conv.thread_id},
        token=prim.token,
    )
    got = [e["node"]["body"] for e in history["thread"]["messages"]["edges"]]
    assert got == ["as writer", "writer again", "guide note"]
    assert history["thread"]["messages"]["totalCount"] == 3


async def test_queued_helpers_and_visitor_keep_one_order(org: Org) -> None:
    """Messages of several senders on two processes come back in one order, the order they were accepted."""
    conv = await queued(org)
    service = org.token("service")
    sent = []
    for i in range(6):
        token = conv.visitor_token if i % 2 == 0 else service
        sent.append(await posted(org, token, conv.thread_id, f"m{i}", server=i))
    data = await org.data(
        "query($t: ID!) { thread(id: $t) { messages(first: 10) { edges { node { id body } } } } }",
        {"t": conv.thread_id},
        server=1,
    )
    assert [e["node"]["id"] for e in data["thread"]["messages"]["edges"]] == [m["id"] for m in sent]
