"""Bulk enrich: run up to ten operations against the store and shape the response.

Operations run in request order (a later one sees what an earlier one wrote); the results come back
shuffled, each carrying the caller's ``id``, and ``errorIndexes`` point into ``results`` (as the API
reference says), so a client must pair results with its operations by ``id``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection
from typing import Any

from pipeline.sandbox.enrich import enrich
from pipeline.sandbox.problems import EntityError
from pipeline.sandbox.records import Kind
from pipeline.sandbox.store import Store
from pipeline.sandbox.views import view

MAX_ENTITIES = 10

# Retryable per-entity errors a fault can put into a 200 bulk response.
RETRYABLE_ERRORS = (
    (503, "service.unavailable", "The service is temporarily unavailable; retry this operation"),
    (500, "internal.server.error", "An internal error occurred; retry this operation"),
    (429, "too.many.requests", "Too many concurrent writes for this record; retry this operation"),
)


def run_bulk(
    store: Store,
    kind: Kind,
    entities: list[Any],
    *,
    dry_run: bool,
    now: str,
    new_id: Callable[[], str],
    rng: random.Random,
    fail: Collection[int] = (),
) -> dict[str, Any]:
    """The bulk response body; ``fail`` lists request indexes that get a retryable error (a fault)."""
    results = []
    with store.transaction():
        for index, op in enumerate(entities):
            tracker = op.get("id") if isinstance(op, dict) else None
            if index in fail:
                status, code, message = rng.choice(RETRYABLE_ERRORS)
                results.append(_failure(tracker, EntityError(status, code, message, retryable=True), op))
                continue
            try:
                outcome = enrich(store, kind, op, now=now, new_id=new_id)
            except EntityError as err:
                results.append(_failure(tracker, err, op))
                continue
            if not dry_run:
                store.apply(outcome)
            results.append(_result(tracker, True, outcome.status, entity=view(store, kind, outcome.record)))
    results = [results[i] for i in shuffled_order(len(results), rng)]
    error_indexes = [i for i, result in enumerate(results) if not result["success"]]
    return {"results": results, "errorCount": len(error_indexes), "errorIndexes": error_indexes}


def shuffled_order(n: int, rng: random.Random) -> list[int]:
    """A random order of ``range(n)`` that is never the identity when ``n >= 2``."""
    order = list(range(n))
    rng.shuffle(order)
    if n >= 2 and order == sorted(order):
        order.reverse()
    return order


def _failure(tracker: Any, err: EntityError, op: Any) -> dict[str, Any]:
    return _result(tracker, False, err.status, error=err.bulk_error(op))


def _result(tracker: Any, success: bool, status: int, **part: Any) -> dict[str, Any]:
    result: dict[str, Any] = {} if tracker is None else {"id": tracker}
    result.update(success=success, **part, status=status)
    return result
