"""The widget and the console as a test drives them: their pages, what they show, a socket to cut."""

from __future__ import annotations

import os
import re
from typing import Any

from playwright.async_api import FrameLocator, Locator, Page, WebSocketRoute, expect

from tests.conftest import AgentHandle, Org
from tests.queue_support import create_queue
from tests.servers import ROOT

SEND_MESSAGE = """mutation($i: SendMessageInput!) { sendMessage(input: $i) {
  message { id body visibility displayName } userErrors { code message } } }"""


class Widget:
    """The visitor widget in a page or in an iframe of one."""

    def __init__(self, root: Page | FrameLocator) -> None:
        self.root = root
        self.main = root.locator("#sb-widget")
        self.messages = root.locator("#sb-messages li.message")

    async def live(self, status: str | None = None) -> None:
        await expect(self.main).to_have_attribute("data-state", "live")
        if status is not None:
            await expect(self.main).to_have_attribute("data-status", status)

    async def say(self, text: str) -> None:
        """Type a message and press Enter, as a visitor at the keyboard does; returns once the server has it."""
        field = self.root.get_by_label("Your message")
        await field.click()
        await field.press_sequentially(text)
        await field.press("Enter")
        sent = self.messages.filter(has=self.root.locator(".body", has_text=text)).last
        await expect(sent).to_have_attribute("data-id", re.compile("."))
        await expect(sent).not_to_have_class(re.compile("pending"))

    async def bodies(self) -> list[str]:
        return await self.messages.locator(".body").all_inner_texts()

    async def shows_exactly(self, bodies: list[str]) -> None:
        await expect(self.messages.locator(".body")).to_have_text(bodies)
        # Nothing the server replayed was shown twice, nor sent twice.
        assert await self.main.get_attribute("data-duplicates") in (None, "0")
        await expect(self.messages.locator(".pending")).to_have_count(0)


async def open_widget(page: Page, org: Org, token: str) -> Widget:
    await page.goto(f"{org.stack.url()}/widget/#token={token}")
    return Widget(page)


async def open_console(page: Page, org: Org, agent: AgentHandle) -> Page:
    await page.goto(f"{org.stack.url()}/console/#token={agent.token}")
    await expect(page.locator("#c-me")).to_have_text(f"Signed in as {agent.name}")
    return page


def console_messages(page: Page) -> Locator:
    return page.locator("#c-messages li.message")


async def manual_default_queue(org: Org) -> str:
    """Agents take entries themselves: the test decides when the queue moves."""
    return await create_queue(org, "front-desk", routingStrategy="MANUAL", isDefault=True)


async def post(org: Org, token: str, thread_id: str, body: str, **fields: Any) -> dict[str, Any]:
    data = await org.data(SEND_MESSAGE, {"i": {"threadId": thread_id, "body": body, **fields}}, token=token)
    payload = data["sendMessage"]
    assert not payload["userErrors"], payload["userErrors"]
    return dict(payload["message"])


class SocketCutter:
    """Sits between a page and the server's WebSocket: cuts the page's sockets and refuses new ones at will."""

    def __init__(self) -> None:
        self.open: list[WebSocketRoute] = []
        self.refusing = False
        self.connections = 0

    async def install(self, page: Page) -> None:
        await page.route_web_socket(re.compile(r"/graphql$"), self.handle)

    async def handle(self, socket: WebSocketRoute) -> None:
        if self.refusing:
            await socket.close(code=1011, reason="the test cut the network")
            return
        socket.connect_to_server()
        self.connections += 1
        self.open.append(socket)

    async def cut(self) -> None:
        """Close every open socket as a dropped network does, and refuse new ones until ``restore``."""
        self.refusing = True
        sockets, self.open = self.open, []
        for socket in sockets:
            await socket.close(code=1011, reason="the test cut the network")

    def restore(self) -> None:
        self.refusing = False


async def docs_screenshot(page: Page, name: str, width: int, height: int) -> None:
    """With SWITCHBOARD_DOCS_SCREENSHOTS=1, the README's picture of this page (docs/<name>.png)."""
    if not os.environ.get("SWITCHBOARD_DOCS_SCREENSHOTS"):
        return
    await page.set_viewport_size({"width": width, "height": height})
    await page.evaluate(
        """() => { document.activeElement && document.activeElement.blur();
                   document.querySelectorAll('[role="log"]').forEach((log) => (log.scrollTop = log.scrollHeight)); }"""
    )
    await page.screenshot(path=str(ROOT / "docs" / f"{name}.png"))
