"""schemathesis in GraphQL mode, driven by hypothesis, against a running stack.

Operations and their arguments come from the served schema (introspection);
``ID`` arguments are drawn mostly from real objects of the organization under
test (so that mutations reach real threads, invites and agents, not only
NOT_FOUND), and otherwise random text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import graphql
import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.graphql import from_dict, nodes

# The organization's real IDs, set before each run (the scalar strategies read it lazily).
KNOWN_IDS: list[str] = []


def _known_id(index: int) -> graphql.ValueNode:
    return nodes.String(KNOWN_IDS[index % len(KNOWN_IDS)] if KNOWN_IDS else "x")


def _json_node(value: Any) -> graphql.ValueNode:
    if isinstance(value, dict):
        return nodes.Object(
            [graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=_json_node(v)) for k, v in value.items()]
        )
    if isinstance(value, list):
        return nodes.List([_json_node(v) for v in value])
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if value is None:
        return graphql.NullValueNode()
    return nodes.String(value)


_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_names, inner, max_size=3),
    max_leaves=8,
)
schemathesis.graphql.scalar("ID", st.integers(0, 10**6).map(_known_id) | st.text(max_size=24).map(nodes.String))
schemathesis.graphql.scalar("JSON", _json.map(_json_node))


def introspected_schema(url: str, token: str) -> Any:
    response = httpx.post(
        f"{url}/graphql",
        json={"query": graphql.get_introspection_query()},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    response.raise_for_status()
    return from_dict(response.json()["data"])


def fuzz(
    schema: Any, url: str, token: str, per_operation: int, check: Callable[[str, int, dict[str, Any]], None]
) -> int:
    """Send ``per_operation`` generated calls (a fixed seed) of every query and mutation of the schema as
    the token's caller; ``check`` judges each response (the document, the HTTP status, the JSON body).
    Returns how many were sent."""
    sent = 0

    def call(case: Any) -> None:
        nonlocal sent
        response = case.call(base_url=f"{url}/graphql", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        sent += 1
        try:
            body = json.loads(response.text)
        except ValueError:
            body = {"unparsed": response.text[:500]}
        check(case.body.get("query", "") if isinstance(case.body, dict) else str(case.body), response.status_code, body)

    for result in schema.get_all_operations():
        run = settings(
            max_examples=per_operation,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )(given(result.ok().as_strategy())(call))
        run()
    return sent
