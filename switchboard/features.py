"""Subsystems that run beside requests: deadline sweepers and live watchers.

Each feature adds its sweepers to the scheduler and its long-lived helpers to
``services.extensions`` here, so the lifespan stays one readable list.
"""

from __future__ import annotations

from switchboard.context import Services


async def start(services: Services) -> None:
    return None


async def stop(services: Services) -> None:
    return None
