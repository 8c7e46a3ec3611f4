"""Random raw HTTP bodies and WebSocket frames (hypothesis): never a 5xx, never a traceback.

Every body and frame is random or a boundary case of a well-formed one (wrong
types in the right places, documents with several operations, deep JSON,
unknown message types). A body gets a 2xx or 4xx answer; a frame gets an
answer or closes its socket with a 44xx code, never 1011 (internal error); the
logs stay clean and the server keeps serving.
"""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests import servers
from tests.hostile_support import ServerLogs

WIRE = settings(
    max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
DOCUMENTS = [
    "{ viewer { role } }",
    "query A { viewer { role } } query B { viewer { organization } }",
    "mutation { setTyping(input: {threadId: 1, typing: true}) { __typename } }",
    "subscription { queueStats { waiting } }",
    '{ thread(id: "x") { id } }',
    "{ threads(first: 101) { totalCount } }",
    "{ __schema { types { name } } }",
    "{",
    "",
]
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=15,
)
request_objects = st.fixed_dictionaries(
    {},
    optional={
        "query": st.sampled_from(DOCUMENTS) | json_values,
        "variables": json_values,
        "operationName": st.sampled_from(["A", "B", "Nope"]) | json_values,
        "extensions": json_values | st.just({"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}),
    },
)
bodies = (
    st.binary(max_size=300)
    | request_objects.map(lambda o: json.dumps(o).encode())
    | st.lists(request_objects, max_size=3).map(lambda o: json.dumps(o).encode())
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.integers(1, 200).map(lambda n: b'{"query": "{ viewer { role } }", "variables": ' + b"[" * n + b"]" * n + b"}")
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=latin-1",
        "application/graphql",
        "text/plain",
        "multipart/form-data",
        "",
    ]
)


def _token(role: str = "admin") -> str:
    now = int(time.time())
    claims = {"sub": f"{role}-fuzz", "org": "org-fuzz-wire", "role": role, "iat": now, "exp": now + 3600}
    return jwt.encode(claims, servers.SECRET, algorithm="HS256")


def _viewer_answers(url: str) -> None:
    response = httpx.post(
        f"{url}/graphql", json={"query": "{ viewer { role } }"}, headers={"Authorization": f"Bearer {_token()}"}
    )
    assert response.json()["data"] == {"viewer": {"role": "admin"}}


def test_random_http_bodies_get_a_clear_answer(stack: servers.Stack) -> None:
    logs = ServerLogs(stack)
    url = stack.url(0)
    with httpx.Client(timeout=30) as client:

        @WIRE
        @given(bodies, content_types, st.booleans(), st.sampled_from(["POST", "GET"]))
        def send(body: bytes, content_type: str, gzipped: bool, method: str) -> None:
            headers = {"Authorization": f"Bearer {_token()}", "Content-Type": content_type}
            if gzipped:
                body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
            if method == "GET":
                response = client.get(f"{url}/graphql", params={"query": body.decode("latin-1")}, headers=headers)
            else:
                response = client.post(f"{url}/graphql", content=body, headers=headers)
            assert response.status_code < 500, (body[:200], response.status_code, response.text[:300])

        send()
    _viewer_answers(url)
    logs.assert_clean()


frames = (
    st.binary(max_size=60)
    | json_values.map(json.dumps)
    | st.fixed_dictionaries(
        {
            "type": st.sampled_from(["subscribe", "complete", "ping", "pong", "connection_init", "start", "stop"])
            | scalars
        },
        optional={
            "id": st.text(max_size=5) | scalars,
            "payload": request_objects | json_values,
        },
    ).map(json.dumps)
)


# Normal, protocol error (a binary frame to the legacy protocol), unsupported data, too big;
# never 1011 (internal error) or an abnormal end (1006).
CLEAN_CLOSES = (1000, 1002, 1003, 1009)


def _answer(ws: Any) -> int | None:
    """Reads until the server is quiet for a moment; the close code if it closed the socket."""
    try:
        while True:
            ws.recv(timeout=0.3)
    except TimeoutError:
        return None
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
def test_random_websocket_frames_close_cleanly_or_get_answers(stack: servers.Stack, protocol: str) -> None:
    logs = ServerLogs(stack)

    @WIRE
    @given(st.lists(frames, min_size=1, max_size=3), st.booleans())
    def send(sent: list[str | bytes], init_first: bool) -> None:
        with connect(stack.ws_url(0), subprotocols=[Subprotocol(protocol)], max_size=None, open_timeout=10) as ws:
            if init_first:
                ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {_token()}"}}))
            for frame in sent:
                try:
                    ws.send(frame)
                except ConnectionClosed:
                    break
            code = _answer(ws)
            assert code is None or code in CLEAN_CLOSES or 4400 <= code < 4500, (sent, code)

    send()
    _viewer_answers(stack.url(0))
    logs.assert_clean()


def test_a_close_reason_quoting_the_client_fits_the_close_frame(stack: servers.Stack) -> None:
    """Found by the test above: an unknown type of 40 wide characters made a reason over the 123 bytes
    a close frame carries, and the close itself failed with a traceback instead of 4400."""
    logs = ServerLogs(stack)
    with connect(stack.ws_url(0), subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=10) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {_token()}"}}))
        ws.send(json.dumps({"type": "\U0001f600" * 40}, ensure_ascii=False))
        assert _answer(ws) == 4400
    logs.assert_clean()
