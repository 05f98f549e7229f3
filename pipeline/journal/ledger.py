"""What the push sees of one session of one run: what to reuse, what is known, where to record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from pipeline.journal.records import BatchTiming, Known, Recorded
from pipeline.outcomes import Outcome

if TYPE_CHECKING:
    from pipeline.journal.images import BeforeImage
    from pipeline.journal.store import Journal


class RunLedger:
    """One session of one run, as the push sees it: what to reuse, what is known, where to record.

    The push records answered batches from its batch callback, in the event loop thread (batches that
    finish together in one commit, :meth:`record_answered`), and the commit happens before a batch
    counts as done.
    """

    def __init__(
        self,
        journal: Journal,
        run_id: int,
        session: int,
        *,
        dry_run: bool,
        resuming: bool,
        target: str | None = None,
    ) -> None:
        self.journal = journal
        self.run_id = run_id
        self.session = session
        self.dry_run = dry_run
        self.resuming = resuming
        # Where records go (API base URL, sandbox state file); None: a target with no memory between
        # runs (an in-memory sandbox), so nothing is skipped as unchanged and nothing remembered.
        self.target = target
        # Batch numbers go on across sessions, so a resumed run's batches never collide with earlier ones.
        self.batch = journal.last_batch(run_id)

    def scope(self, source_id: str) -> str | None:
        return f"{self.target} {source_id}" if self.target is not None else None

    def recorded(self, kind: str) -> dict[str, Recorded]:
        return self.journal.recorded(self.run_id, kind) if self.resuming else {}

    def known(self, scope: str | None, kind: str) -> dict[str, Known]:
        return self.journal.known(scope, kind) if scope is not None else {}

    def record(
        self,
        outcomes: list[Outcome],
        fingerprints: Mapping[tuple[str, str], str],
        scope: str | None,
        *,
        answered: bool = True,
        timing: BatchTiming | None = None,
    ) -> None:
        """Record outcomes; ``answered`` ones came back from a bulk request and get a batch number (and
        their batch's ``timing``, when given)."""
        if not outcomes:
            return
        batch = 0
        if answered:
            self.batch += 1
            batch = self.batch
        self.journal.record(
            self.run_id,
            outcomes,
            batch=batch,
            session=self.session,
            fingerprints=fingerprints,
            scope=None if self.dry_run else scope,
            timing=timing if answered else None,
        )

    def record_answered(
        self,
        batches: list[tuple[list[Outcome], BatchTiming | None]],
        fingerprints: Mapping[tuple[str, str], str],
        scope: str | None,
    ) -> None:
        """Record several answered batches (outcomes, timing) in one commit, each with its own number."""
        numbered = []
        for outcomes, timing in batches:
            if outcomes:
                self.batch += 1
                numbered.append((outcomes, self.batch, timing))
        if numbered:
            self.journal.record_batches(
                self.run_id,
                numbered,
                session=self.session,
                fingerprints=fingerprints,
                scope=None if self.dry_run else scope,
            )

    def saved_before(self, kind: str) -> set[str]:
        """Keys of the records of ``kind`` this run already saved a before-image of (a resume's earlier
        sessions included)."""
        from pipeline.journal.images import saved_keys

        return saved_keys(self.journal, self.run_id, kind)

    def save_before(self, images: list[BeforeImage]) -> None:
        """Commit before-images, ahead of the write they precede."""
        from pipeline.journal.images import save_before_images

        save_before_images(self.journal, self.run_id, images)
