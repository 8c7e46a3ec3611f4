"""GraphQL documents: the token limit, and one parse-and-validation cache bounded in bytes.

A document of more than ``MAX_TOKENS`` tokens is refused by graphql-core's
parser as soon as it reads one token too many, so an oversized document costs
at most what a 15,000-token one does. A parsed document takes about 120 bytes
of memory per byte of query text (graphql-core's nodes and locations), so the
cache holds only documents of up to ``MAX_CACHED_DOCUMENT`` bytes of text,
``CACHE_BYTES`` of text in all, least recently used out first: at most about
30 MB of parsed trees whatever clients send. A document's standard validation
errors are kept in its cache entry, so both caches have one bound.

Documents too large to cache are parsed and validated in a worker thread
(``is_large``), so that one of them does not hold up the event loop's other
requests for the fraction of a second 15,000 tokens take.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
from graphql import DocumentNode, GraphQLError, GraphQLSchema, GraphQLSyntaxError, parse, specified_rules, validate
from graphql.validation import ASTValidationRule
from graphql.validation.rules import overlapping_fields_can_be_merged
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension

MAX_TOKENS = 15_000
MAX_CACHED_DOCUMENT = 16 * 1024
CACHE_BYTES = 256 * 1024
# graphql-core's budget for comparing fields that share a response name, the
# one validation rule whose work grows with the square of a document's size.
# Its default (500,000) let one 12,000-token document take seconds; the largest
# document of the test suite spends 4 units and GraphiQL's introspection none.
VALIDATION_BUDGET = 10_000
overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = VALIDATION_BUDGET

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
LIMIT_EXCEEDED = "QUERY_LIMIT_EXCEEDED"
# Apollo's name, like the two above: no operation, or not one only, to run.
OPERATION_RESOLUTION_FAILED = "OPERATION_RESOLUTION_FAILURE"

Rules = tuple[type[ASTValidationRule], ...]

# A large document parsed in a worker thread before the operation starts: (its text, its tree).
preparsed: ContextVar[tuple[str, DocumentNode] | None] = ContextVar("preparsed", default=None)


@dataclass
class _Entry:
    document: DocumentNode
    size: int
    rules: Rules | None = None
    errors: tuple[GraphQLError, ...] = ()
    # What else depends on the document's text alone (and the request values in
    # its key): the limits' measure per operation and variables (see ``memo``).
    memo: dict[Any, Any] = field(default_factory=dict)


def _entry_size(entry: _Entry) -> int:
    return entry.size


_cache: LRUCache[str, _Entry] = LRUCache(maxsize=CACHE_BYTES, getsizeof=_entry_size)


def cache_usage() -> tuple[int, int]:
    """(documents cached, bytes of query text they hold)."""
    return len(_cache), int(_cache.currsize)


def is_large(source: str | None) -> bool:
    """Too large to cache: parsed and validated off the event loop."""
    return source is not None and len(source) > MAX_CACHED_DOCUMENT


def parse_limited(source: str) -> DocumentNode:
    """graphql-core's parse with the token limit; a syntax error comes back classified."""
    try:
        return parse(source, max_tokens=MAX_TOKENS)
    except GraphQLSyntaxError as error:
        classify_syntax_error(error)
        raise


def _remember(source: str, document: DocumentNode) -> None:
    if is_large(source):  # no character is less than a byte
        return
    size = len(source.encode("utf-8", "surrogatepass"))
    if size <= MAX_CACHED_DOCUMENT:
        _cache[source] = _Entry(document, size)


def _entry(source: str | None, document: DocumentNode) -> _Entry | None:
    entry = _cache.get(source) if source is not None else None
    return entry if entry is not None and entry.document is document else None


def memo(source: str | None, document: DocumentNode) -> dict[Any, Any] | None:
    """The cached document's own dictionary of derived values (None when the document is not cached).

    Its size is the caller's to bound (``MAX_MEMO``): it goes when the document does.
    """
    entry = _entry(source, document)
    return entry.memo if entry is not None else None


# The most derived values kept per cached document (one per operation and variables' values).
MAX_MEMO = 32


def standard_errors(
    schema: GraphQLSchema, source: str | None, document: DocumentNode, rules: Rules
) -> tuple[GraphQLError, ...]:
    """The standard validation errors of a document, computed once per cached document."""
    entry = _entry(source, document)
    if entry is not None and entry.rules == rules:
        return entry.errors
    errors = tuple(validate(schema, document, rules))
    for error in errors:
        # Clients switch on codes; these errors are fresh here and shared (read-only) once cached.
        if isinstance(error, ValidationAbortedError):
            error.message = "validation aborted: the document needs more work to validate than this server spends"
            error.extensions = {"code": LIMIT_EXCEEDED, "limit": "validation"}
        else:
            error.extensions = {**(error.extensions or {}), "code": VALIDATION_FAILED}
    if entry is not None:
        entry.rules, entry.errors = rules, errors
    return errors


def validates(schema: GraphQLSchema, source: str) -> bool:
    """Whether ``source`` parses and passes the standard rules (a persisted query is registered only then).

    The document is cached like one strawberry parsed, so running it next costs no second parse.
    """
    entry = _cache.get(source)
    if entry is not None:
        document = entry.document
    else:
        try:
            document = parse_limited(source)
        except GraphQLSyntaxError:
            return False
        _remember(source, document)
    return not standard_errors(schema, source, document, tuple(specified_rules))


def classify_syntax_error(error: GraphQLSyntaxError) -> None:
    """Give a parse failure its code; the token limit says which limit it is."""
    if (error.extensions or {}).get("code"):
        return
    if "Parsing aborted" in error.message:
        error.extensions = {"code": LIMIT_EXCEEDED, "limit": "tokens", "maximum": MAX_TOKENS}
    else:
        error.extensions = {**(error.extensions or {}), "code": PARSE_FAILED}


class DocumentCache(SchemaExtension):
    """Hands strawberry a cached or pre-parsed document, or the token limit to parse a new one.

    Strawberry parses (and reports syntax errors) itself when no document is
    set here; a document it parsed is remembered afterwards.
    """

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        query = ec.query
        entry = _cache.get(query) if query is not None else None
        handed = preparsed.get()
        if entry is not None:
            ec.graphql_document = entry.document
        elif handed is not None and handed[0] is query:
            ec.graphql_document = handed[1]
        else:
            ec.parse_options["max_tokens"] = MAX_TOKENS
        yield
        if entry is None and query is not None and ec.graphql_document is not None:
            _remember(query, ec.graphql_document)
