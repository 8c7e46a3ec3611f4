"""Helpers for the hostile-input tests: the servers' logs, raw requests, metric series."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests import servers
from tests.conftest import Org

GRAPHQL_RESPONSE = "application/graphql-response+json"


class ServerLogs:
    """What the stack's servers log from now on (each test starts where the last one ended)."""

    def __init__(self, stack: servers.Stack) -> None:
        self.stack = stack
        self.offsets = [self._size(server) for server in stack.servers]

    @staticmethod
    def _size(server: servers.Server) -> int:
        return server.log_path.stat().st_size if server.log_path.exists() else 0

    def new_text(self) -> str:
        parts = []
        for server, offset in zip(self.stack.servers, self.offsets, strict=True):
            with server.log_path.open("rb") as log:
                log.seek(offset)
                parts.append(log.read().decode("utf-8", "replace"))
        return "".join(parts)

    def assert_clean(self) -> None:
        """No traceback and no error line since the start."""
        text = self.new_text()
        assert "Traceback" not in text and "ERROR" not in text, text[-3000:]


async def post(
    org: Org, content: bytes, *, headers: dict[str, str] | None = None, token: str | None = None, server: int = 0
) -> httpx.Response:
    """A raw POST /graphql: JSON content type and an admin token unless told otherwise (``token=""``: none)."""
    token = org.token() if token is None else token
    sent = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    return await org.http.post(f"{org.stack.url(server)}/graphql", content=content, headers={**sent, **(headers or {})})


async def still_serving(org: Org) -> None:
    assert (await org.data("{ viewer { role } }"))["viewer"] == {"role": "admin"}


async def scrape(org: Org, server: int = 0) -> str:
    response = await org.http.get(f"{org.stack.url(server)}/metrics")
    assert response.status_code == 200
    return response.text


def series(text: str) -> set[tuple[str, frozenset[tuple[str, str]]]]:
    """Every (sample name, labels) of Switchboard's metrics in a Prometheus text."""
    return {
        (sample.name, frozenset(sample.labels.items()))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("switchboard_")
    }


def gauge(text: str, name: str) -> float:
    values = [s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]
    assert len(values) == 1, (name, values)
    return float(values[0])


def errors_of(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body["errors"]]
