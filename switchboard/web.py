"""What browsers load from Switchboard itself: static folders, vendored npm builds, the pages.

Every asset comes from the package (switchboard/static), so GraphiQL and the
browser clients work offline and on air-gapped networks. The vendored npm
builds and their versions are listed in static/vendor.json, written by
scripts/vendor-assets; pages find their asset paths there.
"""

from __future__ import annotations

import functools
import html
import json
import os
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

PACKAGE_DIR = Path(__file__).resolve().parent
STATIC_DIR = PACKAGE_DIR / "static"
VENDOR_MANIFEST = STATIC_DIR / "vendor.json"
TEMPLATES = PACKAGE_DIR / "templates"
GRAPHIQL_TEMPLATE = TEMPLATES / "graphiql.html"

# A vendored file's URL holds its package version, so its bytes never change:
# browsers keep it for a year without asking again.
IMMUTABLE = "public, max-age=31536000, immutable"
# Our own files keep their URL across releases: browsers revalidate them (ETag).
REVALIDATE = "no-cache"


@dataclass(frozen=True)
class StaticFolder:
    """A folder of switchboard/static served as it is under ``url``."""

    url: str
    folder: str
    cache_control: str
    # Serve the folder's index.html at ``url + "/"`` (pages such as /widget/).
    html: bool = False


# Adding a page is one line here and one folder under switchboard/static.
STATIC_FOLDERS = (
    StaticFolder("/static/vendor", "vendor", IMMUTABLE),
    StaticFolder("/static/graphiql", "graphiql", REVALIDATE),
    # The browser clients' own files (embed.js, the ES modules, styles); their pages are below.
    StaticFolder("/widget", "widget", REVALIDATE),
    StaticFolder("/console", "console", REVALIDATE),
)


class CachedStaticFiles(StaticFiles):
    """Starlette's StaticFiles (ETag, Last-Modified, 304s) with a Cache-Control policy."""

    def __init__(self, *, cache_control: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cache_control = cache_control

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        # Set on 304s too, so a revalidated copy keeps its policy.
        response.headers["cache-control"] = self.cache_control
        response.headers["x-content-type-options"] = "nosniff"
        return response


def static_routes() -> list[BaseRoute]:
    return [
        Mount(
            folder.url,
            app=CachedStaticFiles(
                directory=STATIC_DIR / folder.folder, html=folder.html, cache_control=folder.cache_control
            ),
        )
        for folder in STATIC_FOLDERS
    ]


@functools.cache
def _vendor_paths() -> dict[str, str]:
    """Package name -> its folder under static/vendor (``name@version``)."""
    manifest = json.loads(VENDOR_MANIFEST.read_text())
    return {package["name"]: package["path"] for package in manifest["packages"]}


def vendor_url(root_path: str, package: str, file: str) -> str:
    """The URL of one vendored file, e.g. ``vendor_url("", "graphql-ws", "dist/client.js")``."""
    return f"{root_path}/static/vendor/{_vendor_paths()[package]}/{file}"


_GRAPHIQL_VENDOR_ASSETS = {
    "react_js": ("react", "umd/react.production.min.js"),
    "react_dom_js": ("react-dom", "umd/react-dom.production.min.js"),
    "graphiql_js": ("graphiql", "graphiql.min.js"),
    "graphiql_css": ("graphiql", "graphiql.min.css"),
    "explorer_js": ("@graphiql/plugin-explorer", "dist/index.umd.js"),
    "explorer_css": ("@graphiql/plugin-explorer", "dist/style.css"),
}


@functools.cache
def graphiql_html(root_path: str) -> str:
    """GraphiQL's page with every asset on this server (``root_path`` is the server's mount point)."""
    urls = {key: vendor_url(root_path, package, file) for key, (package, file) in _GRAPHIQL_VENDOR_ASSETS.items()}
    urls["page_js"] = f"{root_path}/static/graphiql/graphiql.js"
    urls["page_css"] = f"{root_path}/static/graphiql/graphiql.css"
    template = string.Template(GRAPHIQL_TEMPLATE.read_text())
    return template.substitute({key: html.escape(url) for key, url in urls.items()})


def graphiql_page(request: Request) -> HTMLResponse:
    # Revalidated like our other files: the asset URLs in it change with a vendored version.
    return HTMLResponse(graphiql_html(request.scope.get("root_path", "")), headers={"cache-control": REVALIDATE})


@dataclass(frozen=True)
class ClientPage:
    """A browser client's page (``/widget/``, ``/console/``): static but for what the server knows.

    The server writes in the import map (the vendored graphql-ws URL, whose
    version is in its path) and SWITCHBOARD_ALLOWED_ORIGINS, which the widget
    checks a ``postMessage({token})`` against; the same list, as CSP
    ``frame-ancestors``, tells browsers which sites may frame the page at all.
    """

    url: str
    template: str
    # May pages of the allowed origins frame it (the widget), or only this server's own (the console)?
    embeddable: bool


CLIENT_PAGES = (
    ClientPage("/widget/", "widget.html", embeddable=True),
    ClientPage("/console/", "console.html", embeddable=False),
)


def frame_ancestors(origins: tuple[str, ...], embeddable: bool) -> str | None:
    """The CSP that lets the allowed origins frame a page; None when every origin may."""
    if embeddable and "*" in origins:
        return None
    allowed = " ".join(origins) if embeddable else ""
    return f"frame-ancestors 'self' {allowed}".rstrip()


@functools.cache
def client_html(template: str, root_path: str, origins: tuple[str, ...]) -> str:
    import_map = {"imports": {"graphql-ws": vendor_url(root_path, "graphql-ws", "dist/client.js")}}
    # "</" never appears inside the inline script: the JSON's slashes are escaped.
    import_map_json = json.dumps(import_map).replace("</", "<\\/")
    values = {
        "root": html.escape(root_path),
        "endpoint": html.escape(f"{root_path}/graphql"),
        "allowed_origins": html.escape(" ".join(origins)),
        "import_map": import_map_json,
    }
    return string.Template((TEMPLATES / template).read_text()).substitute(values)


def client_routes(origins: tuple[str, ...]) -> list[BaseRoute]:
    """The widget's and the console's pages (before static_routes: their folders share the URL)."""

    def endpoint(page: ClientPage) -> Any:
        def render(request: Request) -> HTMLResponse:
            headers = {"cache-control": REVALIDATE, "x-content-type-options": "nosniff"}
            policy = frame_ancestors(origins, page.embeddable)
            if policy is not None:
                headers["content-security-policy"] = policy
            body = client_html(page.template, request.scope.get("root_path", ""), origins)
            return HTMLResponse(body, headers=headers)

        return render

    return [Route(page.url, endpoint(page), methods=["GET"]) for page in CLIENT_PAGES]
