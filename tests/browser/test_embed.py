"""The widget embedded in another origin's page: allowed by SWITCHBOARD_ALLOWED_ORIGINS, refused otherwise.

Switchboard runs on http://127.0.0.1:S and allows exactly http://localhost:A. Two small
static sites play the embedding pages: one on that allowed origin, one on
http://localhost:B. Each embeds the widget with the script tag (/widget/embed.js), and
the allowed one also with a bare <iframe> and its own postMessage({token}).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Route, expect

from tests import servers
from tests.browser.clients import Widget, manual_default_queue
from tests.browser.conftest import OfflineBrowser
from tests.conftest import Org


class _Site(BaseHTTPRequestHandler):
    pages: dict[str, str]

    def do_GET(self) -> None:
        page = self.pages.get(self.path)
        body = (page or "not found").encode()
        self.send_response(200 if page is not None else 404)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Site:
    """A static site on localhost:<port>, another origin than Switchboard's 127.0.0.1."""

    port: int
    pages: dict[str, str]

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.port}"


@pytest.fixture(scope="module")
def sites() -> Iterator[tuple[Site, Site]]:
    started = []
    for _ in range(2):
        pages: dict[str, str] = {}
        handler = type("Handler", (_Site,), {"pages": pages})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append((server, Site(server.server_address[1], pages)))
    try:
        yield started[0][1], started[1][1]
    finally:
        for server, _ in started:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def allowing(sites: tuple[Site, Site]) -> Iterator[servers.Stack]:
    """Switchboard (embedded default) that allows the first site's origin only."""
    with servers.running("sqlite", settings={"SWITCHBOARD_ALLOWED_ORIGINS": sites[0].origin}) as stack:
        yield stack


@pytest_asyncio.fixture
async def embed_org(allowing: servers.Stack, http: httpx.AsyncClient) -> Org:
    return Org(allowing, http)


def script_tag_page(switchboard: str, token: str) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>A shop on another origin</h1>
<script src="{switchboard}/widget/embed.js" data-token="{token}" data-title="Chat with the shop"></script>
<script>
  window.ready = [];
  addEventListener("message", (e) => window.ready.push(e.data && e.data.type));
  SwitchboardWidget.frame.addEventListener("load", () => (document.body.dataset.frameLoaded = "yes"));
</script></body></html>"""


def iframe_page(switchboard: str, token: str) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Blog</title></head>
<body><iframe id="chat" title="Chat" src="{switchboard}/widget/" width="360" height="560"></iframe>
<script>
  const chat = document.getElementById("chat");
  addEventListener("message", (event) => {{
    if (event.source === chat.contentWindow && event.data && event.data.type === "switchboard:ready")
      chat.contentWindow.postMessage({{ token: "{token}" }}, "{switchboard}");
  }});
</script></body></html>"""


async def test_an_allowed_origin_embeds_the_widget(
    offline: OfflineBrowser, embed_org: Org, sites: tuple[Site, Site]
) -> None:
    allowed, _ = sites
    await manual_default_queue(embed_org)
    switchboard = embed_org.stack.url()
    _, first_token = await embed_org.start_thread()
    _, second_token = await embed_org.start_thread()
    allowed.pages["/shop"] = script_tag_page(switchboard, first_token)
    allowed.pages["/blog"] = iframe_page(switchboard, second_token)

    shop = await offline.new_page()
    await shop.goto(f"{allowed.origin}/shop")
    widget = Widget(shop.frame_locator('iframe[title="Chat with the shop"]'))
    await widget.live("BOT")
    await widget.say("Hello from the shop")
    await expect(widget.messages.last.locator(".body")).to_have_text("Hello from the shop")
    await expect(widget.messages.last).not_to_have_class("pending")
    await widget.root.get_by_role("button", name="Talk to a person").click()
    await expect(widget.root.locator("#sb-queue-position")).to_have_text("You are number 1 of 1 in the queue.")

    blog = await offline.new_page()
    await blog.goto(f"{allowed.origin}/blog")
    framed = Widget(blog.frame_locator("#chat"))
    await framed.live("BOT")
    await framed.say("Hello from the blog")
    await expect(framed.messages.last).not_to_have_class("pending")


async def test_an_origin_not_allowed_cannot_embed_the_widget(
    offline: OfflineBrowser, embed_org: Org, sites: tuple[Site, Site]
) -> None:
    allowed, other = sites
    switchboard = embed_org.stack.url()
    _, token = await embed_org.start_thread()
    other.pages["/elsewhere"] = script_tag_page(switchboard, token)

    page = await offline.new_page()
    await page.goto(f"{other.origin}/elsewhere")
    # The browser refuses to show the frame (CSP frame-ancestors): the widget never runs,
    # never says it is ready, and so never receives the token.
    await expect(page.locator("body")).to_have_attribute("data-frame-loaded", "yes")
    assert await page.evaluate("window.ready") == []
    frame = next(f for f in page.frames if f.parent_frame is not None)
    assert await frame.locator("#sb-widget").count() == 0
    response = await page.request.get(f"{switchboard}/widget/")
    assert response.headers["content-security-policy"] == f"frame-ancestors 'self' {allowed.origin}"


async def test_the_widget_itself_refuses_a_token_from_an_origin_not_allowed(
    offline: OfflineBrowser, embed_org: Org, sites: tuple[Site, Site]
) -> None:
    """Second line of defence, should a proxy drop the CSP: the widget checks the origin of postMessage."""
    _, other = sites
    switchboard = embed_org.stack.url()
    _, token = await embed_org.start_thread()
    other.pages["/no-csp"] = iframe_page(switchboard, token)
    page = await offline.new_page()

    async def strip_csp(route: Route) -> None:
        response = await route.fetch()
        headers = {k: v for k, v in response.headers.items() if k != "content-security-policy"}
        await route.fulfill(response=response, headers=headers)

    await page.route(f"{switchboard}/widget/", strip_csp)
    await page.goto(f"{other.origin}/no-csp")
    widget = Widget(page.frame_locator("#chat"))
    await expect(widget.main).to_have_attribute("data-state", "refused")
    await expect(widget.root.locator("#sb-connection")).to_have_text(
        f"This site ({other.origin}) may not open the chat."
    )
    await expect(widget.root.get_by_label("Your message")).to_be_disabled()
    await expect(widget.messages).to_have_count(0)
