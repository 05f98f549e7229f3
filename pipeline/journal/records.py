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
