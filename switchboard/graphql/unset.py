"""Optional arguments have no default in the contract (strawberry.UNSET); resolvers see None."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.types.unset import UnsetType


def clean(value: Any) -> Any:
    """UNSET becomes None, in input objects and lists too."""
    if isinstance(value, UnsetType):
        return None
    if isinstance(value, list):
        return [clean(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            current = getattr(value, f.name)
            cleaned = clean(current)
            if cleaned is not current:
                setattr(value, f.name, cleaned)
    return value


class UnsetToNone(FieldExtension):
    """Runs after strawberry has built the input objects, before the resolver.

    Only ``map_arguments``, a plain call during argument conversion: an extension
    with ``resolve``/``resolve_async`` would put every field with arguments on
    strawberry's extension chain (a coroutine more per async field).
    """

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(names)

    def map_arguments(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        # Omitted arguments are absent here; the Python default (UNSET) would apply.
        out: dict[str, Any] = dict.fromkeys(self.names)
        out.update((k, clean(v)) for k, v in kwargs.items())
        return out


def install(types: Iterable[type]) -> None:
    """Add the extension to every field with arguments (subscriptions clean their own)."""
    for cls in types:
        definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
        for field in definition.fields:
            if (
                field.arguments
                and not field.is_subscription
                and not any(isinstance(e, UnsetToNone) for e in field.extensions)
            ):
                field.extensions.append(UnsetToNone(a.python_name for a in field.arguments))
