"""setTyping: may the caller type here, and the typing event that goes out (never stored).

Who may type is who may post that visibility (``services.conversation.decide``,
sendMessage's own check, asking ``policy.post_verdict``): the
visitor PUBLIC on their own open thread, agents by their place, admins either.
The event carries the names a watcher may be shown (the sender's own, and the
organization's serviceName), so no watcher reads anything to render it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from switchboard.events.types import TypingChanged
from switchboard.models import Thread, Visitor
from switchboard.rules import policy
from switchboard.rules.enums import MessageVisibility, SenderKind
from switchboard.rules.problems import not_found
from switchboard.services import conversation
from switchboard.services.places import THREAD
from switchboard.services.tenancy import Tenant


@dataclass(frozen=True)
class Typist:
    """Who types, as the event names them: the organization's serviceName and, for an agent, their
    name (both passed in by the caller, who has them already: no read per call)."""

    service_name: str
    agent_name: str | None = None


async def check(
    tenant: Tenant,
    caller: policy.Caller,
    thread_id: int,
    visibility: MessageVisibility,
    now: datetime,
    reopen_seconds: int,
) -> Thread:
    """The thread, when the caller may post ``visibility`` on it now (a DomainError otherwise).

    The caller passed ``policy.post_refusal`` already (what their role may never do);
    ``reopen_seconds`` is the organization's reopenOnVisitorMessageSeconds.
    """
    thread = await tenant.get(Thread, thread_id)
    if thread is None:
        raise not_found("thread", THREAD)
    decision = await conversation.decide(tenant, caller, thread, visibility, now, reopen_seconds)
    if not decision.allowed:
        raise conversation.refusal_of(decision)
    return thread


async def typing_event(
    tenant: Tenant,
    caller: policy.Caller,
    sender: str,
    thread: Thread,
    who: Typist,
    typing: bool,
    visibility: MessageVisibility,
) -> TypingChanged:
    """The event, with the names it may be shown under (a visitor's read once, by the one sender)."""
    kind = policy.sender_kind(caller)
    name: str | None = None
    if kind is SenderKind.AGENT:
        name = who.agent_name
    elif kind is SenderKind.VISITOR and caller.visitor_id is not None:
        visitor = await tenant.get(Visitor, caller.visitor_id)
        name = visitor.name if visitor is not None else None
    return TypingChanged(
        org=tenant.org,
        thread_id=thread.id,
        typing=typing,
        visibility=visibility,
        sender_kind=kind,
        sender=sender,
        name=name,
        service_name=who.service_name,
    )
