"""Compiled execution of queries: the same answer as the standard executor, for less CPU.

graphql-core executes a query field by field: for each of the ~2,400 fields of a dashboard
page it builds a resolve info, finds the resolver, runs Strawberry's wrapper around it (info
object, argument conversion, extension chain) and completes the value by looking at its
type. That generic work is most of what a page costs (see docs/performance.md).

A query document is the same every time a client sends it. Here it is compiled once, per
operation, into a tree of small closures: for each selected field what to call and how to
complete its value, decided ahead of time from the schema. Running it calls the *same*
resolver functions as the standard path (so the same loaders, policies and visibility
rules), with nothing generic left per field.

Identical answers by construction:
- Only what is certain to behave the same is compiled: object and list types (no
  interfaces or unions), no `@skip`/`@include` (the shape would depend on variables), no
  schema middleware. Fields with arguments, and the root fields, are called through the
  standard Strawberry resolver with a real resolve info; the other fields' resolvers only
  get the context (`FieldInfo`), which is all they read.
- Anything unusual at run time (an exception, a null where the schema says non-null, a
  value a scalar cannot serialise) abandons the compiled run and the standard executor
  answers the whole request instead, so errors, their paths and partial data are exactly
  its own. Only queries are compiled: running one twice changes nothing.

`tests/test_compiled.py` runs the same documents both ways and compares the bytes.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import operator
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, cast

from graphql import (
    DirectiveNode,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    Node,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    get_named_type,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetails, collect_fields, collect_subfields
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path
from strawberry.types.field import StrawberryField

from simgql.api.multiplex import SharedEventExecutor

# A completer turns a resolved value into its JSON-ready form, or into an awaitable of it.
Completer = Callable[[Any, "Run", Path | None], Any]
# A resolver of one field: (parent object, run, parent path) -> value or awaitable.
Resolver = Callable[[Any, "Run", Path | None], Any]

log = logging.getLogger("simgql.compiled")
F = TypeVar("F", dict[str, Any], list[Any])

STRAWBERRY_FIELD = "strawberry-definition"
CACHE_SIZE = 500


class NotCompilable(Exception):
    """The operation uses something the compiled path does not do; the standard one will."""


class Fallback(Exception):
    """At run time: leave this request to the standard executor."""


@dataclass(slots=True)
class FieldInfo:
    """What a compiled field's resolver gets as `info`: the operation's context.

    Resolvers below the root read nothing else; reading anything else fails, and the
    request is answered by the standard executor.
    """

    context: Any


class Run:
    """One execution of a compiled operation."""

    __slots__ = ("executor", "info")

    def __init__(self, executor: Any) -> None:
        self.executor = executor
        self.info = FieldInfo(executor.context_value)


_awaitable_types: dict[type, bool] = {}


def _is_awaitable(value: Any) -> bool:
    kind = type(value)
    known = _awaitable_types.get(kind)
    if known is None:
        known = _awaitable_types[kind] = hasattr(kind, "__await__")
    return known


async def _settle(awaitables: list[Any]) -> list[Any]:
    """Await them all (concurrently, so their loads batch) and raise the first failure."""
    if len(awaitables) == 1:
        return [await awaitables[0]]
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def _discard(values: Iterable[Any]) -> None:
    """Let awaitables nobody will await finish on their own (a sibling failed first).

    They are reads; a failure of theirs is retrieved so that it is not logged as lost.
    """
    for value in values:
        if _is_awaitable(value):
            asyncio.ensure_future(value).add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


async def _complete_later(
    awaitable: Awaitable[Any], complete: Completer, run: Run, path: Any
) -> Any:
    value = complete(await awaitable, run, path)
    if _is_awaitable(value):
        value = await value
    return value


@dataclass(slots=True)
class FieldPlan:
    key: str
    resolve: Resolver
    complete: Completer
    typename: str
    wants_path: bool  # a field below calls a standard resolver, which needs its path
    leaf: bool = False  # completes to a value, never to an awaitable


def _object_completer(fields: list[FieldPlan], gtype: GraphQLObjectType) -> Completer:
    run_fields = _fields_runner(fields, gtype)

    def complete(value: Any, run: Run, path: Path | None) -> Any:
        return None if value is None else run_fields(value, run, path)

    return complete


def _fields_runner(fields: list[FieldPlan], gtype: GraphQLObjectType) -> Completer:
    """Resolve and complete each field of one object (the root value may be None)."""
    is_type_of = gtype.is_type_of
    plan = [(f.key, f.resolve, f.complete, f.typename, f.wants_path, f.leaf) for f in fields]

    def complete(value: Any, run: Run, path: Path | None) -> Any:
        if is_type_of is not None:
            check = is_type_of(value, cast(Any, None))  # Strawberry's ignores the info
            if check is not True:
                _discard((check,))
                raise Fallback
        out: dict[str, Any] = {}
        waiting: list[str] | None = None
        try:
            for key, resolve, finish, typename, wants_path, leaf in plan:
                sub = Path(path, key, typename) if wants_path else None
                result = resolve(value, run, sub)
                if _is_awaitable(result):
                    result = _complete_later(result, finish, run, sub)
                else:
                    result = finish(result, run, sub)
                    if leaf or not _is_awaitable(result):
                        out[key] = result
                        continue
                out[key] = result
                if waiting is None:
                    waiting = []
                waiting.append(key)
        except BaseException:
            if waiting:
                _discard(out[k] for k in waiting)
            raise
        if waiting is None:
            return out
        return _fill(out, waiting)

    return complete


async def _fill(out: F, keys: list[Any]) -> F:
    """`out` (an object's dict or a list) with the awaitables at `keys` replaced by values."""
    for key, value in zip(keys, await _settle([out[k] for k in keys]), strict=True):
        out[key] = value
    return out


def _list_completer(item: Completer, wants_path: bool) -> Completer:
    def complete(value: Any, run: Run, path: Path | None) -> Any:
        if value is None:
            return None
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
            raise Fallback
        out: list[Any] = []
        waiting: list[int] | None = None
        try:
            for index, element in enumerate(value):
                result = item(element, run, Path(path, index, None) if wants_path else None)
                out.append(result)
                if _is_awaitable(result):
                    if waiting is None:
                        waiting = []
                    waiting.append(index)
        except BaseException:
            if waiting:
                _discard(out[i] for i in waiting)
            raise
        if waiting is None:
            return out
        return _fill(out, waiting)

    return complete


def _non_null(inner: Completer) -> Completer:
    def complete(value: Any, run: Run, path: Path | None) -> Any:
        if value is None:
            raise Fallback
        return inner(value, run, path)

    return complete


def _leaf_completer(coerce: Callable[[Any], Any]) -> Completer:
    def complete(value: Any, _run: Run, _path: Path | None) -> Any:
        if value is None:
            return None
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise Fallback
        return coerced

    return complete


def _coercion(gtype: Any) -> Callable[[Any], Any]:
    """The leaf type's output coercion; for an enum of Python members, a table lookup.

    Strawberry's enum type finds a member's name by comparing values one by one (about
    13 µs a value); the table holds the same answers, computed the same way, once.
    """
    coerce: Callable[[Any], Any] = gtype.coerce_output_value
    wrapped = getattr(gtype, "wrapped_cls", None)
    if not isinstance(gtype, GraphQLEnumType) or not (
        isinstance(wrapped, type) and issubclass(wrapped, enum.Enum)
    ):
        return coerce
    names: dict[Any, str] = {}
    for member in wrapped:
        for name, value in gtype.values.items():
            if member.value == value.value:
                names[member] = name
                break

    def coerce_member(value: Any) -> Any:
        if type(value) is wrapped:
            found = names.get(value)
            if found is not None:
                return found
        return coerce(value)

    return coerce_member


def _has_directives(nodes: Iterable[Node]) -> bool:
    """Whether any directive is used (they may make the selection depend on variables)."""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, DirectiveNode):
            return True
        for key in node.keys:
            child = getattr(node, key, None)
            if isinstance(child, Node):
                stack.append(child)
            elif isinstance(child, tuple | list):
                stack.extend(c for c in child if isinstance(c, Node))
    return False


