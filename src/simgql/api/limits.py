"""Query limits: depth, aliases, directives and cost per operation, refused before execution."""

from __future__ import annotations

import contextlib
import functools
import json
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    parse,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from simgql.db.pagination import MAX_PAGE_SIZE

# A connection without `first` returns its default page size.
DEFAULT_LIST_SIZE = 20


@dataclass(frozen=True)
class QueryLimits:
    max_depth: int = 12
    max_aliases: int = 30
    max_directives: int = 50
    max_cost: int = 50_000


@dataclass
class Measure:
    depth: int = 0
    aliases: int = 0
    directives: int = 0
    cost: int = 0


def _page(first: int) -> int:
    # Larger pages are refused by the field itself (BAD_USER_INPUT on `first`).
    return min(max(first, 1), MAX_PAGE_SIZE)


class _Analyser:
    """Walks one operation, expanding fragments once per path (cycles are refused by spec)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.measure = Measure()

    def _multiplier(self, node: FieldNode, definition: GraphQLField | None) -> int:
        """A connection costs its `first`; another list the default page size; `edges` of a
        connection nothing more (its connection already counted the page)."""
        if definition is None:
            return 1
        paged = "first" in definition.args
        is_list = is_list_type(get_nullable_type(definition.type))
        if not paged:
            return DEFAULT_LIST_SIZE if is_list and node.name.value != "edges" else 1
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return _page(int(value.value))
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                if isinstance(given, int):
                    return _page(given)
            return DEFAULT_LIST_SIZE
        return DEFAULT_LIST_SIZE

    def _type(self, name: str | None, fallback: GraphQLNamedType | None) -> GraphQLNamedType | None:
        return self.schema.get_type(name) if name else fallback

    def selection_cost(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType | None,
        depth: int,
        seen: frozenset[str],
    ) -> int:
        if selection_set is None:
            return 0
        self.measure.depth = max(self.measure.depth, depth)
        total = 0
        for selection in selection_set.selections:
            self.measure.directives += len(selection.directives or ())
            if isinstance(selection, FieldNode):
                if selection.alias is not None:
                    self.measure.aliases += 1
                if selection.name.value.startswith("__"):
                    continue  # introspection is cheap and has its own shape
                fields = getattr(parent, "fields", {}) or {}
                definition = fields.get(selection.name.value)
                child = get_named_type(definition.type) if definition is not None else None
                below = self.selection_cost(selection.selection_set, child, depth + 1, seen)
                total += 1 + self._multiplier(selection, definition) * below
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self._type(condition.name.value if condition else None, parent)
                total += self.selection_cost(selection.selection_set, inner, depth, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue  # unknown or cyclic: the standard rules report it
                inner = self._type(fragment.type_condition.name.value, parent)
                total += self.selection_cost(fragment.selection_set, inner, depth, seen | {name})
        return total


def measure_operation(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> Measure:
    analyser = _Analyser(schema, fragments, variables)
    analyser.measure.directives += len(operation.directives or ())
    root = schema.get_root_type(operation.operation)
    analyser.measure.cost = analyser.selection_cost(operation.selection_set, root, 1, frozenset())
    return analyser.measure


# Parsed documents and measures of recent requests: dashboards send the same few documents
# with the same variables over and over.
CACHE_SIZE = 512


@functools.lru_cache(maxsize=CACHE_SIZE)
def parse_cached(query: str, max_tokens: int) -> DocumentNode:
    """The document of a query text (parse errors are raised, and not remembered)."""
    return parse(query, max_tokens=max_tokens)


def _chosen_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    operations = [
        d
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
        and (operation_name is None or (d.name is not None and d.name.value == operation_name))
    ]
    return operations[0] if len(operations) == 1 else None


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


_measures: OrderedDict[tuple[int, str, str | None, str], Measure] = OrderedDict()


def measure_request(
    schema: GraphQLSchema,
    document: DocumentNode,
    query: str,
    operation_name: str | None,
    variables: Mapping[str, Any],
) -> Measure | None:
    """The measure of the operation a request runs (None: no single operation), memoised."""
    try:
        key = (id(schema), query, operation_name, json.dumps(variables, sort_keys=True))
    except (TypeError, ValueError):
        key = None
    if key is not None and (found := _measures.get(key)) is not None:
        _measures.move_to_end(key)
        return found
    operation = _chosen_operation(document, operation_name)
    if operation is None:
        return None
    measure = measure_operation(schema, operation, _fragments(document), variables)
    if key is not None:
        _measures[key] = measure
        while len(_measures) > CACHE_SIZE:
            _measures.popitem(last=False)
    return measure


def request_cost(
    schema: GraphQLSchema,
    query: str,
    operation_name: str | None,
    variables: Mapping[str, Any],
    *,
    max_tokens: int,
) -> int:
    """The cost of the operation a request would run; 1 when it cannot even be parsed."""
    try:
        document = parse_cached(query, max_tokens)
    except GraphQLError:
        return 1
    try:
        measure = measure_request(schema, document, query, operation_name, variables)
    except RecursionError:  # cyclic fragments: validation refuses them
        return 1
    return max(1, measure.cost) if measure is not None else 1


def too_complex(kind: str, limit: int, measured: int) -> GraphQLError:
    return GraphQLError(
        f"the operation's {kind} is {measured}, above the limit of {limit}",
        extensions={
            "code": "QUERY_TOO_COMPLEX",
            "limit": limit,
            "measured": measured,
            "kind": kind,
        },
    )


def limit_errors(limits: QueryLimits, measure: Measure) -> list[GraphQLError]:
    return [
        too_complex(kind, limit, measured)
        for kind, limit, measured in (
            ("depth", limits.max_depth, measure.depth),
            ("aliases", limits.max_aliases, measure.aliases),
            ("directives", limits.max_directives, measure.directives),
            ("cost", limits.max_cost, measure.cost),
        )
        if measured > limit
    ]


class LimitQueries(SchemaExtension):
    """Parse, validation and limits, each remembered for documents seen recently.

    - parse: with the token limit (`SIMGQL_MAX_QUERY_TOKENS`), through `parse_cached`;
    - validation: the schema's rules, remembered per query text (the rules and the schema
      do not change while the process runs);
    - limits: depth, aliases, directives and cost of the chosen operation with this
      request's variables, after validation passed, remembered per (query, variables).
    """

    limits = QueryLimits()
    max_tokens = 5000
    validated: Callable[[GraphQLSchema, str, DocumentNode, tuple[Any, ...]], list[GraphQLError]]

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        # Strawberry parses with these options when we could not (it reports the error).
        context.parse_options["max_tokens"] = self.max_tokens
        if context.graphql_document is None and context.query is not None:
            with contextlib.suppress(GraphQLError):
                context.graphql_document = parse_cached(context.query, self.max_tokens)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is None or context.query is None or context.pre_execution_errors:
            yield
            return
        schema = context.schema._schema
        errors = type(self).validated(
            schema, context.query, document, tuple(context.validation_rules)
        )
        if not errors:
            measure = measure_request(
                schema, document, context.query, context.operation_name, context.variables or {}
            )
            if measure is not None:
                errors = limit_errors(self.limits, measure)
        context.pre_execution_errors = list(errors)
        yield


def limit_queries(limits: QueryLimits, *, max_tokens: int = 5000) -> type[LimitQueries]:
    """The extension class with the given limits (extensions are passed as classes)."""
    remembered: OrderedDict[tuple[str, tuple[Any, ...]], list[GraphQLError]] = OrderedDict()

    def validated(
        schema: GraphQLSchema, query: str, document: DocumentNode, rules: tuple[Any, ...]
    ) -> list[GraphQLError]:
        key = (query, rules)
        found = remembered.get(key)
        if found is None:
            found = validate_document(schema, document, rules)
            remembered[key] = found
            while len(remembered) > CACHE_SIZE:
                remembered.popitem(last=False)
        return found

    return type(
        "LimitQueries",
        (LimitQueries,),
        {"limits": limits, "max_tokens": max_tokens, "validated": staticmethod(validated)},
    )
