"""The agent-console demo in a real Chromium: an invite arrives live, is accepted, and permissions change."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.clients import console_messages, open_console, post
from tests.browser.conftest import OfflineBrowser
from tests.collab_support import active_thread, invite_one, thread_view
from tests.conftest import Org


async def test_an_invite_arrives_is_accepted_and_the_primary_changes_a_permission(
    offline: OfflineBrowser, org: Org
) -> None:
    ann = await org.create_agent("Ann Primary")
    bob = await org.create_agent("Bob Expert")
    thread_id = await active_thread(org, ann)
    await post(org, ann.token, thread_id, "Bob, can you look at this refund?", visibility="INTERNAL")

    bobs = await open_console(await offline.new_page(), org, bob)
    await expect(bobs.locator("#c-invites")).to_have_text("No invites.")
    await invite_one(org, ann, thread_id, bob, message="refund question")
    invite = bobs.locator("#c-invites li")
    await expect(invite).to_contain_text("Ann Primary invites you as EXPERT (WRITE)")  # live: inviteEvents
    await invite.get_by_role("button", name="Accept").click()
    await expect(bobs.locator("#c-thread-status")).to_contain_text("your permission: WRITE")
    await expect(bobs.locator("#c-invites")).to_have_text("No invites.")
    # Agents see internal notes, under the author's name.
    await expect(console_messages(bobs).first).to_contain_text("Ann Primary · internal note")

    anns = await open_console(await offline.new_page(), org, ann)
    await anns.locator("#c-threads").get_by_role("button").first.click()
    await expect(anns.locator("#c-collaborators")).to_contain_text("Bob Expert · EXPERT")
    await anns.get_by_label("Permission of Bob Expert").select_option("READ")
    # Bob's page follows (threadEvents), and so does the API.
    await expect(bobs.locator("#c-thread-status")).to_contain_text("your permission: READ")
    collaborators = (await thread_view(org, thread_id))["collaborators"]
    assert {c["agent"]["id"]: c["permission"] for c in collaborators}[bob.id] == "READ"
