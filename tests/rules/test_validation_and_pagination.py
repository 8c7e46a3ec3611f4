"""Input rules, problems with logical fields, pagination arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from switchboard.rules import validation as v
from switchboard.rules.enums import ErrorCode
from switchboard.rules.pagination import (
    DEFAULT_PAGE,
    MAX_PAGE,
    KeysetRequest,
    SortKey,
    keyset_cursor,
    keyset_request,
)
from switchboard.rules.problems import BadArgument, DomainError


def _problem(call: object) -> tuple[ErrorCode, object, str]:
    assert callable(call)
    with pytest.raises(DomainError) as failed:
        call()
    problem = failed.value.problem
    return problem.code, problem.field, problem.message


def test_text_rules() -> None:
    assert v.text("  hi  ", ("name",)) == "hi"
    assert v.text("   ", ("name",)) is None
    assert v.text(None, ("name",)) is None
    code, field, message = _problem(lambda: v.text("x" * 201, ("visitor", "external_id")))
    assert (code, field) == (ErrorCode.INVALID, ("visitor", "external_id")) and message.startswith("externalId is 201")
    assert _problem(lambda: v.required_text(" ", ("name",)))[2] == "name must not be blank"
    assert "NUL" in _problem(lambda: v.text("a\x00b", ("subject",)))[2]


def test_ranges_and_skills() -> None:
    low, high = v.CAPACITY_RANGE
    assert v.number(high, ("max_concurrent_threads",), low, high) == high
    _, field, message = _problem(lambda: v.number(high + 1, ("max_concurrent_threads",), low, high))
    assert field == ("max_concurrent_threads",) and message.startswith("maxConcurrentThreads must be between")
    assert v.skills([" a", "b", "a "], ("skills",)) == ["a", "b"]
    assert _problem(lambda: v.skills(["ok", " "], ("skills",)))[1] == ("skills", 1)
    assert _problem(lambda: v.skills(["s"] * (v.SKILLS_MAX + 1), ("skills",)))[1] == ("skills",)


def test_storable_values() -> None:
    assert v.storable("a\U0001f600b") and not v.storable("a\ud800b")
    assert not v.storable_json({"k": [1.0, float("inf")]})
    assert v.storable_json({"k": ["x", 1, None, True]})


def test_transfer_context() -> None:
    assert v.transfer_context(None) is None
    clean = v.transfer_context({"summary": " s ", "intents": ["a"], "transcript": [{"from": "bot", "text": "hi"}]})
    assert clean == {
        "summary": "s",
        "intents": ["a"],
        "tags": [],
        "transcript": [{"from": "bot", "text": "hi", "at": None}],
    }
    field = _problem(lambda: v.transfer_context({"transcript": [{"from": " ", "text": ""}]}))[1]
    assert field == ("context", "transcript", 0, "from")
    assert _problem(lambda: v.transfer_context({"confidence": 1.5}))[1] == ("context", "confidence")
    assert _problem(lambda: v.transfer_context({"extra": "x" * (v.CONTEXT_EXTRA_MAX + 1)}))[1] == ("context", "extra")


def test_pages() -> None:
    sort = SortKey("Thread.created_at.desc", ("created_at", "id"), descending=True)
    key = (datetime(2026, 12, 2, 3, 4, 5, 678901, tzinfo=UTC), 42)
    assert KeysetRequest().size == DEFAULT_PAGE
    request = keyset_request(10, sort.cursor(key), None, None, sort.decode)
    assert (request.after, request.size, request.backward) == (key, 10, False)
    request = keyset_request(None, None, 3, sort.cursor(key), sort.decode)
    assert (request.before, request.size, request.backward) == (key, 3, True)
    with pytest.raises(BadArgument):
        keyset_request(MAX_PAGE + 1, None, None, None, sort.decode)
    for bad in ("not-a-cursor", "bzo1", "czoxNQ==", SortKey("Invite.created_at.desc", sort.columns).cursor(key)):
        with pytest.raises(BadArgument):
            keyset_request(None, bad, None, None, sort.decode)


def test_message_bodies_and_keys() -> None:
    assert v.message_body("  hi\n", ("body",)) == "  hi\n"  # kept as written
    assert v.message_body("x" * v.MESSAGE_MAX, ("body",))
    for bad in ("", " \t\n", "x" * (v.MESSAGE_MAX + 1), "a\x00", "\udc00"):
        with pytest.raises(DomainError) as refused:
            v.message_body(bad, ("body",))
        assert refused.value.problem.code is ErrorCode.INVALID and refused.value.problem.field == ("body",)
    assert v.client_key(None, ("k",)) is None and v.client_key(" k ", ("k",)) == " k "
    for bad in ("", "k" * (v.CLIENT_MESSAGE_ID_MAX + 1), "\x00"):
        with pytest.raises(DomainError):
            v.client_key(bad, ("k",))


def test_keyset_requests() -> None:
    request = keyset_request(None, keyset_cursor(7), None, None)
    assert request == KeysetRequest(after=7) and request.size == DEFAULT_PAGE and not request.backward
    backward = keyset_request(None, None, 5, keyset_cursor(40))
    assert backward.backward and backward.size == 5 and backward.before == 40
    assert keyset_request(3, None, 2, None).size == 3  # first wins the read, last trims it
    assert keyset_request(None, "e12", None, None, decode=lambda c: int(c[1:])).after == 12
    for bad in ((MAX_PAGE + 1, None), (None, "garbage"), (None, SortKey("Thread.id", ("id",)).cursor((3,)))):
        with pytest.raises(BadArgument):
            keyset_request(bad[0], bad[1], None, None)
