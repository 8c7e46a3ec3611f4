"""A real headless Chromium for end-to-end tests of the browser pages.

Debian's ``chromium`` (``scripts/test`` installs it when missing) driven by
Playwright with ``executable_path``: Playwright never downloads a browser here.
One browser runs for the whole session; each test gets a fresh context (its
own cookies, storage and cache) and pages that may only reach this machine:
any request to another host is aborted and recorded, and the test fails on it.
Each page's last state is saved as ``test-artifacts/<test>[-<n>].png`` (pass or fail).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, Route, WebSocketRoute, async_playwright, expect

from tests.servers import ROOT

ARTIFACTS = ROOT / "test-artifacts"
# How long an expect() waits for a page to get there: the widget's reconnect backs off up to
# 10 s, and a shared CI machine is slow; a passing check returns as soon as it holds.
expect.set_options(timeout=15_000)
# Playwright adds --headless and a fresh --user-data-dir of its own (a new temp profile per launch).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# What a page may load without a request: inline data and in-page blobs.
LOCAL_SCHEMES = {"data", "blob", "about"}


def chromium_path() -> str:
    path = os.environ.get("SWITCHBOARD_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError(f"no Chromium at {path}: `apt-get install -y chromium` (scripts/test does it when root)")
    return path


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    # The folder shows the last run only: no screenshot of a test that no longer exists.
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


class OfflineBrowser:
    """Opens pages that can reach this machine only, and remembers every other URL they tried."""

    def __init__(self, context: BrowserContext, hosts: frozenset[str] = LOCAL_HOSTS) -> None:
        self.context = context
        self.hosts = hosts
        self.pages: list[Page] = []
        self.foreign: list[str] = []
        self.errors: list[str] = []

    async def start(self) -> None:
        await self.context.route("**/*", self.guard_request)
        # WebSockets bypass route(); they have a router of their own.
        await self.context.route_web_socket(lambda url: not self.allowed(url), self.refuse_socket)

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in LOCAL_SCHEMES or parts.hostname in self.hosts

    async def guard_request(self, route: Route) -> None:
        url = route.request.url
        if self.allowed(url):
            await route.continue_()
        else:
            self.foreign.append(url)
            await route.abort("blockedbyclient")

    async def refuse_socket(self, socket: WebSocketRoute) -> None:
        # Never connected: without connect_to_server the socket only talks to this handler.
        self.foreign.append(socket.url)
        await socket.close(code=1008, reason="offline test")

    async def new_page(self) -> Page:
        page = await self.context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.pages.append(page)
        return page


def _artifact_name(node_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", node_name).strip("_")


@pytest_asyncio.fixture
async def offline(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[OfflineBrowser]:
    """Pages that may reach 127.0.0.1 only; screenshots of each at the end, pass or fail."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    guard = OfflineBrowser(context)
    await guard.start()
    try:
        yield guard
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        name = _artifact_name(request.node.name)
        for i, page in enumerate(guard.pages):
            suffix = "" if i == 0 else f"-{i + 1}"
            await page.screenshot(path=str(ARTIFACTS / f"{name}{suffix}.png"), full_page=True)
        await context.close()
    assert not guard.foreign, f"pages tried to reach other hosts: {guard.foreign}"
    assert not guard.errors, f"uncaught errors in pages: {guard.errors}"
