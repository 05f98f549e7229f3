"""Push: bulk batches, pairing by id, retryable entities, whole-request failures (fake sender).

The same paths run over real HTTP against the sandbox in tests/test_import_sandbox.py.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

import pytest

from pipeline.errors import ApiUnavailableError, TerminalApiError, TransientApiError
from pipeline.importing import push as push_module
from pipeline.importing.plan import Operation
from pipeline.importing.push import push
from pipeline.outcomes import Status


@dataclass
class _Error:
    code: str
    message: str
    status: int | None = 400
    retryable: bool = False


@dataclass
class _Result:
    id: str
    success: bool
    status: int | None = None
    entity: dict[str, Any] | None = None
    error: _Error | None = None


@dataclass
class _Response:
    results: list[_Result]


@dataclass
class FakeSender:
    """Answers bulk calls in shuffled order; scripted failures per key."""

    fail: set[str] = field(default_factory=set)
    flaky: dict[str, int] = field(default_factory=dict)  # key -> retryable failures before success
    drop: set[str] = field(default_factory=set)
    raise_for: set[str] = field(default_factory=set)
    # Keys whose write is applied although the request fails as a whole (a connection dropped after it).
    applied_anyway: set[str] = field(default_factory=set)
    lookup_error: Exception | None = None
    lookups: list[str] = field(default_factory=list)
    calls: list[list[str]] = field(default_factory=list)
    max_in_flight: int = 0
    _in_flight: int = 0

    async def bulk_enrich(self, kind: str, entities: list[dict[str, Any]], *, dry_run: bool = False) -> Any:
        ids = [e["id"] for e in entities]
        self.calls.append(ids)
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        await asyncio.sleep(0.001)
        self._in_flight -= 1
        if self.raise_for & set(ids):
            raise TransientApiError("service unavailable after 5 attempts", status=503)
        if self.applied_anyway & set(ids):
            raise TransientApiError("POST /bulk: ReadError (connection dropped)")
        results = []
        for key in ids:
            if key in self.drop:
                continue
            if key in self.fail:
                results.append(_Result(key, False, 400, error=_Error("field.invalid", "bad name")))
            elif self.flaky.get(key, 0) > 0:
                self.flaky[key] -= 1
                results.append(_Result(key, False, 503, error=_Error("busy", "try later", 503, True)))
            else:
                results.append(_Result(key, True, 201, entity={"id": f"g-{key}"}))
        random.Random(len(self.calls)).shuffle(results)
        return _Response(results)

    async def lookup_identifier(self, kind: str, identifier: dict[str, Any]) -> dict[str, Any] | None:
        self.lookups.append(identifier["value"])
        if self.lookup_error is not None:
            raise self.lookup_error
        return {"id": f"g-{identifier['value']}"} if identifier["value"] in self.applied_anyway else None


def _body(key: str) -> dict[str, Any]:
    return {"id": key, "matchingIdentifiers": [{"type": "ExternalId", "value": key}]}


def _ops(n: int) -> list[Operation]:
    return [Operation("contact", f"C-{i}", _body(f"C-{i}"), (i + 2,)) for i in range(n)]


@pytest.fixture(autouse=True)
def _no_retry_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(push_module, "ENTITY_RETRY_DELAY_S", 0.0)


def _run(sender: FakeSender, ops: list[Operation], concurrency: int = 3) -> dict[str, Any]:
    outcomes = asyncio.run(push(sender, ops, endpoint="contacts", concurrency=concurrency))
    return {o.key: o for o in outcomes}


def test_shuffled_results_are_paired_by_id() -> None:
    """Each outcome carries the Genesys id of its own entity although results come back shuffled."""
    outcomes = _run(FakeSender(), _ops(25))
    assert len(outcomes) == 25
    assert all(o.genesys_id == f"g-{key}" and o.status is Status.CREATED for key, o in outcomes.items())


def test_batches_hold_at_most_ten_entities_and_respect_concurrency() -> None:
    """No request carries more than 10 entities and no more than `concurrency` are in flight."""
    sender = FakeSender()
    _run(sender, _ops(95), concurrency=2)
    assert max(len(c) for c in sender.calls) == 10
    assert sum(len(c) for c in sender.calls) == 95
    assert sender.max_in_flight <= 2


def test_entity_errors_fail_only_their_entity() -> None:
    """A per-entity error fails that record alone; its batch-mates succeed."""
    outcomes = _run(FakeSender(fail={"C-3"}), _ops(10))
    assert outcomes["C-3"].status is Status.FAILED
    assert outcomes["C-3"].error_code == "field.invalid"
    assert sum(o.status is Status.CREATED for o in outcomes.values()) == 9


def test_retryable_entities_are_resent_alone_until_they_succeed() -> None:
    """Only the entities marked retryable are sent again, and they succeed on a later round."""
    sender = FakeSender(flaky={"C-1": 2})
    outcomes = _run(sender, _ops(10))
    assert outcomes["C-1"].status is Status.CREATED
    assert sender.calls[1:] == [["C-1"], ["C-1"]]


def test_retryable_entities_fail_after_the_bounded_rounds() -> None:
    """An entity that stays retryable is failed after the bounded number of rounds."""
    sender = FakeSender(flaky={"C-1": 100})
    outcomes = _run(sender, _ops(2))
    assert outcomes["C-1"].status is Status.FAILED
    assert len(sender.calls) == 1 + push_module.ENTITY_RETRY_ROUNDS


def test_entities_missing_from_the_response_are_failed_not_lost() -> None:
    """An entity the response does not mention gets a failed outcome of its own."""
    outcomes = _run(FakeSender(drop={"C-4"}), _ops(6))
    assert outcomes["C-4"].status is Status.FAILED
    assert outcomes["C-4"].error_code == "result.missing"


def test_a_request_that_fails_as_a_whole_fails_its_batch_only() -> None:
    """When the client gives up on a request, its entities fail with the error; other batches go on."""
    outcomes = _run(FakeSender(raise_for={"C-12"}), _ops(20))
    failed = {k for k, o in outcomes.items() if o.status is Status.FAILED}
    assert failed == {f"C-{i}" for i in range(10, 20)}
    assert outcomes["C-12"].error_code == "http.503"


def test_a_request_failure_leaves_its_records_unanswered_for_a_resume() -> None:
    """Records of a request that failed as a whole are marked unanswered; answered ones are not."""
    outcomes = _run(FakeSender(raise_for={"C-3"}, fail={"C-12"}), _ops(15))
    assert not outcomes["C-3"].answered
    assert outcomes["C-12"].answered
    assert outcomes["C-12"].status is Status.FAILED


def test_the_run_stops_when_the_api_keeps_failing_whole_requests() -> None:
    """After many whole-request failures in a row the push stops with an error instead of going on."""
    keys = {f"C-{i}" for i in range(400)}
    sender = FakeSender(raise_for=keys)
    with pytest.raises(ApiUnavailableError, match="in a row"):
        _run(sender, _ops(400), concurrency=2)
    assert len(sender.calls) < 40


def test_success_without_an_id_is_a_failure_not_a_silent_success() -> None:
    """A result that claims success but carries no record id is reported failed."""

    class NoId(FakeSender):
        async def bulk_enrich(
            self, kind: str, entities: list[dict[str, Any]], *, dry_run: bool = False
        ) -> Any:
            response = await super().bulk_enrich(kind, entities, dry_run=dry_run)
            for result in response.results:
                result.entity = {}
            return response

    outcomes = _run(NoId(), _ops(3))
    assert {o.error_code for o in outcomes.values()} == {"result.no_id"}


def test_records_of_an_unanswered_request_found_by_lookup_are_updated_with_their_id() -> None:
    """A request that lost its answer but was applied reports its records stored, with their Genesys ids."""
    sender = FakeSender(applied_anyway={"C-3"})
    outcomes = _run(sender, _ops(10))
    assert {o.status for o in outcomes.values()} == {Status.UPDATED, Status.FAILED}
    assert outcomes["C-3"].status is Status.UPDATED
    assert outcomes["C-3"].genesys_id == "g-C-3"
    assert outcomes["C-3"].answered, "a found record is journaled: a resume reuses its id"
    assert outcomes["C-4"].status is Status.FAILED
    assert "found no record" in (outcomes["C-4"].error_message or "")
    assert not outcomes["C-4"].answered, "a record proved unwritten is sent again by a resume"
    assert sorted(sender.lookups) == sorted(f"C-{i}" for i in range(10))


def test_records_whose_lookup_fails_too_are_unknown_and_unanswered() -> None:
    """When the lookup errors too, the record is `unknown`, says it may be written, and is not journaled."""
    sender = FakeSender(raise_for={"C-1"}, lookup_error=TransientApiError("lookup -> 503", status=503))
    outcomes = _run(sender, _ops(3))
    assert {o.status for o in outcomes.values()} == {Status.UNKNOWN}
    message = outcomes["C-1"].error_message or ""
    assert "may have been written" in message
    assert "--only-failed" in message
    assert not any(o.answered for o in outcomes.values())


def test_a_request_refused_as_a_whole_is_failed_without_a_lookup() -> None:
    """A 4xx for the whole request wrote nothing: its records fail and nothing is looked up."""

    class Refusing(FakeSender):
        async def bulk_enrich(
            self, kind: str, entities: list[dict[str, Any]], *, dry_run: bool = False
        ) -> Any:
            raise TerminalApiError("POST /bulk -> 400: bad.request", status=400, code="bad.request")

    sender = Refusing()
    outcomes = _run(sender, _ops(3))
    assert {o.status for o in outcomes.values()} == {Status.FAILED}
    assert sender.lookups == []


def test_writes_found_after_lost_answers_do_not_stop_the_run() -> None:
    """Requests whose answers are lost but whose writes a lookup finds do not count towards the stop rule."""
    ops = _ops(400)
    sender = FakeSender(applied_anyway={op.key for op in ops})
    outcomes = _run(sender, ops, concurrency=2)
    assert len(outcomes) == 400
    assert {o.status for o in outcomes.values()} == {Status.UPDATED}
