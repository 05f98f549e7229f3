"""What an export is asked to do, how far it has got, and what it returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipeline.destination import DEFAULT_EXTERNAL_SOURCE
from pipeline.exporting.layout import COLUMNS_ALL, ExportKind

Format = Literal["csv", "parquet", "xlsx"]
FORMATS: tuple[Format, ...] = ("csv", "parquet", "xlsx")
# The scan endpoints' maximum page size: the fewest requests per record.
DEFAULT_PAGE_SIZE = 200


@dataclass(frozen=True)
class ExportOptions:
    kind: ExportKind = "both"
    format: Format = "csv"
    division_id: str | None = None
    external_source: str = DEFAULT_EXTERNAL_SOURCE
    columns: str = COLUMNS_ALL
    resume: bool = False
    page_size: int = DEFAULT_PAGE_SIZE


@dataclass
class ExportProgress:
    """Counters the CLI renders while the export runs; listeners are called after every page."""

    phase: str = "starting"
    organizations_scanned: int = 0
    rows_written: int = 0
    listeners: list[Callable[[ExportProgress], None]] = field(default_factory=list)

    def notify(self) -> None:
        for listener in self.listeners:
            listener(self)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    manifest_path: Path
    manifest: dict[str, Any]
    warnings: list[str]
    resumed: bool
