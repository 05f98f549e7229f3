"""What an import is asked to do (:class:`ImportOptions`, checked before any file is read), the live
:class:`Progress` the CLI renders while it runs, and the :class:`PushReport` it ends with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from pipeline.destination import DEFAULT_EXTERNAL_SOURCE
from pipeline.errors import ConfigError
from pipeline.importing.deletions import DEFAULT_MAX_DELETE, DeleteGuard
from pipeline.importing.matching import MATCH_POLICIES, MatchPolicy
from pipeline.importing.plan import BLANKS_MODES, Blanks
from pipeline.outcomes import Outcome, Status


@dataclass(frozen=True)
class ImportOptions:
    external_source: str = DEFAULT_EXTERNAL_SOURCE
    create_source: bool = False
    division_id: str | None = None
    contact_schema: str | None = None
    organization_schema: str | None = None
    match: tuple[str, ...] = ()
    concurrency: int | None = None
    dry_run: bool = False
    # Send every record, even those identical to their last successful push (change-only is the default).
    full: bool = False
    # An empty cell in a column the file has: leave the stored field alone (keep) or clear it (clear).
    blanks: Blanks = "keep"
    # Read the live records first and send only those whose stored values differ from what would be sent.
    compare_live: bool = False
    # After the push, delete the source's records whose key the file no longer has (delete_missing.py).
    delete_missing: bool = False
    # The most records --delete-missing may delete: a count ("25") or a share of the source's ("5%").
    max_delete: str = DEFAULT_MAX_DELETE
    # How a contact found only by email/phone is confirmed as the same person (docs/matching.md).
    match_policy: MatchPolicy = "strict"
    # Journal each record's stored state before writing it, so `runs revert` can restore it.
    save_before: bool = False

    def __post_init__(self) -> None:
        # A bad option is reported before any file is read.
        if self.match_policy not in MATCH_POLICIES:
            policies = ", ".join(MATCH_POLICIES)
            raise ConfigError(f"--match-policy must be one of {policies}, not {self.match_policy!r}")
        if self.blanks not in BLANKS_MODES:
            modes = " or ".join(repr(m) for m in BLANKS_MODES)
            raise ConfigError(f"--blanks must be {modes}, not {self.blanks!r}")
        DeleteGuard.parse(self.max_delete)


# Statuses that count as errors in the live progress.
_PROGRESS_ERRORS = (str(Status.FAILED), str(Status.UNKNOWN), str(Status.SKIPPED), str(Status.AMBIGUOUS_MATCH))


@dataclass
class Progress:
    """Live tallies the CLI renders while the run goes; updated after every batch.

    ``counts`` holds records per kind and status, as the summary's ``record_counts`` counts them. They
    are tallied here in plain Python: a polars Series per batch of ten cost ~10 % of a fast push's CPU.
    """

    organizations_total: int = 0
    contacts_total: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    listeners: list[Callable[[Progress], None]] = field(default_factory=list)
    # Warnings found before the push (reading, validating): announced then, so they show before it starts.
    warnings: list[str] = field(default_factory=list)
    warning_listeners: list[Callable[[str], None]] = field(default_factory=list)

    def warn(self, *messages: str) -> None:
        for message in messages:
            self.warnings.append(message)
            for listener in self.warning_listeners:
                listener(message)

    @property
    def organizations_done(self) -> int:
        return sum(self.counts.get("organization", {}).values())

    @property
    def contacts_done(self) -> int:
        return sum(self.counts.get("contact", {}).values())

    @property
    def errors(self) -> int:
        return sum(n for tally in self.counts.values() for s, n in tally.items() if s in _PROGRESS_ERRORS)

    def record(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            tally = self.counts.setdefault(outcome.kind, {})
            status = str(outcome.status)
            tally[status] = tally.get(status, 0) + 1
        for listener in self.listeners:
            listener(self)


@dataclass(frozen=True)
class PushReport:
    outcomes: pl.DataFrame
    organizations: dict[str, int]
    contacts: dict[str, int]
    duration_s: float
    batches: int
    entity_retries: int
    warnings: list[str] = field(default_factory=list)
    match_lookups: int = 0
