"""The export's I/O: streaming page by page, the manifest, and resuming an interrupted export.

A fake client stands in for Genesys here (cursors are offsets into in-memory lists), so interruptions and
refused cursors can be staged exactly; the real client and sandbox are covered in test_export_sandbox.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest

from pipeline.csvsafe import CsvAppender
from pipeline.errors import ConfigError, TerminalApiError, TransientApiError
from pipeline.exporting.job import ExportOptions, ExportResult, export_records
from pipeline.exporting.state import ExportState, partial_path, state_path
from pipeline.genesys.models import ScanPage

SOURCE = "src-1"
PAGE = 10


def _org(i: int) -> dict[str, Any]:
    return {
        "id": f"g-o{i}",
        "name": f"Org {i}",
        "externalIds": [{"externalSource": {"id": SOURCE}, "value": f"ACC-{i}"}],
    }


def _contact(i: int, org: int | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": f"g-c{i}",
        "firstName": f"Name {i}",
        "externalIds": [{"externalSource": {"id": SOURCE}, "value": f"C-{i}"}],
    }
    if org is not None:
        record["externalOrganization"] = {"id": f"g-o{org}"}
    return record


# 12 organizations; 45 contacts linked to organizations 0..8 or to none; organizations 9..11 have no contacts.
ORGS = [_org(i) for i in range(12)]
CONTACTS = [_contact(i, i % 10 if i % 10 < 9 else None) for i in range(45)]


class FakeClient:
    """Serves scans from lists; ``before_scan`` runs before each page and may raise to stage a failure."""

    def __init__(self, before_scan: Callable[[str, str | None], None] | None = None) -> None:
        self.data = {"contacts": CONTACTS, "organizations": ORGS}
        self.calls: list[tuple[str, str | None]] = []
        self.before_scan = before_scan

    async def find_external_source(self, name: str) -> dict[str, Any] | None:
        return {"id": SOURCE, "name": name} if name == "crm" else None

    async def list_schemas(self, kind: str) -> list[dict[str, Any]]:
        return []

    async def division_ids(self) -> list[str]:
        return ["home"]  # one division: the plain scans reach everything

    async def scan(
        self, kind: str, *, limit: int = 200, division_id: str | None = None, cursor: str | None = None
    ) -> ScanPage:
        if self.before_scan is not None:
            self.before_scan(kind, cursor)
        self.calls.append((kind, cursor))
        start = int(cursor or 0)
        records = self.data[kind]
        end = start + limit
        return ScanPage(records[start:end], str(end) if end < len(records) else None)


def _run(client: FakeClient, out: Path, **options: Any) -> ExportResult:
    opts = ExportOptions(external_source="crm", page_size=PAGE, **options)
    return asyncio.run(export_records(client, out, opts, api_host="api.example.test"))


def _fail_once_at(kind: str, cursor: str) -> Callable[[str, str | None], None]:
    failed: list[bool] = []

    def before(k: str, c: str | None) -> None:
        if (k, c) == (kind, cursor) and not failed:
            failed.append(True)
            raise TransientApiError("GET scan -> 503: retries ran out", status=503)

    return before


def test_each_page_is_on_disk_before_the_next_is_requested(tmp_path: Path) -> None:
    """Rows are appended as their page arrives: when page k+1 is asked for, the file holds pages 1..k."""
    out = tmp_path / "export.csv"
    seen: list[int] = []

    def before(kind: str, cursor: str | None) -> None:
        if kind == "contacts":
            lines = partial_path(out).read_text(encoding="utf-8").count("\n")
            seen.append(lines - 1)  # minus the header
            assert lines - 1 == int(cursor or 0)

    _run(FakeClient(before), out)
    assert seen == [0, 10, 20, 30, 40]


def test_export_has_one_row_per_contact_then_organizations_without_contacts(tmp_path: Path) -> None:
    """45 contact rows in scan order, then the 3 organizations no contact links to."""
    result = _run(FakeClient(), tmp_path / "export.csv")
    frame = pl.read_csv(result.path, infer_schema=False)
    assert frame.height == 48
    assert frame["Contact ID"].to_list()[:45] == [f"C-{i}" for i in range(45)]
    assert frame["Account ID"].to_list()[45:] == ["ACC-9", "ACC-10", "ACC-11"]
    assert frame["Contact ID"].to_list()[45:] == [None] * 3
    assert result.manifest["records"] == {"contacts": 45, "organizations": 12}


def test_manifest_describes_the_file(tmp_path: Path) -> None:
    """The manifest holds counts, columns, the file's SHA-256, the time and where the records came from."""
    result = _run(FakeClient(), tmp_path / "export.csv")
    manifest = json.loads((tmp_path / "export.csv.manifest.json").read_text(encoding="utf-8"))
    assert manifest == result.manifest
    assert manifest["sha256"] == hashlib.sha256(result.path.read_bytes()).hexdigest()
    assert manifest["rows"] == 48
    assert manifest["columns"] == pl.read_csv(result.path, n_rows=0).columns
    assert manifest["source"]["api_host"] == "api.example.test"
    assert manifest["source"]["external_source"] == {"name": "crm", "id": SOURCE}
    assert manifest["scan_requests"] == {"contacts": 5, "organizations": 2}
    assert manifest["exported_at"]
    assert not state_path(result.path).exists()
    assert not partial_path(result.path).exists()


