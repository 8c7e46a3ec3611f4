"""Subsystems that run beside requests: deadline sweepers, routing, live watchers.

Each feature module exposes ``start(services)`` / ``stop(services)``; it adds its
sweepers to the scheduler and its long-lived helpers to ``services`` there, so
the lifespan stays one readable list.
"""

from __future__ import annotations

from switchboard.context import Services
from switchboard.subscriptions import collaboration_feature, queue_feature

FEATURES = (collaboration_feature, queue_feature)


async def start(services: Services) -> None:
    for feature in FEATURES:
        await feature.start(services)


async def stop(services: Services) -> None:
    for feature in reversed(FEATURES):
        await feature.stop(services)
