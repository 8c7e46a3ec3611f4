"""The Redis users of one process on the real test cluster, in process (no server): the event
transport's order and its recovery from a master restarting, and ``MOVED`` raised, not hidden.

The wire tests of the cluster (two server processes) are in tests/test_redis_cluster.py.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import MovedError

from switchboard import redisconn
from switchboard.events.codec import BusEvent, LiveEvent
from switchboard.events.transport import RedisTransport
from switchboard.events.types import SettingsChanged, TypingChanged
from switchboard.rules.enums import MessageVisibility, SenderKind
from switchboard.runtime.persisted import PersistedQueries
from switchboard.runtime.ratelimit import QueryCostLimiter, RateLimiter, Throttle
from switchboard.services.tenancy import Tenant
from tests import servers

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def cluster_url() -> str:
    return servers.ensure_redis_cluster()


class Process:
    """What one server process holds: its cluster client and its transport, and what reached it."""

    def __init__(self, client: redisconn.RedisClient, base: str) -> None:
        self.client = client
        self.transport = RedisTransport(client, base)
        self.events: list[BusEvent] = []
        self.live: list[LiveEvent] = []

    async def start(self) -> None:
        async def deliver(event: BusEvent) -> None:
            self.events.append(event)

        await self.transport.start(deliver, self.live.append)
        assert self.transport.connected.is_set()


@pytest_asyncio.fixture
async def pair(cluster_url: str) -> AsyncIterator[list[Process]]:
    base = f"sbtest-transport-{secrets.token_hex(4)}:events"
    processes = [Process(await redisconn.connect(cluster_url, base), base) for _ in range(2)]
    try:
        for process in processes:
            await process.start()
        yield processes
    finally:
        for process in processes:
            await process.transport.stop()
            await process.client.aclose()


async def _until(check: object, what: str, within: float = 20.0) -> None:
    assert callable(check)
    for _ in range(int(within / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


def _typing(org: str) -> TypingChanged:
    return TypingChanged(
        org=org,
        thread_id=1,
        typing=True,
        visibility=MessageVisibility.PUBLIC,
        sender_kind=SenderKind.AGENT,
        sender="agent:4",
        name="Ann",
        service_name="Support",
    )


async def test_each_organizations_events_arrive_in_order_whatever_their_shards(pair: list[Process]) -> None:
    sender, receiver = pair
    orgs = [f"org-{n}" for n in range(24)]
    assert len({sender.transport.channel_of(org) for org in orgs}) > 8
    batches = [
        [BusEvent(seq=100 * n + i, at=NOW, event=SettingsChanged(org=org, changed=())) for i in range(20)]
        for n, org in enumerate(orgs)
    ]
    # One batch mixing every organization, then one batch per organization.
    assert await sender.transport.publish([event for group in zip(*batches, strict=True) for event in group])
    for batch in batches:
        assert await sender.transport.publish(batch)
    await _until(lambda: len(receiver.events) == 2 * 24 * 20, "every event")
    for org, batch in zip(orgs, batches, strict=True):
        seqs = [event.seq for event in receiver.events if event.org == org]
        assert seqs == [event.seq for event in batch] * 2, org


def _start_node(port: int, config: str) -> None:
    """The master on ``port`` again, as scripts/redis-cluster starts it, from its cluster state file."""
    options = ["--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes"]
    options += ["--cluster-config-file", config, "--cluster-node-timeout", "2000", "--dir", "/tmp"]
    options += ["--logfile", f"/tmp/sb-cluster-{port}.log", "--save", "", "--appendonly", "no", "--daemonize", "yes"]
    subprocess.run(["redis-server", *options], check=True)


async def _until_cluster_ok() -> None:
    """Every master says cluster_state:ok again (the next tests need the whole cluster)."""
    for _ in range(200):
        states = []
        for port in (7101, 7102, 7103):
            client = aioredis.Redis(port=port)
            try:
                states.append((await client.cluster("INFO")).get("cluster_state"))
            except redisconn.ERRORS:
                states.append(None)
            finally:
                await client.aclose()
        if states == ["ok"] * 3:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the cluster did not come back: {states}")


async def test_a_restarted_master_gets_the_subscriptions_back(pair: list[Process], cluster_url: str) -> None:
    """A master goes away and comes back (same node, same slots): both transports notice, subscribe
    again on it, and a live event of an organization it serves crosses again."""
    sender, receiver = pair
    cluster = sender.client
    assert isinstance(cluster, RedisCluster)
    org = "org-restart"
    node = cluster.get_node_from_key(sender.transport.channel_of(org))
    assert node is not None
    port = node.port
    admin = aioredis.Redis(port=port)
    try:
        config = (await admin.config_get("cluster-config-file"))["cluster-config-file"]
    finally:
        await admin.aclose()
    await asyncio.to_thread(subprocess.run, ["redis-cli", "-p", str(port), "shutdown", "nosave"], check=False)
    try:
        await _until(lambda: not receiver.transport.connected.is_set(), "the subscription to drop")
    finally:
        await asyncio.to_thread(_start_node, port, config)
        await _until_cluster_ok()
    await _until(receiver.transport.connected.is_set, "subscribed again")
    await _until(sender.transport.connected.is_set, "subscribed again")
    restarted = aioredis.Redis(port=port)
    try:
        [(_, count)] = await restarted.execute_command("PUBSUB SHARDNUMSUB", sender.transport.channel_of(org))
        assert count == 2
    finally:
        await restarted.aclose()
    event = LiveEvent(at=NOW, event=_typing(org), origin=sender.transport.origin)

    async def crossed() -> bool:
        return await sender.transport.publish_live(event) and bool(receiver.live)

    for _ in range(100):
        if await crossed():
            break
        await asyncio.sleep(0.1)
    assert receiver.live and receiver.live[0].event == event.event
    assert receiver.transport.resubscribed == 0  # a reconnection, not a moved slot


async def _never_counted(tenant: Tenant, subject: int, since: datetime) -> int:
    raise AssertionError("fell back to counting in the database")


async def test_a_plain_client_on_a_cluster_node_raises_moved_instead_of_falling_back(cluster_url: str) -> None:
    """Before: pointed at a cluster node with a plain client, the limiter got MOVED and silently
    counted in the database. Now every user of Redis raises it (detection at start-up picks the
    cluster client, so a running server never gets here)."""
    plain = aioredis.from_url(cluster_url)
    prefix = f"sbtest-moved-{secrets.token_hex(4)}"
    masters = await plain.execute_command("CLUSTER SLOTS")
    here = int(cluster_url.rsplit(":", 1)[1].split("/")[0])

    def elsewhere(keys: Iterator[tuple[str, str]]) -> str:
        """The first candidate whose key another master than the URL's own serves."""
        for candidate, key in keys:
            slot = key_slot(key.encode())
            if all(int(m[2][1]) != here for m in masters if m[0] <= slot <= m[1]):
                return candidate
        raise AssertionError("every key on one master")

    limiter = RateLimiter(plain, prefix, "message-rate", _never_counted)
    costs = QueryCostLimiter(plain, prefix)
    try:
        subject = elsewhere((str(n), f"{prefix}:message-rate:o:{n}") for n in range(1000))
        with pytest.raises(MovedError):
            await limiter.acquire(Tenant("o"), int(subject), 5, 1, datetime.now(UTC))
        key = elsewhere((f"k{n}", f"{prefix}:typing:k{n}") for n in range(1000))
        with pytest.raises(MovedError):
            await Throttle(plain, prefix, "typing", 2.0).go(key)
        sha = elsewhere((f"{n:064x}", f"{prefix}:apq:{n:064x}") for n in range(1000))
        with pytest.raises(MovedError):
            await PersistedQueries(plain, prefix).put(sha, "{ viewer { role } }")
        caller = elsewhere((f"s{n}", costs.key("o", f"s{n}")) for n in range(1000))
        with pytest.raises(MovedError):
            await costs.spend("o", caller, 10, 100, 1)
    finally:
        await plain.aclose()
