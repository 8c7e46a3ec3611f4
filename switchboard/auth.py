"""Tokens and the caller they identify."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from switchboard.rules import ids
from switchboard.rules.enums import Role

ALGORITHM = "HS256"
MAX_TTL_SECONDS = 366 * 24 * 3600


class AuthError(Exception):
    """No token, or one that is forged, expired or incomplete."""


@dataclass(frozen=True)
class Principal:
    """Who is calling, from a verified token."""

    role: Role
    org: str
    sub: str
    # Set for agents (their Agent pk) and visitors (Visitor pk and their one thread).
    agent_id: int | None = None
    visitor_id: int | None = None
    thread_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def issue(
    secret: str,
    *,
    role: Role,
    org: str,
    sub: str,
    thread: str | None = None,
    ttl: int = 3600,
    now: float | None = None,
) -> str:
    """A signed token; ``thread`` is the global ID of a visitor's one thread."""
    if not 0 < ttl <= MAX_TTL_SECONDS:
        raise ValueError(f"ttl must be within 1..{MAX_TTL_SECONDS} seconds")
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {"sub": sub, "org": org, "role": role.value, "iat": issued, "exp": issued + ttl}
    if thread is not None:
        claims["thread"] = thread
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(secret: str, token: str) -> Principal:
    """The principal of a token, or ``AuthError`` saying why not."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "org", "role", "exp"]})
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthError(f"invalid token: {exc}") from exc
    try:
        role = Role(claims["role"])
    except ValueError as exc:
        raise AuthError(f"unknown role {claims['role']!r}") from exc
    org, sub = claims["org"], claims["sub"]
    if not isinstance(org, str) or not 0 < len(org) <= 100 or not isinstance(sub, str):
        raise AuthError("invalid org or sub claim")
    try:
        if role is Role.AGENT:
            return Principal(role, org, sub, agent_id=ids.decode_as(sub, "Agent"))
        if role is Role.VISITOR:
            return Principal(
                role,
                org,
                sub,
                visitor_id=ids.decode_as(sub, "Visitor"),
                thread_id=ids.decode_as(str(claims.get("thread", "")), "Thread"),
            )
    except ids.BadId as exc:
        raise AuthError(f"invalid claims for role {role.value}: {exc}") from exc
    return Principal(role, org, sub)


def bearer(value: object) -> str | None:
    """The token of an ``Authorization: Bearer ...`` value (or a bare token)."""
    if not isinstance(value, str) or not value.strip():
        return None
    scheme, _, rest = value.strip().partition(" ")
    if rest and scheme.lower() == "bearer":
        return rest.strip()
    return None if rest else value.strip()
