"""Many processes: several workers behind one port, and a process killed mid-traffic.

``switchboard serve --workers 2`` answers on one port from two processes; each
process names itself in ``/metrics`` (``switchboard_process_info{pid=...}``), so
the tests can tell which worker holds a subscription and which ones handled the
mutations. A process killed with SIGKILL gets no chance to publish or to fire
its deadlines: what it committed must still reach the survivors' subscribers
(from the event log), and its deadlines (kept in the database) must fire there.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from tests import servers
from tests.collab_support import INVITE_EVENTS, WITHDRAW, active_thread, invite_one, settings
from tests.conftest import AgentHandle, Org
from tests.queue_support import create_queue, enqueue, entry, eventually
from tests.wsclient import GraphQLWS, Subscription

PID = re.compile(r'^switchboard_process_info\{pid="(\d+)"\} 1\.0$', re.MULTILINE)
INVITES_SENT = re.compile(
    r'^switchboard_graphql_operations_total\{field="inviteCollaborators",type="mutation"\} ([\d.]+)$', re.MULTILINE
)
SOCKETS = re.compile(r"^switchboard_websockets_open ([\d.]+)$", re.MULTILINE)
Sent = tuple[str, str]  # (invite id, event kind)
# The invite rate limit is not what these tests are about; they send a few dozen a minute.
UNLIMITED = 10_000


async def per_worker_metrics(url: str, workers: int = 2, tries: int = 400) -> dict[int, str]:
    """The latest ``/metrics`` of each worker behind ``url``, by pid. Each request goes over a new
    connection, which any worker may accept; asks until every worker has answered."""
    seen: dict[int, str] = {}
    for _ in range(tries):
        async with httpx.AsyncClient(timeout=10) as fresh:
            text = (await fresh.get(f"{url}/metrics")).text
        seen[_pid(text)] = text
        if len(seen) == workers:
            return seen
    raise AssertionError(f"only workers {sorted(seen)} answered behind {url}")


def _pid(metrics: str) -> int:
    match = PID.search(metrics)
    assert match, metrics[:500]
    return int(match.group(1))


async def connection_to(url: str, pid: int, tries: int = 400) -> httpx.AsyncClient:
    """A client with one kept-alive connection, which worker ``pid`` accepted."""
    for _ in range(tries):
        client = httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=1))
        if _pid((await client.get(f"{url}/metrics")).text) == pid:
            return client
        await client.aclose()
    raise AssertionError(f"no new connection reached worker {pid}")


def _figure(pattern: re.Pattern[str], text: str) -> float:
    match = pattern.search(text)
    return float(match.group(1)) if match else 0.0


async def invite_round(org: Org, primary: AgentHandle, invitee: AgentHandle, thread_id: str, server: int) -> list[Sent]:
    """Invite ``invitee`` and withdraw the invite: two mutations, two events for the invitee."""
    sent = await invite_one(org, primary, thread_id, invitee, server=server)
    data = await org.data(WITHDRAW, {"i": {"inviteId": sent["id"]}}, token=primary.token, server=server)
    assert not data["withdrawInvite"]["userErrors"], data
    return [(sent["id"], "CREATED"), (sent["id"], "WITHDRAWN")]


async def received(sub: Subscription, count: int, within: float = 10.0) -> list[Sent]:
    events = [(await sub.next(within))["inviteEvents"] for _ in range(count)]
    return [(e["invite"]["id"], e["kind"]) for e in events]


async def registered(org: Org, sub: Subscription, primary: AgentHandle, invitee: AgentHandle, thread_id: str) -> None:
    """Probe rounds (through the stack) until the subscription sees one. Without a cursor it starts
    live, with no acknowledgement: a probe made before it was registered is not seen, the next is."""
    for _ in range(20):
        last = (await invite_round(org, primary, invitee, thread_id, 0))[-1]
        try:
            while (await received(sub, 1, within=3))[0] != last:
                pass
        except TimeoutError:
            continue
        return
    raise AssertionError("the subscription never saw a probe")


@pytest.mark.postgres_only
async def test_two_workers_behind_one_port_both_serve_and_share_events(org: Org, workdir: Path) -> None:
    port = servers.free_port()
    log = workdir / "serve.log"
    process = servers.launch(
        [servers.SWITCHBOARD, "serve", "--port", str(port), "--workers", "2"], dict(org.stack.env), workdir, log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        servers.wait_healthy(url, process, log)
        # Both workers answer on the one port.
        assert len(await per_worker_metrics(url)) == 2
        await settings(org, invitesPerAgentPerMinute=UNLIMITED)
        primary = await org.create_agent("Pia")
        invitee = await org.create_agent("Ivo")
        thread_id = await active_thread(org, primary)
        async with await GraphQLWS.connect(
            f"ws://127.0.0.1:{port}/graphql", {"Authorization": f"Bearer {invitee.token}"}
        ) as client:
            sub = await client.subscribe(INVITE_EVENTS)
            await registered(org, sub, primary, invitee, thread_id)
            # The worker that took the WebSocket counts it open.
            sockets = {pid: _figure(SOCKETS, text) for pid, text in (await per_worker_metrics(url)).items()}
            (holder,) = [pid for pid, n in sockets.items() if n == 1]
            (other,) = [pid for pid in sockets if pid != holder]
            sent: list[Sent] = []
            # The other worker first: its changes must cross to the subscriber's worker.
            for pid in (other, holder, other):
                pinned = await connection_to(url, pid)
                try:
                    for _ in range(2):
                        sent += await invite_round(through(org, url, pinned), primary, invitee, thread_id, 0)
                    # Still the same worker on the same connection: it handled those mutations.
                    text = (await pinned.get(f"{url}/metrics")).text
                finally:
                    await pinned.aclose()
                assert _pid(text) == pid and _figure(INVITES_SENT, text) >= 2
            # Every change, whichever worker made it, reaches the subscriber, once and in order.
            assert await received(sub, len(sent)) == sent
            await sub.nothing(within=0.5)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except Exception:
            process.kill()
            process.wait(5)


def through(org: Org, url: str, http: httpx.AsyncClient) -> Org:
    """``org`` as called at ``url`` (its server 0) with ``http``."""
    port = int(url.rsplit(":", 1)[1])
    server = servers.Server(org.stack.env, port, Path("/dev/null"))
    view = Org(servers.Stack(org.stack.name, org.stack.env, [server]), http)
    view.id = org.id
    return view


ROUNDS_AFTER_KILL = 6
# Long enough for the victim to be killed before it could fire them, even on a busy machine.
DEADLINE_SECONDS = 8


@pytest.mark.postgres_only
async def test_a_process_killed_mid_traffic_loses_nothing_and_its_deadlines_fire_elsewhere(
    org: Org, workdir: Path, http: httpx.AsyncClient
) -> None:
    """Two more processes on the stack's database and Redis: traffic through both, SIGKILL one.

    Every mutation either process acknowledged reaches the invitee's subscription on the
    survivor once, in the order a replay after the first cursor gives; the invite that
    expires and the queue entry that overflows, both created through the killed
    process, fire on the survivors."""
    victim = servers.Server(dict(org.stack.env), servers.free_port(), workdir / "victim.log")
    survivor = servers.Server(dict(org.stack.env), servers.free_port(), workdir / "survivor.log")
    pair = servers.Stack(org.stack.name, org.stack.env, [victim, survivor])
    try:
        victim.start()
        survivor.start()
        here = Org(pair, http)
        here.id = org.id
        await settings(org, invitesPerAgentPerMinute=UNLIMITED)
        primary = await org.create_agent("Pia", maxConcurrentThreads=5)
        invitee = await org.create_agent("Ivo")
        threads = [await active_thread(org, primary) for _ in range(3)]
        queue_id = await create_queue(org, "Short", routingStrategy="MANUAL", maxWaitSeconds=DEADLINE_SECONDS)
        async with await here.ws(invitee.token, server=1) as client:
            sub = await client.subscribe(INVITE_EVENTS)
            await registered(org, sub, primary, invitee, threads[1])
            acked = await _kill_mid_traffic(here, victim, primary, invitee, threads, queue_id)
            live = await _until_seen(sub, set(acked.sent) | {(acked.timer, "EXPIRED")})
            assert len(set(live)) == len(live), "an event came twice"
            # Nothing skipped: a replay after the first cursor gives the same events, in the same order.
            replay = await client.subscribe(INVITE_EVENTS, {"after": live[0][0]})
            assert [(await replay.next())["inviteEvents"]["cursor"] for _ in live[1:]] == [c for c, _ in live[1:]]
        await eventually(lambda: _overflowed(here, acked.entry), within=30)
    finally:
        pair.stop()


class Acked:
    """What the processes acknowledged: the events they made, the timer invite, the queue entry."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.timer = ""
        self.entry = ""