def test_unknown_external_source_is_a_config_error(tmp_path: Path) -> None:
    """Naming a source that does not exist stops before anything is written."""
    opts = ExportOptions(external_source="nope")
    with pytest.raises(ConfigError, match="'nope' does not exist"):
        asyncio.run(export_records(FakeClient(), tmp_path / "x.csv", opts, api_host="h"))
    assert not any(tmp_path.iterdir())


def test_interrupted_export_resumes_from_the_last_written_page(tmp_path: Path) -> None:
    """After a failure on the 4th contacts page, --resume asks for that page next and the file is whole."""
    fresh = _run(FakeClient(), tmp_path / "fresh.csv").path.read_bytes()
    out = tmp_path / "export.csv"
    with pytest.raises(TransientApiError):
        _run(FakeClient(_fail_once_at("contacts", "30")), out)
    assert ExportState.load(state_path(out)) is not None
    assert not out.exists()

    client = FakeClient()
    result = _run(client, out, resume=True)
    assert result.resumed
    assert [c for k, c in client.calls if k == "contacts"] == ["30", "40"]
    assert out.read_bytes() == fresh
    assert result.manifest["rows"] == 48
    assert result.manifest["records"]["contacts"] == 45


def test_resume_drops_a_page_written_but_not_recorded(tmp_path: Path) -> None:
    """Bytes after the recorded offset (a page cut off by a crash) are cut before appending again."""
    fresh = _run(FakeClient(), tmp_path / "fresh.csv").path.read_bytes()
    out = tmp_path / "export.csv"
    with pytest.raises(TransientApiError):
        _run(FakeClient(_fail_once_at("contacts", "20")), out)
    with partial_path(out).open("ab") as fh:
        fh.write(b"C-20,half a row")
    _run(FakeClient(), out, resume=True)
    assert out.read_bytes() == fresh


def test_refused_cursor_restarts_the_export_cleanly(tmp_path: Path) -> None:
    """When the saved cursor is refused (expired), the export starts over and still comes out whole."""
    fresh = _run(FakeClient(), tmp_path / "fresh.csv").path.read_bytes()
    out = tmp_path / "export.csv"
    with pytest.raises(TransientApiError):
        _run(FakeClient(_fail_once_at("contacts", "30")), out)

    refused: list[str] = []

    def refuse(kind: str, cursor: str | None) -> None:
        if cursor == "30" and not refused:
            refused.append(cursor)
            raise TerminalApiError("GET scan -> 400: Cursor expired", status=400, code="bad.request")

    client = FakeClient(refuse)
    result = _run(client, out, resume=True)
    assert out.read_bytes() == fresh
    assert any("cursor was refused" in w for w in result.warnings)
    assert [c for k, c in client.calls if k == "contacts"] == [None, "10", "20", "30", "40"]
    assert result.manifest["rows"] == 48
    assert result.manifest["records"]["contacts"] == 45


def test_resume_with_other_options_starts_afresh(tmp_path: Path) -> None:
    """A resume whose options differ from the interrupted export's does not mix two layouts in one file."""
    out = tmp_path / "export.csv"
    with pytest.raises(TransientApiError):
        _run(FakeClient(_fail_once_at("contacts", "30")), out)
    client = FakeClient()
    result = _run(client, out, resume=True, columns="spec", kind="contacts")
    assert not result.resumed
    assert any("started afresh" in w for w in result.warnings)
    assert pl.read_csv(out, infer_schema=False).height == 45


