"""Organization settings."""

from __future__ import annotations

from switchboard.domain import validation as v
from switchboard.models import Organization
from switchboard.subscriptions.outbox import Outbox
from switchboard.tenancy import Tenant

# Setting name -> allowed range.
RANGES: dict[str, tuple[int, int]] = {
    "invite_expiry_seconds": (1, 86400),
    "collaborator_limit_normal": (0, 50),
    "collaborator_limit_vip": (0, 50),
    "collaborator_limit_urgent": (0, 50),
    "max_transfer_attempts": (1, 100),
    "transfer_rate_limit_per_visitor_per_hour": (1, 10000),
    "invites_per_agent_per_minute": (1, 10000),
}
FLAGS = ("cross_department_approval", "unassign_on_resolve")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


async def update(tenant: Tenant, outbox: Outbox, changes: dict[str, object]) -> Organization:
    values: dict[str, object] = {}
    for name, (low, high) in RANGES.items():
        raw = changes.get(name)
        if raw is not None:
            assert isinstance(raw, int)
            values[name] = v.number(raw, ["input", _camel(name)], low, high)
    for name in FLAGS:
        if changes.get(name) is not None:
            values[name] = bool(changes[name])
    org = await tenant.organization(for_update=True)
    if values:
        org.update_from_dict(values)
        await org.save()
        outbox.add(tenant.org, "org", "SETTINGS_CHANGED", payload={"changed": sorted(values)})
    return org