async def _kill_mid_traffic(
    org: Org, victim: servers.Server, primary: AgentHandle, invitee: AgentHandle, threads: list[str], queue_id: str
) -> Acked:
    acked = Acked()
    killed = asyncio.Event()
    through_victim: list[Sent] = []

    async def rounds(server: int, thread_id: str) -> None:
        after_kill = 0
        while after_kill < ROUNDS_AFTER_KILL:
            after_kill += killed.is_set()
            try:
                done = await invite_round(org, primary, invitee, thread_id, server)
            except (httpx.HTTPError, AssertionError):
                if server != 0 or not killed.is_set():
                    raise
                # The victim died under the request: not acknowledged; its loop ends here.
                return
            acked.sent.extend(done)
            if server == 0:
                through_victim.extend(done)

    loops = [asyncio.create_task(rounds(0, threads[0])), asyncio.create_task(rounds(1, threads[1]))]

    async def victim_busy() -> bool:
        return len(through_victim) >= 6

    await eventually(victim_busy, within=60)
    # Deadlines created through the victim, due after it is gone (killed at once: it cannot fire them).
    _, acked.entry, _ = await enqueue(org, queue_id=queue_id)
    timer = await invite_one(org, primary, threads[2], invitee, server=0, expiresInSeconds=DEADLINE_SECONDS)
    acked.sent.append((timer["id"], "CREATED"))
    acked.timer = timer["id"]
    assert victim.process is not None
    victim.process.kill()
    victim.process.wait(10)
    killed.set()
    await asyncio.gather(*loops)
    return acked


async def _until_seen(sub: Subscription, expected: set[Sent]) -> list[tuple[str, Sent]]:
    """The stream's events as (cursor, (invite id, kind)), read until every expected one came."""
    live: list[tuple[str, Sent]] = []
    while not expected <= {sent for _, sent in live}:
        event = (await sub.next(timeout=30))["inviteEvents"]
        live.append((event["cursor"], (event["invite"]["id"], event["kind"])))
    return live


async def _overflowed(org: Org, entry_id: str) -> bool:
    return (await entry(org, entry_id, server=1))["status"] == "OVERFLOWED"
