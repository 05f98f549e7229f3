"""What an import reports about itself: ``<report>.summary.json`` and the result the CLI renders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl


@dataclass(frozen=True)
class ImportSummary:
    """What the summary file holds and the CLI prints."""

    input_path: str
    report_path: str | None
    dry_run: bool
    rows: int
    rows_succeeded: int
    rows_not_succeeded: int
    organization_rows: dict[str, int]
    contact_rows: dict[str, int]
    organizations: dict[str, int]
    contacts: dict[str, int]
    duration_s: float
    requests_sent: int
    throttled: int
    retries: int
    entity_retries: int
    run_id: int | None = None  # the journal's run, when there is a journal
    # --delete-missing: {"contacts"|"organizations": {deleted|failed|skipped|would_delete: n}}; None without
    deletions: dict[str, dict[str, int]] | None = None
    deleted_path: str | None = None
    match_lookups: int = 0  # identifier lookups made to confirm contacts found by email/phone

    def to_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {}
        if self.deletions is not None:
            shown["deletions"] = {"file": self.deleted_path, **self.deletions}
        return {
            "run": self.run_id,
            "input": self.input_path,
            "report": self.report_path,
            "dry_run": self.dry_run,
            "rows": {
                "total": self.rows,
                "succeeded": self.rows_succeeded,
                "not_succeeded": self.rows_not_succeeded,
                "organization_status": self.organization_rows,
                "contact_status": self.contact_rows,
            },
            "records": {"organizations": self.organizations, "contacts": self.contacts},
            "duration_s": round(self.duration_s, 3),
            "requests_sent": self.requests_sent,
            "throttled_429": self.throttled,
            "request_retries": self.retries,
            "entity_retries": self.entity_retries,
            "match_lookups": self.match_lookups,
            **shown,
        }


class ImportResult:
    """An import's summary and warnings, and its report: a frame, or for a file imported chunk by chunk
    what builds it (on first use, in memory: the reconciliation file itself was written by streaming)
    together with the narrow outcome columns of every row."""

    def __init__(
        self,
        report: pl.DataFrame | Callable[[], pl.DataFrame],
        summary: ImportSummary,
        warnings: list[str],
        outcomes: pl.DataFrame | None = None,
    ) -> None:
        self._report = report
        self._outcomes = outcomes
        self.summary = summary
        self.warnings = warnings

    @cached_property
    def report(self) -> pl.DataFrame:
        return self._report if isinstance(self._report, pl.DataFrame) else self._report()

    @property
    def outcomes(self) -> pl.DataFrame:
        """Every row's outcome columns (``source_row``, statuses, ids, error): the report's own columns
        when it is in memory, else the narrow frame it is built from, without building it."""
        return self._outcomes if self._outcomes is not None else self.report

    @property
    def all_succeeded(self) -> bool:
        """Every row succeeded, and no deletion failed (one skipped on purpose is no failure)."""
        deletions = self.summary.deletions or {}
        failed = sum(tally.get("failed", 0) for tally in deletions.values())
        return self.summary.rows_not_succeeded == 0 and failed == 0


def summary_path(report_path: Path) -> Path:
    """``<report stem>.summary.json`` next to the report: two runs reported in one folder keep both."""
    return report_path.with_name(f"{report_path.stem}.summary.json")


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, object]:
    """Nested summary JSON as ``a.b -> value`` pairs, for the Summary sheet of a workbook."""
    flat: dict[str, object] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
