"""Send enrich operations in bulk batches and turn the answers into per-record outcomes.

Batches of at most 10 go out with bounded concurrency; the client underneath keeps the rate budget and
retries whole requests. Here we only deal with what comes back: results are paired with operations by
their ``id`` (never by position), and entities whose error is ``retryable`` are sent again, a bounded
number of times.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from pipeline.errors import ApiError, ApiUnavailableError
from pipeline.importing.plan import Operation, batched
from pipeline.outcomes import Outcome, Status

BULK_LIMIT = 10
# Entities the API marks retryable are re-sent at most this many times before they count as failed.
ENTITY_RETRY_ROUNDS = 5
# Whole bulk requests failing this many times in a row (each after the client's own retries) means the
# API is down or refusing us: stopping beats marking every remaining record failed.
STOP_AFTER_FAILED_REQUESTS = 10
# Pause before re-sending retryable entities, so a briefly unhappy backend gets a moment.
ENTITY_RETRY_DELAY_S = 0.5


class EntityErrorLike(Protocol):
    code: str | None
    message: str
    status: int | None
    retryable: bool


class EntityResultLike(Protocol):
    id: str
    success: bool
    status: int | None
    entity: dict[str, Any] | None
    error: EntityErrorLike | None


class BulkResultLike(Protocol):
    results: Sequence[EntityResultLike]


class BulkSender(Protocol):
    """What push needs from the Genesys client: one bulk enrich call."""

    async def bulk_enrich(
        self, kind: str, entities: list[dict[str, Any]], *, dry_run: bool = False
    ) -> BulkResultLike: ...


@dataclass
class PushStats:
    batches: int = 0
    entity_retries: int = 0


BatchCallback = Callable[[list[Outcome]], Awaitable[None] | None]


def default_concurrency(rate_limit_per_minute: int) -> int:
    """Enough requests in flight to use the budget at ~1 s per bulk call, never a flood."""
    if rate_limit_per_minute <= 0:
        return 8
    return max(2, min(16, math.ceil(rate_limit_per_minute / 60)))


def _status_of(result: EntityResultLike) -> Status:
    return Status.CREATED if result.status == 201 else Status.UPDATED


def _success(op: Operation, result: EntityResultLike) -> Outcome:
    entity = result.entity or {}
    return Outcome(
        op.kind,
        op.key,
        _status_of(result),
        op.source_rows,
        genesys_id=entity.get("id"),
        organization_key=op.organization_key,
    )


def _entity_message(error: EntityErrorLike | None) -> str:
    """The API's message plus the fields its ``details`` name, which say what to fix in the sheet."""
    if error is None:
        return "the API reported a failure without details"
    message = error.message or "the API refused the record"
    extra = [
        f"{d.get('fieldName')}: {d.get('message')}"
        for d in getattr(error, "details", ()) or ()
        if d.get("fieldName") and d.get("message") and str(d.get("message")) not in message
    ]
    return f"{message} ({'; '.join(extra)})" if extra else message


def _errored(op: Operation, status: Status, code: str, message: str) -> Outcome:
    return Outcome(
        op.kind,
        op.key,
        status,
        op.source_rows,
        error_code=code,
        error_message=message,
        organization_key=op.organization_key,
    )


def _failure(op: Operation, code: str, message: str) -> Outcome:
    return _errored(op, Status.FAILED, code, message)


def skipped(op: Operation, code: str, message: str) -> Outcome:
    """An operation not attempted because something it depends on failed."""
    return _errored(op, Status.SKIPPED, code, message)


async def _send_batch(
    client: BulkSender, endpoint: str, batch: list[Operation], *, dry_run: bool, stats: PushStats
) -> list[Outcome]:
    pending = {op.key: op for op in batch}
    outcomes: list[Outcome] = []
    for attempt in range(ENTITY_RETRY_ROUNDS + 1):
        ops = list(pending.values())
        try:
            response = await client.bulk_enrich(endpoint, [op.body for op in ops], dry_run=dry_run)
        except ApiError as err:
            code = err.code or (f"http.{err.status}" if err.status else "request.failed")
            return outcomes + [replace(_failure(op, code, str(err)), answered=False) for op in ops]
        stats.batches += 1
        retry: dict[str, Operation] = {}
        for result in response.results:
            op = pending.pop(result.id, None)
            if op is None:
                continue  # an id we did not send (or sent twice): nothing to pair it with
            if result.success and not dry_run and not (result.entity or {}).get("id"):
                # Without the stored record's id nothing can link to it (or find it again): say so.
                outcomes.append(_failure(op, "result.no_id", "the API reported success but returned no id"))
            elif result.success:
                outcomes.append(_success(op, result))
            elif result.error is not None and result.error.retryable and attempt < ENTITY_RETRY_ROUNDS:
                retry[op.key] = op
            else:
                error = result.error
                code = (error.code if error else None) or "unknown"
                message = _entity_message(error)
                outcomes.append(_failure(op, code, message))
        # Whatever the response did not mention cannot be assumed written or not: it is a failure to
        # report, and a re-run will find it by ExternalId either way.
        outcomes.extend(
            _failure(op, "result.missing", "the bulk response had no result for this entity")
            for op in pending.values()
        )
        if not retry:
            return outcomes
        stats.entity_retries += len(retry)
        pending = retry
        await asyncio.sleep(ENTITY_RETRY_DELAY_S * (attempt + 1))
    return outcomes  # pragma: no cover - the loop always returns


async def push(
    client: BulkSender,
    operations: Sequence[Operation],
    *,
    endpoint: str,
    concurrency: int,
    dry_run: bool = False,
    on_batch: BatchCallback | None = None,
    stats: PushStats | None = None,
) -> list[Outcome]:
    """Push every operation in bulk batches; one outcome per operation, in no particular order."""
    stats = stats if stats is not None else PushStats()
    results: list[Outcome] = []

    failed_in_a_row = 0

    async def worker(batches: Iterator[list[Operation]]) -> None:
        nonlocal failed_in_a_row
        # Workers share one iterator: each takes the next batch when it is free, so a slow batch
        # never holds the others back and a million operations never become 100k pending tasks.
        for batch in batches:
            outcomes = await _send_batch(client, endpoint, batch, dry_run=dry_run, stats=stats)
            results.extend(outcomes)
            if on_batch is not None:
                maybe = on_batch(outcomes)
                if maybe is not None:
                    await maybe
            unanswered = [o for o in outcomes if not o.answered]
            failed_in_a_row = failed_in_a_row + 1 if len(unanswered) == len(outcomes) else 0
            if failed_in_a_row >= STOP_AFTER_FAILED_REQUESTS:
                raise ApiUnavailableError(
                    f"the API failed {failed_in_a_row} bulk requests in a row, each after its retries "
                    f"(last: {unanswered[0].error_message}); the run stopped rather than fail every "
                    "record. Answered batches are in the journal: when the API is back, go on with "
                    "--resume"
                )

    shared = batched(operations, BULK_LIMIT)
    try:
        # A TaskGroup cancels the other workers as soon as one fails, so none keeps sending on a
        # client that is about to close.
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, concurrency)):
                group.create_task(worker(shared))
    except ExceptionGroup as errors:
        raise errors.exceptions[0] from None
    return results
