"""What each caller sees of a mixed conversation: the visitor never an INTERNAL message nor an agent's identity.

Through every door: Thread.messages, node, nodes and conversationEvents (live and replayed),
before and after the organization renames its serviceName.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.collab_support import join
from tests.conftest import AgentHandle, Org
from tests.conversation_support import (
    CONVERSATION,
    NODE,
    NODES,
    Conv,
    active,
    events,
    listening,
    page,
    posted,
    start,
)
from tests.queue_support import claim, transfer, update_settings


@dataclass
class Mixed:
    conv: Conv
    ann: AgentHandle
    exp: AgentHandle
    sue: AgentHandle
    sent: list[dict[str, Any]]

    def ids(self, *bodies: str) -> list[str]:
        by_body = {m["body"]: m["id"] for m in self.sent}
        return [by_body[b] for b in bodies]


# (body, sender, visibility) in the order posted; sender "bot", "visitor", "admin" or an agent's key.
SCRIPT = [
    ("bot: hello", "bot", "PUBLIC"),
    ("visitor: I need help", "visitor", "PUBLIC"),
    ("ann: hi, Ann here", "ann", "PUBLIC"),
    ("ann: VIP, careful", "ann", "INTERNAL"),
    ("exp: try a refund", "exp", "INTERNAL"),
    ("admin: system notice", "admin", "PUBLIC"),
    ("admin: audit note", "admin", "INTERNAL"),
    ("sue: well handled", "sue", "INTERNAL"),
    ("visitor: thanks", "visitor", "PUBLIC"),
]
PUBLIC = [b for b, _, v in SCRIPT if v == "PUBLIC"]


async def _mixed(org: Org, *, before_active: Any = None) -> Mixed:
    """A thread with every kind of sender, PUBLIC and INTERNAL."""
    conv = await start(org, "Vera")
    ann = await org.create_agent("Ann")
    exp = await org.create_agent("Exp")
    sue = await org.create_agent("Sue", role="SUPERVISOR")
    tokens = {
        "bot": org.token("service"),
        "visitor": conv.visitor_token,
        "admin": org.token("admin"),
        "ann": ann.token,
        "exp": exp.token,
        "sue": sue.token,
    }
    sent = [await posted(org, tokens["bot"], conv.thread_id, SCRIPT[0][0])]
    sent.append(await posted(org, tokens["visitor"], conv.thread_id, SCRIPT[1][0]))
    queue = await org.data('mutation { createQueue(input: {name: "q", routingStrategy: MANUAL}) { queue { id } } }')
    moved = await transfer(org, conv.thread_id, queueId=queue["createQueue"]["queue"]["id"])
    assert (await claim(org, ann, moved["data"]["requestTransfer"]["queueEntry"]["id"]))["userErrors"] == []
    await join(org, ann, conv.thread_id, exp)
    if before_active is not None:
        await before_active(conv)
    for i, (body, sender, visibility) in enumerate(SCRIPT[2:]):
        sent.append(await posted(org, tokens[sender], conv.thread_id, body, visibility=visibility, server=i))
    return Mixed(conv, ann, exp, sue, sent)


def _as_visitor(body: str, service_name: str, visitor_name: str = "Vera") -> dict[str, Any]:
    """What the visitor must see of a PUBLIC message: no author, one service identity."""
    sender = body.split(":", 1)[0]
    kind = {"bot": "BOT", "visitor": "VISITOR", "admin": "SYSTEM"}.get(sender, "AGENT")
    name = visitor_name if kind == "VISITOR" else service_name
    return {"body": body, "senderKind": kind, "visibility": "PUBLIC", "author": None, "displayName": name}


def _shown(message: dict[str, Any]) -> dict[str, Any]:
    return {k: message[k] for k in ("body", "senderKind", "visibility", "author", "displayName")}


async def _visitor_reads(org: Org, mixed: Mixed, service_name: str, server: int = 0) -> None:
    token = mixed.conv.visitor_token
    connection = await page(org, mixed.conv.thread_id, token=token, server=server, first=50)
    assert [_shown(e["node"]) for e in connection["edges"]] == [_as_visitor(b, service_name) for b in PUBLIC]
    assert connection["totalCount"] == len(PUBLIC)
    # Asking for INTERNAL changes nothing: the visitor has none.
    only_internal = await page(org, mixed.conv.thread_id, token=token, server=server, v=["INTERNAL"])
    assert (only_internal["totalCount"], only_internal["edges"]) == (0, [])
    both = await page(org, mixed.conv.thread_id, token=token, server=server, v=["PUBLIC", "INTERNAL"])
    assert both["totalCount"] == len(PUBLIC)
    note, agent_public, system = mixed.ids("ann: VIP, careful", "ann: hi, Ann here", "admin: system notice")
    assert (await org.data(NODE, {"id": note}, token=token, server=server))["node"] is None
    shown = (await org.data(NODE, {"id": agent_public}, token=token, server=server))["node"]
    assert _shown(shown) == _as_visitor("ann: hi, Ann here", service_name)
    many = (await org.data(NODES, {"ids": [agent_public, note, system]}, token=token, server=server))["nodes"]
    assert many[1] is None
    assert [_shown(many[0]), _shown(many[2])] == [
        _as_visitor("ann: hi, Ann here", service_name),
        _as_visitor("admin: system notice", service_name),
    ]


def _as_agent(mixed: Mixed, body: str, service_name: str) -> dict[str, Any]:
    sender = body.split(":", 1)[0]
    visibility = next(v for b, _, v in SCRIPT if b == body)
    agents = {"ann": mixed.ann, "exp": mixed.exp, "sue": mixed.sue}
    if sender in agents:
        agent = agents[sender]
        return {
            "body": body,
            "senderKind": "AGENT",
            "visibility": visibility,
            "author": {"id": agent.id, "name": agent.name},
            "displayName": agent.name,
        }
    kind = {"bot": "BOT", "visitor": "VISITOR", "admin": "SYSTEM"}[sender]
    name = "Vera" if kind == "VISITOR" else service_name
    return {"body": body, "senderKind": kind, "visibility": visibility, "author": None, "displayName": name}


async def test_the_visitor_reads_public_messages_under_one_service_identity(org: Org) -> None:
    mixed = await _mixed(org)
    await _visitor_reads(org, mixed, "Support")
    # Renaming the service renames every earlier message too, on every process.
    await update_settings(org, serviceName="Acme Help")
    for server in (0, 1):
        await _visitor_reads(org, mixed, "Acme Help", server)


async def test_agents_who_may_read_see_everything_with_names(org: Org) -> None:
    mixed = await _mixed(org)
    await update_settings(org, serviceName="Acme Help")
    everything = [b for b, _, _ in SCRIPT]
    # Decision (the contract names agents; admins read everything; analysts "every query"): analysts read
    # INTERNAL notes and names too, as the people who review conversations.
    for token in (mixed.ann.token, mixed.exp.token, mixed.sue.token, org.token("admin"), org.token("analyst")):
        connection = await page(org, mixed.conv.thread_id, token=token, first=50)
        assert [_shown(e["node"]) for e in connection["edges"]] == [
            _as_agent(mixed, b, "Acme Help") for b in everything
        ]
        assert connection["totalCount"] == len(everything)
        internal = await page(org, mixed.conv.thread_id, token=token, v=["INTERNAL"])
        assert [e["node"]["body"] for e in internal["edges"]] == [b for b, _, v in SCRIPT if v == "INTERNAL"]
        assert internal["totalCount"] == 4
    note = mixed.ids("ann: VIP, careful")[0]
    node = (await org.data(NODE, {"id": note}, token=mixed.exp.token))["node"]
    assert _shown(node) == _as_agent(mixed, "ann: VIP, careful", "Acme Help")
    assert node["thread"] == {"id": mixed.conv.thread_id}
    # An agent with no place on the thread (not a supervisor) reads none of it.
    stranger = await org.create_agent("Stranger")
    assert (await org.data(NODE, {"id": note}, token=stranger.token))["node"] is None


async def test_the_visitor_stream_masks_and_filters_live_and_replayed(org: Org) -> None:
    clients: list[Any] = []
    subs: dict[str, Any] = {}

    async def watch(conv: Conv) -> None:
        visitor = await org.ws(conv.visitor_token, server=1)
        agent = await org.ws(org.token("admin"), server=0)
        clients.extend([visitor, agent])
        subs["visitor"] = await visitor.subscribe(CONVERSATION, {"t": conv.thread_id})
        subs["admin"] = await agent.subscribe(CONVERSATION, {"t": conv.thread_id})
        await listening(subs["visitor"], subs["admin"])

    live_public = [b for b, _, v in SCRIPT[2:] if v == "PUBLIC"]
    try:
        mixed = await _mixed(org, before_active=watch)
        seen = await events(subs["visitor"], len(live_public))
        assert [e["kind"] for e in seen] == ["MESSAGE"] * len(live_public)
        assert [_shown(e["message"]) for e in seen] == [_as_visitor(b, "Support") for b in live_public]
        await subs["visitor"].nothing(0.6)
        every = await events(subs["admin"], len(SCRIPT) - 2)
        assert [_shown(e["message"]) for e in every] == [_as_agent(mixed, b, "Support") for b, _, _ in SCRIPT[2:]]
    finally:
        for client in clients:
            await client.close()
    # Replayed after the first live event (on the other process): the same filter, the same mask, the same cursors.
    client = await org.ws(mixed.conv.visitor_token, server=0)
    try:
        sub = await client.subscribe(CONVERSATION, {"t": mixed.conv.thread_id, "after": seen[0]["cursor"]})
        replayed = await events(sub, len(live_public) - 1)
        assert replayed == seen[1:]
        await sub.nothing(0.6)
        # Live again, after a rename: the new service name, still no author.
        await update_settings(org, serviceName="Acme Help")
        later = await posted(org, mixed.ann.token, mixed.conv.thread_id, "ann: anything else?", server=1)
        await posted(org, mixed.ann.token, mixed.conv.thread_id, "ann: internal again", visibility="INTERNAL")
        event = (await sub.next(10))["conversationEvents"]
        assert event["message"]["id"] == later["id"]
        assert _shown(event["message"]) == _as_visitor("ann: anything else?", "Acme Help")
        await sub.nothing(0.6)
    finally:
        await client.close()


async def test_a_visitor_token_reads_no_other_thread(org: Org) -> None:
    ann = await org.create_agent("Ann")
    mine = await active(org, ann)
    other = await active(org, ann)
    secret = await posted(org, ann.token, other.thread_id, "for the other visitor")
    token = mine.visitor_token
    # Null, with the FORBIDDEN error the project gives a visitor touching another thread (test_roles).
    for query, variables in (
        (NODE, {"id": secret["id"]}),
        ("query($t: ID!) { thread(id: $t) { messages { totalCount } } }", {"t": other.thread_id}),
    ):
        body = await org.gql(query, variables, token=token)
        assert list((body.get("data") or {}).values()) in ([None], []), body
        assert [e["extensions"]["code"] for e in body.get("errors", [])] in ([], ["FORBIDDEN"]), body
    client = await org.ws(token)
    try:
        sub = await client.subscribe(CONVERSATION, {"t": other.thread_id})
        assert await sub.refusal() == "FORBIDDEN"
    finally:
        await client.close()


STAFF = "primaryAgent { id name } lastPrimaryAgent { id name } collaborators { id agent { id name } }"


async def test_no_path_through_a_message_leads_the_visitor_to_an_agent(org: Org) -> None:
    """ "The visitor never sees ... an agent's identity or name, in any response or stream": not through
    Message.thread either (the thread's staff fields read as they do on Query.thread for a visitor)."""
    ann = await org.create_agent("Ann")
    conv = await active(org, ann)
    said = await posted(org, ann.token, conv.thread_id, "hello from Ann")
    token = conv.visitor_token
    client = await org.ws(token)
    try:
        sub = await client.subscribe(
            f"""subscription($t: ID!) {{ conversationEvents(threadId: $t) {{ kind
                  message {{ author {{ id }} displayName thread {{ {STAFF} }} }} }} }}""",
            {"t": conv.thread_id},
        )
        await listening(sub)
        sent = await org.data(
            f"""mutation($i: SendMessageInput!) {{ sendMessage(input: $i) {{
                  message {{ thread {{ {STAFF} }} }} thread {{ {STAFF} }} }} }}""",
            {"i": {"threadId": conv.thread_id, "body": "who is this?"}},
            token=token,
        )
        await posted(org, ann.token, conv.thread_id, "Ann again")
        streamed = [(await sub.next())["conversationEvents"] for _ in range(2)]
    finally:
        await client.close()
    read = await org.data(
        f"query($id: ID!) {{ node(id: $id) {{ ... on Message {{ author {{ id }} thread {{ {STAFF} }} }} }} }}",
        {"id": said["id"]},
        token=token,
    )
    hidden: dict[str, Any] = {"primaryAgent": None, "lastPrimaryAgent": None, "collaborators": []}
    threads = [
        sent["sendMessage"]["thread"],
        sent["sendMessage"]["message"]["thread"],
        read["node"]["thread"],
        *(e["message"]["thread"] for e in streamed),
    ]
    assert threads == [hidden] * 5
    assert read["node"]["author"] is None and streamed[1]["message"]["author"] is None
    assert streamed[1]["message"]["displayName"] == "Support"
