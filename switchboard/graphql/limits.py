"""Query limits: depth, aliases and estimated cost, refused before execution.

Every operation (query, mutation, subscription; over HTTP or WebSocket) is
measured during validation, so a refused operation never starts to run. Each
limit that is exceeded gives one error naming the limit, the measured value and
the excess, e.g. ``query depth 15 exceeds the limit of 12 by 3``, with
``extensions`` ``{"code": "QUERY_LIMIT_EXCEEDED", "limit": "depth", "value": 15,
"maximum": 12, "excess": 3}``.

The model, in full:

- **Depth** is the number of fields on the longest path from the operation's
  root to a leaf, leaves included: ``{ viewer { role } }`` has depth 2.
  Fragments (named and inline) add no level of their own. Introspection
  (``__schema``, ``__type``, ``__typename`` and everything under them) adds
  none either, so GraphiQL's introspection query passes; its size is bounded
  by the cost limit instead.
- **Aliases** are the fields written with an alias, counted once per place they
  occur in the operation (a fragment spread twice counts twice).
- **Cost** estimates how many objects the operation can return, in the manner
  of GitHub's node limit: every connection field (one with ``first``/``last``
  arguments) contributes its page size multiplied by the page sizes of the
  connections and lists above it, and multiplies everything below it by that
  size. The page size is ``first`` or ``last`` (the larger when both are
  given), clamped to 0..100, 20 when neither is given; variables (``first:
  $n``) are resolved from the request, then from the variable's default. A list
  of objects without pagination contributes and multiplies in the same way by
  the most it can hold (``list_bound``), so that the estimate is an upper bound
  of what runs: ``Query.queues`` and ``Metrics.byQueue`` the organization's
  number of queues (cached per process, see ``switchboard.runtime.orgfacts``),
  ``Query.nodes`` the number of IDs asked for, and the others the caps in
  ``LIST_BOUNDS`` (the resolvers of the lists that have no cap of their own
  stop there). A payload's ``userErrors`` counts nothing (errors about the
  input, not data). Lists of introspection (``__schema``) count
  ``DEFAULT_LIST_SIZE`` each: they are the schema's own, with no I/O. The
  lists inside a connection (``edges``) add nothing, the connection already
  counted them. Scalars, lists of scalars and single objects cost nothing.
  Example: ``threads(first: 100) { edges { node { invites(first: 100) { edges
  { node { id } } } } } }`` costs 100 + 100 x 100 = 10,100.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef, TypeNameMetaFieldDef
from strawberry.types import ExecutionContext

from switchboard.documents import MAX_MEMO, OPERATION_RESOLUTION_FAILED, memo, standard_errors
from switchboard.rules import enums
from switchboard.rules.caps import MAX_ACTIVE_COLLABORATORS, MAX_LISTED_COLLABORATORS, MAX_PENDING_INVITES
from switchboard.rules.invites import MAX_INVITEES
from switchboard.rules.metrics import MAX_BUCKETS
from switchboard.rules.pagination import MAX_PAGE
from switchboard.rules.validation import TRANSCRIPT_MAX

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_COST = 50_000

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = MAX_PAGE
# The size counted for a list of introspection (types, fields...).
DEFAULT_LIST_SIZE = 10
# The longest series the metrics query returns (31 days of hourly buckets).
MAX_SERIES_SIZE = MAX_BUCKETS
# (type, field) -> the most objects the list holds. Every list of objects of
# the schema without pagination has its bound here or in ``list_bound``
# (tests/test_query_cost.py checks), so a new list is never counted by a guess.
LIST_BOUNDS: dict[tuple[str, str], int] = {
    ("Metrics", "series"): MAX_SERIES_SIZE,
    ("Metrics", "transfersByTrigger"): len(enums.TransferTrigger),
    ("QueueStats", "waitingByPriority"): len(enums.Priority),
    ("Viewer", "pendingInvites"): MAX_PENDING_INVITES,
    ("InviteCollaboratorsPayload", "invites"): MAX_INVITEES,
    ("TransferContext", "transcript"): TRANSCRIPT_MAX,
    ("Thread", "collaborators"): MAX_ACTIVE_COLLABORATORS,
}
# Lists as long as the organization has queues.
QUEUE_LISTS = frozenset({("Query", "queues"), ("Metrics", "byQueue")})


@dataclass(frozen=True)
class Measure:
    """What one selection (set) weighs; ``cost`` is per unit of the multiplier above it."""

    depth: int = 0
    aliases: int = 0
    cost: int = 0

    def __add__(self, other: Measure) -> Measure:
        return Measure(max(self.depth, other.depth), self.aliases + other.aliases, self.cost + other.cost)


@dataclass
class _Walker:
    """Measures one operation; fragments are measured once (their weight does not depend on the spread)."""

    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    # The organization's number of queues; None: not known yet (counted as 0,
    # and ``needs_queue_count`` says the estimate must be made again with it).
    queue_count: int | None = None
    needs_queue_count: bool = False
    _memo: dict[str, Measure] = field(default_factory=dict)
    _active: set[str] = field(default_factory=set)

    def selection_set(self, node: SelectionSetNode | None, parent: GraphQLNamedType | None) -> Measure:
        total = Measure()
        if node is None:
            return total
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                total = total + self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                cond = selection.type_condition
                inner = self.schema.get_type(cond.name.value) if cond else parent
                total = total + self.selection_set(selection.selection_set, inner)
            elif isinstance(selection, FragmentSpreadNode):
                total = total + self.fragment(selection.name.value)
        return total

    def fragment(self, name: str) -> Measure:
        if name in self._memo:
            return self._memo[name]
        definition = self.fragments.get(name)
        if definition is None or name in self._active:
            # Unknown fragments and cycles are reported by the standard rules.
            return Measure()
        self._active.add(name)
        try:
            measure = self.selection_set(
                definition.selection_set, self.schema.get_type(definition.type_condition.name.value)
            )
        finally:
            self._active.discard(name)
        self._memo[name] = measure
        return measure

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> Measure:
        aliases = 1 if node.alias else 0
        definition = self._definition(parent, node.name.value)
        if definition is None:
            # An unknown field is reported by the standard rules; still count what it holds.
            inner = self.selection_set(node.selection_set, None)
            return Measure(1 + inner.depth, aliases + inner.aliases, inner.cost)
        named = get_named_type(definition.type)
        inner = self.selection_set(node.selection_set, named)
        size = self._size(node, definition, parent)
        cost = (size or 0) + (size if size is not None else 1) * inner.cost
        meta = node.name.value.startswith("__") or (parent is not None and parent.name.startswith("__"))
        depth = 0 if meta else 1 + inner.depth
        return Measure(depth, aliases + inner.aliases, cost)

    def _definition(self, parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
        if name == "__typename":
            return TypeNameMetaFieldDef
        if parent is self.schema.query_type:
            if name == "__schema":
                return SchemaMetaFieldDef
            if name == "__type":
                return TypeMetaFieldDef
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return parent.fields.get(name)
        return None

    def _size(self, node: FieldNode, definition: GraphQLField, parent: GraphQLNamedType | None) -> int | None:
        """How many objects this field returns, or None for a single object or a scalar."""
        if not is_composite_type(get_named_type(definition.type)):
            return None
        if "first" in definition.args or "last" in definition.args:
            return self._page_size(node)
        if not is_list_type(get_nullable_type(definition.type)):  # type: ignore[arg-type]
            return None
        if parent is not None and parent.name.endswith("Connection"):
            return None
        return self.list_bound(node, parent.name if parent is not None else "")

    def list_bound(self, node: FieldNode, parent_name: str) -> int:
        """The most objects a list without pagination holds."""
        key = (parent_name, node.name.value)
        if key in QUEUE_LISTS:
            if self.queue_count is None:
                self.needs_queue_count = True
                return 0
            return self.queue_count
        if node.name.value == "userErrors":
            # A mutation's errors about its input: no data, no I/O, a few per input field.
            return 0
        if key == ("Query", "nodes"):
            ids = self._argument(node, "ids")
            return len(ids) if isinstance(ids, list) else DEFAULT_LIST_SIZE
        if key == ("Thread", "collaborators") and self._argument(node, "includeInactive") is True:
            return MAX_LISTED_COLLABORATORS
        return LIST_BOUNDS.get(key, DEFAULT_LIST_SIZE)

    def _page_size(self, node: FieldNode) -> int:
        given = (self._argument(node, "first"), self._argument(node, "last"))
        sizes = [v for v in given if isinstance(v, int) and not isinstance(v, bool)]
        if not sizes:
            return DEFAULT_PAGE_SIZE
        return min(max(max(sizes), 0), MAX_PAGE_SIZE)

    def _argument(self, node: FieldNode, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value == name:
                return self._value(argument.value)
        return None

    def _value(self, value: ValueNode) -> Any:
        if isinstance(value, VariableNode):
            return self.variables.get(value.name.value)
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, BooleanValueNode):
            return value.value
        if isinstance(value, ListValueNode):
            return [self._value(v) for v in value.values]
        return None


def _variable_values(operation: OperationDefinitionNode, variables: Mapping[str, Any] | None) -> dict[str, Any]:
    """The request's variables over the operation's defaults (only the shapes the model reads)."""
    values: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        default = definition.default_value
        if isinstance(default, IntValueNode):
            values[definition.variable.name.value] = int(default.value)
        elif isinstance(default, BooleanValueNode):
            values[definition.variable.name.value] = default.value
        elif isinstance(default, ListValueNode):
            values[definition.variable.name.value] = list(default.values)
    for name, value in (variables or {}).items():
        # A value given in the request wins over the default, even null.
        values[name] = value if isinstance(value, int | list) else None
    return values


def measure_operation(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None = None,
    queue_count: int | None = None,
) -> Measure:
    """Depth, aliases and estimated cost of one operation of ``document`` (queues counted as ``queue_count``)."""
    return measure_request(schema, document, operation, variables, queue_count)[0]


def measure_request(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
    queue_count: int | None,
) -> tuple[Measure, bool]:
    """The measure, and whether it needs the organization's number of queues (``queue_count`` None)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    root = schema.get_root_type(operation.operation)
    walker = _Walker(schema, fragments, _variable_values(operation, variables), queue_count)
    measure = walker.selection_set(operation.selection_set, root)
    return measure, walker.needs_queue_count


