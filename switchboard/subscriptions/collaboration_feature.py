"""Feature wiring: sweepers and long-lived helpers of this feature."""

from __future__ import annotations

from switchboard.context import Services


async def start(services: Services) -> None:
    return None


async def stop(services: Services) -> None:
    return None
