"""conversationEvents(after:) from a message cursor whose event was pruned, over the wire on both stacks.

A ``MessageEdge.cursor`` is stable and valid as ``after`` (the contract), and
messages are kept for good while events are pruned: the widget and the console
subscribe after the newest message they loaded, however old. The organization's
event rows are deleted to stand in for the retention sweep.
"""

from __future__ import annotations

from tests.conftest import Org
from tests.conversation_support import delete_events
from tests.test_conversation_stream import MESSAGES, conversation, described, say, take, watch


async def test_an_old_message_cursor_replays_the_messages_after_it_once_then_goes_live(org: Org) -> None:
    conv = await conversation(org)
    await say(org, conv.visitor, conv.thread, "one")
    await say(org, conv.primary.token, conv.thread, "two")
    await say(org, conv.primary.token, conv.thread, "note", "INTERNAL")
    await say(org, conv.visitor, conv.thread, "three", server=1)
    edges = (await org.data(MESSAGES, {"t": conv.thread}, token=conv.primary.token))["thread"]["messages"]["edges"]
    cursors = {e["node"]["body"]: e["cursor"] for e in edges}
    await delete_events(org)

    visitor_ws = await org.ws(conv.visitor, server=1)
    agent_ws = await org.ws(conv.primary.token, server=0)
    try:
        widget = await watch(visitor_ws, conv.thread, after=cursors["one"])
        console = await watch(agent_ws, conv.thread, after=cursors["one"])
        seen = await take(widget, 3)
        assert described(seen) == [("MESSAGE", "two"), ("MESSAGE", "three"), ("STATUS_CHANGED", "ACTIVE")]
        # Each message with its own stable cursor; the status at the position the stream goes on from.
        assert [e["cursor"] for e in seen[:2]] == [cursors["two"], cursors["three"]]
        assert int(seen[2]["cursor"][1:]) >= int(cursors["three"][1:])
        assert described(await take(console, 4)) == [
            ("MESSAGE", "two"),
            ("MESSAGE", "note"),
            ("MESSAGE", "three"),
            ("STATUS_CHANGED", "ACTIVE"),
        ]
        # Then live, from either process, each once and nothing replayed twice.
        await say(org, conv.visitor, conv.thread, "four", server=0)
        await say(org, conv.primary.token, conv.thread, "five", server=1)
        assert described(await take(widget, 2)) == [("MESSAGE", "four"), ("MESSAGE", "five")]
        assert described(await take(console, 2)) == [("MESSAGE", "four"), ("MESSAGE", "five")]
        await widget.nothing(0.5)
        await console.nothing(0.1)
    finally:
        await visitor_ws.close()
        await agent_ws.close()
