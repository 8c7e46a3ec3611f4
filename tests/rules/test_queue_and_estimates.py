"""Queue order, joining a queue and wait figures, as plain functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from switchboard.rules import queue_order as order
from switchboard.rules.enums import Priority, RoutingStrategy, VisitorTier
from switchboard.rules.estimates import figures

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_order_is_priority_then_enqueue_time_then_id() -> None:
    entries = [
        (Priority.LOW, NOW, 1),
        (Priority.NORMAL, NOW + timedelta(seconds=5), 2),
        (Priority.NORMAL, NOW, 4),
        (Priority.NORMAL, NOW, 3),
        (Priority.URGENT, NOW + timedelta(hours=1), 5),
        (Priority.HIGH, NOW, 6),
    ]
    ranked = sorted(entries, key=lambda e: order.order_key(*e))
    assert [e[2] for e in ranked] == [5, 6, 3, 4, 2, 1]


def test_vip_and_enterprise_queue_at_least_high_and_wait_their_own_maximum() -> None:
    for tier in (VisitorTier.VIP, VisitorTier.ENTERPRISE):
        assert order.effective_priority(None, tier) is Priority.HIGH
        assert order.effective_priority(Priority.URGENT, tier) is Priority.URGENT
        assert order.max_wait_seconds(600, 120, tier) == 120
    assert order.effective_priority(Priority.LOW, VisitorTier.NORMAL) is Priority.LOW
    assert order.max_wait_seconds(600, 120, VisitorTier.NORMAL) == 600


def test_choosing_a_queue() -> None:
    general = order.QueueChoice(1, "general", (), True)
    billing = order.QueueChoice(2, "billing", ("billing",), False)
    billing_de = order.QueueChoice(3, "billing-de", ("billing", "german"), False)
    queues = [billing, billing_de, general]
    assert order.choose_queue(queues, ["billing"]) == billing
    assert order.choose_queue(queues, ["billing", "german"]) == billing_de
    assert order.choose_queue(queues, ["french"]) == general
    assert order.choose_queue([billing], []) is None


def test_claiming_needs_the_entry_skills_only_under_skill_based() -> None:
    assert order.claimable(RoutingStrategy.LEAST_BUSY, [], ["billing"])
    assert not order.claimable(RoutingStrategy.SKILL_BASED, [], ["billing"])
    assert order.claimable(RoutingStrategy.SKILL_BASED, ["billing"], ["billing"])


def test_queue_figures() -> None:
    waiting = [(Priority.HIGH, NOW - timedelta(seconds=30)), (Priority.LOW, NOW - timedelta(seconds=90))]
    assigned = [(NOW - timedelta(seconds=600), 7, NOW - timedelta(seconds=700))]
    agents = [(["billing"], 2, 1), ([], 3, 3)]
    got = figures(NOW, waiting, assigned, agents, ["billing"])
    assert (got.waiting, got.longest_wait_seconds, got.average_wait_seconds) == (2, 90, 100.0)
    assert dict(got.waiting_by_priority) == {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 0, Priority.LOW: 1}
    # One capable agent, free: the last hour moved 1 entry in 600 s; a NORMAL newcomer is second.
    assert got.available_agents == 1
    assert got.estimated_wait_seconds == 1200
    empty = figures(NOW, [], [], [], None)
    assert (empty.waiting, empty.longest_wait_seconds, empty.average_wait_seconds) == (0, 0, None)
    assert empty.estimated_wait_seconds == 300
