"""Properties of queue order, routing, estimates, input validation and pagination, on random inputs."""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.rules import estimates, pagination, routing
from switchboard.rules import validation as v
from switchboard.rules.enums import Priority, RoutingStrategy, VisitorTier
from switchboard.rules.problems import BadArgument, DomainError
from switchboard.rules.queue_order import PRIORITY_RANK, QueueChoice, choose_queue, effective_priority, order_key
from tests.rules.strategies import (
    NOW,
    PROPERTIES,
    any_text,
    candidates,
    ids,
    moments,
    priorities,
    skill,
    skill_sets,
    tiers,
)

strategies_ = st.sampled_from(list(RoutingStrategy))


@PROPERTIES
@given(st.none() | priorities, tiers)
def test_vip_and_enterprise_get_at_least_high_and_nobody_is_lowered(
    requested: Priority | None, tier: VisitorTier
) -> None:
    got = effective_priority(requested, tier)
    assert PRIORITY_RANK[got] <= PRIORITY_RANK[requested or Priority.NORMAL]
    if tier is VisitorTier.NORMAL:
        assert got is (requested or Priority.NORMAL)
    else:
        assert PRIORITY_RANK[got] <= PRIORITY_RANK[Priority.HIGH]
    assert effective_priority(got, tier) is got


@PROPERTIES
@given(st.lists(st.tuples(priorities, moments), min_size=1, max_size=30))
def test_the_queue_serves_higher_priority_first_then_the_longest_waiting(
    entries: list[tuple[Priority, datetime]],
) -> None:
    keys = [order_key(p, at, i) for i, (p, at) in enumerate(entries)]
    served = sorted(keys)
    for first, second in itertools.pairwise(served):
        assert first[0] <= second[0]
        if first[0] == second[0]:
            assert (first[1], first[2]) < (second[1], second[2])


queue_choices = st.lists(
    st.builds(
        QueueChoice, id=ids, name=st.sampled_from("abcdef"), skills=skill_sets.map(tuple), is_default=st.booleans()
    ),
    max_size=6,
)


@PROPERTIES
@given(queue_choices, st.lists(skill, max_size=3))
def test_a_transfer_goes_to_a_queue_covering_its_skills_else_to_the_default(
    queues: list[QueueChoice], required: list[str]
) -> None:
    chosen = choose_queue(queues, required)
    covering = [q for q in queues if set(required) <= set(q.skills)]
    if required and covering:
        assert chosen in covering and len(chosen.skills) == min(len(q.skills) for q in covering)
    elif chosen is not None:
        assert chosen.is_default
    else:
        assert not any(q.is_default for q in queues)


@PROPERTIES
@given(strategies_, candidates(), skill_sets, skill_sets, st.none() | ids, st.randoms(use_true_random=False))
def test_routing_offers_only_free_capable_agents_and_ignores_the_order_it_reads_them_in(
    strategy: RoutingStrategy,
    pool: list[routing.Candidate],
    queue_skills: frozenset[str],
    required: frozenset[str],
    preferred: int | None,
    shuffler: random.Random,
) -> None:
    ranked = routing.ranked_for_entry(strategy, pool, sorted(queue_skills), sorted(required), NOW, preferred)
    shuffled = list(pool)
    shuffler.shuffle(shuffled)
    again = routing.ranked_for_entry(strategy, shuffled, sorted(queue_skills), sorted(required), NOW, preferred)
    assert [c.id for c in ranked] == [c.id for c in again]
    for agent in ranked:
        assert agent.free > 0 and queue_skills <= agent.skills
        if strategy is RoutingStrategy.SKILL_BASED:
            assert required <= agent.skills
    if strategy is RoutingStrategy.MANUAL:
        assert [c.id for c in ranked] in ([], [preferred])
    elif preferred is not None and any(c.id == preferred for c in ranked):
        assert ranked[0].id == preferred
    if strategy in (RoutingStrategy.LEAST_BUSY, RoutingStrategy.SKILL_BASED) and preferred is None:
        assert [c.active for c in ranked] == sorted(c.active for c in ranked)


@PROPERTIES
@given(candidates(), st.lists(skill, max_size=4), st.integers(0, 30))
def test_a_hybrid_score_is_a_weighted_share_between_0_and_1(
    pool: list[routing.Candidate], required: list[str], top: int
) -> None:
    for agent in pool:
        # What the routing pass feeds it: a load within capacity, a history within the best one.
        if agent.active > agent.capacity > 0 or agent.history > top:
            continue
        assert -1e-9 <= routing.hybrid_score(agent, required, top, NOW) <= 1 + 1e-9


assignments = st.lists(st.tuples(moments.filter(lambda m: m <= NOW), st.none() | ids), max_size=20)
online = st.lists(st.tuples(st.none() | skill_sets.map(sorted), st.integers(0, 8), st.integers(0, 8)), max_size=8)


