"""What an import reports about itself: SUMMARY.json and the result the CLI renders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl


@dataclass(frozen=True)
class ImportSummary:
    """What SUMMARY.json holds and the CLI prints."""

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
    match_lookups: int = 0  # identifier lookups made to confirm contacts found by email/phone

    def to_json(self) -> dict[str, Any]:
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
        }


@dataclass(frozen=True)
class ImportResult:
    report: pl.DataFrame
    summary: ImportSummary
    warnings: list[str]

    @property
    def all_succeeded(self) -> bool:
        return self.summary.rows_not_succeeded == 0


def summary_path(report_path: Path) -> Path:
    return report_path.with_name("SUMMARY.json")
