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
from switchboard.models import Agent, Organization, Thread, Visitor
from switchboard.rules import policy
from switchboard.rules.enums import MessageVisibility, SenderKind
from switchboard.rules.problems import not_found
from switchboard.services import conversation
from switchboard.services.places import THREAD
from switchboard.services.tenancy import Tenant


@dataclass(frozen=True)
class Typist:
    """Where a caller may type: the thread and its organization (for the names the event carries)."""

    thread: Thread
    org: Organization


async def check(
    tenant: Tenant, caller: policy.Caller, thread_id: int, visibility: MessageVisibility, now: datetime
) -> Typist:
    """Where the caller types, when they may post ``visibility`` on the thread now (a DomainError otherwise).

    The caller passed ``policy.post_refusal`` already (what their role may never do).
    """
    thread = await tenant.get(Thread, thread_id)
    if thread is None:
        raise not_found("thread", THREAD)
    org = await tenant.organization()
    decision = await conversation.decide(tenant, caller, thread, visibility, now, org.reopen_on_visitor_message_seconds)
    if not decision.allowed:
        raise conversation.refusal_of(decision)
    return Typist(thread, org)


async def typing_event(
    tenant: Tenant, caller: policy.Caller, sender: str, at: Typist, typing: bool, visibility: MessageVisibility
) -> TypingChanged:
    """The event, with the names it may be shown under (read once, by the one sender)."""
    kind = policy.sender_kind(caller)
    name: str | None = None
    if kind is SenderKind.AGENT and caller.agent_id is not None:
        agent = await tenant.get(Agent, caller.agent_id)
        name = agent.name if agent is not None else None
    elif kind is SenderKind.VISITOR and caller.visitor_id is not None:
        visitor = await tenant.get(Visitor, caller.visitor_id)
        name = visitor.name if visitor is not None else None
    return TypingChanged(
        org=tenant.org,
        thread_id=at.thread.id,
        typing=typing,
        visibility=visibility,
        sender_kind=kind,
        sender=sender,
        name=name,
        service_name=at.org.service_name,
    )
