"""A seeded random workload of real mutations over two server processes (PostgreSQL + Redis),
then the contract's invariants checked with SQL (tests/invariants.py)."""

from __future__ import annotations

import random

import pytest

from tests import invariants
from tests.collab_support import active_thread, agent_counts
from tests.conftest import Org
from tests.hostile_support import ServerLogs
from tests.workload import Workload, run


@pytest.mark.postgres_only
@pytest.mark.parametrize("seed", [8, 88])
async def test_random_concurrent_traffic_keeps_the_invariants(org: Org, seed: int) -> None:
    logs = ServerLogs(org.stack)
    workload = Workload(org, random.Random(seed))
    await workload.setup(agents=8, threads=6)
    await run(workload, workers=6, steps=40)
    assert workload.failures == []
    # The traffic did things, not only refusals.
    done = {kind.split(":")[0] for kind, n in workload.outcomes.items() if kind.endswith(":ok") and n}
    assert {"transfer", "invite", "respond", "resolve"} <= done, workload.outcomes
    await invariants.assert_hold(org.stack, org.id)
    logs.assert_clean()


async def test_a_capacity_below_the_agents_load_is_refused(org: Org) -> None:
    """Found by the workload: updateAgent set maxConcurrentThreads under the threads the agent
    had, leaving activeThreadCount above it (the contract says it never exceeds it)."""
    agent = await org.create_agent("Busy", maxConcurrentThreads=2)
    await active_thread(org, agent)
    update = """mutation($i: UpdateAgentInput!) { updateAgent(input: $i) {
        agent { maxConcurrentThreads } userErrors { code field message } } }"""
    refused = (await org.data(update, {"i": {"agentId": agent.id, "maxConcurrentThreads": 0}}))["updateAgent"]
    assert refused["agent"] is None
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [("CONFLICT", ["input", "maxConcurrentThreads"])]
    assert "below the 1" in refused["userErrors"][0]["message"]
    lowered = (await org.data(update, {"i": {"agentId": agent.id, "maxConcurrentThreads": 1}}))["updateAgent"]
    assert lowered == {"agent": {"maxConcurrentThreads": 1}, "userErrors": []}
    assert await agent_counts(org, agent) == (1, 0)
    await invariants.assert_hold(org.stack, org.id)
