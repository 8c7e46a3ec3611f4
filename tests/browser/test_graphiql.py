"""GraphiQL in a real Chromium with no network but this machine: a query over HTTP, a subscription over WebSocket."""

from __future__ import annotations

import json

from playwright.async_api import Page, expect

from tests.browser.conftest import OfflineBrowser
from tests.conftest import Org
from tests.queue_support import create_queue, transfer

QUERY_EDITOR = 'section[aria-label="Query Editor"] .CodeMirror'
HEADERS_EDITOR = 'section[aria-label="Headers"] .graphiql-editor:not(.hidden) .CodeMirror'
RESULT = 'section[aria-label="Result Window"]'
EXECUTE = "button.graphiql-execute-button"


async def replace_text(page: Page, editor: str, text: str) -> None:
    """Select everything in one of GraphiQL's editors and type ``text`` over it."""
    await page.click(editor)
    await page.keyboard.press("Control+A")
    # insert_text types the text as one input; key by key, the editor would add closing brackets.
    await page.keyboard.insert_text(text)


async def test_graphiql_runs_a_query_and_a_subscription_offline(offline: OfflineBrowser, org: Org) -> None:
    queue_id = await create_queue(org, "graphiql-support")
    page = await offline.new_page()
    response = await page.goto(f"{org.stack.url()}/graphql")
    assert response is not None and response.status == 200
    await expect(page.locator(QUERY_EDITOR)).to_be_visible()
    result = page.locator(RESULT)

    await replace_text(page, HEADERS_EDITOR, json.dumps({"Authorization": "Bearer not-a-token"}))
    await replace_text(page, QUERY_EDITOR, "{ viewer { role organization } }")
    await page.click(EXECUTE)
    await expect(result).to_contain_text("UNAUTHENTICATED")

    await replace_text(page, HEADERS_EDITOR, json.dumps({"Authorization": f"Bearer {org.token('admin')}"}))
    await page.click(EXECUTE)
    await expect(result).to_contain_text('"role": "admin"')
    await expect(result).to_contain_text(f'"organization": "{org.id}"')

    # Run at once after the edit (GraphiQL itself would still see the query typed before and
    # POST it); the token in the headers editor goes to the WebSocket as connection_init's payload.
    await replace_text(page, QUERY_EDITOR, f'subscription {{ queueStats(queueId: "{queue_id}") {{ waiting }} }}')
    await page.click(EXECUTE)
    await expect(result).to_contain_text('"waiting": 0')
    # A change made through another server process (on the PostgreSQL stack) arrives live.
    thread_id, _ = await org.start_thread()
    body = await transfer(org, thread_id, queueId=queue_id, server=1)
    assert not body.get("errors") and not body["data"]["requestTransfer"]["userErrors"], body
    await expect(result).to_contain_text('"waiting": 1')

    assert offline.foreign == [], offline.foreign
    assert offline.errors == [], offline.errors
