"""May this caller post (or type) this visibility on this thread now: one check for sendMessage and setTyping.

The access policy decides (``policy.post_verdict``) from the thread's status and
places, the caller's own place, and whether a visitor's message would reopen a
RESOLVED thread now. The caller passed ``policy.post_refusal`` before (what the
role may never do: a top-level FORBIDDEN); a refusal here is the userError.
"""

from __future__ import annotations

from datetime import datetime

from switchboard.models import Organization, Thread
from switchboard.rules import policy
from switchboard.rules.enums import MessageVisibility
from switchboard.rules.problems import DomainError, conflict, forbidden
from switchboard.services.places import THREAD, active_collaborators, as_place, place_of
from switchboard.services.tenancy import Tenant


def refusal(decision: policy.PostDecision) -> DomainError:
    if decision.verdict is policy.Verdict.CONFLICT:
        return conflict(decision.reason, THREAD)
    return forbidden(decision.reason, THREAD)


async def decide(
    tenant: Tenant,
    caller: policy.Caller,
    thread: Thread,
    visibility: MessageVisibility,
    now: datetime,
    org: Organization | None = None,
) -> policy.PostDecision:
    """The verdict on ``thread`` (read, or locked by the caller's transaction); a refusal is raised.

    An agent of the organization without a place that lets them post gets
    FORBIDDEN_ACTION, not NOT_FOUND: the thread exists for them, their place does not allow it.
    """
    members = await active_collaborators(tenant, thread.id)
    facts = policy.ThreadFacts(thread.id, thread.status, frozenset(c.agent_id for c in members))
    org = org or await tenant.organization()
    reopen = policy.reopens_on_message(thread.resolved_at, now, org.reopen_on_visitor_message_seconds)
    decision = policy.post_verdict(caller, facts, visibility, as_place(place_of(members, caller.agent_id)), reopen)
    if not decision.allowed:
        raise refusal(decision)
    return decision
