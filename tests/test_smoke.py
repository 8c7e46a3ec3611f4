"""The server answers over HTTP and WebSocket on each backend."""

from __future__ import annotations

from tests.conftest import Org


async def test_admin_provisions_and_reads_an_agent(org: Org) -> None:
    agent = await org.create_agent("Ann", skills=["billing"])
    data = await org.data("query($id: ID!) { node(id: $id) { ... on Agent { name skills status } } }", {"id": agent.id})
    assert data["node"] == {"name": "Ann", "skills": ["billing"], "status": "ONLINE"}


async def test_subscription_connection_is_acknowledged(org: Org) -> None:
    client = await org.ws()
    await client.close()
