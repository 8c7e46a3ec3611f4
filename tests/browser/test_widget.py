"""The visitor widget and the agent console side by side in a real Chromium, on both stacks.

A visitor waits in a queue and watches their place fall, an agent claims the
thread in the console and answers, the visitor sees the reply under the service
name (never the agent's), an internal note never reaches the visitor's page, and a
cut socket catches up without losing or repeating a message.
"""

from __future__ import annotations

from playwright.async_api import Page, Route, expect

from tests.browser.clients import (
    SocketCutter,
    Widget,
    console_messages,
    docs_screenshot,
    manual_default_queue,
    open_console,
    open_widget,
    post,
)
from tests.browser.conftest import OfflineBrowser
from tests.conftest import AgentHandle, Org
from tests.queue_support import cancel, claim, enqueue

AGENT_NAME = "Dana Quillfeather"
SERVICE_NAME = "Support"  # the organization's default serviceName


async def test_visitor_waits_is_served_and_catches_up(offline: OfflineBrowser, org: Org) -> None:
    queue_id = await manual_default_queue(org)
    agent = await org.create_agent(AGENT_NAME)
    thread_id, visitor_token = await org.start_thread()
    await post(org, org.token("service"), thread_id, "Hi! I am the assistant.")
    widget = await open_widget(await offline.new_page(), org, visitor_token)
    await widget.live("BOT")
    await widget.shows_exactly(["Hi! I am the assistant."])
    ahead = await _queue_then_watch_it_fall(org, widget, queue_id, thread_id, agent)
    assert ahead  # one other visitor is still waiting behind nobody: claimed below

    console = await open_console(await offline.new_page(), org, agent)
    await _claim_from_console(console, widget)
    await _talk(org, console, widget)
    await _internal_note_stays_internal(org, agent, thread_id, console, widget)
    await docs_screenshot(console, "console", 1000, 640)
    await _socket_cut_and_catch_up(org, agent, thread_id, widget)
    await docs_screenshot(widget.root, "widget", 400, 600)  # type: ignore[arg-type]

    page_text = await widget.root.locator("body").inner_text()  # type: ignore[union-attr]
    assert AGENT_NAME not in page_text
    assert "Dana" not in await widget.root.content()  # type: ignore[union-attr]


async def _queue_then_watch_it_fall(org: Org, widget: Widget, queue_id: str, thread_id: str, agent: AgentHandle) -> str:
    """Two visitors wait ahead; one gives up, an agent takes the other: 3, then 2, then 1."""
    _, first_entry, _ = await enqueue(org, queue_id=queue_id)
    _, second_entry, _ = await enqueue(org, queue_id=queue_id)
    await widget.root.get_by_role("button", name="Talk to a person").click()
    await widget.live("QUEUED")
    position = widget.root.locator("#sb-queue-position")
    await expect(position).to_have_text("You are number 3 of 3 in the queue.")
    body = await cancel(org, first_entry)
    assert not body.get("errors") and not body["data"]["cancelQueueEntry"]["userErrors"], body
    await expect(position).to_have_text("You are number 2 of 2 in the queue.")
    taken = await claim(org, agent, entry_id=second_entry)
    assert not taken["userErrors"], taken
    await expect(position).to_have_text("You are number 1 of 1 in the queue.")
    # The estimate shown is the server's (from the queue's own history, or its documented fallback).
    data = await org.data(
        "query($id: ID!) { thread(id: $id) { queueEntry { estimatedWaitSeconds } } }", {"id": thread_id}
    )
    seconds = data["thread"]["queueEntry"]["estimatedWaitSeconds"]
    expected = "" if seconds is None else f"Estimated wait: about {max(1, int(seconds / 60 + 0.5))} min."
    await expect(widget.root.locator("#sb-queue-wait")).to_have_text(expected)
    return second_entry


async def _claim_from_console(console: Page, widget: Widget) -> None:
    waiting = console.locator("#c-queue li", has=console.get_by_role("button", name="Claim"))
    await expect(waiting).to_have_count(1)
    await waiting.get_by_role("button", name="Claim").click()
    await expect(console.locator("#c-thread-status")).to_contain_text("Status ACTIVE")
    await widget.live("ACTIVE")
    await expect(widget.root.locator("#sb-queue")).to_be_hidden()


