"""Tokens and the caller they identify."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt
from cachetools import LRUCache

from switchboard.rules import ids
from switchboard.rules.enums import Role

ALGORITHM = "HS256"
DAY = 24 * 3600
# The longest lifetime a token may claim, counted from its ``iat`` (or, without
# one, from when it is presented): a leaked token stops working by itself.
MAX_TTL_SECONDS = 30 * DAY
MAX_VISITOR_TTL_SECONDS = 7 * DAY
MAX_ORG_LENGTH = 100
MAX_SUB_LENGTH = 200


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
    # The token's ``exp`` (seconds since the epoch): a WebSocket lives no longer.
    expires_at: float = float("inf")

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


# Tokens verified recently, by (secret, token): a console polls with the same
# token many times a second, and checking its signature and claims again costs
# more than the rest of a trivial query's own work. Only successes are kept,
# each until its ``exp``; a token that verified once keeps verifying until then
# (nothing in it or its checks depends on anything else: ``iat``/``nbf`` only
# move further into the past).
VERIFIED_TOKENS = 4096
_verified: LRUCache[tuple[str, str], Principal] = LRUCache(maxsize=VERIFIED_TOKENS)


def max_ttl(role: Role) -> int:
    """The longest lifetime, in seconds, a token of ``role`` may have."""
    return MAX_VISITOR_TTL_SECONDS if role is Role.VISITOR else MAX_TTL_SECONDS


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
    limit = max_ttl(role)
    if not 0 < ttl <= limit:
        raise ValueError(f"ttl must be within 1..{limit} seconds ({limit // DAY} days) for {role.value} tokens")
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {"sub": sub, "org": org, "role": role.value, "iat": issued, "exp": issued + ttl}
    if thread is not None:
        claims["thread"] = thread
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(secret: str, token: str) -> Principal:
    """The principal of a token, or ``AuthError`` saying why not (a token that verified is remembered until ``exp``)."""
    key = (secret, token)
    known = _verified.get(key)
    if known is not None:
        # PyJWT's own test: expired once ``int(exp) <= now``.
        if time.time() < int(known.expires_at):
            return known
        _verified.pop(key, None)
    principal = _verify(secret, token)
    _verified[key] = principal
    return principal


def _verify(secret: str, token: str) -> Principal:
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
    expires_at = _expiry(claims, role)
    org, sub = _text(claims, "org", MAX_ORG_LENGTH), _text(claims, "sub", MAX_SUB_LENGTH)
    try:
        if role is Role.AGENT:
            return Principal(role, org, sub, agent_id=ids.decode_as(sub, "Agent"), expires_at=expires_at)
        if role is Role.VISITOR:
            return Principal(
                role,
                org,
                sub,
                visitor_id=ids.decode_as(sub, "Visitor"),
                thread_id=ids.decode_as(str(claims.get("thread", "")), "Thread"),
                expires_at=expires_at,
            )
    except ids.BadId as exc:
        raise AuthError(f"invalid claims for role {role.value}: {exc}") from exc
    return Principal(role, org, sub, expires_at=expires_at)


def _expiry(claims: dict[str, Any], role: Role) -> float:
    """``exp``, once it and ``iat`` are numbers and the lifetime between them is within the role's limit.

    PyJWT takes ``"exp": "1700000000"`` (a string) as readily as a number; the
    contract does not. The lifetime runs from ``iat`` when the token has one
    (PyJWT has checked it is not in the future), else from now.
    """
    for name in ("exp", "iat"):
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise AuthError(f"invalid token: the {name} claim must be a number")
    exp: float = claims["exp"]
    start: float = claims.get("iat", time.time())
    limit = max_ttl(role)
    if exp - start > limit:
        raise AuthError(f"invalid token: a {role.value} token may be valid for {limit // DAY} days at most")
    return float(exp)


def _text(claims: dict[str, Any], name: str, max_length: int) -> str:
    """A claim the database will store and compare: non-empty text without NUL or lone surrogates."""
    value = claims[name]
    if not isinstance(value, str) or not 0 < len(value) <= max_length or "\x00" in value:
        raise AuthError(f"invalid token: the {name} claim must be 1..{max_length} characters of text without NUL")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, which a JSON \udXXX escape can carry
        raise AuthError(f"invalid token: the {name} claim is not valid Unicode text") from exc
    return value


def bearer(value: object) -> str | None:
    """The token of an ``Authorization: Bearer ...`` value (or a bare token)."""
    if not isinstance(value, str) or not value.strip():
        return None
    scheme, _, rest = value.strip().partition(" ")
    if rest and scheme.lower() == "bearer":
        return rest.strip()
    return None if rest else value.strip()
