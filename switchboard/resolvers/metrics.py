"""Analytics (metrics query)."""

from __future__ import annotations

from datetime import datetime

from switchboard.schema.analytics import Metrics, MetricsBucket, MetricsPoint
from switchboard.schema.types import InfoT


async def metrics(info: InfoT, start: datetime, end: datetime, queue_id: str | None) -> Metrics:
    raise NotImplementedError("metrics")


async def series(info: InfoT, metrics: Metrics, bucket: MetricsBucket) -> list[MetricsPoint]:
    raise NotImplementedError("metrics")