async def _talk(org: Org, console: Page, widget: Widget) -> None:
    reply = console.get_by_label("Message")
    await reply.press_sequentially("Hello, how can I help?")
    # The agent's typing reaches the visitor under the service name.
    await expect(widget.root.locator("#sb-typing")).to_have_text(f"{SERVICE_NAME} is typing…")
    await console.get_by_role("button", name="Send").click()
    last = widget.messages.last
    await expect(last.locator(".body")).to_have_text("Hello, how can I help?")
    await expect(last.locator(".who")).to_have_text(SERVICE_NAME)
    # The visitor's typing reaches the agent, and the visitor's page never shows it back to them.
    await widget.root.get_by_label("Your message").press_sequentially("My order")
    await expect(console.locator("#c-typing")).to_contain_text("is typing…")
    await expect(widget.root.locator("#sb-typing")).to_be_hidden()
    await widget.root.get_by_label("Your message").fill("")
    await widget.say("My order never arrived")
    await expect(console_messages(console).last.locator(".body")).to_have_text("My order never arrived")
    await widget.shows_exactly(["Hi! I am the assistant.", "Hello, how can I help?", "My order never arrived"])


async def _internal_note_stays_internal(
    org: Org, agent: AgentHandle, thread_id: str, console: Page, widget: Widget
) -> None:
    await console.get_by_label("Internal note").check()
    await console.get_by_label("Message").fill("Internal: VIP, refund without asking")
    await console.get_by_role("button", name="Send").click()
    await expect(console_messages(console).last).to_contain_text("internal note")
    await console.get_by_label("Reply to the visitor").check()
    # Anything public written after the note reaches the visitor; the note never does.
    await post(org, agent.token, thread_id, "I am checking with the warehouse.")
    await widget.shows_exactly(
        [
            "Hi! I am the assistant.",
            "Hello, how can I help?",
            "My order never arrived",
            "I am checking with the warehouse.",
        ]
    )
    assert "refund without asking" not in await widget.root.content()  # type: ignore[union-attr]


async def _socket_cut_and_catch_up(org: Org, agent: AgentHandle, thread_id: str, widget: Widget) -> None:
    """The widget's socket drops; what is written meanwhile arrives once, in order, after it reconnects."""
    page = widget.root
    assert isinstance(page, Page)
    cutter = SocketCutter()
    await cutter.install(page)
    await page.reload()  # the page's sockets now go through the cutter
    await widget.live("ACTIVE")
    before = await widget.bodies()
    await cutter.cut()
    await expect(widget.main).to_have_attribute("data-state", "reconnecting")
    await post(org, agent.token, thread_id, "Found it: it ships today.")
    await widget.say("Great, thank you")  # over HTTP while the socket is down
    await post(org, agent.token, thread_id, "Anything else?")
    cutter.restore()
    await widget.live("ACTIVE")
    await widget.shows_exactly([*before, "Found it: it ships today.", "Great, thank you", "Anything else?"])
    # After the catch-up the stream is live again.
    await post(org, agent.token, thread_id, "Have a nice day.")
    await expect(widget.messages.last.locator(".body")).to_have_text("Have a nice day.")
    assert cutter.connections >= 2


async def test_an_ended_token_shows_a_clear_state_and_a_fresh_one_resumes(offline: OfflineBrowser, org: Org) -> None:
    """At the token's exp the server closes the socket (4401): the widget cannot refresh a token itself."""
    thread_id, _ = await org.start_thread()
    data = await org.data("query($id: ID!) { thread(id: $id) { visitor { id } } }", {"id": thread_id})
    visitor_id = data["thread"]["visitor"]["id"]
    # Long enough to go live first even on a loaded machine (a page load can take seconds there).
    short = org.token("visitor", sub=visitor_id, thread=thread_id, ttl=10)
    page = await offline.new_page()
    widget = await open_widget(page, org, short)
    await widget.live("BOT")
    await expect(widget.main).to_have_attribute("data-state", "expired", timeout=30_000)
    await expect(page.locator("#sb-connection")).to_contain_text("Your chat session has ended")
    await expect(page.get_by_label("Your message")).to_be_disabled()
    # A new token in the fragment (or from the embedding page) picks the conversation up again.
    fresh = org.token("visitor", sub=visitor_id, thread=thread_id, ttl=600)
    await page.evaluate("token => { location.hash = 'token=' + token; }", fresh)
    await widget.live("BOT")
    await expect(page.get_by_label("Your message")).to_be_enabled()


