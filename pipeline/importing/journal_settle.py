"""The journal side of settling a push: which operations of a chunk are sent (via the pure rules of
:mod:`pipeline.importing.settle`), and recording their outcomes in the journal when there is one."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline.importing.plan import Kind, Operation
from pipeline.importing.settle import reuse_recorded, skip_unchanged
from pipeline.journal.ledger import RunLedger
from pipeline.journal.records import BatchTiming, Known, Recorded
from pipeline.outcomes import Outcome, Status

# Outcomes that only say what something else decided (a contact skipped because its organization failed):
# a resume re-decides them, since what they depended on may come out differently this time.
REDECIDED_ON_RESUME = frozenset({Status.SKIPPED})


def final_on_resume(recorded: Mapping[str, Recorded]) -> dict[str, Recorded]:
    """The recorded outcomes a resumed run reuses as they are; the others are decided again."""
    return {key: r for key, r in recorded.items() if r.status not in REDECIDED_ON_RESUME}


@dataclass
class Settle:
    """Decides which operations are sent, and records outcomes in the journal (when there is one).

    What the journal knows is loaded once per kind; fingerprints are kept only for the chunk in flight.
    """

    ledger: RunLedger | None
    scope: str | None  # where the pushed records are remembered; None: nowhere
    full: bool
    fingerprints: dict[tuple[str, str], str] = field(default_factory=dict)
    _recorded: dict[str, dict[str, Recorded]] = field(default_factory=dict)
    _known: dict[str, dict[str, Known]] = field(default_factory=dict)
    _ids: dict[str, dict[str, str | None]] = field(default_factory=dict)

    def split(self, operations: list[Operation], kind: Kind) -> tuple[list[Operation], list[Outcome]]:
        """Operations to send, and outcomes settled without sending (answered before a resume, or
        unchanged since the last successful push)."""
        if self.ledger is None:
            return operations, []
        self.fingerprints = {(op.kind, op.key): op.fingerprint for op in operations}
        if kind not in self._recorded:
            self._recorded[kind] = final_on_resume(self.ledger.recorded(kind))
            self._known[kind] = {} if self.full else self.ledger.known(self.scope, kind)
        todo, reused = reuse_recorded(operations, self._recorded[kind])
        if self.full:
            return todo, reused
        by_key = {key: fp for (k, key), fp in self.fingerprints.items() if k == kind}
        todo, unchanged = skip_unchanged(todo, self._known[kind], by_key)
        self.record(unchanged, answered=False)
        return todo, reused + unchanged

    def known_ids(self, kind: Kind) -> dict[str, str | None]:
        """Genesys ids the journal remembers for this target and source (empty without a journal)."""
        if self.ledger is None or self.scope is None:
            return {}
        if kind not in self._ids:
            self._ids[kind] = {k: v.genesys_id for k, v in self.ledger.known(self.scope, kind).items()}
        return self._ids[kind]

    def record(
        self, outcomes: list[Outcome], *, answered: bool = True, timing: BatchTiming | None = None
    ) -> None:
        if self.ledger is not None:
            self.ledger.record(outcomes, self.fingerprints, self.scope, answered=answered, timing=timing)

    def record_answered(
        self,
        batches: list[tuple[list[Outcome], BatchTiming | None]],
        fingerprints: Mapping[tuple[str, str], str] | None = None,
    ) -> None:
        """Answered batches (outcomes, timing), in one commit; ``fingerprints`` default to the chunk's."""
        if self.ledger is not None:
            chunk = self.fingerprints if fingerprints is None else fingerprints
            self.ledger.record_answered(batches, chunk, self.scope)


# One answered batch waiting for its commit: its outcomes, its timing, and what its sender awaits.
_Waiting = tuple[list[Outcome], BatchTiming | None, "asyncio.Future[None]"]


@dataclass
class GroupCommit:
    """Commits answered batches to the journal, those that finish together in one transaction, in a
    worker thread.

    A commit waits for the disk (a few milliseconds). In the event loop's thread that wait stopped every
    request: it was a fifth of a fast push's wall time. So one commit at a time runs in a worker thread
    (SQLite leaves the GIL while it syncs) and the batches answered meanwhile share the next one. A batch
    still counts as done only once it is committed (:meth:`record` returns then). The journal is not
    used by anything else while batches are in flight: pushing a chunk awaits its batches' commits, and
    ``asyncio.run`` waits for the worker thread before the run's end is journaled.
    """

    settle: Settle
    _waiting: list[_Waiting] = field(default_factory=list)
    _committing: asyncio.Task[None] | None = None

    async def record(self, outcomes: list[Outcome], timing: BatchTiming | None) -> None:
        """Return once ``outcomes`` (one answered batch) are committed; raise what the commit raised."""
        if self.settle.ledger is None or not outcomes:
            return
        loop = asyncio.get_running_loop()
        committed = loop.create_future()
        self._waiting.append((outcomes, timing, committed))
        if self._committing is None:
            self._committing = loop.create_task(self._commit_all())
        await committed

    async def _commit_all(self) -> None:
        try:
            # After the callbacks already due in this turn, so the batches they finish join this commit.
            await asyncio.sleep(0)
            while self._waiting:
                group, self._waiting = self._waiting, []
                await self._commit(group)
        finally:
            self._committing = None

    async def _commit(self, group: list[_Waiting]) -> None:
        batches = [(outcomes, timing) for outcomes, timing, _ in group]
        # Read here, in the loop's thread: the next chunk's settling replaces it.
        fingerprints = self.settle.fingerprints
        try:
            await asyncio.to_thread(self.settle.record_answered, batches, fingerprints)
        except Exception as err:  # every batch of the group fails with the journal's own error
            for *_, committed in group:
                if not committed.done():
                    committed.set_exception(err)
            return
        for *_, committed in group:
            if not committed.done():  # a task cancelled while it waited: its batch is committed anyway
                committed.set_result(None)
