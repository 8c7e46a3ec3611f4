"""The browser clients' pages (/widget/, /console/) and embed.js, as served: every asset from this server.

What they do in a browser is tested in tests/browser; here, what the server sends:
the import map that points at the vendored graphql-ws, the allowed origins, and the
CSP that says who may frame each page.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from switchboard import web
from tests import servers

CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}


def _asset_urls(page: str) -> list[str]:
    """Scripts, stylesheets and import-map targets of a page."""
    urls = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
    (import_map,) = re.findall(r'<script type="importmap">(.*?)</script>', page, re.S)
    urls += json.loads(import_map)["imports"].values()
    return [url for url in urls if not url.startswith("data:")]


async def test_pages_load_every_asset_from_this_server(stack: servers.Stack, http: httpx.AsyncClient) -> None:
    for path, module in (("/widget/", "/widget/widget.js"), ("/console/", "/console/console.js")):
        page = await http.get(f"{stack.url()}{path}")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), path
        assert page.headers["cache-control"] == web.REVALIDATE
        urls = _asset_urls(page.text)
        assert module in urls and web.vendor_url("", "graphql-ws", "dist/client.js") in urls, urls
        for url in urls:
            assert url.startswith("/"), url
            asset = await http.get(f"{stack.url()}{url}")
            assert asset.status_code == 200, url
            assert asset.headers["content-type"].startswith(CONTENT_TYPES[Path(url).suffix]), url
    embed = await http.get(f"{stack.url()}/widget/embed.js")
    assert embed.status_code == 200 and embed.headers["content-type"].startswith("text/javascript")
    # "/widget" without its slash finds the page too.
    assert (await http.get(f"{stack.url()}/widget", follow_redirects=True)).url.path == "/widget/"


async def test_framing_follows_the_allowed_origins(stack: servers.Stack, http: httpx.AsyncClient) -> None:
    """The test stacks allow every origin (the default, *): any site may frame the widget, none the console."""
    widget = await http.get(f"{stack.url()}/widget/")
    assert "content-security-policy" not in widget.headers
    assert 'data-allowed-origins="*"' in widget.text
    console = await http.get(f"{stack.url()}/console/")
    assert console.headers["content-security-policy"] == "frame-ancestors 'self'"


def test_frame_ancestors_lists_the_allowed_origins() -> None:
    origins = ("https://shop.example", "http://localhost:8080")
    assert web.frame_ancestors(origins, embeddable=True) == (
        "frame-ancestors 'self' https://shop.example http://localhost:8080"
    )
    assert web.frame_ancestors(("*",), embeddable=True) is None
    assert web.frame_ancestors(("*",), embeddable=False) == "frame-ancestors 'self'"
