"""Subscription multiplexing: identical subscriptions share one execution per event.

A dashboard open in a thousand browsers is a thousand subscriptions with the same document
and variables. Executing the selection set once per subscriber per event makes fan-out cost
grow with the audience; here subscribers whose document, variables and visibility are the
same get the result of ONE execution of each event, and only the sending stays per socket.

"Visibility" is everything about the caller that a resolver may look at: the role, the
account and the warehouse (`simgql.domain.policy` decides with nothing else). Two callers who
differ in any of these never share a result, so an `availableActions` computed for an agent
is never sent to a viewer, and nothing of one tenant reaches another.

The shared execution runs as a task of its own: a subscriber that disconnects while the
event is being executed does not cancel it for the others.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Hashable
from typing import Any

from graphql import ExecutionResult, print_ast
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from simgql.domain.model import Viewer

# Marks an executor whose subscription must not share (no key could be made).
_PRIVATE = object()


def visibility(viewer: object) -> Hashable | None:
    """What of the caller a resolver may depend on; None when there is no verified caller."""
    if not isinstance(viewer, Viewer):
        return None
    return (viewer.role.value, viewer.account_id, viewer.warehouse_code)


class SharedEventExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor; per-event executions of identical subscriptions are shared."""

    share_key: Hashable | None = None

    def build_per_event_executor(self, payload: Any) -> Any:
        if self.share_key is None:
            self.share_key = self._make_share_key()
        return super().build_per_event_executor(payload)

    def _make_share_key(self) -> Hashable:
        seen = visibility(getattr(self.context_value, "viewer_or_error", None))
        if seen is None:
            return _PRIVATE
        try:
            variables = json.dumps(
                self.variable_values.coerced, sort_keys=True, default=str, separators=(",", ":")
            )
        except (TypeError, ValueError):
            return _PRIVATE
        document = "\n".join(
            [print_ast(self.operation), *(print_ast(f.definition) for f in self.fragments.values())]
        )
        return (document, variables, seen)

    def execute_operation(self, serially: bool | None = None) -> Any:
        # `serially=False` is graphql-core's per-event execution of a subscription.
        if serially is not False:
            return super().execute_operation(serially)
        key = self.share_key
        event_id = getattr(getattr(self.root_value, "row", None), "id", None)
        hub = getattr(self.context_value, "hub", None)
        if key is None or key is _PRIVATE or event_id is None or hub is None:
            self._count()
            return super().execute_operation(serially)
        results: dict[Hashable, asyncio.Task[ExecutionResult]] = hub.shared(
            ("results", event_id), dict
        )
        task = results.get(key)
        if task is None:
            task = asyncio.ensure_future(self._execute_once(serially))
            results[key] = task
            task.add_done_callback(lambda done: _forget_failure(results, key, done))
        return _copy_of(task)

    def _count(self) -> None:
        metrics = getattr(self.context_value, "metrics", None)
        if metrics is not None:
            metrics.subscription_executions.inc()

    async def _execute_once(self, serially: bool | None) -> ExecutionResult:
        self._count()
        result = super().execute_operation(serially)
        if isinstance(result, Awaitable):
            result = await result
        assert isinstance(result, ExecutionResult)
        return result


def _forget_failure(
    results: dict[Hashable, asyncio.Task[ExecutionResult]],
    key: Hashable,
    task: asyncio.Task[ExecutionResult],
) -> None:
    """A failed execution serves those who waited for it, not those who come later.

    A subscriber resuming after a database outage must get the event executed again, not
    the error of the outage.
    """
    failed = task.cancelled() or task.exception() is not None or bool(task.result().errors)
    if failed and results.get(key) is task:
        del results[key]


async def _copy_of(task: asyncio.Task[ExecutionResult]) -> ExecutionResult:
    """The shared result, as an object of this subscriber's own (extensions set fields on it)."""
    result = await asyncio.shield(task)
    return ExecutionResult(
        result.data, list(result.errors) if result.errors else None, result.extensions
    )