def measure_cached(
    schema: GraphQLSchema,
    source: str | None,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
    queue_count: int | None,
) -> tuple[Measure, bool]:
    """``measure_request``, computed once per cached document, operation, variables' values and queue count.

    A request whose variables include a list (``nodes(ids: $ids)``) is measured each time.
    """
    values = memo(source, document)
    key = _measure_key(operation, variables, queue_count) if values is not None else None
    if values is None or key is None:
        return measure_request(schema, document, operation, variables, queue_count)
    found = values.get(key)
    if found is None:
        found = measure_request(schema, document, operation, variables, queue_count)
        if len(values) >= MAX_MEMO:
            values.clear()
        values[key] = found
    return found  # type: ignore[no-any-return]


def _measure_key(
    operation: OperationDefinitionNode, variables: Mapping[str, Any] | None, queue_count: int | None
) -> tuple[Any, ...] | None:
    """What the measure of ``operation`` depends on besides the document; None when not simply hashable."""
    values = _variable_values(operation, variables)
    # The type is part of the key: True == 1, but ``first: true`` counts as no page size.
    items = tuple(sorted((name, type(value), value) for name, value in values.items()))
    if any(not (value is None or isinstance(value, int)) for _, _, value in items):
        return None
    return ("measure", id(operation), queue_count, items)


