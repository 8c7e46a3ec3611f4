"""Helpers for the collaboration tests: threads with a primary, invites, answers.

A thread gets its primary the way production does it (a MANUAL queue,
requestTransfer, claimQueueEntry). While the queue feature cannot do that yet,
``active_thread`` falls back to writing the assignment the queue feature would
write (thread ACTIVE, a PRIMARY/ADMIN collaborator row, the agent's thread
counter) straight into the stack's database.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import sqlite3
from datetime import UTC, datetime
from typing import Any

from tests.conftest import AgentHandle, Org

INVITE_FIELDS = """id status type permission urgency message expiresAt createdAt respondedAt responseMessage
  estimatedSeconds inviter { id } invitee { id } thread { id } approvedBy { id }"""
ERRORS = "userErrors { field message code }"

INVITE = f"""mutation($i: InviteCollaboratorsInput!) {{ inviteCollaborators(input: $i) {{
  invites {{ {INVITE_FIELDS} }} {ERRORS} }} }}"""
RESPOND = f"""mutation($i: RespondToInviteInput!) {{ respondToInvite(input: $i) {{
  invite {{ {INVITE_FIELDS} }}
  collaborator {{ id role permission active agent {{ id }} invitedBy {{ id }} }} {ERRORS} }} }}"""
WITHDRAW = f"""mutation($i: WithdrawInviteInput!) {{ withdrawInvite(input: $i) {{
  invite {{ {INVITE_FIELDS} }} {ERRORS} }} }}"""
DECIDE = f"""mutation($i: DecideInviteApprovalInput!) {{ decideInviteApproval(input: $i) {{
  invite {{ {INVITE_FIELDS} }} {ERRORS} }} }}"""
COLLAB_FIELDS = "id role permission active leftAt agent { id }"
CHANGE = f"""mutation($i: ChangePermissionInput!) {{ changePermission(input: $i) {{
  collaborator {{ {COLLAB_FIELDS} }} {ERRORS} }} }}"""
REMOVE = f"""mutation($i: RemoveCollaboratorInput!) {{ removeCollaborator(input: $i) {{
  collaborator {{ {COLLAB_FIELDS} }} {ERRORS} }} }}"""
LEAVE = f"""mutation($i: LeaveThreadInput!) {{ leaveThread(input: $i) {{
  collaborator {{ {COLLAB_FIELDS} }} {ERRORS} }} }}"""
RESOLVE = f"""mutation($i: ResolveThreadInput!) {{ resolveThread(input: $i) {{
  thread {{ id status resolvedAt primaryAgent {{ id }} lastPrimaryAgent {{ id }} }} {ERRORS} }} }}"""
TRANSFER = f"""mutation($i: RequestTransferInput!) {{ requestTransfer(input: $i) {{
  thread {{ id }} queueEntry {{ id }} invite {{ {INVITE_FIELDS} }} {ERRORS} }} }}"""
THREAD = """query($id: ID!) { thread(id: $id) { id status collaboratorLimit viewerPermission transferCount
  primaryAgent { id } lastPrimaryAgent { id }
  collaborators { id role permission active agent { id } invitedBy { id } }
  everyone: collaborators(includeInactive: true) { id role permission active agent { id } }
  invites(first: 50) { totalCount edges { node { id status type invitee { id } } } } } }"""
AGENT = """query($id: ID!) { node(id: $id) { ... on Agent { id activeThreadCount activeCollaborationCount } } }"""
SETTINGS = """mutation($i: UpdateSettingsInput!) { updateSettings(input: $i) { userErrors { message } } }"""
INVITE_EVENTS = f"""subscription($after: String) {{ inviteEvents(after: $after) {{
  cursor kind at invite {{ {INVITE_FIELDS} }} }} }}"""
THREAD_EVENTS = """subscription($t: ID!, $after: String) { threadEvents(threadId: $t, after: $after) {
  cursor kind at thread { id status } collaborator { id role permission active agent { id } }
  invite { id status } actor { id } } }"""


def pk_of(global_id: str) -> int:
    raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    return int(raw.split(":", 1)[1])


async def settings(org: Org, **values: Any) -> None:
    data = await org.data(SETTINGS, {"i": values})
    assert not data["updateSettings"]["userErrors"], data


async def agent_counts(org: Org, agent: AgentHandle) -> tuple[int, int]:
    node = (await org.data(AGENT, {"id": agent.id}))["node"]
    return node["activeThreadCount"], node["activeCollaborationCount"]


async def thread_view(org: Org, thread_id: str, token: str | None = None) -> dict[str, Any]:
    return (await org.data(THREAD, {"id": thread_id}, token=token))["thread"]


async def invite(
    org: Org, by: AgentHandle, thread_id: str, *invitees: AgentHandle | str, server: int = 0, **extra: Any
) -> dict[str, Any]:
    ids = [i if isinstance(i, str) else i.id for i in invitees]
    data = await org.data(
        INVITE, {"i": {"threadId": thread_id, "inviteeIds": ids, **extra}}, token=by.token, server=server
    )
    return data["inviteCollaborators"]  # type: ignore[no-any-return]


async def invite_one(org: Org, by: AgentHandle, thread_id: str, invitee: AgentHandle, **extra: Any) -> dict[str, Any]:
    payload = await invite(org, by, thread_id, invitee, **extra)
    assert not payload["userErrors"], payload["userErrors"]
    return payload["invites"][0]  # type: ignore[no-any-return]


async def respond(
    org: Org, who: AgentHandle, invite_id: str, action: str = "ACCEPT", server: int = 0, **extra: Any
) -> dict[str, Any]:
    data = await org.data(
        RESPOND, {"i": {"inviteId": invite_id, "action": action, **extra}}, token=who.token, server=server
    )
    return data["respondToInvite"]  # type: ignore[no-any-return]


async def join(org: Org, primary: AgentHandle, thread_id: str, agent: AgentHandle, **extra: Any) -> dict[str, Any]:
    """Invite and accept: ``agent`` becomes an active collaborator."""
    sent = await invite_one(org, primary, thread_id, agent, **extra)
    answer = await respond(org, agent, sent["id"])
    assert not answer["userErrors"], answer["userErrors"]
    return answer["collaborator"]  # type: ignore[no-any-return]


def codes(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


# ---------------------------------------------------------------- a thread with a primary

_API_ASSIGNMENT: dict[str, bool] = {}


async def active_thread(org: Org, primary: AgentHandle, thread_class: str = "NORMAL") -> str:
    """A new ACTIVE thread whose primary is ``primary``."""
    thread_id, _ = await org.start_thread(thread_class=thread_class)
    if _API_ASSIGNMENT.get(org.stack.name, True) and await _assign_over_api(org, primary, thread_id):
        return thread_id
    _API_ASSIGNMENT[org.stack.name] = False
    await _assign_in_database(org, primary, thread_id)
    return thread_id


async def _assign_over_api(org: Org, primary: AgentHandle, thread_id: str) -> bool:
    queue = await org.gql(
        """mutation($i: CreateQueueInput!) { createQueue(input: $i) { queue { id } userErrors { message } } }""",
        {"i": {"name": f"manual-{secrets.token_hex(4)}", "routingStrategy": "MANUAL"}},
    )
    queue_id = ((queue.get("data") or {}).get("createQueue") or {}).get("queue", {}) or {}
    if not queue_id:
        return False
    transfer = await org.gql(
        TRANSFER, {"i": {"threadId": thread_id, "queueId": queue_id["id"]}}, token=org.token("service")
    )
    entry = ((transfer.get("data") or {}).get("requestTransfer") or {}).get("queueEntry")
    if transfer.get("errors") or not entry:
        return False
    claim = await org.data(
        """mutation($i: ClaimQueueEntryInput!) { claimQueueEntry(input: $i) {
             queueEntry { status } userErrors { code message } } }""",
        {"i": {"queueEntryId": entry["id"]}},
        token=primary.token,
    )
    assert not claim["claimQueueEntry"]["userErrors"], claim
    return True


async def _assign_in_database(org: Org, primary: AgentHandle, thread_id: str) -> None:
    thread_pk, agent_pk = pk_of(thread_id), pk_of(primary.id)
    now = datetime.now(UTC)
    url = org.stack.database_url
    if url.startswith("sqlite"):
        await asyncio.to_thread(_assign_sqlite, url.split("://", 1)[1], org.id, thread_pk, agent_pk, now)
        return
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        async with conn.transaction():
            await conn.execute(
                "UPDATE thread SET status = 'ACTIVE', primary_agent_id = $1, updated_at = $3 WHERE id = $2",
                agent_pk,
                thread_pk,
                now,
            )
            await conn.execute(
                """INSERT INTO collaborator (org_id, thread_id, agent_id, role, permission, active, joined_at)
                   VALUES ($1, $2, $3, 'PRIMARY', 'ADMIN', TRUE, $4)""",
                org.id,
                thread_pk,
                agent_pk,
                now,
            )
            await conn.execute("UPDATE agent SET active_thread_count = active_thread_count + 1 WHERE id = $1", agent_pk)
    finally:
        await conn.close()


def _assign_sqlite(path: str, org_id: str, thread_pk: int, agent_pk: int, now: datetime) -> None:
    stamp = now.isoformat(sep=" ")
    with sqlite3.connect(path, timeout=10) as conn:
        conn.execute(
            "UPDATE thread SET status = 'ACTIVE', primary_agent_id = ?, updated_at = ? WHERE id = ?",
            (agent_pk, stamp, thread_pk),
        )
        conn.execute(
            """INSERT INTO collaborator (org_id, thread_id, agent_id, role, permission, active, joined_at)
               VALUES (?, ?, ?, 'PRIMARY', 'ADMIN', 1, ?)""",
            (org_id, thread_pk, agent_pk, stamp),
        )
        conn.execute("UPDATE agent SET active_thread_count = active_thread_count + 1 WHERE id = ?", (agent_pk,))