async def test_the_widget_works_from_the_keyboard(offline: OfflineBrowser, org: Org) -> None:
    """Tab reaches the field, Enter sends, Tab reaches the buttons; new messages go to an ARIA live log."""
    await manual_default_queue(org)
    _, visitor_token = await org.start_thread()
    page = await offline.new_page()
    widget = await open_widget(page, org, visitor_token)
    await widget.live("BOT")
    log = page.get_by_role("log", name="Conversation")
    await expect(log).to_have_attribute("aria-live", "polite")
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Your message")).to_be_focused()
    await page.keyboard.type("Typed without a mouse")
    await page.keyboard.press("Enter")
    await expect(log.locator("li.message .body")).to_have_text(["Typed without a mouse"])
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Send")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Talk to a person")).to_be_focused()
    await page.keyboard.press("Enter")
    await widget.live("QUEUED")
    await expect(page.get_by_role("region", name="Your place in the queue")).to_contain_text("number 1 of 1")


async def test_a_resolved_conversation_reopens_when_the_visitor_writes(offline: OfflineBrowser, org: Org) -> None:
    queue_id = await manual_default_queue(org)
    agent = await org.create_agent(AGENT_NAME)
    thread_id, entry_id, visitor_token = await enqueue(org, queue_id=queue_id)
    assert not (await claim(org, agent, entry_id=entry_id))["userErrors"]
    widget = await open_widget(await offline.new_page(), org, visitor_token)
    await widget.live("ACTIVE")
    # A reply first: once it shows, the page's stream is running on the server (a stream opened
    # without a cursor starts live, so a change committed before the server has it is only seen
    # on the next load).
    await post(org, agent.token, thread_id, "Anything else?")
    await widget.shows_exactly(["Anything else?"])
    data = await org.data(
        "mutation($i: ResolveThreadInput!) { resolveThread(input: $i) { userErrors { message } } }",
        {"i": {"threadId": thread_id}},
        token=agent.token,
    )
    assert not data["resolveThread"]["userErrors"]
    await widget.live("RESOLVED")  # a STATUS_CHANGED event
    await expect(widget.root.locator("#sb-status")).to_have_text(
        "This conversation is resolved. Write again to reopen it."
    )
    await widget.say("It broke again")
    await widget.live("QUEUED")
    await expect(widget.root.locator("#sb-queue-position")).to_have_text("You are number 1 of 1 in the queue.")


async def test_a_lost_answer_is_retried_with_the_same_key(offline: OfflineBrowser, org: Org) -> None:
    """The server takes the message but its answer is lost: the widget retries, and nothing is doubled."""
    thread_id, visitor_token = await org.start_thread()
    page = await offline.new_page()
    keys: list[str] = []

    async def lose_first_answer(route: Route) -> None:
        body = route.request.post_data_json or {}
        if "sendMessage" not in body.get("query", ""):
            await route.fallback()
            return
        keys.append(body["variables"]["input"]["clientMessageId"])
        if len(keys) == 1:
            await route.fetch()  # the server writes the message...
            await route.abort("connectionreset")  # ...and the page never hears back
        else:
            await route.fallback()

    await page.route("**/graphql", lose_first_answer)
    # With the socket down, only a retry of sendMessage can tell the page its message got through.
    cutter = SocketCutter()
    await cutter.install(page)
    widget = await open_widget(page, org, visitor_token)
    await widget.live("BOT")
    await cutter.cut()
    await widget.say("Sent once, answered late")
    assert len(keys) == 2 and keys[0] == keys[1], keys
    cutter.restore()
    await widget.live("BOT")  # the stream replays the message: still shown once
    await widget.shows_exactly(["Sent once, answered late"])
    data = await org.data(
        "query($id: ID!) { thread(id: $id) { messages(first: 10) { edges { node { body clientMessageId } } } } }",
        {"id": thread_id},
    )
    stored = [edge["node"] for edge in data["thread"]["messages"]["edges"]]
    assert stored == [{"body": "Sent once, answered late", "clientMessageId": keys[0]}]
    # What comes next is shown after it: the page's order is the thread's.
    await post(org, org.token("service"), thread_id, "The bot answers")
    await widget.shows_exactly(["Sent once, answered late", "The bot answers"])