class _Compiler:
    def __init__(self, executor: Any) -> None:
        self.executor = executor
        self.schema = executor.schema

    def operation(self) -> Completer:
        ex = self.executor
        root = self.schema.get_root_type(OperationType.QUERY)
        if root is None:
            raise NotCompilable("no query type")
        grouped, defers, *_ = collect_fields(
            self.schema, ex.fragments, ex.variable_values, root, ex.operation
        )
        if defers:
            raise NotCompilable("@defer")
        plans = [self.field(root, key, details, root=True) for key, details in grouped.items()]
        return _fields_runner(plans, root)

    def field(
        self,
        parent: GraphQLObjectType,
        key: str,
        details: list[FieldDetails],
        *,
        root: bool = False,
    ) -> FieldPlan:
        node = details[0].node
        name = node.name.value
        if name == "__typename":
            typename = parent.name
            return FieldPlan(
                key, lambda _v, _r, _p: typename, _leaf_completer(str), parent.name, False, True
            )
        if name.startswith("__"):
            raise NotCompilable("introspection")
        definition = self.schema.get_field(parent, name)
        if definition is None:
            raise NotCompilable(f"unknown field {name}")
        complete, below = self.completer(definition.type, details)
        leaf = is_leaf_type(get_named_type(definition.type))
        strawberry_field = (definition.extensions or {}).get(STRAWBERRY_FIELD)
        fast = self._fast_resolver(strawberry_field, definition, details)
        if fast is not None and not root:
            return FieldPlan(key, fast, complete, parent.name, below, leaf)
        return FieldPlan(
            key,
            self._standard_resolver(parent, key, definition, details),
            complete,
            parent.name,
            True,
            leaf,
        )

    @staticmethod
    def _fast_resolver(
        field: StrawberryField | None, definition: Any, details: list[FieldDetails]
    ) -> Resolver | None:
        """Call the field's own function directly, when nothing but it would run."""
        if not isinstance(field, StrawberryField) or field.extensions:
            return None
        if type(field).get_result is not StrawberryField.get_result:
            return None  # a field class that resolves its own way
        if definition.args or any(d.node.arguments for d in details):
            return None
        resolver = field.base_resolver
        if resolver is None:
            get = operator.attrgetter(field.python_name)
            return lambda value, _run, _path: get(value)
        if resolver.arguments:
            return None
        fn = cast(Callable[..., Any], resolver.wrapped_func)
        takes_self = resolver.self_parameter is not None
        names = [p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p]
        info_name = resolver.info_parameter.name if resolver.info_parameter else None

        def resolve(value: Any, run: Run, _path: Path | None) -> Any:
            kwargs: dict[str, Any] = dict.fromkeys(names, value)
            if info_name is not None:
                kwargs[info_name] = run.info
            return fn(value, **kwargs) if takes_self else fn(**kwargs)

        return resolve

    def _standard_resolver(
        self,
        parent: GraphQLObjectType,
        key: str,
        definition: Any,
        details: list[FieldDetails],
    ) -> Resolver:
        """Strawberry's resolver with a real resolve info and coerced arguments."""
        nodes = [d.node for d in details]
        first = details[0]
        has_args = bool(definition.args or first.node.arguments)
        resolve_fn = definition.resolve
        if resolve_fn is None:
            raise NotCompilable("a field without a resolver")

        def resolve(value: Any, run: Run, path: Path | None) -> Any:
            ex = run.executor
            info = ex.build_resolve_info(definition, nodes, parent, path)
            args = (
                get_argument_values(
                    definition,
                    first.node,
                    ex.variable_values,
                    first.fragment_variable_values,
                    ex.hide_suggestions,
                )
                if has_args
                else {}
            )
            return resolve_fn(value, info, **args)

        return resolve

    def completer(
        self, gtype: GraphQLOutputType, details: list[FieldDetails]
    ) -> tuple[Completer, bool]:
        """How to complete values of `gtype`, and whether a path must be passed down."""
        if isinstance(gtype, GraphQLNonNull):
            inner, below = self.completer(gtype.of_type, details)
            return _non_null(inner), below
        if isinstance(gtype, GraphQLList):
            item, below = self.completer(gtype.of_type, details)
            return _list_completer(item, below), below
        if is_leaf_type(gtype):
            return _leaf_completer(_coercion(gtype)), False
        if isinstance(gtype, GraphQLObjectType):
            ex = self.executor
            grouped, defers, *_ = collect_subfields(
                self.schema, ex.fragments, ex.variable_values, ex.operation, gtype, details
            )
            if defers:
                raise NotCompilable("@defer")
            plans = [self.field(gtype, key, sub) for key, sub in grouped.items()]
            return _object_completer(plans, gtype), any(p.wants_path for p in plans)
        raise NotCompilable(f"abstract type {gtype}")


