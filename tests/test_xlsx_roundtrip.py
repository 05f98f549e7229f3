"""Export to .xlsx -> edit with openpyxl (not the writer's library) -> import: nothing is lost.

Until import reads .xlsx itself, the edited workbook is turned into CSV here with openpyxl, cell by cell
as text, which is what a reader of the workbook gets.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from sandbox_support import sandbox_settings

from pipeline.exporting.job import ExportOptions, export
from pipeline.genesys.settings import ClientSettings
from pipeline.importing.job import ImportOptions, import_file
from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox

FIRST_IMPORT = ImportOptions(create_source=True)
SOURCE = (
    "Contact ID,Contact First Name,Contact Last Name,Contact Work Phone,Contact Postal Code,"
    "Account ID,Account Name,Account Postal Code\n"
    "00123,Ann,Lee,+441632960001,01234,000042,Acme,02116\n"
    "12345678901234567890,Bo,Ray,+14155550123,0800,98765432109876543210,Zeta,00501\n"
    "C-3,=1+1,Ho,,,000042,Acme,02116\n"
)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with run_sandbox(SandboxConfig(rate_limit=0)) as sandbox:
        yield sandbox


def _settings(sb: Sandbox) -> ClientSettings:
    return sandbox_settings(sb, backoff_max_s=0.05)


def _to_csv(book_path: Path, csv_path: Path) -> None:
    """The first sheet as CSV, every cell as the text it holds (what an .xlsx reader hands import)."""
    book = openpyxl.load_workbook(book_path, read_only=True)
    try:
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            for row in book.worksheets[0].iter_rows(values_only=True):
                assert all(v is None or isinstance(v, str) for v in row), row
                writer.writerow(["" if v is None else v for v in row])
    finally:
        book.close()  # read-only workbooks keep their file open until closed


def _exported(sb: Sandbox, tmp_path: Path) -> tuple[Path, list[dict[str, str | None]]]:
    source = tmp_path / "in.csv"
    source.write_text(SOURCE, encoding="utf-8")
    assert import_file(source, _settings(sb), FIRST_IMPORT).all_succeeded
    out = export(tmp_path / "export.xlsx", _settings(sb), ExportOptions(columns="spec", format="xlsx")).path
    sheet = openpyxl.load_workbook(out)["Export"]
    rows = list(sheet.iter_rows(values_only=True))
    return out, [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_ids_phones_and_postcodes_come_out_of_the_workbook_exactly(sb: Sandbox, tmp_path: Path) -> None:
    """Leading zeros, 20-digit ids, E.164 phones, postcodes and a formula-looking name are text as stored."""
    _, rows = _exported(sb, tmp_path)
    by_id = {row["Contact ID"]: row for row in rows}
    assert by_id["00123"]["Account ID"] == "000042"
    assert by_id["00123"]["Contact Postal Code"] == "01234"
    assert by_id["00123"]["Account Postal Code"] == "02116"
    assert by_id["00123"]["Contact Work Phone"] == "+441632960001"
    assert by_id["12345678901234567890"]["Account ID"] == "98765432109876543210"
    assert by_id["12345678901234567890"]["Contact Postal Code"] == "0800"
    assert by_id["C-3"]["Contact First Name"] == "=1+1"


def test_an_unedited_workbook_reimports_with_nothing_created(sb: Sandbox, tmp_path: Path) -> None:
    """Every record of the re-imported export is updated in place: the store holds as many as before."""
    out, _ = _exported(sb, tmp_path)
    counts = (sb.store.count("contacts"), sb.store.count("organizations"))
    assert counts == (3, 2)
    again_csv = tmp_path / "again.csv"
    _to_csv(out, again_csv)
    again = import_file(again_csv, _settings(sb), ImportOptions(full=True))
    assert set(again.report["contact_status"]) == {"updated"}
    assert set(again.report["organization_status"]) == {"updated"}
    assert (sb.store.count("contacts"), sb.store.count("organizations")) == counts
    ids = {c["externalIds"][0]["value"]: c for c in sb.store.all("contacts")}
    assert set(ids) == {"00123", "12345678901234567890", "C-3"}
    assert ids["C-3"]["firstName"] == "=1+1"


def test_an_edit_made_with_openpyxl_reaches_the_sandbox_and_nothing_else_changes(
    sb: Sandbox, tmp_path: Path
) -> None:
    """A last name changed in the workbook is the one change stored; ids keep their leading zeros."""
    out, _ = _exported(sb, tmp_path)
    book = openpyxl.load_workbook(out)
    sheet = book["Export"]
    headers = [c.value for c in sheet[1]]
    id_col, name_col = headers.index("Contact ID") + 1, headers.index("Contact Last Name") + 1
    row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, id_col).value == "00123")
    sheet.cell(row, name_col).value = "Leigh"
    book.save(out)
    edited = tmp_path / "edited.csv"
    _to_csv(out, edited)
    before = {c["externalIds"][0]["value"]: c for c in sb.store.all("contacts")}

    again = import_file(edited, _settings(sb), ImportOptions(full=True))
    assert again.all_succeeded
    after = {c["externalIds"][0]["value"]: c for c in sb.store.all("contacts")}
    assert after["00123"]["lastName"] == "Leigh"
    assert after["00123"]["id"] == before["00123"]["id"]
    assert after["00123"]["address"]["postalCode"] == "01234"
    assert after["12345678901234567890"]["lastName"] == before["12345678901234567890"]["lastName"]
    assert sb.store.count("contacts") == 3
