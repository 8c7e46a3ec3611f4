"""The browser tests' offline guard blocks and reports what a page tries to reach elsewhere."""

from __future__ import annotations

from playwright.async_api import Browser

from tests.browser.conftest import OfflineBrowser
from tests.servers import free_port


async def test_the_guard_blocks_requests_and_sockets_to_other_hosts(browser: Browser) -> None:
    # 127.0.0.2 stands for "another host": it stays on loopback should the guard fail.
    elsewhere = f"127.0.0.2:{free_port()}"
    context = await browser.new_context()
    guard = OfflineBrowser(context, hosts=frozenset({"127.0.0.1"}))
    await guard.start()
    try:
        page = await guard.new_page()
        await page.set_content(f'<link rel="stylesheet" href="http://{elsewhere}/style.css">')
        closed = await page.evaluate(
            """url => new Promise(resolve => {
                 const socket = new WebSocket(url);
                 socket.onclose = event => resolve(event.code);
               })""",
            f"ws://{elsewhere}/graphql",
        )
    finally:
        await context.close()
    assert guard.foreign == [f"http://{elsewhere}/style.css", f"ws://{elsewhere}/graphql"]
    assert closed == 1008
