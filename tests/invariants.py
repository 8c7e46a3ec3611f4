"""The invariants of the contract ("Running and failing"), checked with SQL on a stack's database.

Whatever the load and the order of concurrent requests:
- an ACTIVE thread has exactly one active PRIMARY collaborator, and it is the thread's primary agent;
- an agent's ``activeThreadCount`` equals the ACTIVE threads they are primary of and never exceeds
  ``maxConcurrentThreads``;
- a thread has at most one WAITING queue entry;
- a thread's active non-primary collaborators plus open invites never exceed its ``collaboratorLimit``.
One more, of our own bookkeeping: an agent's ``activeCollaborationCount`` equals their active
non-primary places.

``violations`` lists every broken one (empty when all hold), for one organization or all of them.
"""

from __future__ import annotations

from typing import Any

from tests import servers
from tests.dbcheck import rows

OPEN_INVITES = "('PENDING_APPROVAL', 'PENDING', 'DEFERRED')"

ONE_PRIMARY = """
SELECT t.id, t.primary_agent_id,
       (SELECT COUNT(*) FROM collaborator c WHERE c.thread_id = t.id AND c.active AND c.role = 'PRIMARY'),
       (SELECT MIN(c.agent_id) FROM collaborator c WHERE c.thread_id = t.id AND c.active AND c.role = 'PRIMARY')
FROM thread t WHERE t.status = 'ACTIVE' {org}
"""
PRIMARY_ELSEWHERE = """
SELECT c.thread_id, COUNT(*) FROM collaborator c JOIN thread t ON t.id = c.thread_id
WHERE c.active AND c.role = 'PRIMARY' {org} GROUP BY c.thread_id HAVING COUNT(*) > 1
"""
AGENT_LOAD = """
SELECT a.id, a.active_thread_count, a.max_concurrent_threads,
       (SELECT COUNT(*) FROM thread t WHERE t.primary_agent_id = a.id AND t.status = 'ACTIVE'),
       a.active_collaboration_count,
       (SELECT COUNT(*) FROM collaborator c WHERE c.agent_id = a.id AND c.active AND c.role <> 'PRIMARY')
FROM agent a WHERE 1 = 1 {org_a}
"""
WAITING = """
SELECT e.thread_id, COUNT(*) FROM queue_entry e WHERE e.status = 'WAITING' {org_e}
GROUP BY e.thread_id HAVING COUNT(*) > 1
"""
SEATS = f"""
SELECT t.id, t.thread_class,
       (SELECT COUNT(*) FROM collaborator c WHERE c.thread_id = t.id AND c.active AND c.role <> 'PRIMARY'),
       (SELECT COUNT(*) FROM invite i WHERE i.thread_id = t.id AND i.status IN {OPEN_INVITES}),
       o.collaborator_limit_normal, o.collaborator_limit_vip, o.collaborator_limit_urgent
FROM thread t JOIN organization o ON o.id = t.org_id WHERE 1 = 1 {{org}}
"""


def _sql(template: str, org: str | None) -> tuple[str, tuple[Any, ...]]:
    filters = {"org": "AND t.org_id = ?", "org_a": "AND a.org_id = ?", "org_e": "AND e.org_id = ?"}
    used = [key for key in filters if "{" + key + "}" in template]
    sql = template.format(**{key: (filters[key] if org is not None else "") for key in filters})
    return sql, tuple(org for _ in used) if org is not None else ()


async def _all(stack: servers.Stack, template: str, org: str | None) -> list[tuple[Any, ...]]:
    sql, args = _sql(template, org)
    return await rows(stack, sql, *args)


async def violations(stack: servers.Stack, org: str | None = None, *, caps: bool = True) -> list[str]:
    """Every invariant broken in ``org`` (every organization when None). ``caps=False`` skips the
    collaborator cap, for a test that lowers the cap under open invites on purpose (the cap then
    binds new invites and accepts only)."""
    found: list[str] = []
    for thread, primary_agent, primaries, primary in await _all(stack, ONE_PRIMARY, org):
        if primaries != 1 or primary != primary_agent:
            found.append(f"ACTIVE thread {thread}: {primaries} PRIMARY places (of {primary}), primary {primary_agent}")
    for thread, count in await _all(stack, PRIMARY_ELSEWHERE, org):
        found.append(f"thread {thread}: {count} active PRIMARY places")
    for agent, load, capacity, primary_of, collaborations, places in await _all(stack, AGENT_LOAD, org):
        if load != primary_of:
            found.append(f"agent {agent}: activeThreadCount {load}, primary of {primary_of} ACTIVE threads")
        if load > capacity:
            found.append(f"agent {agent}: activeThreadCount {load} over maxConcurrentThreads {capacity}")
        if collaborations != places:
            found.append(f"agent {agent}: activeCollaborationCount {collaborations}, {places} active places")
    for thread, count in await _all(stack, WAITING, org):
        found.append(f"thread {thread}: {count} WAITING entries")
    if caps:
        for thread, kind, places, invites, normal, vip, urgent in await _all(stack, SEATS, org):
            cap = {"NORMAL": normal, "VIP": vip, "URGENT": urgent}[kind]
            if places + invites > cap:
                found.append(f"thread {thread} ({kind}): {places} collaborators + {invites} open invites > {cap}")
    return found


async def assert_hold(stack: servers.Stack, org: str | None = None, *, caps: bool = True) -> None:
    broken = await violations(stack, org, caps=caps)
    assert broken == [], "\n".join(broken)