def test_organizations_kind_streams_organizations_only(tmp_path: Path) -> None:
    """``--kind organizations`` writes one row per organization and never scans contacts."""
    client = FakeClient()
    result = _run(client, tmp_path / "orgs.csv", kind="organizations")
    frame = pl.read_csv(result.path, infer_schema=False)
    assert frame["Account ID"].to_list() == [f"ACC-{i}" for i in range(12)]
    assert {k for k, _ in client.calls} == {"organizations"}


def test_xlsx_holds_the_csv_rows_as_text_cells_with_summary_and_legend(tmp_path: Path) -> None:
    """The workbook has the CSV's rows, every cell text, a formula-looking value as text, plus two sheets."""
    CONTACTS[0]["firstName"] = "=cmd"
    try:
        csv = pl.read_csv(_run(FakeClient(), tmp_path / "e.csv").path, infer_schema=False)
        result = _run(FakeClient(), tmp_path / "e.xlsx", format="xlsx")
    finally:
        CONTACTS[0]["firstName"] = "Name 0"
    book = openpyxl.load_workbook(result.path)
    assert book.sheetnames == ["Export", "Summary", "Legend"]
    sheet = book["Export"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == csv.columns
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row if c.value is not None]
    assert {c.data_type for c in cells} == {"s"}, "every cell is text, none a number or a formula"
    unescaped = csv.with_columns(pl.col("Contact First Name").str.strip_chars_start("'"))
    assert [list(r) for r in rows[1:]] == [list(r) for r in unescaped.rows()]
    summary = dict(book["Summary"].iter_rows(min_row=2, values_only=True))
    assert summary["rows"] == csv.height
    legend = [row[1] for row in book["Legend"].iter_rows(min_row=2, values_only=True)]
    assert legend == csv.columns
    assert result.manifest["format"] == "xlsx"


def test_parquet_holds_the_same_rows_unescaped(tmp_path: Path) -> None:
    """The parquet file has the CSV's columns and rows, all as text, with no formula quotes."""
    CONTACTS[0]["firstName"] = "=cmd"
    try:
        csv = pl.read_csv(_run(FakeClient(), tmp_path / "e.csv").path, infer_schema=False)
        parquet = pl.read_parquet(_run(FakeClient(), tmp_path / "e.parquet", format="parquet").path)
    finally:
        CONTACTS[0]["firstName"] = "Name 0"
    assert csv.item(0, "Contact First Name") == "'=cmd"
    assert parquet.item(0, "Contact First Name") == "=cmd"
    assert parquet.drop("Contact First Name").equals(csv.drop("Contact First Name"))
    assert set(parquet.schema.values()) == {pl.String}


def test_appender_escapes_formulas_and_keeps_e164_phones(tmp_path: Path) -> None:
    """The appending writer escapes formula-looking cells but leaves ``+<digits>`` phones alone."""
    path = tmp_path / "a.csv"
    with CsvAppender(path, ["a", "b"]) as writer:
        writer.write(pl.DataFrame({"a": ["=1+1", "+14155550123"], "b": ["@x", "-"]}))
    assert path.read_text(encoding="utf-8") == "a,b\n'=1+1,'@x\n+14155550123,'-\n"


def test_failed_parquet_conversion_keeps_the_previous_export_and_can_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A conversion that fails midway leaves the previous file intact, no temporary file, and the partial
    file and state in place, so --resume finishes the export."""
    out = tmp_path / "out.parquet"
    _run(FakeClient(), out, format="parquet")
    before = out.read_bytes()
    original = pl.LazyFrame.sink_parquet

    def broken(self: pl.LazyFrame, path: Path, **_: Any) -> None:
        Path(path).write_bytes(b"PAR1 half a row group")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pl.LazyFrame, "sink_parquet", broken)
    with pytest.raises(OSError, match="No space left"):
        _run(FakeClient(), out, format="parquet")
    assert out.read_bytes() == before
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert partial_path(out).exists()
    assert state_path(out).exists()
    monkeypatch.setattr(pl.LazyFrame, "sink_parquet", original)
    result = _run(FakeClient(), out, format="parquet", resume=True)
    assert result.resumed
    assert pl.read_parquet(out).height == result.manifest["rows"]
    assert not partial_path(out).exists()
