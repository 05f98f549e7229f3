"""Excel workbooks (.xlsx) as input: read into the same raw frame as a CSV, and imported alike.

Workbooks are built in each test: openpyxl for hidden rows, merged cells, number formats and formulas
without a cached value; xlsxwriter for formulas with a cached value (openpyxl cannot store one).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest
import xlsxwriter
from click.testing import CliRunner
from sandbox_support import sandbox_settings

from pipeline.cli import cli
from pipeline.errors import ConfigError, UnreadableFileError
from pipeline.importing.job import ImportOptions, import_file
from pipeline.journal.run import resume_options
from pipeline.prepare.read import read_table
from pipeline.prepare.workbook import padded_display
from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox

OPTIONS = ImportOptions(create_source=True, contact_schema="Demo contact fields")


def rows_of(path: Path, **kwargs: Any) -> list[dict[str, Any]]:
    return read_table(path, **kwargs).frame.to_dicts()


def sheet_with(path: Path, rows: list[list[Any]], title: str = "Contacts") -> openpyxl.Workbook:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(row)
    book.save(path)
    return book


def test_numeric_ids_read_as_their_integer_digits_and_text_keeps_leading_zeros(tmp_path: Path) -> None:
    """Whole-number cells read as integer digits, never 1.23457E+11 or 123456789012.0; text stays as is."""
    path = tmp_path / "ids.xlsx"
    sheet_with(
        path,
        [
            ["Contact ID", "Account ID", "Contact Work Phone", "Contact Postal Code", "Score"],
            [123456789012, 4200, 14155550100, "00123", 2.5],
            [999999999999999, 7, 4915112345678, "01234", -3],
        ],
    )
    assert rows_of(path) == [
        {
            "source_row": 2,
            "Contact ID": "123456789012",
            "Account ID": "4200",
            "Contact Work Phone": "14155550100",
            "Contact Postal Code": "00123",
            "Score": "2.5",
        },
        {
            "source_row": 3,
            "Contact ID": "999999999999999",
            "Account ID": "7",
            "Contact Work Phone": "4915112345678",
            "Contact Postal Code": "01234",
            "Score": "-3",
        },
    ]


def test_a_zero_padding_number_format_is_shown_as_excel_shows_it(tmp_path: Path) -> None:
    """A postcode stored as the number 501 with the format 00000 reads 00501, as Excel displays it."""
    path = tmp_path / "zip.xlsx"
    book = sheet_with(path, [["Contact ID", "Contact Postal Code", "Zip4"], [1, 501, 123456789]])
    sheet = book.active
    assert sheet is not None
    sheet["B2"].number_format = "00000"
    sheet["C2"].number_format = "00000-0000"
    book.save(path)
    assert rows_of(path) == [
        {"source_row": 2, "Contact ID": "1", "Contact Postal Code": "00501", "Zip4": "12345-6789"}
    ]


@pytest.mark.parametrize(
    ("value", "code", "shown"),
    [("7", "000", "007"), ("123456", "000", "123456"), ("1234", "000\\-0", "123-4"), ("1.5", "000", "1.5")],
)
def test_padded_display_follows_excel(value: str, code: str, shown: str) -> None:
    """Zeros pad from the right, extra digits go to the first placeholder, non-integers stay as read."""
    assert padded_display(value, code) == shown


def test_dates_read_as_iso(tmp_path: Path) -> None:
    """A date cell reads 2024-01-31, a date and time 2024-01-31T13:45:00, a time alone 13:45:00."""
    path = tmp_path / "dates.xlsx"
    sheet_with(
        path,
        [
            ["Contact ID", "custom:customer_since_date", "When", "At"],
            [1, dt.date(2024, 1, 31), dt.datetime(2024, 1, 31, 13, 45), dt.time(13, 45)],
        ],
    )
    (row,) = rows_of(path)
    assert (row["custom:customer_since_date"], row["When"], row["At"]) == (
        "2024-01-31",
        "2024-01-31T13:45:00",
        "13:45:00",
    )


def test_row_numbers_are_the_sheets_and_empty_rows_are_skipped(tmp_path: Path) -> None:
    """A header in row 3 from column B numbers its data rows 4, 6 (row 5 is empty), as the sheet shows."""
    path = tmp_path / "offset.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet["A1"].number_format = "0.00"  # a styled but empty cell is no value: the header is still row 3
    sheet["B3"], sheet["C3"] = "Contact ID", "Contact First Name"
    sheet["B4"], sheet["C4"] = "C1", "Ann"
    sheet["B6"], sheet["C6"] = "C2", "Bob"
    book.save(path)
    assert rows_of(path) == [
        {"source_row": 4, "Contact ID": "C1", "Contact First Name": "Ann"},
        {"source_row": 6, "Contact ID": "C2", "Contact First Name": "Bob"},
    ]


def test_hidden_rows_are_read_and_counted_in_a_warning(tmp_path: Path) -> None:
    """Hidden rows are data like any other; the warning says how many and which."""
    path = tmp_path / "hidden.xlsx"
    book = sheet_with(path, [["Contact ID"], ["C1"], ["C2"], ["C3"]])
    sheet = book.active
    assert sheet is not None
    sheet.row_dimensions[3].hidden = True
    sheet.row_dimensions[4].hidden = True
    book.save(path)
    table = read_table(path)
    assert table.frame["Contact ID"].to_list() == ["C1", "C2", "C3"]
    assert "2 hidden rows read like the others (rows 3, 4)" in table.warnings


def test_merged_cells_hold_their_value_in_the_top_left_cell_only(tmp_path: Path) -> None:
    """The cells a merge covers read empty, and a warning names the range."""
    path = tmp_path / "merged.xlsx"
    book = sheet_with(path, [["Contact ID", "Account Name"], ["C1", "Acme"], ["C2", None]])
    sheet = book.active
    assert sheet is not None
    sheet.merge_cells("B2:B3")
    book.save(path)
    table = read_table(path)
    assert table.frame["Account Name"].to_list() == ["Acme", None]
    assert any(
        w.startswith("1 merged range (B2:B3): the value is in the top-left cell") for w in table.warnings
    )


def test_formulas_read_their_cached_value_with_one_warning(tmp_path: Path) -> None:
    """A formula reads the value the spreadsheet stored for it; one warning counts them."""
    path = tmp_path / "formulas.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("Contacts")
    sheet.write_row(0, 0, ["Contact ID", "Contact Full Name", "Account Employee Count"])
    sheet.write_row(1, 0, ["C1"])
    sheet.write_formula(1, 1, '="Ann"&" "&"Lee"', None, "Ann Lee")
    sheet.write_formula(1, 2, "=6*7", None, 42)
    book.close()
    table = read_table(path)
    assert table.frame.row(0) == (2, "C1", "Ann Lee", "42")
    assert [w for w in table.warnings if "formula" in w] == [
        "2 formula cells: read at the value the spreadsheet last calculated "
        "(recalculate and save the workbook in Excel if in doubt)"
    ]


def test_a_formula_without_a_cached_value_reads_empty_and_the_warning_says_so(tmp_path: Path) -> None:
    """openpyxl stores formulas without a value: the cell is empty and the warning counts it."""
    path = tmp_path / "uncalculated.xlsx"
    sheet_with(path, [["Contact ID", "Account Employee Count"], ["C1", "=6*7"]])
    table = read_table(path)
    assert table.frame.row(0) == (2, "C1", None)
    assert any("1 formula without a calculated value read as empty" in w for w in table.warnings)


def test_the_first_sheet_is_read_by_default_and_others_are_named(tmp_path: Path) -> None:
    """Only the chosen sheet is read; the warning names the sheets left out."""
    path = tmp_path / "sheets.xlsx"
    book = sheet_with(path, [["Contact ID"], ["C1"]], title="Contacts")
    other = book.create_sheet("Prospects")
    other.append(["Contact ID"])
    other.append(["P1"])
    other.append(["P2"])
    book.create_sheet("Notes").append(["just notes"])
    book.save(path)
    first = read_table(path)
    assert (first.sheet, first.frame["Contact ID"].to_list()) == ("Contacts", ["C1"])
    assert (
        "the workbook has other sheets ('Prospects', 'Notes'); only 'Contacts' was read" in first.warnings[0]
    )
    assert read_table(path, sheet="Prospects").frame["Contact ID"].to_list() == ["P1", "P2"]
    assert read_table(path, sheet="2").frame["Contact ID"].to_list() == ["P1", "P2"]
    with pytest.raises(ConfigError, match=r"no such sheet; its sheets are 'Contacts', 'Prospects', 'Notes'"):
        read_table(path, sheet="Leads")


def test_a_workbook_is_recognised_by_content_whatever_its_name(tmp_path: Path) -> None:
    """An .xlsx saved under a .csv name is read as the workbook it is."""
    path = tmp_path / "export.csv"
    sheet_with(tmp_path / "book.xlsx", [["Contact ID"], [17]])
    path.write_bytes((tmp_path / "book.xlsx").read_bytes())
    assert rows_of(path) == [{"source_row": 2, "Contact ID": "17"}]


def test_a_text_file_named_xlsx_and_options_for_the_other_format_are_refused(tmp_path: Path) -> None:
    """A CSV named .xlsx, --sheet on a CSV and --encoding on a workbook each get a one-line reason."""
    fake = tmp_path / "fake.xlsx"
    fake.write_text("Contact ID\nC1\n", encoding="utf-8")
    with pytest.raises(UnreadableFileError, match=r"is named \.xlsx but is not an Excel workbook"):
        read_table(fake)
    real = tmp_path / "in.csv"
    real.write_text("Contact ID\nC1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="--sheet applies to Excel workbooks"):
        read_table(real, sheet="Contacts")
    book = tmp_path / "book.xlsx"
    sheet_with(book, [["Contact ID"], ["C1"]])
    with pytest.raises(ConfigError, match="--encoding does not apply"):
        read_table(book, encoding="cp1252")


def test_header_problems_name_the_sheet_columns(tmp_path: Path) -> None:
    """Duplicate headers and data under no header are named by their column letters."""
    duplicated = tmp_path / "dup.xlsx"
    sheet_with(duplicated, [["Contact ID", "Email", "email"], ["C1", "a@x.io", "b@x.io"]])
    with pytest.raises(UnreadableFileError, match="appears in columns B and C"):
        read_table(duplicated)
    headless = tmp_path / "headless.xlsx"
    sheet_with(headless, [["Contact ID", None], ["C1", "stray"]])
    with pytest.raises(UnreadableFileError, match="column B holds data but has no header"):
        read_table(headless)
    empty = tmp_path / "empty.xlsx"
    sheet_with(empty, [])
    with pytest.raises(UnreadableFileError, match="the sheet 'Contacts' is empty"):
        read_table(empty)


# --- A workbook and its CSV twin: same outcomes, same stored records ---------------------------------

HEADER = [
    "Contact ID",
    "Contact First Name",
    "Contact Last Name",
    "Contact Work Email",
    "Contact Work Phone",
    "Contact Postal Code",
    "Account ID",
    "Account Name",
    "Account Employee Count",
    "custom:customer_since_date",
]


def twin_rows() -> list[list[Any]]:
    """Typed cells as a spreadsheet holds them: numeric ids and phones, text postcodes, dates."""
    rows: list[list[Any]] = []
    for i in range(12):
        email = "broken.at.example.com" if i == 5 else f"user{i}@example.com"
        rows.append(
            [
                123456789000 + i,
                f"First{i}",
                f"Last{i}",
                email,
                14155550100 + i,
                f"{i:05d}",
                900000 + i // 3,
                f"Org {i // 3}",
                (i // 3 + 1) * 10,
                dt.date(2020, 1, 1 + i),
            ]
        )
    return rows


def csv_text(value: Any) -> str:
    """The text a user exporting the same sheet to CSV gets."""
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def write_twins(tmp_path: Path) -> tuple[Path, Path]:
    """The same records as a workbook (with a hidden row, a formula and a second sheet) and as a CSV."""
    rows = twin_rows()
    book_path = tmp_path / "contacts.xlsx"
    book = xlsxwriter.Workbook(book_path)
    sheet = book.add_worksheet("Contacts")
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, HEADER)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if isinstance(value, dt.date):
                sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date)
            elif HEADER[c] == "Account Employee Count":
                sheet.write_formula(r, c, f"={value // 10}*10", None, value)
            else:
                sheet.write(r, c, value)
    sheet.set_row(4, None, None, {"hidden": True})
    book.add_worksheet("Notes").write(0, 0, "not data")
    book.close()
    csv_path = tmp_path / "contacts.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows([csv_text(v) for v in row] for row in rows)
    return book_path, csv_path


def test_validate_gives_a_workbook_and_its_csv_twin_the_same_report(tmp_path: Path) -> None:
    """validate reports the same outcome for every row of the workbook as for its CSV twin."""
    book, twin = write_twins(tmp_path)
    runner = CliRunner()
    from_book = runner.invoke(cli, ["validate", str(book), "--report", str(tmp_path / "book.csv")])
    from_csv = runner.invoke(cli, ["validate", str(twin), "--report", str(tmp_path / "twin.csv")])
    assert (from_book.exit_code, from_csv.exit_code) == (1, 1), from_book.output + from_csv.output
    assert "Read 12 rows from" in from_book.stdout
    assert "(sheet 'Contacts')" in from_book.stdout
    assert "1 hidden row read like the others (rows 5)" in from_book.stdout
    book_report = pl.read_csv(tmp_path / "book.csv", infer_schema=False)
    assert book_report.equals(pl.read_csv(tmp_path / "twin.csv", infer_schema=False))
    assert book_report["Contact ID"][0] == "123456789000"
    assert book_report.filter(pl.col("contact_status") == "invalid")["source_row"].to_list() == ["7"]


def test_an_unknown_sheet_exits_2_listing_the_sheets(tmp_path: Path) -> None:
    """--sheet naming no sheet is a usage error with the sheet names, before anything is checked."""
    book, _ = write_twins(tmp_path)
    result = CliRunner().invoke(cli, ["validate", str(book), "--sheet", "Leads"])
    assert result.exit_code == 2
    assert "its sheets are 'Contacts', 'Notes'" in result.output
    assert "Traceback" not in result.output


@pytest.fixture
def sandboxes() -> Iterator[tuple[Sandbox, Sandbox]]:
    with (
        run_sandbox(SandboxConfig(rate_limit=0)) as first,
        run_sandbox(SandboxConfig(rate_limit=0)) as second,
    ):
        yield first, second


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_VOLATILE = {"createDate", "modifyDate", "dateCreated", "version"}


def stored(sb: Sandbox) -> dict[str, Any]:
    """What the sandbox stored, keyed by external id, with its own ids and timestamps named alike."""
    names: dict[str, str] = {}
    records: dict[str, Any] = {}
    for kind in ("organizations", "contacts"):
        for record in sb.store.all(kind):
            name = f"{kind}:{record['externalIds'][0]['value']}"
            names[record["id"]] = name
            records[name] = record
    text = json.dumps(records, sort_keys=True)
    for record_id, name in names.items():
        text = text.replace(record_id, name)
    return _strip(json.loads(_UUID.sub("<id>", text)))


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


_OUTCOMES = ["source_row", "organization_status", "contact_status", "error_stage", "error_code"]


def test_import_stores_the_same_records_from_a_workbook_as_from_its_csv_twin(
    sandboxes: tuple[Sandbox, Sandbox], tmp_path: Path
) -> None:
    """A workbook and its CSV twin end in identical outcomes and identical records in the sandbox."""
    book, twin = write_twins(tmp_path)
    book_sb, twin_sb = sandboxes
    from_book = import_file(book, sandbox_settings(book_sb), OPTIONS, report_path=tmp_path / "book.csv")
    from_csv = import_file(twin, sandbox_settings(twin_sb), OPTIONS, report_path=tmp_path / "twin.csv")
    assert from_book.report.select(_OUTCOMES).equals(from_csv.report.select(_OUTCOMES))
    assert from_book.report["contact_status"].to_list().count("created") == 11
    assert book_sb.store.count("contacts") == 11
    assert stored(book_sb) == stored(twin_sb)
    assert "contacts:123456789000" in stored(book_sb)
    assert stored(book_sb)["contacts:123456789000"]["address"]["postalCode"] == "00000"


def test_only_failed_reads_an_xlsx_reconciliation_file(
    sandboxes: tuple[Sandbox, Sandbox], tmp_path: Path
) -> None:
    """A reconciliation file saved as .xlsx, its failed row fixed, re-runs just that row."""
    book, _ = write_twins(tmp_path)
    sb, _ = sandboxes
    first = import_file(book, sandbox_settings(sb), OPTIONS, report_path=tmp_path / "r1.csv")
    assert first.report["contact_status"].to_list().count("invalid") == 1
    report = pl.read_csv(tmp_path / "r1.csv", infer_schema=False)
    saved = openpyxl.Workbook()
    sheet = saved.active
    assert sheet is not None
    sheet.append(report.columns)
    for row in report.iter_rows():
        sheet.append([v.replace("broken.at.example.com", "fixed@example.com") if v else v for v in row])
    saved.save(tmp_path / "r1.xlsx")
    second = import_file(tmp_path / "r1.xlsx", sandbox_settings(sb), OPTIONS, only_failed=True)
    assert set(second.report["contact_status"]) == {"created"}
    assert second.summary.contacts == {"created": 1}
    assert sb.store.count("contacts") == 12


def test_a_resume_refuses_another_sheet() -> None:
    """A run started on one sheet cannot go on with another: its records would not add up."""
    with pytest.raises(ConfigError, match="--sheet"):
        resume_options(7, {"prepare": {"sheet": None}}, {"prepare": {"sheet": "Prospects"}}, {"sheet"})


def _prefixed(xml: str) -> str:
    xml = xml.replace('xmlns="', 'xmlns:x="', 1)
    return re.sub(r"<(/?)(?!\?)([a-zA-Z])", r"<\1x:\2", xml)


def _unreferenced(xml: str) -> str:
    return re.sub(r'<(c|row) r="[A-Z]*\d+"', r"<\1", xml)


@pytest.mark.parametrize("rewrite", [_prefixed, _unreferenced], ids=["x-prefixed", "no-r-attributes"])
def test_sheets_written_by_other_tools_read_alike(tmp_path: Path, rewrite: Any) -> None:
    """A namespace prefix (x:row) or cells without their r reference, both valid OOXML, read the same."""
    plain = tmp_path / "plain.xlsx"
    book = sheet_with(plain, [["Contact ID", "Count"], [123456789012, "=1+1"], ["C2", 7]])
    sheet = book.active
    assert sheet is not None
    sheet.row_dimensions[3].hidden = True
    book.save(plain)
    other = tmp_path / "other.xlsx"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(other, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = rewrite(data.decode()).encode()
            target.writestr(item, data)
    expected = read_table(plain)
    table = read_table(other)
    assert table.frame.equals(expected.frame)
    assert table.frame.rows() == [(2, "123456789012", None), (3, "C2", "7")]
    assert table.warnings == expected.warnings
    assert len(table.warnings) == 2
