"""The access policy: who may read, change, or see the identity in what.

Every read path asks here (node, nodes, thread, threads and their filters,
queue entries, invites, collaborators, agent identities, subscriptions,
viewerPermission) and every rule of who may change what is written here once.
The policy is pure: it takes a plain ``Caller`` and plain facts about the object
and answers with a decision. For lists it answers with a ``Scope``, a
description that ``services.tenancy`` turns into a query filter.

Sections: the caller; operations (which roles may call what); reading one
object; listing; identities and permissions; subscriptions; changes. The
conversation (who posts what, who sees INTERNAL notes and names) is its own
section in ``policy_conversation`` for size, re-exported here: ask ``policy``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum

from switchboard.rules.enums import CollaboratorRole, InviteStatus, Permission, Role, ThreadStatus
from switchboard.rules.invites import ANSWERABLE

# The conversation section, re-exported (its ``__all__``): callers ask ``policy``.
from switchboard.rules.policy_conversation import *  # noqa: F403

# ---------------------------------------------------------------- the caller


@dataclass(frozen=True)
class Caller:
    """Who is calling, as far as the rules care."""

    role: Role
    org: str
    agent_id: int | None = None
    # Agents: whether their organization role is SUPERVISOR, and their department.
    supervisor: bool = False
    department: str | None = None
    # Visitors: their visitor record and their one thread.
    visitor_id: int | None = None
    thread_id: int | None = None

    @property
    def plain_agent(self) -> bool:
        """An agent who is not a supervisor: reads only what they work on."""
        return self.role is Role.AGENT and not self.supervisor

    @property
    def visitor(self) -> bool:
        return self.role is Role.VISITOR


class Reach(Enum):
    """How much of an object a caller sees."""

    FULL = "FULL"
    # An invite's thread to an agent who may not read it: id, status, class, channel, subject, visitor.
    HEADLINE = "HEADLINE"
    # Reads as missing (null), like an ID of another organization.
    HIDDEN = "HIDDEN"
    # A top-level FORBIDDEN error: a visitor reaching beyond their own thread.
    FORBIDDEN = "FORBIDDEN"


# ---------------------------------------------------------------- operations


class Op(Enum):
    """Every operation of the API, as the role table of the contract names them."""

    READ_THREADS = "thread, threads, node, nodes, queueEntries"
    READ_VIEWER = "viewer"
    READ_INVITES = "invites"
    READ_AGENTS = "agents"
    READ_QUEUES = "queue, queues"
    READ_QUEUE_STATS = "Queue.stats"
    READ_METRICS = "metrics"
    READ_SETTINGS = "settings"
    INVITE = "inviteCollaborators"
    RESPOND = "respondToInvite"
    WITHDRAW = "withdrawInvite"
    DECIDE_APPROVAL = "decideInviteApproval"
    CHANGE_PERMISSION = "changePermission"
    REMOVE_COLLABORATOR = "removeCollaborator"
    LEAVE = "leaveThread"
    TRANSFER = "requestTransfer"
    TRANSFER_TO_AGENT = "requestTransfer(toAgentId)"
    CANCEL_ENTRY = "cancelQueueEntry"
    CLAIM = "claimQueueEntry"
    RESOLVE = "resolveThread"
    REOPEN = "reopenThread"
    SET_STATUS = "setAgentStatus"
    PROVISION = "createAgent, updateAgent, createQueue, updateQueue, updateSettings"
    START_THREAD = "startThread"
    WATCH_POSITION = "queuePosition"
    WATCH_INVITES = "inviteEvents"
    WATCH_THREAD = "threadEvents"
    WATCH_QUEUE_STATS = "queueStats"
    SEND_MESSAGE = "sendMessage"
    SET_TYPING = "setTyping"
    MARK_READ = "markThreadRead"
    WATCH_CONVERSATION = "conversationEvents"


ALL = frozenset(Role)
STAFF = frozenset({Role.AGENT, Role.ADMIN, Role.ANALYST, Role.SERVICE})
A, AD, AN, S, V = Role.AGENT, Role.ADMIN, Role.ANALYST, Role.SERVICE, Role.VISITOR
GATES: dict[Op, frozenset[Role]] = {
    Op.READ_THREADS: ALL,
    Op.READ_VIEWER: ALL,
    Op.READ_INVITES: STAFF,
    Op.READ_AGENTS: STAFF,
    Op.READ_QUEUES: STAFF,
    Op.READ_QUEUE_STATS: ALL,
    Op.READ_METRICS: STAFF,
    Op.READ_SETTINGS: STAFF,
    Op.INVITE: frozenset({A, AD}),
    Op.RESPOND: frozenset({A}),
    Op.WITHDRAW: frozenset({A, AD}),
    Op.DECIDE_APPROVAL: frozenset({A, AD}),
    Op.CHANGE_PERMISSION: frozenset({A, AD}),
    Op.REMOVE_COLLABORATOR: frozenset({A, AD}),
    Op.LEAVE: frozenset({A}),
    Op.TRANSFER: frozenset({S, V, A, AD}),
    Op.TRANSFER_TO_AGENT: frozenset({A, AD, S}),
    Op.CANCEL_ENTRY: frozenset({V, S, AD}),
    Op.CLAIM: frozenset({A}),
    Op.RESOLVE: frozenset({A, AD}),
    Op.REOPEN: frozenset({S, AD}),
    Op.SET_STATUS: frozenset({A, AD}),
    Op.PROVISION: frozenset({AD}),
    Op.START_THREAD: frozenset({S, AD}),
    Op.WATCH_POSITION: frozenset({A, AD, S, V}),
    Op.WATCH_INVITES: frozenset({A}),
    Op.WATCH_THREAD: frozenset({A, AD}),
    Op.WATCH_QUEUE_STATS: frozenset({AD, AN, A}),
    Op.SEND_MESSAGE: frozenset({V, S, A, AD}),
    Op.SET_TYPING: frozenset({V, A, AD}),
    Op.MARK_READ: frozenset({A}),
    Op.WATCH_CONVERSATION: frozenset({V, A, AD}),
}
# Among agents, only supervisors (they run the floor).
SUPERVISORS_ONLY = {
    Op.READ_METRICS: "only supervisors among agents may read metrics",
    Op.WATCH_QUEUE_STATS: "only supervisors among agents may watch queue stats",
}
REFUSALS = {(Op.TRANSFER_TO_AGENT, Role.VISITOR): "visitors may transfer only into a queue"}


def refusal(caller: Caller, op: Op) -> str | None:
    """Why ``caller`` may not call ``op`` at all; None when they may."""
    if caller.role not in GATES[op]:
        return REFUSALS.get((op, caller.role), f"the {caller.role.value} role may not do this")
    if caller.plain_agent and op in SUPERVISORS_ONLY:
        return SUPERVISORS_ONLY[op]
    return None


# ---------------------------------------------------------------- reading one object


@dataclass(frozen=True)
class ThreadFacts:
    id: int
    status: ThreadStatus
    # Agents with an active place on the thread (the primary included).
    members: frozenset[int]


@dataclass(frozen=True)
class InviteFacts:
    inviter_id: int
    invitee_id: int
    status: InviteStatus


def thread_reach(caller: Caller, thread: ThreadFacts) -> Reach:
    """Visitors read their own thread. Plain agents read their threads, and any thread while it is
    QUEUED (deciding a claim needs the bot's context); everyone else reads all."""
    if caller.visitor:
        return Reach.FULL if thread.id == caller.thread_id else Reach.FORBIDDEN
    if caller.plain_agent and thread.status is not ThreadStatus.QUEUED and caller.agent_id not in thread.members:
        return Reach.HIDDEN
    return Reach.FULL


def entry_reach(caller: Caller, waiting: bool, thread: ThreadFacts) -> Reach:
    """A queue entry: plain agents read every WAITING one, and those of threads they read."""
    if caller.plain_agent and waiting:
        return Reach.FULL
    return thread_reach(caller, thread)


def collaborator_reach(caller: Caller, thread: ThreadFacts) -> Reach:
    return Reach.FORBIDDEN if caller.visitor else thread_reach(caller, thread)


def invite_reach(caller: Caller, invite: InviteFacts, thread: ThreadFacts) -> Reach:
    if caller.visitor:
        return Reach.FORBIDDEN
    if caller.plain_agent and caller.agent_id in (invite.inviter_id, invite.invitee_id):
        return Reach.FULL
    return thread_reach(caller, thread)


def invite_thread_reach(caller: Caller, invite: InviteFacts, thread: ThreadFacts) -> Reach:
    """An invite shows its whole thread to whoever may read it, and to the invitee while they can
    answer; otherwise the headline only, so an old invite is no lasting window into another
    agent's conversation."""
    if caller.plain_agent and invite.invitee_id == caller.agent_id and invite.status in ANSWERABLE:
        return Reach.FULL
    return Reach.FULL if thread_reach(caller, thread) is Reach.FULL else Reach.HEADLINE


def message_reach(caller: Caller, thread: ThreadFacts, internal: bool) -> Reach:
    """A message reads as its thread does, and an INTERNAL note as missing to the visitor."""
    reach = thread_reach(caller, thread)
    return Reach.HIDDEN if reach is Reach.FULL and internal and caller.visitor else reach


def visitor_reach(caller: Caller, visitor_id: int) -> Reach:
    if caller.visitor:
        return Reach.FULL if visitor_id == caller.visitor_id else Reach.FORBIDDEN
    return Reach.FULL


def staff_object_reach(caller: Caller) -> Reach:
    """Agents and queues: every role but the visitor's."""
    return Reach.FORBIDDEN if caller.visitor else Reach.FULL


# ---------------------------------------------------------------- listing


@dataclass(frozen=True)
class Scope:
    """Which rows of a list a caller sees: all of them, or those matching any clause given."""

    everything: bool = False
    # Rows of this thread (a visitor's own).
    thread_id: int | None = None
    # Rows of threads where this agent has an active place.
    member: int | None = None
    # Queue entries: every WAITING one.
    waiting: bool = False
    # Invites: those this agent sent or received.
    party: int | None = None


EVERYTHING = Scope(everything=True)
NOTHING = Scope()


def thread_scope(caller: Caller, names_agent: bool = False) -> Scope:
    """Threads a caller lists. ``names_agent``: the filter names an agent (primaryAgentId,
    collaboratorAgentId); for a visitor that matches nothing, whatever the agent, so a count
    cannot tell them which agent serves them."""
    if caller.visitor:
        return NOTHING if names_agent else Scope(thread_id=caller.thread_id)
    if caller.plain_agent:
        return Scope(member=caller.agent_id)
    return EVERYTHING


def own_threads_scope(caller: Caller) -> Scope:
    """viewer.threads: where the calling agent has an active place, whatever their role."""
    return Scope(member=caller.agent_id) if caller.agent_id is not None else NOTHING


def entry_scope(caller: Caller) -> Scope:
    if caller.visitor:
        return Scope(thread_id=caller.thread_id)
    if caller.plain_agent:
        return Scope(member=caller.agent_id, waiting=True)
    return EVERYTHING


def invite_scope(caller: Caller) -> Scope:
    if caller.visitor:
        return NOTHING
    if caller.plain_agent:
        return Scope(member=caller.agent_id, party=caller.agent_id)
    return EVERYTHING


# ---------------------------------------------------------------- identities and permissions


def shows_details(reach: Reach) -> bool:
    """A thread's queue entry, bot context and invites show only to a FULL reach."""
    return reach is Reach.FULL


def shows_identities(caller: Caller, reach: Reach = Reach.FULL) -> bool:
    """Which agents serve a thread (primary, collaborators, invites, assigned agent): never to visitors."""
    return reach is Reach.FULL and not caller.visitor


def viewer_permission(caller: Caller, thread_id: int, place: Permission | None) -> Permission | None:
    """Thread.viewerPermission: an agent's place, READ for supervisors without one, by role otherwise."""
    if caller.role is Role.AGENT:
        return place if place is not None else (Permission.READ if caller.supervisor else None)
    if caller.role is Role.ADMIN:
        return Permission.ADMIN
    if caller.role in (Role.ANALYST, Role.SERVICE):
        return Permission.READ
    return Permission.READ if thread_id == caller.thread_id else None


# ---------------------------------------------------------------- subscriptions


def position_reach(caller: Caller, entry_thread_id: int | None) -> Reach:
    """queuePosition: visitors watch only their own thread's entry; staff any of the organization."""
    if caller.visitor and entry_thread_id != caller.thread_id:
        return Reach.FORBIDDEN
    return Reach.FULL


def thread_events_reach(caller: Caller, thread: ThreadFacts) -> Reach:
    """threadEvents: plain agents need a place on the thread (QUEUED gives none)."""
    if caller.plain_agent and caller.agent_id not in thread.members:
        return Reach.FORBIDDEN
    return Reach.FULL


def stream_needs_place(caller: Caller) -> bool:
    """A plain agent's threadEvents end with the event that took their place away."""
    return caller.plain_agent


def receives_invite_event(caller: Caller, audience: Collection[int]) -> bool:
    """inviteEvents: the inviter, the invitee and the deciding supervisors."""
    return caller.agent_id is not None and caller.agent_id in audience


# ---------------------------------------------------------------- changes


@dataclass(frozen=True)
class Place:
    """An agent's active place on a thread."""

    role: CollaboratorRole
    permission: Permission


def may_manage(caller: Caller, place: Place | None) -> bool:
    """Invite, withdraw, change permissions, remove: admins, the primary, ADMIN collaborators."""
    if caller.role is Role.ADMIN:
        return True
    return place is not None and (place.role is CollaboratorRole.PRIMARY or place.permission is Permission.ADMIN)


def may_hand_over(caller: Caller, place: Place | None) -> bool:
    """A TRANSFER invite: the primary's decision alone (admins and the service act in their name)."""
    return caller.agent_id is None or (place is not None and place.role is CollaboratorRole.PRIMARY)


def may_resolve(caller: Caller, place: Place | None) -> bool:
    if caller.role is Role.ADMIN or caller.supervisor:
        return True
    return place is not None and place.role is CollaboratorRole.PRIMARY


def may_answer(caller: Caller, invitee_id: int) -> bool:
    return caller.agent_id == invitee_id


def may_decide_approval(caller: Caller, inviter_department: str | None, inviter_found: bool) -> bool:
    """A supervisor of the inviter's department, or an admin."""
    if caller.role is Role.ADMIN:
        return True
    return caller.supervisor and inviter_found and caller.department == inviter_department


def may_set_status(caller: Caller, agent_id: int | None) -> bool:
    """Agents set their own status; supervisors and admins anyone's."""
    return caller.role is not Role.AGENT or agent_id == caller.agent_id or caller.supervisor


def may_transfer_thread(caller: Caller, thread_id: int) -> bool:
    """requestTransfer: a visitor only their own thread."""
    return not caller.visitor or thread_id == caller.thread_id


def may_hand_to_queue(caller: Caller, primary_agent_id: int | None) -> bool:
    """An agent hands a thread to a queue only as its primary (the service, visitors and admins any)."""
    return caller.agent_id is None or primary_agent_id == caller.agent_id


def may_cancel_entry(caller: Caller, entry_thread_id: int) -> bool:
    return not caller.visitor or entry_thread_id == caller.thread_id
