"""Query limits: depth, aliases, directives and cost per operation, refused before execution."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
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
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    parse,
)
from strawberry.extensions import SchemaExtension

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
        document = parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return 1
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [
        d
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
        and (operation_name is None or (d.name is not None and d.name.value == operation_name))
    ]
    if len(operations) != 1:
        return 1
    return max(1, measure_operation(schema, operations[0], fragments, variables).cost)


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


def limits_rule(limits: QueryLimits, variables: Mapping[str, Any]) -> type[ValidationRule]:
    class OperationLimits(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            fragments = {
                d.name.value: d
                for d in self.context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            m = measure_operation(self.context.schema, node, fragments, variables)
            for kind, limit, measured in (
                ("depth", limits.max_depth, m.depth),
                ("aliases", limits.max_aliases, m.aliases),
                ("directives", limits.max_directives, m.directives),
                ("cost", limits.max_cost, m.cost),
            ):
                if measured > limit:
                    self.report_error(too_complex(kind, limit, measured))

    return OperationLimits


class LimitQueries(SchemaExtension):
    """Adds the limit rule, with this operation's variables, to the validation rules."""

    limits = QueryLimits()

    def on_operation(self) -> Iterator[None]:
        variables = self.execution_context.variables or {}
        self.execution_context.validation_rules = (
            *self.execution_context.validation_rules,
            limits_rule(self.limits, variables),
        )
        yield


def limit_queries(limits: QueryLimits) -> type[LimitQueries]:
    """The extension class with the given limits (extensions are passed as classes)."""
    return type("LimitQueries", (LimitQueries,), {"limits": limits})
