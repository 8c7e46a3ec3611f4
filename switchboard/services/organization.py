"""Organization settings."""

from __future__ import annotations

from switchboard.events.outbox import Outbox
from switchboard.events.types import SettingsChanged
from switchboard.models import Organization
from switchboard.rules import validation as v
from switchboard.services.tenancy import Tenant


async def update(tenant: Tenant, outbox: Outbox, changes: dict[str, object]) -> Organization:
    values: dict[str, object] = {}
    for name, (low, high) in v.SETTING_RANGES.items():
        raw = changes.get(name)
        if raw is not None:
            assert isinstance(raw, int)
            values[name] = v.number(raw, (name,), low, high)
    for name in v.SETTING_TEXTS:
        raw = changes.get(name)
        if raw is not None:
            assert isinstance(raw, str)
            values[name] = v.required_text(raw, (name,))
    for name in v.SETTING_FLAGS:
        if changes.get(name) is not None:
            values[name] = bool(changes[name])
    org = await tenant.organization(for_update=True)
    if values:
        org.update_from_dict(values)
        await org.save()
        outbox.add(SettingsChanged(org=tenant.org, changed=tuple(sorted(values))))
    return org
