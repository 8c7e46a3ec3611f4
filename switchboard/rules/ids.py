"""Opaque global IDs: base64 of ``Type:pk``. Clients never decode them."""

from __future__ import annotations

import base64
import binascii

NODE_TYPES = frozenset({"Agent", "Visitor", "Thread", "Collaborator", "Invite", "Queue", "QueueEntry", "Message"})


class BadId(ValueError):
    """The ID is malformed or names another type than expected."""


def encode(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode(global_id: str) -> tuple[str, int]:
    """Split a global ID into its type and primary key, or raise ``BadId``."""
    if not isinstance(global_id, str) or not 0 < len(global_id) <= 200:
        raise BadId("malformed ID")
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
        type_name, pk_text = raw.split(":", 1)
        pk = int(pk_text)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadId(f"malformed ID {global_id!r}") from exc
    # One ID per object: no " 7", "0_7" or "+7" spellings of pk 7.
    if type_name not in NODE_TYPES or pk <= 0 or pk >= 2**63 or pk_text != str(pk):
        raise BadId(f"malformed ID {global_id!r}")
    return type_name, pk


def decode_as(global_id: str, type_name: str) -> int:
    """The primary key of an ID that must name ``type_name``."""
    found, pk = decode(global_id)
    if found != type_name:
        raise BadId(f"{global_id!r} is not the ID of a {type_name}")
    return pk
