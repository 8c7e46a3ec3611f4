"""The access policy's conversation section: who may post what, and who sees what of a message.

It lives beside ``policy`` for size only and is re-exported by it: callers ask
``policy.post_verdict``, ``policy.message_reach`` and so on, never this module.

Posting (``sendMessage``), by the caller's role:

* visitor: their own thread only (another: FORBIDDEN), PUBLIC only (INTERNAL:
  FORBIDDEN), while BOT, QUEUED or ACTIVE; on a RESOLVED thread within the
  organization's ``reopenOnVisitorMessageSeconds`` the message reopens it
  (REOPEN); later, or CLOSED: CONFLICT.
* service (the bot): PUBLIC only (INTERNAL: FORBIDDEN, the bot writes no
  notes), while BOT or QUEUED; otherwise CONFLICT.
* agent: while QUEUED or ACTIVE (otherwise CONFLICT), by their place: PRIMARY,
  WRITE and ADMIN post PUBLIC and INTERNAL, GUIDE (with WRITE or ADMIN) INTERNAL
  only, READ nothing; a SUPERVISOR may add INTERNAL anywhere. Everything else:
  FORBIDDEN_ACTION.
* admin: SYSTEM, either visibility, on any thread that is not CLOSED.
* analyst: FORBIDDEN (the operation gate).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING

from switchboard.rules.enums import CollaboratorRole, MessageVisibility, Permission, Role, SenderKind, ThreadStatus

if TYPE_CHECKING:
    from switchboard.rules.policy import Caller, Place, ThreadFacts

__all__ = [
    "Names",
    "PostDecision",
    "Verdict",
    "agent_key",
    "agent_visibilities",
    "counts_unread",
    "display_name",
    "message_visibilities",
    "post_refusal",
    "post_verdict",
    "reopens_on_message",
    "sender_key",
    "sender_kind",
    "shows_author",
    "shows_typing",
    "typing_name",
    "watches_conversation",
]

SUB_KEY_MAX = 100
PUBLIC, INTERNAL = MessageVisibility.PUBLIC, MessageVisibility.INTERNAL
BOTH = frozenset({PUBLIC, INTERNAL})
PUBLIC_ONLY = frozenset({PUBLIC})
NO_VISIBILITY: frozenset[MessageVisibility] = frozenset()
VISITOR_OPEN = frozenset({ThreadStatus.BOT, ThreadStatus.QUEUED, ThreadStatus.ACTIVE})
BOT_OPEN = frozenset({ThreadStatus.BOT, ThreadStatus.QUEUED})
AGENT_OPEN = frozenset({ThreadStatus.QUEUED, ThreadStatus.ACTIVE})
SENDER_KIND = {
    Role.VISITOR: SenderKind.VISITOR,
    Role.SERVICE: SenderKind.BOT,
    Role.AGENT: SenderKind.AGENT,
    Role.ADMIN: SenderKind.SYSTEM,
}


class Verdict(Enum):
    """The answer to "may this caller post this message here"."""

    ALLOWED = "ALLOWED"
    # Allowed, and the message reopens the RESOLVED thread first.
    REOPEN = "REOPEN"
    # A top-level error: the role may never do this.
    FORBIDDEN = "FORBIDDEN"
    # userErrors: the role may, the caller's place on this thread does not let them.
    FORBIDDEN_ACTION = "FORBIDDEN_ACTION"
    # userError: not in the thread's present status.
    CONFLICT = "CONFLICT"


@dataclass(frozen=True)
class PostDecision:
    verdict: Verdict
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.verdict in (Verdict.ALLOWED, Verdict.REOPEN)


OK = PostDecision(Verdict.ALLOWED)


def reopens_on_message(resolved_at: datetime | None, now: datetime, window_seconds: int) -> bool:
    """A visitor's message reopens a RESOLVED thread within the window after its resolution (0: never)."""
    if window_seconds <= 0 or resolved_at is None:
        return False
    return (now - resolved_at).total_seconds() <= window_seconds


def sender_kind(caller: Caller) -> SenderKind:
    return SENDER_KIND[caller.role]


def agent_key(agent_id: int) -> str:
    """An agent's sender key (their own messages do not count as unread to them)."""
    return f"agent:{agent_id}"