@PROPERTIES
@given(assignments, online, st.none() | skill_sets.map(sorted), st.integers(1, 500))
def test_an_estimate_grows_strictly_with_the_position(
    done: list[tuple[datetime, int | None]],
    agents: list[estimates.OnlineAgent],
    skills: list[str] | None,
    position: int,
) -> None:
    basis = estimates.basis_from(NOW, done, agents, skills)
    assert basis.seconds_per_place > 0 and basis.from_history is bool(done)
    assert basis.available_agents <= basis.capable_agents <= len(agents)
    here, behind = estimates.estimate(basis, position), estimates.estimate(basis, position + 1)
    assert here is not None and behind is not None and position <= here < behind
    assert estimates.estimate(basis, None) is None


@PROPERTIES
@given(any_text, st.integers(1, 300), st.booleans())
def test_text_is_trimmed_bounded_and_storable_or_refused_as_invalid(value: str, limit: int, required: bool) -> None:
    try:
        out = v.text(value, ("name",), limit=limit, required=required)
    except DomainError as refused:
        assert refused.problem.field == ("name",)
        assert len(value) > limit or not v.storable(value) or (required and not value.strip())
        return
    assert len(value) <= limit and v.storable(value)
    assert out == (value.strip() or None)


@PROPERTIES
@given(st.lists(any_text, max_size=60))
def test_skills_are_distinct_trimmed_and_in_the_order_given(values: list[str]) -> None:
    try:
        out = v.skills(values, ("skills",))
    except DomainError as refused:
        assert (refused.problem.field or ("",))[0] == "skills"
        return
    assert out is not None and len(out) == len(set(out)) <= v.SKILLS_MAX
    assert out == list(dict.fromkeys(s.strip() for s in values))


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=20,
)


@PROPERTIES
@given(json_values)
def test_extra_context_is_accepted_only_when_every_backend_can_store_it(extra: object) -> None:
    try:
        out = v.transfer_context({"extra": extra})
    except DomainError:
        return
    assert out is not None
    if extra is None:
        assert "extra" not in out
        return
    # What is kept encodes as strict JSON and UTF-8 (what PostgreSQL's jsonb takes).
    json.dumps(out["extra"], allow_nan=False).encode("utf-8")
    assert "\\u0000" not in json.dumps(out["extra"])


SORT = pagination.SortKey("Row.rank.id", ("rank", "id"))
keys = st.tuples(st.integers(-(2**40), 2**40), st.integers(1, 2**40)) | st.tuples(
    st.datetimes(timezones=st.just(UTC)), st.integers(1, 2**40)
)


@PROPERTIES
@given(keys)
def test_a_cursor_gives_back_the_sort_key_it_was_made_from(key: tuple[object, int]) -> None:
    assert SORT.decode(SORT.cursor(key)) == key
    request = pagination.keyset_request(None, SORT.cursor(key), None, None, SORT.decode)
    assert request.after == key and not request.backward
    # A cursor names its list and order: another list's cursor is refused, not read from a wrong place.
    with pytest.raises(BadArgument):
        pagination.SortKey("Other.rank.id", SORT.columns).decode(SORT.cursor(key))


@PROPERTIES
@given(
    st.none() | st.integers(0, pagination.MAX_PAGE),
    st.none() | st.integers(0, pagination.MAX_PAGE),
)
def test_a_page_never_reads_more_than_asked_and_the_limit(first: int | None, last: int | None) -> None:
    request = pagination.keyset_request(first, None, last, None, SORT.decode)
    assert 0 <= request.size <= pagination.MAX_PAGE
    if first is None and last is None:
        assert request.size == pagination.DEFAULT_PAGE


@PROPERTIES
@given(any_text | st.binary(max_size=40).map(lambda b: b.decode("latin-1")))
def test_a_malformed_cursor_is_a_bad_argument_never_a_crash(raw: str) -> None:
    try:
        key = SORT.decode(raw)
    except BadArgument:
        return
    assert SORT.decode(SORT.cursor(key)) == key
    try:
        number = pagination.key_of(raw)
    except BadArgument:
        return
    assert number >= 0 and pagination.key_of(pagination.keyset_cursor(number)) == number


@pytest.mark.parametrize("size", [pagination.MAX_PAGE + 1, -1])
def test_page_sizes_out_of_range_are_refused(size: int) -> None:
    with pytest.raises(BadArgument):
        pagination.keyset_request(size, None, None, None)
    with pytest.raises(BadArgument):
        pagination.keyset_request(None, None, size, None)


def test_estimates_move_with_time() -> None:
    """The span grows as the window's oldest assignment ages: the same history means a slower pace later."""
    done = [(NOW - timedelta(minutes=10), 1), (NOW - timedelta(minutes=5), 2)]
    sooner = estimates.basis_from(NOW, done, [], None).seconds_per_place
    later = estimates.basis_from(NOW + timedelta(minutes=30), done, [], None).seconds_per_place
    assert later > sooner
