"""setTyping: checked like a message of that visibility, throttled across processes, sent live, never stored."""

from __future__ import annotations

from datetime import UTC, datetime

from switchboard.events.codec import LiveEvent
from switchboard.graphql.errors import Forbidden
from switchboard.graphql.inputs import SetTypingInput
from switchboard.graphql.payloads import SetTypingPayload, errors_of
from switchboard.graphql.resolvers.common import input_pk
from switchboard.graphql.types.base import InfoT
from switchboard.rules import policy
from switchboard.rules.problems import DomainError
from switchboard.services import typing_indicator as service


async def set_typing(info: InfoT, data: SetTypingInput) -> SetTypingPayload:
    """One typing event per sender and thread per window goes out; the calls between are accepted and dropped."""
    ctx = info.context
    caller = await ctx.allow(policy.Op.SET_TYPING)
    try:
        pk = input_pk(data.thread_id, "Thread", ("thread_id",))
    except DomainError as exc:
        return SetTypingPayload(ok=False, user_errors=errors_of([exc.problem]))
    refusal = policy.post_refusal(caller, pk, data.visibility)
    if refusal is not None:
        raise Forbidden(refusal)
    now = datetime.now(UTC)
    # The organization's settings from this process's cache (dropped on SettingsChanged): typing is
    # called every few seconds by whoever types, and reads no organization row.
    facts = await ctx.services.org_facts.get(caller.org)
    try:
        thread = await service.check(
            ctx.tenant, caller, pk, data.visibility, now, facts.reopen_on_visitor_message_seconds
        )
    except DomainError as exc:
        return SetTypingPayload(ok=False, user_errors=errors_of([exc.problem]))
    sender = policy.sender_key(caller, ctx.principal.sub)
    if await ctx.services.typing_throttle.go(f"{caller.org}:{thread.id}:{sender}"):
        agent = await ctx.agent()
        who = service.Typist(facts.service_name, agent.name if agent is not None else None)
        event = await service.typing_event(ctx.tenant, caller, sender, thread, who, data.typing, data.visibility)
        await ctx.bus.signal(LiveEvent(at=now, event=event))
    return SetTypingPayload(ok=True, user_errors=[])