@dataclass
class CompiledOperation:
    run: Completer


class CompiledOperations:
    """Compiled plans by operation (documents come from the parse cache, so the same query
    text is the same operation object), bounded; `None` remembers "not compilable"."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._plans: OrderedDict[int, tuple[OperationDefinitionNode, CompiledOperation | None]]
        self._plans = OrderedDict()
        self.compiled = 0
        self.fallbacks = 0

    def plan_for(self, executor: Any) -> CompiledOperation | None:
        operation: OperationDefinitionNode = executor.operation
        if operation.operation is not OperationType.QUERY:
            return None
        middleware = executor.middleware_manager
        if middleware is not None and middleware.middlewares:
            return None  # an extension wraps every resolver (per-field tracing)
        key = id(operation)
        found = self._plans.get(key)
        if found is not None and found[0] is operation:
            self._plans.move_to_end(key)
            return found[1]
        plan = self._compile(executor)
        self._plans[key] = (operation, plan)
        if len(self._plans) > self.size:
            self._plans.popitem(last=False)
        return plan

    @staticmethod
    def _compile(executor: Any) -> CompiledOperation | None:
        fragments = [f.definition for f in executor.fragments.values()]
        if _has_directives([executor.operation, *fragments]):
            return None
        try:
            return CompiledOperation(_Compiler(executor).operation())
        except NotCompilable:
            return None
        except Exception:  # a surprise while compiling: the standard executor still answers
            log.warning("could not compile an operation; it runs uncompiled", exc_info=True)
            return None

    async def execute(self, plan: CompiledOperation, executor: Any) -> dict[str, Any] | None:
        """The operation's data, or None when the standard executor must answer instead."""
        try:
            data = plan.run(executor.root_value, Run(executor), None)
            if _is_awaitable(data):
                data = await data
        except Exception:  # any failure is the standard executor's to report
            self.fallbacks += 1
            return None
        self.compiled += 1
        return data  # type: ignore[no-any-return]


