"""Walking a keyset connection page by page, forward and back, visits every row once (random lists)."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.rules import pagination
from switchboard.services.pagination import keyset_list

SORT = pagination.SortKey("Row.rank.id", ("rank", "id"))


@dataclass(frozen=True)
class Row:
    rank: int
    id: int


rows_in_order = st.lists(st.integers(0, 5), max_size=60).map(
    lambda ranks: sorted((Row(rank, i + 1) for i, rank in enumerate(ranks)), key=SORT.values)
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(rows_in_order, st.integers(1, 7))
def test_forward_pages_visit_every_row_once_in_order(rows: list[Row], size: int) -> None:
    seen: list[Row] = []
    after: str | None = None
    while True:
        page = keyset_list(rows, pagination.keyset_request(size, after, None, None, SORT.decode), SORT)
        seen += page.items
        assert len(page.items) <= size
        if not page.has_next:
            break
        after = SORT.cursor(page.keys[-1])
    assert seen == rows


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(rows_in_order, st.integers(1, 7))
def test_backward_pages_visit_every_row_once_in_order(rows: list[Row], size: int) -> None:
    seen: list[Row] = []
    before: str | None = None
    while True:
        page = keyset_list(rows, pagination.keyset_request(None, None, size, before, SORT.decode), SORT)
        seen = page.items + seen
        if not page.has_previous:
            break
        before = SORT.cursor(page.keys[0])
    assert seen == rows
