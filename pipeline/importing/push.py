"""Send enrich operations in bulk batches and turn the answers into per-record outcomes.

Batches of at most 10 go out with bounded concurrency; the client underneath keeps the rate budget and
retries whole requests. Here we only deal with what comes back: results are paired with operations by
their ``id`` (never by position), and entities whose error is ``retryable`` are sent again, a bounded
number of times.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from pipeline.errors import ApiError, ApiUnavailableError, TerminalApiError
from pipeline.genesys.endpoints import MAX_BULK_ENTITIES
from pipeline.genesys.models import Kind
from pipeline.importing.plan import Operation, batched
from pipeline.journal.records import BatchTiming
from pipeline.outcomes import Outcome, Status

# Entities per bulk request: the API's limit, which the client enforces.
BULK_LIMIT = MAX_BULK_ENTITIES
# Entities the API marks retryable are re-sent at most this many times before they count as failed.
ENTITY_RETRY_ROUNDS = 5
# Whole bulk requests failing this many times in a row (each after the client's own retries) means the
# API is down or refusing us: stopping beats marking every remaining record failed.
STOP_AFTER_FAILED_REQUESTS = 10
# Pause before re-sending retryable entities, so a briefly unhappy backend gets a moment.
ENTITY_RETRY_DELAY_S = 0.5


# The client's result types, as push reads them. Members are read-only properties so that the client's
# frozen dataclasses (and any fake with plain attributes) fit.
class EntityErrorLike(Protocol):
    @property
    def code(self) -> str | None: ...
    @property
    def message(self) -> str: ...
    @property
    def status(self) -> int | None: ...
    @property
    def retryable(self) -> bool: ...


class EntityResultLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def success(self) -> bool: ...
    @property
    def status(self) -> int | None: ...
    @property
    def entity(self) -> dict[str, Any] | None: ...
    @property
    def error(self) -> EntityErrorLike | None: ...


class BulkResultLike(Protocol):
    @property
    def results(self) -> Sequence[EntityResultLike]: ...


class BulkSender(Protocol):
    """What push needs from the Genesys client: one bulk enrich call, and an identifier lookup to settle
    records whose request got no answer."""

    async def bulk_enrich(
        self, kind: Kind, entities: list[dict[str, Any]], *, dry_run: bool = False
    ) -> BulkResultLike: ...

    async def lookup_identifier(self, kind: Any, identifier: Any) -> dict[str, Any] | None: ...


@dataclass
class PushStats:
    batches: int = 0
    entity_retries: int = 0
    # Identifier lookups made to decide who a contact matched by email/phone is.
    match_lookups: int = 0


BatchCallback = Callable[[list[Outcome], BatchTiming], Awaitable[None] | None]
# Wall-clock seconds since the epoch: batch times go into the journal and the HTML report's throughput plot.
Clock = Callable[[], float]


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def batch_timing(started: float, ended: float, attempts: int) -> BatchTiming:
    return BatchTiming(_iso(started), _iso(ended), round(max(0.0, ended - started), 3), attempts)


# Requests in flight with no budget (``--rate-limit 0``): the most a client process still gains from
# (bench/README.md, "The push client's ceiling"). The client's CPU per request no longer grows with it
# (one connection per lane, genesys/lanes.py), and a server that stalls one request leaves 31 going.
UNLIMITED_CONCURRENCY = 32


def default_concurrency(rate_limit_per_minute: int) -> int:
    """Enough requests in flight to use the budget at ~1 s per bulk call, never a flood."""
    if rate_limit_per_minute <= 0:
        return UNLIMITED_CONCURRENCY
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


def _lookup_key(op: Operation) -> dict[str, Any] | None:
    """The identifier lookup that finds the record ``op`` writes: its ExternalId (and division)."""
    identifiers = op.body.get("matchingIdentifiers") or ()
    first = identifiers[0] if identifiers else None
    if not isinstance(first, dict) or first.get("type") != "ExternalId":
        return None
    identifier = {k: first[k] for k in ("type", "value", "externalSource") if k in first}
    if op.body.get("division"):
        identifier["division"] = op.body["division"]
    return identifier


async def _settle_unanswered(
    client: BulkSender, endpoint: Kind, ops: list[Operation], code: str, error: ApiError
) -> list[Outcome]:
    """Records of a request whose retries ran out without an answer: it may have been applied (a
    connection dropped after the write), so each record is looked up by its ExternalId. Found: it is
    stored, ``updated`` with its id (whether this request created it cannot be told). Not found:
    ``failed``. The lookup failing too: ``unknown``. Only found records count as answered."""

    async def settle(op: Operation) -> Outcome:
        identifier = _lookup_key(op)
        try:
            found = await client.lookup_identifier(endpoint, identifier) if identifier else None
        except ApiError as lookup_error:
            message = (
                f"{error}; looking the record up by its External ID failed too ({lookup_error}), so it "
                "may have been written: --resume or --only-failed will settle it"
            )
            return replace(_errored(op, Status.UNKNOWN, code, message), answered=False)
        if identifier is not None and found and found.get("id"):
            return Outcome(
                op.kind,
                op.key,
                Status.UPDATED,
                op.source_rows,
                genesys_id=str(found["id"]),
                organization_key=op.organization_key,
            )
        why = "a lookup by its External ID found no record" if identifier else "it has no External ID"
        return replace(_failure(op, code, f"{error}; {why}: it was not written"), answered=False)

    return list(await asyncio.gather(*(settle(op) for op in ops)))


def skipped(op: Operation, code: str, message: str) -> Outcome:
    """An operation not attempted because something it depends on failed."""
    return _errored(op, Status.SKIPPED, code, message)


async def _send_batch(
    client: BulkSender,
    endpoint: Kind,
    batch: list[Operation],
    *,
    dry_run: bool,
    stats: PushStats,
    attempts: list[int],
) -> list[Outcome]:
    """The batch's outcomes; ``attempts`` gets one item per bulk request it took."""
    pending = {op.key: op for op in batch}
    outcomes: list[Outcome] = []
    for attempt in range(ENTITY_RETRY_ROUNDS + 1):
        ops = list(pending.values())
        attempts.append(attempt)
        try:
            response = await client.bulk_enrich(endpoint, [op.body for op in ops], dry_run=dry_run)
        except ApiError as err:
            code = err.code or (f"http.{err.status}" if err.status else "request.failed")
            if dry_run or isinstance(err, TerminalApiError):
                # Refused as a whole (or a dry run): nothing was written.
                return outcomes + [replace(_failure(op, code, str(err)), answered=False) for op in ops]
            return outcomes + await _settle_unanswered(client, endpoint, ops, code, err)
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
    endpoint: Kind,
    concurrency: int,
    dry_run: bool = False,
    on_batch: BatchCallback | None = None,
    stats: PushStats | None = None,
    clock: Clock = time.time,
) -> list[Outcome]:
    """Push every operation in bulk batches; one outcome per operation, in no particular order.

    ``on_batch`` gets each batch's outcomes and its timing (read from ``clock``)."""
    stats = stats if stats is not None else PushStats()
    results: list[Outcome] = []

    failed_in_a_row = 0

    async def worker(batches: Iterator[list[Operation]]) -> None:
        nonlocal failed_in_a_row
        # Workers share one iterator: each takes the next batch when it is free, so a slow batch
        # never holds the others back and a million operations never become 100k pending tasks.
        for batch in batches:
            started, attempts = clock(), list[int]()
            outcomes = await _send_batch(
                client, endpoint, batch, dry_run=dry_run, stats=stats, attempts=attempts
            )
            results.extend(outcomes)
            if on_batch is not None:
                maybe = on_batch(outcomes, batch_timing(started, clock(), len(attempts)))
                if maybe is not None:
                    await maybe
            # A request counts as failed when none of its records got an answer, a lookup finding them
            # after a lost response included: those writes landed, so the API is not down.
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