class CompilingExecutor(SharedEventExecutor):
    """The schema's executor: queries run compiled when they can, the rest as before."""

    plans: ClassVar[CompiledOperations | None] = None

    def execute_operation(self, serially: bool | None = None) -> Any:
        plans = self.plans
        if plans is None or self.operation.operation is not OperationType.QUERY:
            return super().execute_operation(serially)
        plan = plans.plan_for(self)
        if plan is None:
            self._count_query("standard")
            return super().execute_operation(serially)
        return self._compiled(plans, plan, serially)

    async def _compiled(
        self, plans: CompiledOperations, plan: CompiledOperation, serially: bool | None
    ) -> Any:
        data = await plans.execute(plan, self)
        if data is not None:
            self._count_query("compiled")
            return self.finish(self.build_response(data))
        self._count_query("fallback")
        # The standard executor starts from scratch, as it would have: with what the
        # abandoned run loaded at hand, fields that would wait for a read answer at once,
        # and which of two failing fields fails first (and is reported) could differ.
        forget = getattr(self.context_value, "forget_loaders", None)
        if forget is not None:
            forget()
        result = super().execute_operation(serially)
        if _is_awaitable(result):
            result = await result
        return result

    def _count_query(self, path: str) -> None:
        metrics = getattr(self.context_value, "metrics", None)
        if metrics is not None:
            metrics.query_executions.labels(path).inc()


def executor_class(plans: CompiledOperations | None) -> type[CompilingExecutor]:
    """An executor class of one schema, with that schema's plan cache (None: never compile)."""
    return type("CompilingExecutor", (CompilingExecutor,), {"plans": plans})
