"""Organization settings."""

from __future__ import annotations

from dataclasses import asdict

from switchboard.graphql.inputs import UpdateSettingsInput
from switchboard.graphql.payloads import SettingsPayload, errors_of
from switchboard.graphql.resolvers.common import run
from switchboard.graphql.types.base import InfoT
from switchboard.graphql.types.settings import OrganizationSettings
from switchboard.rules import policy
from switchboard.services import organization as service


async def settings(info: InfoT) -> OrganizationSettings:
    ctx = info.context
    await ctx.allow(policy.Op.READ_SETTINGS)
    return OrganizationSettings.from_model(await ctx.tenant.organization())


async def update_settings(info: InfoT, data: UpdateSettingsInput) -> SettingsPayload:
    ctx = info.context
    await ctx.allow(policy.Op.PROVISION)
    changes = asdict(data)
    row, problems = await run(ctx, lambda outbox: service.update(ctx.tenant, outbox, changes))
    return SettingsPayload(
        settings=OrganizationSettings.from_model(row) if row else None, user_errors=errors_of(problems)
    )
