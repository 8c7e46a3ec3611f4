"""The typed request context and the app-wide services it reaches."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from switchboard.auth import AuthError, Principal, bearer, verify
from switchboard.domain.enums import AgentRole, Role
from switchboard.errors import Forbidden, Unauthenticated
from switchboard.loaders import Loaders
from switchboard.models import Agent
from switchboard.tenancy import Tenant

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from switchboard.observability import Telemetry
    from switchboard.settings import Settings
    from switchboard.subscriptions.bus import EventBus
    from switchboard.subscriptions.outbox import Outbox
    from switchboard.timers import Scheduler


class Router(Protocol):
    """Routing entry point (queues feature): assign WAITING entries to free capacity."""

    async def kick(self, org: str) -> None:
        """Run a routing pass for ``org`` now (called after a commit that freed capacity)."""
        ...


@dataclass
class Services:
    """Owned by the app's lifespan: one of each per process."""

    settings: Settings
    bus: EventBus
    scheduler: Scheduler
    telemetry: Telemetry
    redis: aioredis.Redis | None = None
    router: Router | None = None
    # Long-lived helpers that features attach (queue watchers, rate limiter...).
    extensions: dict[str, Any] = field(default_factory=dict)

    def after_capacity_change(self, outbox: Outbox, org: str) -> None:
        """Ask for a routing pass once ``outbox``'s transaction has committed."""
        router = self.router
        if router is not None:
            outbox.after_commit.append(lambda: router.kick(org))


class Context:
    """Built per HTTP request and per WebSocket connection."""

    def __init__(
        self,
        services: Services,
        *,
        request: Any = None,
        principal: Principal | None = None,
        auth_error: str | None = "authentication required",
    ) -> None:
        self.services = services
        self.request = request
        self.connection_params: dict[str, Any] | None = None
        self._principal = principal
        self._auth_error = None if principal else auth_error
        # Why the caller could not be checked (the database did not answer):
        # raised by every operation, as its own first read would have failed.
        self._check_failed: Exception | None = None
        self._loaders: Loaders | None = None
        self._agent: Agent | None = None
        # A WebSocket's close at the token's ``exp`` (see ``switchboard.wsconnection``).
        self.expiry: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------ auth

    async def authenticate(self, raw_token: object) -> None:
        """Set the caller from a token value; remember why it failed otherwise.

        An agent's token must name an agent of its organization. That is decided
        here, once per request or connection, so that no operation of a token
        naming a missing (or foreign) agent runs, whichever resolvers it reaches.
        """
        self._principal, self._auth_error, self._check_failed = None, "authentication required", None
        self._loaders = None
        self._agent = None
        token = bearer(raw_token)
        if token is None:
            return
        try:
            principal = verify(self.services.settings.jwt_secret, token)
        except AuthError as exc:
            self._auth_error = str(exc)
            return
        if principal.agent_id is not None:
            try:
                self._agent = await Tenant(principal.org).get(Agent, principal.agent_id)
            except Exception as exc:
                self._check_failed = exc
                return
            if self._agent is None:
                self._auth_error = "the token's agent does not exist in this organization"
                return
        self._principal, self._auth_error = principal, None

    @property
    def principal(self) -> Principal:
        if self._principal is None:
            if self._check_failed is not None:
                raise self._check_failed
            raise Unauthenticated(self._auth_error or "authentication required")
        return self._principal

    @property
    def authenticated(self) -> bool:
        return self._principal is not None

    @property
    def unverified(self) -> bool:
        """True when the token could not be checked against the database (it did not answer)."""
        return self._check_failed is not None

    def expired(self) -> bool:
        """True once the caller's token is past its ``exp`` (a WebSocket outlives the request that opened it)."""
        principal = self._principal
        return principal is not None and principal.expires_at <= time.time()

    def require(self, *roles: Role) -> Principal:
        """The caller, who must hold one of ``roles`` (FORBIDDEN otherwise)."""
        principal = self.principal
        if roles and principal.role not in roles:
            raise Forbidden(f"the {principal.role.value} role may not do this")
        return principal

    async def agent(self) -> Agent | None:
        """The calling agent's row (None for other roles); a deleted agent is unauthenticated."""
        principal = self.principal
        if principal.role is not Role.AGENT or principal.agent_id is None:
            return None
        if self._agent is None:
            agent = await self.loaders.agent.load(principal.agent_id)
            if agent is None:
                raise Unauthenticated("the token's agent does not exist in this organization")
            self._agent = agent
        return self._agent

    async def require_agent(self) -> Agent:
        self.require(Role.AGENT)
        agent = await self.agent()
        assert agent is not None
        return agent

    async def is_supervisor(self) -> bool:
        agent = await self.agent()
        return agent is not None and agent.role is AgentRole.SUPERVISOR

    # ------------------------------------------------------------ data access

    @property
    def tenant(self) -> Tenant:
        return Tenant(self.principal.org)

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(self.tenant)
            if self._agent is not None:
                self._loaders.agent.prime(self._agent.id, self._agent)
        return self._loaders

    def reset_loaders(self) -> None:
        """A WebSocket context lives as long as the connection; give each event fresh data."""
        self._loaders = None
        self._agent = None

    @property
    def bus(self) -> EventBus:
        return self.services.bus

    @property
    def settings(self) -> Settings:
        return self.services.settings
