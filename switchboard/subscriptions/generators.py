"""Subscription generators, one module per feature."""

from __future__ import annotations

from switchboard.subscriptions.collaboration_streams import invite_events, thread_events
from switchboard.subscriptions.queue_streams import queue_position, queue_stats

__all__ = ["invite_events", "queue_position", "queue_stats", "thread_events"]
