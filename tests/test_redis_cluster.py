"""Switchboard on a Redis Cluster: two server processes sharing PostgreSQL and a real three-master
cluster (scripts/redis-cluster; SWITCHBOARD_TEST_REDIS_CLUSTER names another), over the wire.

A curated set, not the whole suite a third time: fan-out of committed and live
events between the processes on sharded pub/sub, the shard channels spread over
the masters and followed when a slot moves, the rate limits, the query-cost
budget and persisted queries shared through the cluster, and the failures that
used to fall back silently (a plain client meeting ``MOVED``) now raised.

The stack's catch-up poll runs once a minute (the longest it may wait): an event reaches the other
process only through the cluster, so a broken subscription fails these tests.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from switchboard.events.transport import SHARDS, org_channel, shard_channels
from switchboard.runtime.ratelimit import QueryCostLimiter
from tests import (
    dbcheck,
    servers,
    test_conversation_typing,
    test_invites,
    test_message_races,
    test_persisted_queries,
    test_query_cost,
)
from tests.collab_support import active_thread, invite, pk_of
from tests.conftest import Org
from tests.conversation_support import CONVERSATION, active, listening, typing, typing_ready
from tests.hostile_support import ServerLogs, scrape

PORTS = (7101, 7102, 7103)


@pytest.fixture(scope="module")
def cluster_url() -> str:
    return servers.ensure_redis_cluster()


@pytest.fixture(scope="module")
def stack(cluster_url: str) -> Iterator[servers.Stack]:
    """Overrides conftest's ``stack`` in this module: PostgreSQL and the cluster, the catch-up poll once a minute."""
    with servers.running("postgres", redis_url=cluster_url, settings={"SWITCHBOARD_RELAY_POLL_SECONDS": "60"}) as built:
        yield built


@pytest_asyncio.fixture
async def cluster(cluster_url: str) -> AsyncIterator[RedisCluster]:
    client = RedisCluster.from_url(cluster_url)
    await client.initialize()
    try:
        yield client
    finally:
        await client.aclose()


def _prefix(org: Org) -> str:
    return org.stack.env["SWITCHBOARD_REDIS_PREFIX"]


async def _subscribers(cluster: RedisCluster, channel: str) -> int:
    """SSUBSCRIBE-rs of ``channel`` on the master that owns its slot."""
    node = cluster.get_node_from_key(channel)
    [(_, count)] = await cluster.execute_command("PUBSUB SHARDNUMSUB", channel, target_nodes=node)
    return int(count)


