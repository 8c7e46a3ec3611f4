"""sendMessage's input rules: the body, the idempotency key, threads that are not the caller's to see."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Org
from tests.conversation_support import NODES, SEND, active, missing_thread_id, outcome, posted, send, start, stored

BAD_BODIES = {
    "empty": "",
    "whitespace only": " \t\n  \r\n",
    "Unicode spaces only": "\u00a0\u2003\u3000",
    "2,001 characters": "x" * 2001,
    "NUL": "before\u0000after",
    "lone surrogate": "half \ud800 a pair",
    "lone low surrogate": "\udc00",
}


async def _raw_send(org: Org, token: str, payload: dict[str, Any], server: int = 0) -> dict[str, Any]:
    """sendMessage with the JSON escaped to ASCII, so that a lone surrogate travels as ``\\ud800``."""
    response = await org.http.post(
        f"{org.stack.url(server)}/graphql",
        content=json.dumps({"query": SEND, "variables": {"i": payload}}, ensure_ascii=True),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_bad_bodies_are_invalid_and_write_nothing(org: Org) -> None:
    prim = await org.create_agent("Prim")
    conv = await active(org, prim)
    for token in (prim.token, conv.visitor_token):
        before = await stored(org)
        for name, body in BAD_BODIES.items():
            response = await _raw_send(org, token, {"threadId": conv.thread_id, "body": body})
            assert not response.get("errors"), (name, response)
            payload = response["data"]["sendMessage"]
            assert payload["message"] is None, name
            assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID", ["input", "body"])], name
        too_long_key = await send(org, token, conv.thread_id, "fine", client_message_id="k" * 101)
        payload = too_long_key["data"]["sendMessage"]
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID", ["input", "clientMessageId"])]
        assert await stored(org) == before
    # The limits themselves are allowed: 2,000 characters (not bytes), a key of 100.
    longest = await posted(org, prim.token, conv.thread_id, "x" * 2000)
    assert longest["body"] == "x" * 2000
    accents = await posted(org, conv.visitor_token, conv.thread_id, "é" * 2000, client_message_id="k" * 100)
    assert accents["body"] == "é" * 2000 and accents["clientMessageId"] == "k" * 100
    # Markup, quotes and emoji are text, returned as written.
    raw = "<b>hi</b> & 'quotes' \"too\" 😀 \\n"
    assert (await posted(org, prim.token, conv.thread_id, raw))["body"] == raw
    # Text around the whitespace is kept as written.
    padded = await posted(org, prim.token, conv.thread_id, "  two\nlines  ")
    assert padded["body"] == "  two\nlines  "


async def test_a_foreign_thread_is_a_missing_one(org: Org, other_org: Org) -> None:
    theirs = await start(other_org)
    chief = await org.create_agent("Chief", role="SUPERVISOR")
    missing = missing_thread_id()
    before = await stored(other_org)
    for who, token, visibility in (
        ("admin", org.token("admin"), "PUBLIC"),
        ("service", org.token("service"), "PUBLIC"),
        ("supervisor", chief.token, "INTERNAL"),
    ):
        foreign = await send(org, token, theirs.thread_id, "hello?", visibility=visibility)
        absent = await send(org, token, missing, "hello?", visibility=visibility)
        assert not foreign.get("errors") and not absent.get("errors"), (who, foreign, absent)
        got = [(e["code"], e["field"]) for e in foreign["data"]["sendMessage"]["userErrors"]]
        assert got == [("NOT_FOUND", ["input", "threadId"])], who
        assert [(e["code"], e["field"]) for e in absent["data"]["sendMessage"]["userErrors"]] == got, who
        assert foreign["data"]["sendMessage"]["message"] is None
    # A visitor of this organization: the other organization's thread is answered like a missing one.
    mine = await start(org)
    foreign = await send(org, mine.visitor_token, theirs.thread_id)
    absent = await send(org, mine.visitor_token, missing)
    assert outcome(foreign) == outcome(absent) != "ok"
    assert await stored(other_org) == before
    # Their messages are no node of ours, for any role.
    said = await posted(other_org, theirs.visitor_token, theirs.thread_id, "ours only")
    for token in (org.token("admin"), org.token("analyst"), chief.token):
        data = await org.data(NODES, {"ids": [said["id"]]}, token=token)
        assert data == {"nodes": [None]}
    # Reading it: null, like a missing thread.
    for token in (org.token("admin"), chief.token, mine.visitor_token):
        data = await org.data(
            "query($t: ID!, $m: ID!) { t: thread(id: $t) { id messages { totalCount } } m: thread(id: $m) { id } }",
            {"t": theirs.thread_id, "m": missing},
            token=token,
        )
        assert data == {"t": None, "m": None}
