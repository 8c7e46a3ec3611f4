"""The organization's settings."""

from __future__ import annotations

import strawberry

from switchboard import models as m


@strawberry.type(description="The organization's rules for invites, queues and transfers.")
class OrganizationSettings:
    invite_expiry_seconds: int = strawberry.field(description="Default lifetime of an invite.")
    collaborator_limit_normal: int = strawberry.field(description="Collaborator cap of NORMAL threads.")
    collaborator_limit_vip: int = strawberry.field(description="Collaborator cap of VIP threads.")
    collaborator_limit_urgent: int = strawberry.field(description="Collaborator cap of URGENT threads.")
    cross_department_approval: bool = strawberry.field(
        description="Invites to another department need a supervisor's approval."
    )
    max_transfer_attempts: int = strawberry.field(description="Transfer requests allowed per thread.")
    transfer_rate_limit_per_visitor_per_hour: int = strawberry.field(
        description="Transfer requests allowed per visitor per hour."
    )
    invites_per_agent_per_minute: int = strawberry.field(description="Invites one agent may send per minute.")
    unassign_on_resolve: bool = strawberry.field(
        description="Resolving clears the primary, so a reopened thread goes back through the queue."
    )
    service_name: str = strawberry.field(description="The one name a visitor sees for every agent and the bot.")
    reopen_on_visitor_message_seconds: int = strawberry.field(
        description="A visitor message this long after resolve reopens the thread; 0: never."
    )
    messages_per_visitor_per_minute: int = strawberry.field(description="Messages one visitor may send per minute.")
    query_cost_budget: int = strawberry.field(
        description="Query cost points a caller may spend at once (see extensions.cost)."
    )
    query_cost_restore_per_second: int = strawberry.field(description="Query cost points restored per second.")

    @classmethod
    def from_model(cls, row: m.Organization) -> OrganizationSettings:
        return cls(
            invite_expiry_seconds=row.invite_expiry_seconds,
            collaborator_limit_normal=row.collaborator_limit_normal,
            collaborator_limit_vip=row.collaborator_limit_vip,
            collaborator_limit_urgent=row.collaborator_limit_urgent,
            cross_department_approval=row.cross_department_approval,
            max_transfer_attempts=row.max_transfer_attempts,
            transfer_rate_limit_per_visitor_per_hour=row.transfer_rate_limit_per_visitor_per_hour,
            invites_per_agent_per_minute=row.invites_per_agent_per_minute,
            unassign_on_resolve=row.unassign_on_resolve,
            service_name=row.service_name,
            reopen_on_visitor_message_seconds=row.reopen_on_visitor_message_seconds,
            messages_per_visitor_per_minute=row.messages_per_visitor_per_minute,
            query_cost_budget=row.query_cost_budget,
            query_cost_restore_per_second=row.query_cost_restore_per_second,
        )
