"""GraphiQL's page and the vendored browser assets: served by Switchboard itself, cached, shipped in the wheel."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import httpx

from switchboard import web
from tests import servers

CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}


class _AssetLinks(HTMLParser):
    """The URLs a page loads: script sources and stylesheet links."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script" and attributes.get("src"):
            self.urls.append(str(attributes["src"]))
        if tag == "link" and attributes.get("rel") == "stylesheet":
            self.urls.append(str(attributes["href"]))


async def test_graphiql_page_loads_every_asset_from_this_server(stack: servers.Stack, http: httpx.AsyncClient) -> None:
    page = await http.get(f"{stack.url()}/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<title>Switchboard GraphiQL</title>" in page.text
    links = _AssetLinks()
    links.feed(page.text)
    assert len(links.urls) == 8, links.urls
    for url in links.urls:
        assert url.startswith("/static/"), url
        asset = await http.get(f"{stack.url()}{url}")
        assert asset.status_code == 200, url
        assert asset.headers["content-type"].startswith(CONTENT_TYPES[Path(url).suffix]), url
        assert asset.headers["x-content-type-options"] == "nosniff"
        policy = web.IMMUTABLE if url.startswith("/static/vendor/") else web.REVALIDATE
        assert asset.headers["cache-control"] == policy, url
        again = await http.get(f"{stack.url()}{url}", headers={"if-none-match": asset.headers["etag"]})
        assert again.status_code == 304, url
        assert again.headers["cache-control"] == policy, url


async def test_static_paths_outside_the_folders_are_not_found(stack: servers.Stack, http: httpx.AsyncClient) -> None:
    for path in (
        "/static/vendor/no-such-package@1.0.0/index.js",
        "/static/vendor/..%2f..%2fapp.py",
        "/static/graphiql/../../app.py",
        "/static/vendor.json",
        "/static/",
    ):
        response = await http.get(f"{stack.url()}{path}")
        assert response.status_code == 404, path
    assert (await http.get(f"{stack.url()}/healthz")).status_code == 200


def _manifest() -> dict[str, object]:
    return dict(json.loads(web.VENDOR_MANIFEST.read_text()))


def test_vendored_files_match_their_manifest() -> None:
    listed: set[Path] = set()
    for package in _manifest()["packages"]:  # type: ignore[attr-defined]
        folder = web.STATIC_DIR / "vendor" / package["path"]
        assert package["path"] == f"{package['name']}@{package['version']}"
        assert package["integrity"].startswith("sha512-")
        assert any(name.startswith("LICENSE") for name in package["files"]), package["name"]
        for name, sha256 in package["files"].items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == sha256, f"{package['path']}/{name}"
            listed.add(folder / name)
    on_disk = {path for path in (web.STATIC_DIR / "vendor").rglob("*") if path.is_file()}
    assert on_disk == listed


def test_the_wheel_carries_the_browser_files(tmp_path: Path) -> None:
    """``pip install .`` (not editable) serves the same files: they are package data."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(servers.ROOT / name, source / name)
    shutil.copytree(servers.ROOT / "switchboard", source / "switchboard", ignore=shutil.ignore_patterns("__pycache__"))
    # The build backend pip calls for `pip install .` (PEP 517), without pip around it.
    build = "import sys, setuptools.build_meta as backend; backend.build_wheel(sys.argv[1])"
    subprocess.run([sys.executable, "-c", build, str(tmp_path)], cwd=source, check=True, capture_output=True)
    (wheel,) = tmp_path.glob("switchboard-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    package = servers.ROOT / "switchboard"
    expected = {
        path.relative_to(package.parent).as_posix()
        for folder in (web.STATIC_DIR, web.GRAPHIQL_TEMPLATE.parent)
        for path in folder.rglob("*")
        if path.is_file()
    }
    assert expected - shipped == set()
