"""A seeded random driver of real mutations over HTTP, for invariant checks and the soak.

Several workers act at once on the same organization through every server
process of a stack: agents change status and capacity, visitors start threads
and ask for humans, agents claim, invite, answer, withdraw, leave, remove,
hand over and resolve, the bot reopens. Each thread action first reads the
thread (as an admin) to pick a plausible actor, then acts; other workers act
in between, so the actions race across processes as real traffic does.

Outcomes are counted by kind: ``ok``, a userError code, or a top-level error
code. A 5xx or an INTERNAL_SERVER_ERROR counts under ``failures``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.conftest import AgentHandle, Org

THREAD = """query($id: ID!) { thread(id: $id) { id status primaryAgent { id }
  collaborators { role agent { id } }
  invites(first: 10, status: [PENDING, DEFERRED, PENDING_APPROVAL]) { edges { node { id status type
    inviter { id } invitee { id } } } }
  queueEntry { id status } } }"""
START = """mutation($i: StartThreadInput!) { startThread(input: $i) {
  thread { id } visitorToken userErrors { code } } }"""
M = {
    "invite": "inviteCollaborators(input: $i) { invites { id } userErrors { code } }",
    "respond": "respondToInvite(input: $i) { userErrors { code } }",
    "withdraw": "withdrawInvite(input: $i) { userErrors { code } }",
    "remove": "removeCollaborator(input: $i) { userErrors { code } }",
    "leave": "leaveThread(input: $i) { userErrors { code } }",
    "transfer": "requestTransfer(input: $i) { queueEntry { id } userErrors { code } }",
    "cancel": "cancelQueueEntry(input: $i) { userErrors { code } }",
    "claim": "claimQueueEntry(input: $i) { userErrors { code } }",
    "resolve": "resolveThread(input: $i) { userErrors { code } }",
    "reopen": "reopenThread(input: $i) { userErrors { code } }",
    "status": "setAgentStatus(input: $i) { userErrors { code } }",
    "capacity": "updateAgent(input: $i) { userErrors { code } }",
}
INPUT_TYPES = {
    "invite": "InviteCollaboratorsInput",
    "respond": "RespondToInviteInput",
    "withdraw": "WithdrawInviteInput",
    "remove": "RemoveCollaboratorInput",
    "leave": "LeaveThreadInput",
    "transfer": "RequestTransferInput",
    "cancel": "CancelQueueEntryInput",
    "claim": "ClaimQueueEntryInput",
    "resolve": "ResolveThreadInput",
    "reopen": "ReopenThreadInput",
    "status": "SetAgentStatusInput",
    "capacity": "UpdateAgentInput",
}
# Weights of the actions a worker picks from.
ACTIONS = {
    "start": 3,
    "transfer": 4,
    "claim": 4,
    "invite": 6,
    "respond": 6,
    "withdraw": 1,
    "leave": 2,
    "remove": 1,
    "handover": 1,
    "resolve": 2,
    "reopen": 2,
    "cancel": 1,
    "status": 2,
    "capacity": 1,
}


@dataclass
class Visitor:
    thread: str
    token: str


@dataclass
class Workload:
    org: Org
    rng: random.Random
    agents: list[AgentHandle] = field(default_factory=list)
    visitors: list[Visitor] = field(default_factory=list)
    queue: str = ""
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    # No more visitors (threads) than this are started.
    max_visitors: int = 10_000

    async def setup(self, agents: int = 8, threads: int = 6) -> None:
        for i in range(agents):
            self.agents.append(await self.org.create_agent(f"W{i}", maxConcurrentThreads=self.rng.randint(1, 3)))
        data = await self.org.data(
            'mutation { createQueue(input: {name: "Work", routingStrategy: LEAST_BUSY}) { queue { id } } }'
        )
        self.queue = data["createQueue"]["queue"]["id"]
        for _ in range(threads):
            await self.start()

    def _server(self) -> int:
        return self.rng.randrange(len(self.org.stack.servers))

    async def request(self, name: str, query: str, variables: dict[str, Any], token: str) -> tuple[str, Any]:
        """POST one operation to a random process: its outcome's kind, and its data when ``ok``."""
        start = time.perf_counter()
        try:
            response = await self.org.http.post(
                f"{self.org.stack.url(self._server())}/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.TransportError as exc:
            # The server closed the connection or never answered: counted, not retried
            # (a mutation may have committed).
            self.failures.append(f"{name}: {type(exc).__name__} {exc}")
            return "transport", None
        self.latencies.append(time.perf_counter() - start)
        body = response.json() if response.status_code < 500 else {}
        kind = self._judge(name, response.status_code, body)
        return kind, body.get("data") if kind == "ok" else None

    async def call(self, name: str, variables: dict[str, Any], token: str) -> str:
        """Run mutation ``name`` with input ``variables``; its outcome's kind."""
        query = f"mutation($i: {INPUT_TYPES[name]}!) {{ {M[name]} }}"
        kind, _ = await self.request(name, query, {"i": variables}, token)
        return kind

    def _judge(self, name: str, status: int, body: dict[str, Any]) -> str:
        if status >= 500:
            self.failures.append(f"{name}: HTTP {status}")
            return "5xx"
        errors = body.get("errors") or []
        codes = [(e.get("extensions") or {}).get("code") for e in errors]
        if "INTERNAL_SERVER_ERROR" in codes or (not errors and not body.get("data")):
            self.failures.append(f"{name}: {body}")
            return "internal"
        if codes:
            kind = str(codes[0])
        else:
            payload = next(iter(body["data"].values()))
            user_errors = (payload or {}).get("userErrors") or []
            kind = str(user_errors[0]["code"]) if user_errors else "ok"
        self.outcomes[f"{name}:{kind}"] += 1
        return kind

    async def thread(self) -> tuple[Visitor, dict[str, Any]] | None:
        if not self.visitors:
            return None
        visitor = self.rng.choice(self.visitors)
        # As the console of whoever works on it would: a caller (and a query budget) per thread.
        reader = self.org.token("admin", sub=f"reader-{visitor.thread}")
        kind, data = await self.request("read", THREAD, {"id": visitor.thread}, reader)
        return (visitor, data["thread"]) if kind == "ok" else None

    def agent(self, agent_id: str | None = None) -> AgentHandle:
        if agent_id is not None:
            return next(a for a in self.agents if a.id == agent_id)
        return self.rng.choice(self.agents)

    async def step(self) -> None:
        action = self.rng.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]
        await getattr(self, action)()

    async def start(self) -> None:
        if len(self.visitors) >= self.max_visitors:
            return
        thread_class = self.rng.choice(["NORMAL", "NORMAL", "VIP", "URGENT"])
        variables = {"i": {"visitor": {"externalId": f"v-{self.rng.getrandbits(48):x}"}, "threadClass": thread_class}}
        kind, data = await self.request("start", START, variables, self.org.token("service"))
        if kind == "ok":
            self.visitors.append(Visitor(data["startThread"]["thread"]["id"], data["startThread"]["visitorToken"]))

    async def transfer(self) -> None:
        if self.visitors:
            visitor = self.rng.choice(self.visitors)
            await self.call("transfer", {"threadId": visitor.thread, "queueId": self.queue}, visitor.token)

    async def claim(self) -> None:
        await self.call("claim", {"queueId": self.queue}, self.agent().token)

    async def invite(self) -> None:
        found = await self.thread()
        if found is None or found[1]["primaryAgent"] is None:
            return
        _, thread = found
        invitees = self.rng.sample([a.id for a in self.agents], self.rng.randint(1, 3))
        kind = self.rng.choice(["EXPERT", "GUIDE", "OBSERVER", "ASSISTANT"])
        by = self.agent(thread["primaryAgent"]["id"])
        await self.call("invite", {"threadId": thread["id"], "inviteeIds": invitees, "type": kind}, by.token)

    async def handover(self) -> None:
        found = await self.thread()
        if found is None or found[1]["primaryAgent"] is None:
            return
        _, thread = found
        by = self.agent(thread["primaryAgent"]["id"])
        to = self.agent()
        await self.call("invite", {"threadId": thread["id"], "inviteeIds": [to.id], "type": "TRANSFER"}, by.token)

    def _open_invite(self, thread: dict[str, Any]) -> dict[str, Any] | None:
        invites = [edge["node"] for edge in thread["invites"]["edges"]]
        return self.rng.choice(invites) if invites else None

    async def respond(self) -> None:
        found = await self.thread()
        invite = self._open_invite(found[1]) if found else None
        if invite is not None:
            action = self.rng.choice(["ACCEPT", "ACCEPT", "REJECT", "DEFER"])
            who = self.agent(invite["invitee"]["id"])
            await self.call("respond", {"inviteId": invite["id"], "action": action}, who.token)

    async def withdraw(self) -> None:
        found = await self.thread()
        invite = self._open_invite(found[1]) if found else None
        if invite is not None:
            await self.call("withdraw", {"inviteId": invite["id"]}, self.agent(invite["inviter"]["id"]).token)

    def _helper(self, thread: dict[str, Any]) -> AgentHandle | None:
        helpers = [c["agent"]["id"] for c in thread["collaborators"] if c["role"] != "PRIMARY"]
        return self.agent(self.rng.choice(helpers)) if helpers else None

    async def leave(self) -> None:
        found = await self.thread()
        helper = self._helper(found[1]) if found else None
        if found and helper is not None:
            await self.call("leave", {"threadId": found[1]["id"]}, helper.token)

    async def remove(self) -> None:
        found = await self.thread()
        helper = self._helper(found[1]) if found else None
        if found and helper is not None and found[1]["primaryAgent"] is not None:
            by = self.agent(found[1]["primaryAgent"]["id"])
            await self.call("remove", {"threadId": found[1]["id"], "agentId": helper.id}, by.token)

    async def resolve(self) -> None:
        found = await self.thread()
        if found is None:
            return
        primary = found[1]["primaryAgent"]
        token = self.agent(primary["id"]).token if primary else self.org.token("admin")
        await self.call("resolve", {"threadId": found[1]["id"]}, token)

    async def reopen(self) -> None:
        if self.visitors:
            visitor = self.rng.choice(self.visitors)
            await self.call("reopen", {"threadId": visitor.thread}, self.org.token("service"))

    async def cancel(self) -> None:
        found = await self.thread()
        if found is None or not found[1]["queueEntry"] or found[1]["queueEntry"]["status"] != "WAITING":
            return
        visitor, thread = found
        await self.call("cancel", {"queueEntryId": thread["queueEntry"]["id"]}, visitor.token)

    async def status(self) -> None:
        agent = self.agent()
        status = self.rng.choice(["ONLINE", "ONLINE", "ONLINE", "AWAY", "DO_NOT_DISTURB", "OFFLINE"])
        await self.call("status", {"status": status}, agent.token)

    async def capacity(self) -> None:
        """Capacity only grows here: lowering it under a load the agent already carries is an
        administrator's choice the invariants cannot judge (the next assignment waits)."""
        agent = self.agent()
        await self.call(
            "capacity", {"agentId": agent.id, "maxConcurrentThreads": self.rng.randint(3, 5)}, self.org.token()
        )


async def run(workload: Workload, workers: int, steps: int, until: float | None = None) -> None:
    """``workers`` concurrent loops of ``steps`` actions each (or fewer, when ``until``, a
    ``time.monotonic()`` deadline, comes first)."""

    async def worker() -> None:
        for _ in range(steps):
            if until is not None and time.monotonic() >= until:
                return
            await workload.step()

    await asyncio.gather(*(worker() for _ in range(workers)))