def sender_key(caller: Caller, sub: str) -> str:
    """Who sent a message, as one key of the idempotency index ("agent:12", "visitor:3", "service:<sub>")."""
    if caller.agent_id is not None:
        return agent_key(caller.agent_id)
    if caller.visitor_id is not None:
        return f"visitor:{caller.visitor_id}"
    if len(sub) > SUB_KEY_MAX:
        # Keys are bounded (the column and its index); a long subject is kept as its digest.
        sub = "sha256:" + hashlib.sha256(sub.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{caller.role.value}:{sub}"


def agent_visibilities(caller: Caller, place: Place | None) -> frozenset[MessageVisibility]:
    """What an agent may post on a thread, by their place (and INTERNAL for supervisors anywhere)."""
    allowed = NO_VISIBILITY
    if place is not None and place.permission is not Permission.READ:
        allowed = PUBLIC_ONLY | {INTERNAL} if place.role is not CollaboratorRole.GUIDE else frozenset({INTERNAL})
    if place is not None and place.role is CollaboratorRole.PRIMARY:
        allowed = BOTH
    return allowed | {INTERNAL} if caller.supervisor else allowed


def _status_refusal(status: ThreadStatus, open_statuses: frozenset[ThreadStatus], who: str) -> PostDecision | None:
    if status in open_statuses:
        return None
    return PostDecision(Verdict.CONFLICT, f"{who} may not post on a {status.value} thread")


def post_refusal(caller: Caller, thread_id: int, visibility: MessageVisibility) -> str | None:
    """Why the caller's role may never post this (a top-level FORBIDDEN, checked before any read)."""
    if caller.role not in SENDER_KIND:
        return f"the {caller.role.value} role may not post messages"
    if caller.visitor and thread_id != caller.thread_id:
        return "visitors may only write in their own thread"
    if visibility is INTERNAL and caller.role in (Role.VISITOR, Role.SERVICE):
        return f"the {caller.role.value} role may not post INTERNAL messages"
    return None


def post_verdict(
    caller: Caller,
    thread: ThreadFacts,
    visibility: MessageVisibility,
    place: Place | None = None,
    reopen: bool = False,
) -> PostDecision:
    """sendMessage: may ``caller`` post a ``visibility`` message on ``thread`` now.

    ``place`` is the calling agent's active place on the thread; ``reopen``
    whether a visitor's message would reopen it now (``reopens_on_message``).
    """
    refusal = post_refusal(caller, thread.id, visibility)
    if refusal is not None:
        return PostDecision(Verdict.FORBIDDEN, refusal)
    if caller.visitor:
        if thread.status is ThreadStatus.RESOLVED and reopen:
            return PostDecision(Verdict.REOPEN)
        return _status_refusal(thread.status, VISITOR_OPEN, "the visitor") or OK
    if caller.role is Role.SERVICE:
        return _status_refusal(thread.status, BOT_OPEN, "the bot") or OK
    if caller.role is Role.ADMIN:
        return _status_refusal(thread.status, frozenset(ThreadStatus) - {ThreadStatus.CLOSED}, "an admin") or OK
    refused = _status_refusal(thread.status, AGENT_OPEN, "agents")
    if refused is not None:
        return refused
    if visibility not in agent_visibilities(caller, place):
        return PostDecision(
            Verdict.FORBIDDEN_ACTION, f"your place on this thread does not let you post {visibility.value}"
        )
    return OK


# ---------------------------------------------------------------- reading the conversation


def message_visibilities(caller: Caller) -> frozenset[MessageVisibility]:
    """What a caller who reads a thread sees of its messages: visitors never INTERNAL notes."""
    return PUBLIC_ONLY if caller.visitor else BOTH


def shows_author(caller: Caller) -> bool:
    """Message.author: never an agent's identity to a visitor."""
    return not caller.visitor


@dataclass(frozen=True)
class Names:
    """What a message's displayName is chosen from."""

    service: str
    author: str | None = None
    visitor: str | None = None


VISITOR_FALLBACK = "Visitor"


def display_name(caller: Caller, kind: SenderKind, names: Names) -> str:
    """Message.displayName: to a visitor the serviceName for every AGENT, BOT and SYSTEM message;
    to everyone else the author's name (serviceName when the agent is gone), the visitor's name."""
    if kind is SenderKind.VISITOR:
        return names.visitor or VISITOR_FALLBACK
    if kind is SenderKind.AGENT and shows_author(caller) and names.author is not None:
        return names.author
    return names.service


def counts_unread(caller: Caller) -> bool:
    """Thread.unreadCount and markThreadRead are the calling agent's own; null for other roles."""
    return caller.role is Role.AGENT and caller.agent_id is not None


# ---------------------------------------------------------------- the live conversation


def watches_conversation(caller: Caller, thread: ThreadFacts) -> bool:
    """conversationEvents: a visitor only their own thread; everyone else as threadEvents decides
    (a plain agent needs a place on the thread; supervisors and admins any of the organization)."""
    if caller.visitor:
        return thread.id == caller.thread_id
    # Imported here: ``policy`` re-exports this module, so it is loaded by the time this runs.
    from switchboard.rules import policy

    return policy.thread_events_reach(caller, thread) is policy.Reach.FULL


def shows_typing(caller: Caller, visibility: MessageVisibility, sender: str, own: str) -> bool:
    """A typing event reaches whoever would see a message of its visibility (never INTERNAL to the
    visitor), except the one typing (``own`` is the caller's ``sender_key``)."""
    return visibility in message_visibilities(caller) and sender != own


def typing_name(caller: Caller, kind: SenderKind, name: str | None, service: str) -> str:
    """ConversationEvent.typingName: whoever types is named as displayName names a message's sender."""
    names = Names(
        service=service,
        author=name if kind is SenderKind.AGENT else None,
        visitor=name if kind is SenderKind.VISITOR else None,
    )
    return display_name(caller, kind, names)
