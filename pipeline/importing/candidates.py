"""Matching contacts by email/phone safely: look the candidates up, decide per contact, before sending.

A contact whose ExternalId is already claimed (the journal knows it, or a lookup finds it) is matched by
it as always. Otherwise every email/phone of the ``--match`` kinds is looked up; a candidate that the
policy confirms (:mod:`pipeline.importing.matching`) first gets this source's ExternalId claimed on it, so
the operation, still keyed on the ExternalId alone, updates it (and a replay finds it again). A candidate
not confirmed leaves the contact ``ambiguous_match``: nothing is written for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pipeline.errors import ApiError
from pipeline.genesys.models import Kind, external_id_identifier
from pipeline.importing.matching import MatchPolicy, Person, Verdict, compare, confirms, lookup_identifiers
from pipeline.importing.plan import Operation
from pipeline.outcomes import Outcome, Status

AMBIGUOUS_CODE = "match.ambiguous"


class Lookups(Protocol):
    async def lookup_identifier(self, kind: Any, identifier: Any) -> dict[str, Any] | None: ...

    async def claim_identifier(
        self, kind: Kind, id: str, identifier: Mapping[str, Any], *, release: bool = False
    ) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Candidate:
    record: dict[str, Any]
    found_by: dict[str, Any]  # the identifier whose lookup found it
    verdict: Verdict
    other_key: str | None  # an ExternalId of this source it already holds: another row's person

    @property
    def id(self) -> str:
        return str(self.record["id"])

    def describe(self) -> str:
        held = f"; holds Contact ID {self.other_key!r} of this source" if self.other_key else ""
        return f"Genesys contact {self.id} ({self.verdict.describe()}{held})"


def ambiguous_message(candidates: Sequence[Candidate], confirmed: int) -> str:
    found = "; ".join(c.describe() for c in candidates)
    why = "several are the same person by" if confirmed > 1 else "not enough agrees under"
    return (
        f"matched by email/phone to {found}: {why} the match policy, so nothing was written. If it is the "
        "same person, adopt it (contacts-pipeline adopt with a Genesys Contact ID column)"
    )


@dataclass
class CandidateFinder:
    """Looks candidates up (bounded concurrency, counted) and settles each contact operation."""

    client: Lookups
    source_id: str
    division_id: str | None
    match: tuple[str, ...]
    policy: MatchPolicy
    concurrency: int
    dry_run: bool = False
    known: Mapping[str, str | None] = field(default_factory=dict)
    lookups: int = 0

    def __post_init__(self) -> None:
        self._gate = asyncio.Semaphore(max(1, self.concurrency))

    async def resolve(self, operations: Sequence[Operation]) -> tuple[list[Operation], list[Outcome]]:
        """Operations to send (some retargeted at a confirmed candidate) and outcomes decided here."""
        settled = await asyncio.gather(*(self._settle(op) for op in operations))
        ready = [s for s in settled if isinstance(s, Operation)]
        return ready, [s for s in settled if isinstance(s, Outcome)]

    async def lookup(self, identifier: Mapping[str, Any]) -> dict[str, Any] | None:
        query = dict(identifier)
        if self.division_id:
            query["division"] = {"id": self.division_id}
        async with self._gate:
            self.lookups += 1
            found = await self.client.lookup_identifier("contacts", query)
        return found if found and found.get("id") else None

    def external_id(self, key: str) -> dict[str, Any]:
        return external_id_identifier(self.source_id, key)

    async def candidates(self, contact: Mapping[str, Any], key: str) -> list[Candidate]:
        """The distinct stored contacts holding one of the contact's emails/phones, compared with it."""
        row = Person.of(contact)
        found: dict[str, Candidate] = {}
        for ident in lookup_identifiers(contact, self.match):
            record = await self.lookup(ident)
            if record is None or str(record["id"]) in found:
                continue
            other = [
                str(e.get("value"))
                for e in record.get("externalIds") or ()
                if (e.get("externalSource") or {}).get("id") == self.source_id and e.get("value") != key
            ]
            verdict = compare(row, Person.of(record))
            found[str(record["id"])] = Candidate(record, ident, verdict, other[0] if other else None)
        return list(found.values())

    def confirmed(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        return [c for c in candidates if c.other_key is None and confirms(c.verdict, self.policy)]

    async def _settle(self, op: Operation) -> Operation | Outcome:
        try:
            if self.known.get(op.key) or await self.lookup(self.external_id(op.key)):
                return op
            candidates = await self.candidates(op.body["contact"], op.key)
            if not candidates:
                return op
            confirmed = self.confirmed(candidates)
            if len(confirmed) != 1:
                message = ambiguous_message(candidates, len(confirmed))
                return _outcome(op, Status.AMBIGUOUS_MATCH, AMBIGUOUS_CODE, message)
            return await self._target(op, confirmed[0])
        except ApiError as err:
            message = f"looking up who this contact is failed: {err}; nothing was written"
            return _outcome(op, Status.FAILED, err.code or "match.lookup_failed", message)

    async def _target(self, op: Operation, candidate: Candidate) -> Operation:
        """The operation that updates ``candidate``. Live: this source's ExternalId is claimed on it
        first, so the ExternalId-keyed operation finds it (and a replay too). A dry run writes nothing, so
        the operation also matches by the identifier that found it."""
        if self.dry_run:
            body = dict(op.body)
            body["matchingIdentifiers"] = [*body["matchingIdentifiers"], candidate.found_by]
            return op.with_body(body)
        await self.client.claim_identifier("contacts", candidate.id, self.external_id(op.key))
        return op


def _outcome(op: Operation, status: Status, code: str, message: str) -> Outcome:
    return Outcome(
        op.kind,
        op.key,
        status,
        op.source_rows,
        error_code=code,
        error_message=message,
        organization_key=op.organization_key,
        answered=False,
    )
