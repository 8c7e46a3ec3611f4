"""GraphQL over HTTP: request JSON, media types and the status of refusals.

Follows the GraphQL-over-HTTP specification. A client that accepts
``application/graphql-response+json`` gets it; a request that fails before
execution (parse, validation, a limit, an operation that cannot be chosen or
run over HTTP) then has no ``data`` and a 4xx status. Everyone else gets
``application/json``, where such failures are 200 with ``errors`` (and
``"data": null``, as this API has always answered), as the specification
allows. A request that is not a GraphQL request at all (unreadable JSON, a
wrong content type) is 4xx under both.

Automatic persisted queries (Apollo's protocol): a request whose
``extensions.persistedQuery`` is ``{"version": 1, "sha256Hash": ...}`` may leave
``query`` out; the query registered under that hash then runs, and an unknown
hash gets the error ``PersistedQueryNotFound`` (``extensions.code``
PERSISTED_QUERY_NOT_FOUND), a request error like the others (200 under
``application/json``, 400 under the new media type: Apollo's
PersistedQueryLink reads both and resends with the query). A request with both
is checked (the query's SHA-256 must be the hash: 400 otherwise) and, once its
operation validated for an authenticated caller, registers the query for every
process (``switchboard.runtime.persisted``). A persisted mutation is still
refused over GET (405).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError, GraphQLSyntaxError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.base import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from switchboard import documents
from switchboard.runtime.persisted import HASH, PersistedQueries, sha256_hex

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
# Deeper JSON is refused (contract, "Bad input"): no request needs it, and
# recursive consumers (the JSON decoder, variable coercion) must not meet it.
MAX_JSON_DEPTH = 64

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
HASH_MISMATCH = "the query's SHA-256 hash is not extensions.persistedQuery.sha256Hash"
# A request error of these codes did not validate: its query is not registered.
_UNREGISTERED = {
    documents.PARSE_FAILED,
    documents.VALIDATION_FAILED,
    documents.LIMIT_EXCEEDED,
    documents.OPERATION_RESOLUTION_FAILED,
}

HTTP_ERROR_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


class BadJSON(ValueError):
    """A body or message that is not UTF-8 JSON this API reads; the message says why."""


def loads(data: str | bytes) -> Any:
    """Decode JSON that must be UTF-8 and nested at most ``MAX_JSON_DEPTH`` levels."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadJSON("the request body is not valid UTF-8 JSON") from exc
    try:
        value = json.loads(data)
    except RecursionError as exc:
        raise BadJSON(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from exc
    except json.JSONDecodeError as exc:
        raise BadJSON("Unable to parse request body as JSON") from exc
    # Counting brackets is C-speed; only a text that could nest too deeply is walked.
    if data.count("[") + data.count("{") > MAX_JSON_DEPTH and nesting_exceeds(value, MAX_JSON_DEPTH):
        raise BadJSON(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def nesting_exceeds(value: Any, limit: int) -> bool:
    """True when arrays and objects nest more than ``limit`` levels (iteratively: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def media_type(accept: str | None) -> str:
    """The response media type for an ``Accept`` header (``application/json`` unless the new one is preferred)."""
    if not accept or GRAPHQL_RESPONSE not in accept:
        return JSON
    weights: dict[str, float] = {}
    for part in accept.split(","):
        kind, _, params = part.strip().partition(";")
        weights.setdefault(kind.strip().lower(), _quality(params))
    preferred = weights.get(GRAPHQL_RESPONSE, 0.0)
    return GRAPHQL_RESPONSE if preferred > 0 and preferred >= weights.get(JSON, 0.0) else JSON


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def is_request_error(result: ExecutionResult) -> bool:
    """True when the operation failed before it ran: no data and no error at a field's path."""
    return result.data is None and bool(result.errors) and all(e.path is None for e in result.errors or ())


def error_response(
    accept: str | None, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    """A refusal in the GraphQL errors shape, in the media type the client accepts."""
    kind = media_type(accept)
    error = {"message": message, "extensions": {"code": code or HTTP_ERROR_CODES.get(status, "BAD_REQUEST")}}
    body: dict[str, Any] = {"errors": [error]} if kind == GRAPHQL_RESPONSE else {"data": None, "errors": [error]}
    return JSONResponse(body, status_code=status, media_type=kind, headers=headers)


def is_json(content_type: str | None) -> bool:
    """A POST body must be ``application/json`` (parameters such as charset aside)."""
    return (content_type or "").partition(";")[0].strip().lower() == JSON


async def execute(
    schema: BaseSchema, method: str, data: GraphQLRequestData, context: Any, root_value: Any
) -> ExecutionResult:
    """Run one request's operation: queries over GET, queries and mutations over POST, never subscriptions."""
    if not (data.operation_name is None or isinstance(data.operation_name, str)):
        raise HTTPException(400, "operationName must be a string")
    sha = persisted_hash(data.extensions)
    store: PersistedQueries | None = getattr(getattr(context, "services", None), "persisted_queries", None)
    if sha is not None and store is not None:
        if data.query is None:
            data.query = await store.get(sha)
            if data.query is None:
                error = GraphQLError("PersistedQueryNotFound", extensions={"code": PERSISTED_QUERY_NOT_FOUND})
                return PreExecutionError(data=None, errors=[error])
            sha = None  # known already
        elif not isinstance(data.query, str) or sha256_hex(data.query) != sha:
            raise HTTPException(400, HASH_MISMATCH)
    result = await _execute_prepared(schema, method, data, context, root_value)
    if sha is not None and store is not None and data.query is not None and registrable(result, context):
        await store.put(sha, data.query)
    return result


def persisted_hash(extensions: Any) -> str | None:
    """The hash of ``extensions.persistedQuery`` (lower case), None without one; 400 for a malformed one."""
    if not isinstance(extensions, dict) or extensions.get("persistedQuery") is None:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise HTTPException(400, "extensions.persistedQuery must be {version: 1, sha256Hash}: only version 1 exists")
    sha = persisted.get("sha256Hash")
    if not isinstance(sha, str) or not HASH.fullmatch(sha.lower()):
        raise HTTPException(400, "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits")
    return sha.lower()


def registrable(result: ExecutionResult, context: Any) -> bool:
    """A query is registered once it validated, for an authenticated caller (so anonymous requests store nothing)."""
    if not getattr(context, "authenticated", False):
        return False
    if not is_request_error(result):
        return True
    return not any((e.extensions or {}).get("code") in _UNREGISTERED for e in result.errors or ())


async def _execute_prepared(
    schema: BaseSchema, method: str, data: GraphQLRequestData, context: Any, root_value: Any
) -> ExecutionResult:
    handed, query = None, data.query
    if query is not None and documents.is_large(query):
        try:
            handed = documents.preparsed.set((query, await asyncio.to_thread(documents.parse_limited, query)))
        except GraphQLSyntaxError as error:
            return PreExecutionError(data=None, errors=[error])
    try:
        return await _execute(schema, method, data, context, root_value)
    finally:
        if handed is not None:
            documents.preparsed.reset(handed)


async def _execute(
    schema: BaseSchema, method: str, data: GraphQLRequestData, context: Any, root_value: Any
) -> ExecutionResult:
    allowed = {OperationType.QUERY} if method == "GET" else {OperationType.QUERY, OperationType.MUTATION}
    try:
        return await schema.execute(
            data.query,
            variable_values=data.variables,
            context_value=context,
            root_value=root_value,
            operation_name=data.operation_name,
            allowed_operation_types=allowed,
            operation_extensions=data.extensions,
        )
    except InvalidOperationTypeError as exc:
        if exc.operation_type is OperationType.MUTATION:
            raise HTTPException(405, "mutations are not allowed over GET: send them with POST") from exc
        return _refused("subscriptions are served over the WebSocket at /graphql, not over HTTP", "BAD_REQUEST")
    except CannotGetOperationTypeError as exc:
        name = exc.operation_name
        message = f'the document has no operation named "{name}"' if name else "the document has no operation to run"
        return _refused(message, documents.OPERATION_RESOLUTION_FAILED)
    except MissingQueryError as exc:
        raise HTTPException(400, "No GraphQL query found in the request") from exc


def _refused(message: str, code: str) -> ExecutionResult:
    return PreExecutionError(data=None, errors=[GraphQLError(message, extensions={"code": code})])


class GraphQLOverHTTP(GraphQL[Any, None]):
    """Strawberry's ASGI view, answering as this module says."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive=receive)
        # Strawberry answers a request it cannot read in plain text; GraphQL
        # clients parse JSON, so the same refusal goes out in the errors shape.
        try:
            response = await self.run(request)
        except HTTPException as exc:
            allow = {"Allow": "POST"} if exc.status_code == 405 else None
            response = error_response(request.headers.get("accept"), exc.status_code, exc.reason, None, allow)
        await response(scope, receive, send)

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET of a persisted query has no ``query`` either: it is not a browser asking for GraphiQL.
        return "extensions" not in request.query_params and super().should_render_graphql_ide(request)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            parsed = loads(data)
        except BadJSON as exc:
            raise HTTPException(400, str(exc)) from exc
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, 'the request body must be a JSON object like {"query": "..."}')
        return parsed

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> Any:
        if request.method == "POST" and not is_json(request.content_type):
            given = f"content type {request.content_type!r}" if request.content_type else "no content type"
            raise HTTPException(415, f"unsupported {given}: send the body as application/json")
        return await super().parse_http_body(request)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Any,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        return await execute(self.schema, request_adapter.method, request_data, context, root_value)

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        body = await super().process_result(request, result)
        if media_type(request.headers.get("accept")) == GRAPHQL_RESPONSE and is_request_error(result):
            body.pop("data", None)
        return body

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = media_type(request.headers.get("accept"))
        return sub_response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        if isinstance(response_data, dict):
            if PERSISTED_QUERY_NOT_FOUND in _codes(response_data):
                # What Apollo Server sends: no cache may keep the miss of a GET.
                response.headers["cache-control"] = "private, no-cache, must-revalidate"
            retry = _retry_after(response_data)
            if retry is not None:
                response.headers["retry-after"] = str(retry)
        if sub_response.media_type == GRAPHQL_RESPONSE:
            response.headers["content-type"] = GRAPHQL_RESPONSE
            if isinstance(response_data, dict) and "data" not in response_data:
                response.status_code = 400
        return response


def _codes(body: GraphQLHTTPResponse) -> list[Any]:
    return [(e.get("extensions") or {}).get("code") for e in body.get("errors") or () if isinstance(e, dict)]


def _retry_after(body: GraphQLHTTPResponse) -> int | None:
    """The longest ``retryAfterSeconds`` of the errors (RATE_LIMITED), for the ``Retry-After`` header."""
    waits = [
        e["extensions"]["retryAfterSeconds"]
        for e in body.get("errors") or ()
        if isinstance(e, dict) and isinstance((e.get("extensions") or {}).get("retryAfterSeconds"), int)
    ]
    return max(waits) if waits else None
