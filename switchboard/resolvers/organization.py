"""Organization settings."""

from __future__ import annotations

from dataclasses import asdict

from switchboard.domain import organization as domain
from switchboard.domain.enums import Role
from switchboard.resolvers.common import run
from switchboard.schema.inputs import UpdateSettingsInput
from switchboard.schema.payloads import SettingsPayload, errors_of
from switchboard.schema.types import InfoT, OrganizationSettings


async def settings(info: InfoT) -> OrganizationSettings:
    ctx = info.context
    ctx.require(Role.AGENT, Role.ADMIN, Role.ANALYST, Role.SERVICE)
    return OrganizationSettings.from_model(await ctx.tenant.organization())


async def update_settings(info: InfoT, data: UpdateSettingsInput) -> SettingsPayload:
    ctx = info.context
    ctx.require(Role.ADMIN)
    changes = asdict(data)
    row, problems = await run(ctx, lambda outbox: domain.update(ctx.tenant, outbox, changes))
    return SettingsPayload(
        settings=OrganizationSettings.from_model(row) if row else None, user_errors=errors_of(problems)
    )
