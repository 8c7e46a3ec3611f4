"""The rows of issue 11's benchmark data set, built in memory for COPY (no database here).

One organization, 500 agents, and at ``scale`` 1: 100k threads over six months,
200k collaborators, 300k invites, a queue entry per queued thread, some events.
The rows keep the contract's invariants so that Switchboard's resolvers and
background sweepers see an ordinary organization:

- an ACTIVE thread has exactly one active PRIMARY, who is its ``primary_agent_id``;
  RESOLVED and CLOSED threads have no active collaborator and no primary
  (``unassignOnResolve``), only ``last_primary_agent_id``;
- ``agent.active_thread_count`` / ``active_collaboration_count`` equal the rows they
  count and stay under ``max_concurrent_*``;
- active non-primary collaborators plus open invites stay within the thread's cap;
- a thread has at most one WAITING entry; every non-primary collaborator has the
  ACCEPTED invite that made it one.

Nothing moves by itself once loaded: every queue is MANUAL (no routing pass
assigns a WAITING entry) with the longest allowed wait, so no entry overflows for
a week; open invites expire a day after generation (a data set reused later sees
them EXPIRED by the sweeper, which leaves ACTIVE threads alone). ``created_at`` of
threads is unique, so "newest first" has one answer whatever the tie-break.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

ORG = "bench-org"
AGENTS = 500
SPAN = timedelta(days=180)
# The newest thread starts this long before generation, so that its assignment,
# helpers and invites (minutes later) are all in the past too.
MARGIN = timedelta(minutes=10)
DEPARTMENTS = ("billing", "sales", "support", "returns", "shipping", "tech", "vip", "onboarding")
SKILLS = ("en", "fr", "de", "es", "billing", "tech", "returns", "vip")
# Non-primary roles and the permission their invite type gives by default.
HELPER_ROLES = (("EXPERT", "WRITE"), ("GUIDE", "WRITE"), ("OBSERVER", "READ"), ("ASSISTANT", "WRITE"))
CLOSED_INVITE_STATUSES = ("REJECTED", "EXPIRED", "WITHDRAWN", "CANCELLED")
CAP = {"NORMAL": 3, "VIP": 5, "URGENT": 7}
WAIT_MAX = 7 * 24 * 3600
MAX_HELPERS = 30

Row = tuple[Any, ...]
T = TypeVar("T")


@dataclass
class Table:
    columns: tuple[str, ...]
    rows: list[Row] = field(default_factory=list)


@dataclass
class Thread:
    id: int
    created_at: datetime
    status: str
    thread_class: str
    visitor_id: int
    primary: int | None = None
    assigned_at: datetime | None = None
    ended_at: datetime | None = None
    # Agents on the thread now (primary included): an open invite may not name them.
    present: set[int] = field(default_factory=set)


# Columns of each table in the order of its rows; tables in load order (every foreign
# key points at a table loaded before).
_COLUMNS = {
    "organization": "id invite_expiry_seconds collaborator_limit_normal collaborator_limit_vip"
    " collaborator_limit_urgent cross_department_approval max_transfer_attempts"
    " transfer_rate_limit_per_visitor_per_hour invites_per_agent_per_minute unassign_on_resolve created_at updated_at"
    " service_name reopen_on_visitor_message_seconds messages_per_visitor_per_minute query_cost_budget"
    " query_cost_restore_per_second",
    "agent": "id org_id name email role department skills status max_concurrent_threads"
    " max_concurrent_collaborations active_thread_count active_collaboration_count last_assigned_at"
    " status_changed_at created_at updated_at",
    "visitor": "id org_id external_id name tier created_at",
    "queue": "id org_id name skills routing_strategy max_wait_seconds vip_max_wait_seconds overflow_action"
    " sticky_agent is_default created_at",
    "thread": "id org_id visitor_id status thread_class channel subject primary_agent_id last_primary_agent_id"
    " transfer_count context created_at updated_at resolved_at",
    "collaborator": "id org_id thread_id agent_id role permission active invited_by_id joined_at left_at",
    "invite": "id org_id thread_id inviter_id invitee_id type permission urgency message status created_at"
    " expires_at responded_at response_message estimated_seconds approved_by_id",
    "queue_entry": "id org_id thread_id queue_id priority priority_rank status trigger reason required_skills"
    " attempt visitor_id enqueued_at overflow_at assigned_at assigned_agent_id ended_at overflow_action"
    " preferred_agent_id",
    "event": "id seq org_id topic kind thread_id invite_id queue_id entry_id actor_id audience payload created_at",
}
COLUMNS = {table: tuple(names.split()) for table, names in _COLUMNS.items()}
ORDER = tuple(COLUMNS)


@dataclass
class Sizes:
    threads: int
    visitors: int
    collaborators: int
    invites: int
    events: int
    queues: int = 8

    @classmethod
    def at(cls, scale: float) -> Sizes:
        def n(base: int, least: int) -> int:
            return max(least, round(base * scale))

        return cls(
            threads=n(100_000, 200),
            visitors=n(60_000, 100),
            collaborators=n(200_000, 400),
            invites=n(300_000, 600),
            events=n(5_000, 50),
        )


class Builder:
    """Builds every table in memory; ``build()`` returns them in load order."""

    def __init__(self, sizes: Sizes, seed: int, now: datetime) -> None:
        self.sizes = sizes
        self.rng = random.Random(seed)
        self.now = now
        self.start = now - MARGIN - SPAN
        self.tables = {name: Table(columns) for name, columns in COLUMNS.items()}
        self.threads: list[Thread] = []
        self.tiers: list[str] = []
        self.primary_of = [0] * (AGENTS + 1)
        self.helping = [0] * (AGENTS + 1)
        self.max_helping = [0] + [self.rng.randint(MAX_HELPERS - 5, MAX_HELPERS) for _ in range(AGENTS)]
        self.last_assigned: list[datetime | None] = [None] * (AGENTS + 1)

    def add(self, table: str, *row: Any) -> int:
        """Appends a row with the next id of its table; returns the id."""
        rows = self.tables[table].rows
        rows.append((len(rows) + 1, *row))
        return len(rows)

    def pick(self, options: tuple[T, ...], percents: tuple[int, ...]) -> T:
        """One of ``options`` by weights summing to 100 (``random.choices`` costs more per call)."""
        r = self.rng.random() * 100
        for option, weight in zip(options, percents, strict=True):
            r -= weight
            if r < 0:
                return option
        return options[-1]

    def build(self) -> dict[str, Table]:
        start = self.start
        self.tables["organization"].rows.append(
            (ORG, 300, 3, 5, 7, False, 3, 10, 30, True, start, start, "Support", 86400, 30, 200_000, 5_000)
        )
        for i in range(self.sizes.visitors):
            tier = self.pick(("NORMAL", "VIP", "ENTERPRISE"), (85, 10, 5))
            self.tiers.append(tier)
            self.add("visitor", ORG, f"v-{i + 1}", f"Visitor {i + 1}", tier, start)
        for i in range(self.sizes.queues):
            skills = json.dumps([SKILLS[i % len(SKILLS)]])
            row = (ORG, f"queue-{i + 1}", skills, "MANUAL", WAIT_MAX, WAIT_MAX, "LEAVE_MESSAGE", False, i == 0, start)
            self.add("queue", *row)
        self._threads()
        self._collaborators()
        self._invites()
        self._entries()
        self._events()
        self._agents()
        return self.tables

    # ------------------------------------------------------------ threads

    def _status(self, index: int) -> str:
        """Open threads are mostly recent; a few old ones were never resolved."""
        r = self.rng.random()
        if index >= self.sizes.threads * 0.92:
            return "ACTIVE" if r < 0.72 else "QUEUED" if r < 0.84 else "BOT"
        return "ACTIVE" if r < 0.03 else "RESOLVED" if r < 0.73 else "CLOSED"

    def _threads(self) -> None:
        n = self.sizes.threads
        step = SPAN.total_seconds() / n
        # Primaries in turn over a shuffled staff: every agent carries about the same load.
        agents = list(range(1, AGENTS + 1))
        self.rng.shuffle(agents)
        turn = 0
        for i in range(n):
            # Unique instants: each in its own slot of the span, before the slot's middle.
            created = self.start + timedelta(seconds=i * step, microseconds=self.rng.randrange(1, int(step * 5e5)))
            status = self._status(i)
            thread_class = self.pick(("NORMAL", "VIP", "URGENT"), (85, 10, 5))
            t = Thread(i + 1, created, status, thread_class, visitor_id=1 + self.rng.randrange(self.sizes.visitors))
            if status in ("ACTIVE", "RESOLVED", "CLOSED"):
                t.primary = agents[turn % AGENTS]
                turn += 1
                t.assigned_at = created + timedelta(seconds=self.rng.randint(10, 120))
            if status in ("RESOLVED", "CLOSED"):
                # After every helper has joined (at most a few minutes after the assignment).
                t.ended_at = created + timedelta(minutes=self.rng.randint(10, 120))
            self.threads.append(t)
            self._thread_row(t)

    def _thread_row(self, t: Thread) -> None:
        active = t.status == "ACTIVE"
        context = None
        if self.rng.random() < 0.3:
            context = json.dumps(
                {
                    "summary": f"Visitor asks about order {t.id}",
                    "sentiment": self.rng.choice(("POSITIVE", "NEUTRAL", "NEGATIVE")),
                    "intents": ["order_status"],
                    "tags": ["bench"],
                    "transcript": [{"from": "visitor", "text": "Where is my order?", "at": t.created_at.isoformat()}],
                    "confidence": round(self.rng.random(), 2),
                }
            )
        row = (
            ORG,
            t.visitor_id,
            t.status,
            t.thread_class,
            self.rng.choice(("web", "app", "email")),
            f"Thread {t.id}: order question",
            t.primary if active else None,
            None if active else t.primary,
            0,
            context,
            t.created_at,
            t.ended_at or t.assigned_at or t.created_at,
            t.ended_at,
        )
        self.add("thread", *row)

    # ------------------------------------------------------------ collaborators and invites

    def _collaborators(self) -> None:
        """ACTIVE threads first (their helpers are bounded by caps), then the history fills the target."""
        staffed = [t for t in self.threads if t.primary is not None]
        for t in staffed:
            if t.status == "ACTIVE":
                self._staff(t, helpers=self.pick((0, 1, 2), (45, 35, 20)), active=True)
        past = [t for t in staffed if t.status != "ACTIVE"]
        left = self.sizes.collaborators - len(self.tables["collaborator"].rows) - len(past)
        share = max(0.0, left / max(1, len(past)))
        for t in past:
            extra = int(share) + (self.rng.random() < share - int(share))
            self._staff(t, helpers=extra, active=False)

    def _staff(self, t: Thread, helpers: int, active: bool) -> None:
        assert t.primary is not None and t.assigned_at is not None
        primary = t.primary
        t.present.add(primary)
        self.add("collaborator", ORG, t.id, primary, "PRIMARY", "ADMIN", active, None, t.assigned_at, t.ended_at)
        if active:
            self.primary_of[primary] += 1
        last = self.last_assigned[primary]
        self.last_assigned[primary] = t.assigned_at if last is None else max(last, t.assigned_at)
        for n in range(helpers + (active and self.rng.random() < 0.2)):
            # The extra one on an ACTIVE thread is a helper who already left.
            still = active and n < helpers
            agent = self._free_agent(t, still)
            if agent is None:
                continue
            role, permission = self.rng.choice(HELPER_ROLES)
            joined = t.assigned_at + timedelta(seconds=60 * (n + 1))
            left_at = None if still else (t.ended_at or joined + timedelta(minutes=5))
            self.add("collaborator", ORG, t.id, agent, role, permission, still, primary, joined, left_at)
            self._invite(t, agent, role, permission, "ACCEPTED", joined - timedelta(seconds=20), joined)
            if still:
                t.present.add(agent)
                self.helping[agent] += 1

    def _free_agent(self, t: Thread, active: bool) -> int | None:
        for _ in range(20):
            agent = 1 + self.rng.randrange(AGENTS)
            if agent in t.present:
                continue
            if active and self.helping[agent] >= self.max_helping[agent]:
                continue
            return agent
        return None

    def _invite(
        self, t: Thread, invitee: int, kind: str, permission: str, status: str, created: datetime, answered: Any
    ) -> None:
        lifetime = timedelta(seconds=86400 if status == "PENDING" else 300)
        message = "Can you help with this one?" if self.rng.random() < 0.5 else None
        urgency = "URGENT" if t.thread_class == "URGENT" else "NORMAL"
        row = (ORG, t.id, t.primary, invitee, kind, permission, urgency, message, status, created)
        self.add("invite", *row, created + lifetime, answered, None, None, None)

    def _invites(self) -> None:
        """Open invites on some ACTIVE threads (within the cap), then closed ones up to the target."""
        staffed = [t for t in self.threads if t.primary is not None]
        for t in staffed:
            if t.status != "ACTIVE" or self.rng.random() >= 0.1 or len(t.present) > CAP[t.thread_class]:
                continue
            created = max(t.created_at + timedelta(seconds=150), self.now - timedelta(seconds=self.rng.randint(1, 600)))
            invitee = self._free_agent(t, active=False)
            if created < self.now and invitee is not None:
                role, permission = self.rng.choice(HELPER_ROLES)
                self._invite(t, invitee, role, permission, "PENDING", created, None)
        for _ in range(max(0, self.sizes.invites - len(self.tables["invite"].rows))):
            t = self.rng.choice(staffed)
            assert t.assigned_at is not None
            end = t.ended_at or min(self.now, t.assigned_at + timedelta(hours=2))
            created = t.assigned_at + (end - t.assigned_at) * self.rng.random()
            invitee = self._free_agent(t, active=False) or (t.primary or 0) % AGENTS + 1
            status = self.pick(CLOSED_INVITE_STATUSES, (35, 35, 15, 15))
            answered = min(created + timedelta(seconds=40), self.now) if status == "REJECTED" else None
            role, permission = self.rng.choice(HELPER_ROLES)
            self._invite(t, invitee, role, permission, status, created, answered)

    # ------------------------------------------------------------ queues, events, agents

    def _entries(self) -> None:
        for t in self.threads:
            tier = self.tiers[t.visitor_id - 1]
            priority = "URGENT" if t.thread_class == "URGENT" else "HIGH" if tier != "NORMAL" else "NORMAL"
            enqueued = t.created_at + timedelta(seconds=5)
            if t.status == "QUEUED":
                # Queued within the last hour, whenever the thread started.
                enqueued = max(enqueued, self.now - timedelta(seconds=self.rng.randint(1, 3600)))
                status, assigned_at, ended = "WAITING", None, None
            elif t.assigned_at is not None:
                status, assigned_at, ended = "ASSIGNED", t.assigned_at, t.assigned_at
            elif self.rng.random() < 0.3:
                status, assigned_at, ended = "CANCELLED", None, enqueued + timedelta(seconds=120)
            else:
                continue
            rank = {"URGENT": 0, "HIGH": 1, "NORMAL": 2}[priority]
            queue = 1 + self.rng.randrange(self.sizes.queues)
            row = (ORG, t.id, queue, priority, rank, status, "VISITOR_REQUEST", None, "[]", 1, t.visitor_id)
            overflow = enqueued + timedelta(seconds=WAIT_MAX)
            self.add("queue_entry", *row, enqueued, overflow, assigned_at, t.primary, ended, None, None)

    def _events(self) -> None:
        newest = self.threads[-self.sizes.events :]
        for n, t in enumerate(newest, start=1):
            at = self.now - timedelta(seconds=len(newest) - n + 1)
            payload = json.dumps({"status": t.status})
            self.add("event", n, ORG, "thread", "STATUS_CHANGED", t.id, None, None, None, None, "[]", payload, at)

    def _agents(self) -> None:
        statuses = ("ONLINE", "AWAY", "DO_NOT_DISTURB", "OFFLINE")
        for i in range(1, AGENTS + 1):
            skills = json.dumps(sorted(self.rng.sample(SKILLS, self.rng.randint(1, 3))))
            role = "SUPERVISOR" if i % 20 == 0 else "AGENT"
            status = self.pick(statuses, (55, 15, 10, 20))
            max_threads = min(100, max(10, self.primary_of[i] + self.rng.randint(0, 8)))
            if self.primary_of[i] > max_threads:
                raise ValueError("too many ACTIVE threads per agent for maxConcurrentThreads (100): lower --scale")
            changed = self.now - timedelta(minutes=self.rng.randint(1, 600))
            row = (ORG, f"Agent {i:03d}", f"agent{i}@example.com", role, DEPARTMENTS[i % len(DEPARTMENTS)], skills)
            counts = (max_threads, self.max_helping[i], self.primary_of[i], self.helping[i])
            self.add("agent", *row, status, *counts, self.last_assigned[i], changed, self.start, self.now)


def build(scale: float, seed: int, now: datetime | None = None) -> dict[str, Table]:
    """Every table of the data set at ``scale`` (1.0: the issue's sizes), deterministic for a seed."""
    return Builder(Sizes.at(scale), seed, now or datetime.now(UTC).replace(microsecond=0)).build()