async def test_both_processes_found_a_cluster_and_subscribed_to_every_shard_on_its_owner(
    org: Org, cluster: RedisCluster
) -> None:
    for server in range(2):
        ready = (await org.http.get(f"{org.stack.url(server)}/readyz")).json()
        assert ready == {"ready": True, "database": "ok", "redis": "ok", "events": "ok", "redis_mode": "cluster"}
    channels = shard_channels(f"{_prefix(org)}:events")
    assert len(set(channels)) == SHARDS
    # Sharded subscriptions, on the master owning each channel's slot: both processes on every channel.
    assert [await _subscribers(cluster, channel) for channel in channels] == [2] * SHARDS
    # Each channel's slot is in its sixteenth of the slots, so the masters' even split spreads them.
    assert [key_slot(channel.encode()) * SHARDS // 16384 for channel in channels] == list(range(SHARDS))
    owners = {cluster.get_node_from_key(channel).name for channel in channels}
    assert owners == {f"127.0.0.1:{port}" for port in PORTS}
    # Organizations spread over the shards.
    assert len({org_channel("p:events", f"org-{i}") for i in range(200)}) == SHARDS


async def test_an_organizations_events_go_out_on_its_shard_channel(org: Org, cluster: RedisCluster) -> None:
    """What the server publishes for the organization arrives on its own channel by SSUBSCRIBE."""
    channel = org_channel(f"{_prefix(org)}:events", org.id)
    node = cluster.get_node_from_key(channel)
    assert node is not None
    listener = aioredis.Redis(host=node.host, port=node.port)
    pubsub = listener.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.ssubscribe(channel)
        await org.create_agent("Heard", status=None)
        message = None
        for _ in range(100):
            message = await pubsub.get_message(timeout=0.1)
            if message is not None:
                break
        assert message is not None and message["type"] == "smessage"
        assert f'"org":"{org.id}"'.encode() in message["data"]
    finally:
        await pubsub.aclose()
        await listener.aclose()


async def test_events_and_typing_cross_between_the_processes(org: Org) -> None:
    """Committed events and live typing, raised on one process and seen on the other through the cluster."""
    await test_conversation_typing.test_typing_is_live_masked_and_internal_typing_stays_with_the_agents(org)


async def _move_slot(slot: int, to_port: int) -> int:
    """Hand ``slot`` (and its keys) to the master on ``to_port``, as a resharding does; the old owner's port."""
    nodes = {port: aioredis.Redis(host="127.0.0.1", port=port) for port in PORTS}
    try:
        ids = {port: (await client.execute_command("CLUSTER MYID")).decode() for port, client in nodes.items()}
        [source] = [
            master[1]
            for start, end, master, *_ in await nodes[to_port].execute_command("CLUSTER SLOTS")
            if start <= slot <= end
        ]
        await nodes[to_port].execute_command("CLUSTER SETSLOT", slot, "IMPORTING", ids[source])
        await nodes[source].execute_command("CLUSTER SETSLOT", slot, "MIGRATING", ids[to_port])
        while keys := await nodes[source].execute_command("CLUSTER GETKEYSINSLOT", slot, 100):
            await nodes[source].execute_command("MIGRATE", "127.0.0.1", to_port, "", 0, 5000, "KEYS", *keys)
        for port in (to_port, source, *(p for p in PORTS if p not in (to_port, source))):
            await nodes[port].execute_command("CLUSTER SETSLOT", slot, "NODE", ids[to_port])
        return int(source)
    finally:
        for client in nodes.values():
            await client.aclose()


async def test_a_moved_shard_is_followed_to_its_new_master(org: Org, cluster: RedisCluster) -> None:
    """A resharding moves the organization's channel: Redis drops the subscriptions, both processes
    subscribe again on the new owner, and live typing (which only Redis carries) crosses again."""
    channel = org_channel(f"{_prefix(org)}:events", org.id)
    slot = key_slot(channel.encode())
    owner = cluster.get_node_from_key(channel)
    assert owner is not None
    target = next(port for port in PORTS if port != owner.port)
    source = await _move_slot(slot, target)
    try:
        await cluster.nodes_manager.initialize()
        node = aioredis.Redis(host="127.0.0.1", port=target)
        try:
            for _ in range(100):
                [(_, count)] = await node.execute_command("PUBSUB SHARDNUMSUB", channel)
                if count == 2:
                    break
                await asyncio.sleep(0.1)
            assert count == 2
        finally:
            await node.aclose()
        ann = await org.create_agent("Ann")
        conv = await active(org, ann, name="Vera")
        client = await org.ws(ann.token, server=1)
        try:
            sub = await client.subscribe(CONVERSATION, {"t": conv.thread_id})
            await listening(sub)
            await typing_ready()
            response = await typing(org, conv.visitor_token, conv.thread_id, server=0)
            assert response["data"]["setTyping"]["ok"] is True, response
            event = (await sub.next(10))["conversationEvents"]
            assert (event["kind"], event["typingName"]) == ("TYPING", "Vera")
        finally:
            await client.close()
    finally:
        await _move_slot(slot, source)


def _pid(port: int) -> int:
    info = subprocess.run(["redis-cli", "-p", str(port), "info", "server"], capture_output=True, text=True, check=True)
    return int(info.stdout.split("process_id:")[1].split()[0])


async def _ready(org: Org, server: int) -> tuple[int, dict[str, object]]:
    response = await org.http.get(f"{org.stack.url(server)}/readyz")
    return response.status_code, response.json()


async def test_a_hanging_master_is_seen_and_costs_no_request_more_than_10_seconds(
    org: Org, cluster: RedisCluster
) -> None:
    """Half a cluster (one master paused: connections accepted, nothing answered) is not ready,
    says /readyz; the invite limit falls back within the time limit, counted; all is well after."""
    primary, invitee = await org.create_agent("Prim"), await org.create_agent("Inv")
    thread = await active_thread(org, primary)
    key = f"{_prefix(org)}:invite-rate:{org.id}:{pk_of(primary.id)}"
    owner = cluster.get_node_from_key(key)
    assert owner is not None
    pid = _pid(owner.port)
    os.kill(pid, signal.SIGSTOP)
    try:
        for server in range(2):
            status, body = await _ready(org, server)
            assert status == 503 and str(body["redis"]).startswith("down"), body
        start = time.monotonic()
        sent = await invite(org, primary, thread, invitee)
        assert time.monotonic() - start < 10
        assert len(sent["invites"]) == 1, sent
        assert any('what="invite-rate limit"' in line for line in _fallbacks(await scrape(org))), sent
    finally:
        os.kill(pid, signal.SIGCONT)
    for server in range(2):
        for _ in range(150):
            if (await _ready(org, server))[0] == 200:
                break
            await asyncio.sleep(0.2)
        assert await _ready(org, server) == (
            200,
            {"ready": True, "database": "ok", "redis": "ok", "events": "ok", "redis_mode": "cluster"},
        )


async def test_the_invite_limit_is_shared_through_the_cluster(org: Org) -> None:
    await test_invites.test_invites_per_agent_per_minute(org)


async def test_the_visitor_message_limit_holds_across_processes_on_the_cluster(org: Org) -> None:
    await test_message_races.test_the_visitor_rate_limit_holds_across_processes(org)


async def test_the_query_cost_budget_is_shared_through_the_cluster(org: Org) -> None:
    await test_query_cost.test_a_spent_budget_refuses_until_it_refills_across_processes(org)


async def test_persisted_queries_are_shared_through_the_cluster(org: Org) -> None:
    await test_persisted_queries.test_miss_register_then_hit_on_the_other_process(org)


async def test_an_error_reply_fails_the_request_instead_of_falling_back(org: Org, cluster: RedisCluster) -> None:
    """A limiter key of the wrong type (WRONGTYPE) is a bug to see, not an outage: the invite is
    refused with an internal error and a traceback, not counted in the database instead."""
    logs = ServerLogs(org.stack)
    primary, invitee = await org.create_agent("Prim"), await org.create_agent("Inv")
    thread = await active_thread(org, primary)
    await cluster.set(f"{_prefix(org)}:invite-rate:{org.id}:{pk_of(primary.id)}", "not a sorted set")
    before = await scrape(org)
    body = await org.gql(
        """mutation($i: InviteCollaboratorsInput!) { inviteCollaborators(input: $i) { invites { id } } }""",
        {"i": {"threadId": thread, "inviteeIds": [invitee.id]}},
        token=primary.token,
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INTERNAL_SERVER_ERROR"], body
    assert "WRONGTYPE" in logs.new_text() and "Traceback" in logs.new_text()
    assert _fallbacks(await scrape(org)) == _fallbacks(before)
    assert await dbcheck.scalar(org.stack, "SELECT COUNT(*) FROM invite WHERE org_id = ?", org.id) == 0


async def test_an_error_reply_from_the_budget_is_an_error_not_a_free_pass(org: Org, cluster: RedisCluster) -> None:
    """The query-cost bucket of the wrong type: the query is refused (not run on a local bucket)."""
    logs = ServerLogs(org.stack)
    key = QueryCostLimiter(None, _prefix(org)).key(org.id, "analyst-test")
    await cluster.set(key, "not a hash")
    response = await org.http.post(
        f"{org.stack.url(0)}/graphql",
        json={"query": "{ threads(first: 60) { totalCount } }"},
        headers={"Authorization": f"Bearer {org.token('analyst')}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None and body["errors"] == [
        {"message": "internal error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
    ], body
    assert "WRONGTYPE" in logs.new_text() and "Traceback" in logs.new_text()


def _fallbacks(metrics: str) -> list[str]:
    return sorted(line for line in metrics.splitlines() if line.startswith("switchboard_redis_fallbacks_total"))


def test_a_cluster_url_with_another_database_stops_start_up_in_one_line(cluster_url: str, tmp_path: Path) -> None:
    env = servers.base_env({"SWITCHBOARD_REDIS_URL": cluster_url.rsplit("/", 1)[0] + "/1"})
    switchboard = str(Path(sys.executable).parent / "switchboard")
    done = subprocess.run(
        [switchboard, "serve", "--port", str(servers.free_port())],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "only database 0" in lines[0] and lines[0].startswith("switchboard: "), done.stderr
