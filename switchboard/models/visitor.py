"""Visitors: the customers, known to the calling system by an external id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from switchboard.rules.enums import VisitorTier

if TYPE_CHECKING:
    from switchboard.models.organization import Organization


class Visitor(Model):
    id = fields.BigIntField(primary_key=True)
    org: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="visitors", on_delete=fields.CASCADE
    )
    org_id: str
    external_id = fields.CharField(max_length=200)
    name = fields.CharField(max_length=200, null=True)
    tier = fields.CharEnumField(VisitorTier, default=VisitorTier.NORMAL)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "visitor"
        unique_together = (("org_id", "external_id"),)
