"""The end of an export: the partial file becomes the final file, and the manifest describes it.

CSV: the partial file is renamed over ``<out>`` (one atomic step). Parquet: the partial file (unescaped
CSV) is converted by a streaming ``scan_csv(...).sink_parquet(...)`` into a temporary file next to
``<out>``, renamed over it when complete. Xlsx: the partial file is read row by row with the csv module
and written by :func:`pipeline.workbook.write_workbook` (constant memory), likewise through a temporary
file. A failed conversion leaves the previous ``<out>`` and the partial file as they were, so ``--resume``
can finish the job. Then the manifest is written, atomically too.
"""

from __future__ import annotations

import csv
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

import pipeline
from pipeline.exporting.state import Counts
from pipeline.fields import GENESYS_CONTACT_ID, GENESYS_ORGANIZATION_ID, FieldSpec
from pipeline.files import atomic_path, sha256_file, utc_now_iso
from pipeline.report.legend import export_legend
from pipeline.workbook import Sheets, write_workbook


def publish(partial: Path, out: Path, file_format: str, headers: list[str], sheets: Sheets) -> None:
    """Turn the complete partial file into ``out`` (see the module docstring); ``sheets`` is for xlsx."""
    if file_format == "parquet":
        with atomic_path(out) as temp:
            pl.scan_csv(partial, schema=dict.fromkeys(headers, pl.String)).sink_parquet(temp)
        partial.unlink()
    elif file_format == "xlsx":
        # newline="" and the csv module: quoted cells keep their line breaks, as polars wrote them.
        with partial.open(encoding="utf-8", newline="") as handle:
            rows = csv.reader(handle)
            next(rows, None)  # the header: the workbook writes its own from ``headers``
            write_workbook(out, headers, rows, sheets)
        partial.unlink()
    else:
        os.replace(partial, out)


def workbook_sheets(counts: Counts, headers: list[str], fields: list[FieldSpec]) -> Sheets:
    """The Summary (the manifest's counts) and Legend (every column's field) of an xlsx export."""
    summary = {name.replace("_", " "): value for name, value in asdict(counts).items()}
    return Sheets(data_sheet="Export", summary=summary, legend=export_legend(headers, fields))


def manifest(
    out: Path,
    counts: Counts,
    *,
    file_format: str,
    kind: str,
    headers: list[str],
    started_at: str,
    resumed: bool,
    source: dict[str, Any],
) -> dict[str, Any]:
    """What ``<out>.manifest.json`` holds (docs/export.md shows one)."""
    return {
        "file": out.name,
        "format": file_format,
        "encoding": "utf-8",
        "kind": kind,
        "rows": counts.rows,
        "records": {"contacts": counts.contacts, "organizations": counts.organizations},
        "counts": {
            "contacts_without_external_id": counts.contacts_without_external_id,
            "organizations_without_external_id": counts.organizations_without_external_id,
            "contacts_with_unknown_organization": counts.contacts_with_unknown_organization,
        },
        "scan_requests": {
            "contacts": counts.contact_scan_requests,
            "organizations": counts.organization_scan_requests,
        },
        "columns": headers,
        "sha256": sha256_file(out),
        "bytes": out.stat().st_size,
        "started_at": started_at,
        "exported_at": utc_now_iso(),
        "resumed": resumed,
        "source": source,
        "tool": f"contacts-pipeline {pipeline.__version__}",
    }


def organizations_in(partial: Path) -> set[str]:
    """The organizations already joined to a contact row in a partial file (read back on resume)."""
    frame = (
        pl.scan_csv(partial, infer_schema=False)
        .filter(pl.col(GENESYS_CONTACT_ID).is_not_null() & pl.col(GENESYS_ORGANIZATION_ID).is_not_null())
        .select(pl.col(GENESYS_ORGANIZATION_ID).unique())
        .collect()
    )
    return set(frame.get_column(GENESYS_ORGANIZATION_ID).to_list())
