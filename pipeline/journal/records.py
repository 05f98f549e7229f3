"""What the journal remembers of records, as plain values the pure planning code can take."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.outcomes import Status


@dataclass(frozen=True)
class Known:
    """What the journal remembers of a record's last push for one external source."""

    fingerprint: str | None  # None: the last push did not succeed, so nothing can be skipped
    genesys_id: str | None


@dataclass(frozen=True)
class Recorded:
    """An outcome already recorded for a record in the run being resumed."""

    status: Status
    genesys_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class BatchTiming:
    """How one bulk batch went: when it was sent and answered, and how many requests it took."""

    started_at: str
    ended_at: str
    duration_s: float
    attempts: int


@dataclass(frozen=True)
class BatchRecord:
    """One row of ``batches``."""

    batch: int
    session: int
    kind: str
    records: int
    attempts: int
    started_at: str
    ended_at: str
    duration_s: float
