"""The typed request context: the caller, their tenant and the request's DataLoaders."""

from __future__ import annotations

import asyncio
import time
from contextvars import ContextVar
from typing import Any

from switchboard.auth import AuthError, Principal, bearer, verify
from switchboard.events.bus import EventBus
from switchboard.graphql.errors import Forbidden, Unauthenticated
from switchboard.graphql.loaders import Loaders
from switchboard.models import Agent
from switchboard.rules import policy
from switchboard.rules.enums import AgentRole, Role
from switchboard.runtime.event_rows import Rows
from switchboard.runtime.process import Services
from switchboard.services.tenancy import Tenant
from switchboard.settings import Settings

# The loaders of the event a subscription renders now. A WebSocket's context is shared by all the
# operations on it, each run in its own task: a context variable set in a stream's task (its
# generator runs there, and so does the rendering of what it yields) is seen by that operation
# alone, never by the socket's other operations.
_rendering: ContextVar[Loaders | None] = ContextVar("switchboard_rendering_loaders", default=None)


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
        self._caller: policy.Caller | None = None
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
        self.reset_loaders()
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

    @property
    def known_caller(self) -> policy.Caller | None:
        """The caller if ``caller()`` has run in this request (sync resolvers decide on it without awaiting)."""
        return self._caller

    async def caller(self) -> policy.Caller:
        """The caller as the access policy sees them (an agent's row is read once per request)."""
        if self._caller is None:
            p = self.principal
            agent = await self.agent()
            self._caller = policy.Caller(
                role=p.role,
                org=p.org,
                agent_id=p.agent_id,
                supervisor=agent is not None and agent.role is AgentRole.SUPERVISOR,
                department=agent.department if agent is not None else None,
                visitor_id=p.visitor_id,
                thread_id=p.thread_id,
            )
        return self._caller

    async def allow(self, op: policy.Op) -> policy.Caller:
        """The caller, who must be allowed ``op`` by the policy (FORBIDDEN otherwise)."""
        caller = await self.caller()
        refusal = policy.refusal(caller, op)
        if refusal is not None:
            raise Forbidden(refusal)
        return caller

    # ------------------------------------------------------------ data access

    @property
    def tenant(self) -> Tenant:
        return Tenant(self.principal.org)

    @property
    def loaders(self) -> Loaders:
        rendering = _rendering.get()
        if rendering is not None:
            return rendering
        if self._loaders is None:
            self._loaders = self.fresh_loaders()
        return self._loaders

    def fresh_loaders(self) -> Loaders:
        """New loaders for this caller (their own agent row primed: it costs no query)."""
        loaders = Loaders(self.tenant)
        if self._agent is not None:
            loaders.agent.prime(self._agent.id, self._agent)
        return loaders

    def render_with(self, loaders: Loaders | None) -> None:
        """Loaders for the event this operation's stream renders next, seen by this operation alone
        (see ``_rendering``); None once it is sent. The caller stays as checked."""
        _rendering.set(loaders)

    def render_rows(self, rows: Rows) -> None:
        """The next event of this operation's stream renders from fresh loaders primed with its rows.

        The rows are read once per process and shared by every subscriber; a loader never is: a
        subscriber going away cancels no future another one awaits, and the socket's other
        operations keep their loaders (``render_with``)."""
        self.render_with(self.fresh_loaders().primed(rows))

    def reset_loaders(self) -> None:
        """A new caller (``authenticate``) or a long-lived connection: keep no data of before."""
        self._loaders = None
        self._agent = None
        self._caller = None

    @property
    def bus(self) -> EventBus:
        return self.services.bus

    @property
    def settings(self) -> Settings:
        return self.services.settings