def operations(document: DocumentNode, name: str | None) -> Iterator[OperationDefinitionNode]:
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            if name is None or (definition.name is not None and definition.name.value == name):
                yield definition


def limit_errors(measure: Measure, operation: OperationDefinitionNode | None = None) -> list[GraphQLError]:
    """One error per exceeded limit, each saying which limit and by how much."""
    checks = (
        ("depth", measure.depth, MAX_DEPTH, "query depth {v} exceeds the limit of {m} by {x}"),
        ("aliases", measure.aliases, MAX_ALIASES, "query uses {v} aliases, which exceeds the limit of {m} by {x}"),
        ("cost", measure.cost, MAX_COST, "estimated query cost of {v} nodes exceeds the limit of {m} by {x}"),
    )
    errors = []
    for limit, value, maximum, template in checks:
        if value > maximum:
            message = template.format(v=value, m=maximum, x=value - maximum)
            errors.append(
                GraphQLError(
                    message,
                    operation,
                    extensions={
                        "code": "QUERY_LIMIT_EXCEEDED",
                        "limit": limit,
                        "value": value,
                        "maximum": maximum,
                        "excess": value - maximum,
                    },
                )
            )
    return errors


def operation_choice_errors(document: DocumentNode, name: str | None) -> list[GraphQLError]:
    """A document of several operations runs only the one the request names.

    graphql-core would refuse it, but strawberry passes the first operation's
    name on when the request gives none, which would run that one.
    """
    if name is not None:
        return []
    count = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
    if count <= 1:
        return []
    message = f"the document has {count} operations: send operationName to say which one to run"
    return [GraphQLError(message, extensions={"code": OPERATION_RESOLUTION_FAILED})]


def request_errors(ec: ExecutionContext, document: DocumentNode) -> list[GraphQLError]:
    """The standard rules, then the choice of operation (the limits come after, see ``cost``)."""
    schema = ec.schema._schema
    errors = list(standard_errors(schema, ec.query, document, tuple(ec.validation_rules)))
    return errors or operation_choice_errors(document, ec._provided_operation_name)
