"""Tests for pipeline.prepare.read: encodings, delimiters, row numbers and unreadable files."""

from __future__ import annotations

import csv
import gzip
import io
import os
import threading
import time
import unicodedata
import zipfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import ConfigError, UnreadableFileError
from pipeline.prepare.read import read_table

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def write(tmp_path: Path, content: bytes | str, name: str = "input.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def rows(path: Path) -> list[tuple[object, ...]]:
    return read_table(path).frame.rows()


def test_every_column_is_read_as_text_keeping_leading_zeros(tmp_path: Path) -> None:
    """Numbers, dates and zero-padded codes come back exactly as written, as strings."""
    table = read_table(write(tmp_path, "Contact ID,Zip,Count,Since\n00042,02134,1e3,2024-01-05\n"))
    assert table.frame.schema == pl.Schema(
        {
            "source_row": pl.Int64,
            "Contact ID": pl.String,
            "Zip": pl.String,
            "Count": pl.String,
            "Since": pl.String,
        }
    )
    assert table.frame.rows() == [(2, "00042", "02134", "1e3", "2024-01-05")]
    assert table.headers == ("Contact ID", "Zip", "Count", "Since")
    assert (table.encoding, table.delimiter, table.warnings) == ("utf-8", ",", ())


def test_utf8_byte_order_mark_is_not_part_of_the_first_header(tmp_path: Path) -> None:
    """A UTF-8 BOM is recognised and does not end up in the first column's name."""
    table = read_table(write(tmp_path, b"\xef\xbb\xbfContact ID,Name\nC1,Zo\xc3\xab\n"))
    assert table.headers == ("Contact ID", "Name")
    assert table.encoding == "utf-8-sig"
    assert table.frame.rows() == [(2, "C1", "Zoë")]


@pytest.mark.parametrize(("codec", "label"), [("utf-16-le", "utf-16-le"), ("utf-16-be", "utf-16-be")])
def test_utf16_with_byte_order_mark_is_read(tmp_path: Path, codec: str, label: str) -> None:
    """UTF-16 files (as Excel's 'Unicode text' writes them) are transcoded and read."""
    text = "\ufeffContact ID\tName\r\nC1\tJosé\r\nC2\t東京\r\n"
    table = read_table(write(tmp_path, text.encode(codec)))
    assert table.encoding == label
    assert table.delimiter == "\t"
    assert table.frame.rows() == [(2, "C1", "José"), (3, "C2", "東京")]


def test_windows_1252_is_the_fallback_with_a_warning(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are read as Windows-1252, and the reader says it guessed."""
    table = read_table(write(tmp_path, "Contact ID;Name\nC1;Müller — €\n".encode("cp1252")))
    assert table.encoding == "cp1252"
    assert table.frame.rows() == [(2, "C1", "Müller — €")]
    assert len(table.warnings) == 1
    assert "Windows-1252" in table.warnings[0]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiter_is_detected_from_the_header(tmp_path: Path, delimiter: str) -> None:
    """Comma, semicolon and tab files are all recognised without being told."""
    d = delimiter
    table = read_table(write(tmp_path, f"Contact ID{d}First Name{d}Last Name\nC1{d}Ann{d}Lee\n"))
    assert table.delimiter == delimiter
    assert table.frame.rows() == [(2, "C1", "Ann", "Lee")]


def test_delimiters_inside_quoted_headers_do_not_count(tmp_path: Path) -> None:
    """A semicolon inside a quoted header does not make the file semicolon-separated."""
    table = read_table(write(tmp_path, '"Notes; free text",Contact ID\n"a;b;c",C1\n'))
    assert table.delimiter == ","
    assert table.headers == ("Notes; free text", "Contact ID")


def test_crlf_line_ends_leave_no_carriage_returns(tmp_path: Path) -> None:
    """Windows line ends are line ends, not part of the last cell."""
    assert rows(write(tmp_path, b"Contact ID,Name\r\nC1,Ann\r\nC2,Bo\r\n")) == [
        (2, "C1", "Ann"),
        (3, "C2", "Bo"),
    ]


def test_crlf_inside_a_quoted_cell_is_kept(tmp_path: Path) -> None:
    """A cell written by Excel with an in-cell line break keeps it, and stays one row."""
    path = write(tmp_path, b'Contact ID,Notes\r\nC1,"first\r\nsecond"\r\nC2,x\r\n')
    assert rows(path) == [(2, "C1", "first\r\nsecond"), (3, "C2", "x")]


def test_quoted_cell_with_newlines_is_one_spreadsheet_row(tmp_path: Path) -> None:
    """A cell spanning several lines is one row, and the next row's number is the next spreadsheet row."""
    path = write(tmp_path, 'Contact ID,Notes\nC1,"line one\nline two\n\nline four"\nC2,plain\n')
    assert rows(path) == [(2, "C1", "line one\nline two\n\nline four"), (3, "C2", "plain")]


def test_blank_lines_yield_no_row_but_count_as_spreadsheet_rows(tmp_path: Path) -> None:
    """Blank lines are skipped, and the rows after them keep the numbers a spreadsheet shows."""
    path = write(tmp_path, "Contact ID,Name\r\nC1,Ann\r\n\r\n\nC2,Bo\n\n")
    assert rows(path) == [(2, "C1", "Ann"), (5, "C2", "Bo")]


def test_row_of_empty_cells_is_kept_as_a_data_row(tmp_path: Path) -> None:
    """A row with only delimiters is a row of empty cells (validation reports it), not a blank line."""
    assert rows(write(tmp_path, "Contact ID,Name\nC1,Ann\n,\nC2,Bo\n")) == [
        (2, "C1", "Ann"),
        (3, None, None),
        (4, "C2", "Bo"),
    ]


def test_blank_lines_before_the_header_shift_the_row_numbers(tmp_path: Path) -> None:
    """The header is on the spreadsheet row after any leading blank lines, and data rows follow it."""
    assert rows(write(tmp_path, "\n\nContact ID\nC1\n")) == [(4, "C1")]


def test_header_names_are_trimmed(tmp_path: Path) -> None:
    """Spaces around header names are dropped; the rest of the name is kept exactly."""
    table = read_table(write(tmp_path, "  Contact ID , Contact First Name\nC1, Ann \n"))
    assert table.headers == ("Contact ID", "Contact First Name")
    assert table.frame.rows() == [(2, "C1", " Ann ")]


def test_missing_trailing_cells_are_null(tmp_path: Path) -> None:
    """A row with fewer fields than the header gets null for the cells it lacks."""
    assert rows(write(tmp_path, "Contact ID,Name,City\nC1,Ann\nC2,Bo,Oslo\n")) == [
        (2, "C1", "Ann", None),
        (3, "C2", "Bo", "Oslo"),
    ]


def test_extra_fields_with_data_name_the_first_offending_row(tmp_path: Path) -> None:
    """A row with more non-empty fields than headers makes the file unreadable, naming that row."""
    path = write(tmp_path, "Contact ID,Name\nC1,Ann\n\nC2,Bo,surprise\nC3,Cy,again\n")
    with pytest.raises(UnreadableFileError, match=r"row 4 has 3 fields but the header has 2"):
        read_table(path)


def test_empty_extra_fields_are_ignored_with_a_warning(tmp_path: Path) -> None:
    """Trailing empty fields beyond the header (a stray comma) do not stop the read."""
    table = read_table(write(tmp_path, "Contact ID,Name\nC1,Ann,\nC2,Bo,,\n"))
    assert table.frame.rows() == [(2, "C1", "Ann"), (3, "C2", "Bo")]
    assert table.warnings == ("2 row(s) end with empty fields beyond the last column; they were ignored",)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Contact ID,Name,Contact ID", r"'Contact ID' appears in columns 1 and 3"),
        ("Email,Contact ID,email,EMAIL", r"'Email' appears in columns 1, 3 and 4"),
    ],
)
def test_duplicate_headers_are_rejected_with_their_positions(
    tmp_path: Path, header: str, message: str
) -> None:
    """Two columns with the same name (ignoring case) are ambiguous, so the file is refused."""
    with pytest.raises(UnreadableFileError, match=message):
        read_table(write(tmp_path, f"{header}\n" + ",".join("x" * header.count(",")) + "x\n"))


def test_outcome_columns_of_a_previous_report_are_dropped(tmp_path: Path) -> None:
    """A reconciliation file fed back in is read as its original columns, with fresh row numbers."""
    report = (
        "Contact ID,Name,source_row,organization_status,organization_id,contact_status,contact_id,"
        "error_stage,error_code,error_message\n"
        "C1,Ann,7,,,invalid,,validate,invalid_email,bad\n"
    )
    table = read_table(write(tmp_path, report))
    assert table.headers == ("Contact ID", "Name")
    assert table.frame.rows() == [(2, "C1", "Ann")]
    assert "outcome columns of a previous run were ignored" in table.warnings[0]


def test_column_without_header_or_data_is_dropped(tmp_path: Path) -> None:
    """An unnamed, entirely empty column (a trailing comma on every line) is ignored with a warning."""
    table = read_table(write(tmp_path, "Contact ID,Name,\nC1,Ann,\n"))
    assert table.headers == ("Contact ID", "Name")
    assert table.warnings == ("column 3 has no header and no data; it was ignored",)


def test_column_without_header_but_with_data_is_unreadable(tmp_path: Path) -> None:
    """Data under an empty header cannot be attributed to any field."""
    with pytest.raises(UnreadableFileError, match="column 2 holds data but has no header"):
        read_table(write(tmp_path, "Contact ID,\nC1,something\n"))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty"),
        (b"\r\n\n\n", "the file is empty"),
        (b"\xef\xbb\xbf", "the file is empty"),
        (b"Contact ID,Name\n", "header but no data rows"),
        (b"Contact ID,Name\r\n\r\n\r\n", "header but no data rows"),
        (b",,\nC1,Ann,Lee\n", "no header row"),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", "is a zip archive"),
        (bytes(range(1, 32)) * 20, "binary content"),
        (b'Contact ID,Name\nC1,"Ann"x\n', "not a valid CSV file"),
        (b"\xef\xbb\xbfContact ID\nC1 \xff\n", "not valid UTF-8"),
    ],
)
def test_unreadable_files_raise_one_clear_line(tmp_path: Path, content: bytes, reason: str) -> None:
    """Files that cannot be used raise UnreadableFileError naming the file and why, on one line."""
    path = write(tmp_path, content)
    with pytest.raises(UnreadableFileError, match=reason) as caught:
        read_table(path)
    assert str(caught.value).startswith(str(path))
    assert "\n" not in str(caught.value)


def test_missing_file_and_directory_are_unreadable(tmp_path: Path) -> None:
    """A path that is not an existing file is reported as such."""
    with pytest.raises(UnreadableFileError, match="no such file"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(UnreadableFileError, match="is a directory"):
        read_table(tmp_path)


def test_samples_are_readable_with_their_row_numbers() -> None:
    """The shipped samples read cleanly: one row per data line, numbered from 2."""
    expected = {"contacts.csv": 234, "contacts-with-problems.csv": 24, "dynamics-export.csv": 24}
    for name, height in expected.items():
        table = read_table(SAMPLES / name)
        assert table.warnings == ()
        assert table.frame.height == height
        assert table.frame.get_column("source_row").to_list() == list(range(2, height + 2))


# Cells of any text but control characters (many of them mark a binary file) other than tab and LF;
# surrogates cannot be encoded at all. A lone CR is left out because the csv module writes it unquoted
# under LF line ends, where it reads as a (classic Mac) line end, which is not supported.
cells = st.text(st.characters(exclude_categories=("Cs", "Cc"), include_characters="\t\n\"';,"), max_size=12)
header_names = st.lists(
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8).map(str.strip),
    min_size=2,
    max_size=5,
    unique_by=str.casefold,
).filter(lambda names: all(names))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=header_names,
    data=st.data(),
    delimiter=st.sampled_from([",", ";", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
    line_end=st.sampled_from(["\n", "\r\n"]),
)
def test_anything_the_csv_module_writes_reads_back_equal(
    tmp_path: Path, names: list[str], data: st.DataObject, delimiter: str, encoding: str, line_end: str
) -> None:
    """Random cells (quotes, delimiters, newlines, unicode) and blank lines round-trip with row numbers."""
    body = data.draw(
        st.lists(
            st.tuples(st.lists(cells, min_size=len(names), max_size=len(names)), st.integers(0, 2)),
            min_size=1,
            max_size=8,
        )
    )
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator=line_end)
    writer.writerow(names)
    expected = []
    row_number = 1
    for cells_of_row, blank_lines_after in body:
        writer.writerow(cells_of_row)
        row_number += 1
        expected.append((row_number, *[cell or None for cell in cells_of_row]))
        out.write(line_end * blank_lines_after)
        row_number += blank_lines_after
    path = write(tmp_path, out.getvalue().encode(encoding), name="roundtrip.csv")

    table = read_table(path)

    assert table.headers == tuple(names)
    assert table.delimiter == delimiter
    assert table.frame.rows() == expected


def test_previous_outcomes_are_kept_apart_for_only_failed(tmp_path: Path) -> None:
    """A reconciliation file read back keeps its old statuses aside, keyed by the new row numbers."""
    path = tmp_path / "rec.csv"
    path.write_text(
        "Contact ID,source_row,organization_status,contact_status,error_code\n"
        "C-1,2,,created,\nC-2,3,,failed,boom\n",
        encoding="utf-8",
    )
    table = read_table(path)
    assert table.frame.columns == ["source_row", "Contact ID"]
    assert table.previous is not None
    assert table.previous["source_row"].to_list() == [2, 3]
    assert table.previous["contact_status"].to_list() == ["created", "failed"]
    assert table.previous["organization_status"].to_list() == [None, None]


def test_a_crm_column_named_like_an_outcome_column_is_kept(tmp_path: Path) -> None:
    """A `contact_id` column in an ordinary file is data; only a real report has outcome columns set aside."""
    path = tmp_path / "crm.csv"
    path.write_text("contact_id,error_code\nC-1,x\n", encoding="utf-8")
    table = read_table(path)
    assert table.headers == ("contact_id", "error_code")
    assert table.previous is None


@pytest.mark.parametrize("name", ["cust[12].csv", "a*.csv", "what?.csv"])
def test_paths_are_read_literally_never_globbed(tmp_path: Path, name: str) -> None:
    """A name with glob characters reads that one file, not the decoys a glob would match."""
    for decoy in ("cust1.csv", "cust2.csv", "ab.csv", "whatx.csv"):
        write(tmp_path, "Contact ID\nDECOY\n", decoy)
    try:
        path = write(tmp_path, "Contact ID\nLITERAL\n", name)
    except OSError:
        pytest.skip("this file system does not allow the name")
    assert rows(path) == [(2, "LITERAL")]


@pytest.mark.parametrize(
    ("content", "row"),
    [
        (b"Contact ID,Name,X\nC-1,Ann,x\nC-2,Bob\rC-3,Cy,z\n", 3),
        (b"Contact ID,Name\r\nC-1,Ann\r\r\nC-2,Bo\r\n", 2),
        (b"Contact ID,Name\r\nC-1,Ann\r\nC-2,Bo\rC-3,Cy\n", 3),
    ],
)
def test_a_bare_carriage_return_outside_quotes_is_refused_with_its_row(
    tmp_path: Path, content: bytes, row: int
) -> None:
    """A CR that is not part of CRLF, outside quotes, in a file of LF/CRLF lines names its row."""
    with pytest.raises(UnreadableFileError, match=f"row {row}: a line ends with a bare carriage return"):
        read_table(write(tmp_path, content))


def test_lf_and_crlf_mixed_and_cr_inside_quotes_read_as_rows(tmp_path: Path) -> None:
    """LF and CRLF may mix, and CR or CRLF inside quoted cells stays cell text."""
    path = write(tmp_path, b'Contact ID,Notes\r\nC1,"a\rb"\nC2,"c\r\nd"\r\n\nC3,e\n')
    assert rows(path) == [(2, "C1", "a\rb"), (3, "C2", "c\r\nd"), (5, "C3", "e")]


def test_a_nul_byte_anywhere_is_refused_with_offset_and_row(tmp_path: Path) -> None:
    """NUL bytes far past the first kilobytes are found, with their byte offset and row."""
    body = "".join(f"C{i},name {i}\n" for i in range(2000))
    path = write(tmp_path, ("Contact ID,Name\n" + body).encode() + b"C-x,a\x00b\n")
    offset = len(("Contact ID,Name\n" + body).encode()) + 5
    with pytest.raises(UnreadableFileError, match=f"NUL byte at byte offset {offset}, row 2002"):
        read_table(path)


def test_utf8_with_a_few_invalid_bytes_is_refused_not_read_as_cp1252(tmp_path: Path) -> None:
    """A file with valid UTF-8 multi-byte characters and one stray byte names that byte; no guessing."""
    path = write(tmp_path, "Contact ID,Name\nC1,Zoë\n".encode() + b"C2,Ren\xe9e\n")
    with pytest.raises(UnreadableFileError, match=r"not valid UTF-8 at byte offset 30 \(row 3\)"):
        read_table(path)


def test_a_named_encoding_is_used_exactly(tmp_path: Path) -> None:
    """encoding= decodes with that codec, even a file the detection would refuse."""
    path = write(tmp_path, "Contact ID,Name\nC1,Zoë\n".encode() + b"C2,Ren\xe9e\n")
    table = read_table(path, encoding="latin-1")
    assert table.encoding == "latin-1"
    assert table.frame.rows() == [(2, "C1", "ZoÃ«"), (3, "C2", "Renée")]
    assert table.warnings == ()


def test_a_named_encoding_that_does_not_fit_is_refused(tmp_path: Path) -> None:
    """Bytes the named codec cannot decode give their offset and row; an unknown name is a usage error."""
    path = write(tmp_path, b"Contact ID,Name\nC1,\xff\n")
    with pytest.raises(UnreadableFileError, match=r"cannot be decoded as utf-8 at byte offset 19 \(row 2\)"):
        read_table(path, encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown encoding 'klingon'"):
        read_table(path, encoding="klingon")


def test_excel_sep_line_names_the_delimiter_and_is_not_a_row(tmp_path: Path) -> None:
    """`sep=;` sets the delimiter and is skipped; the header is row 1, as Excel shows it."""
    table = read_table(write(tmp_path, "sep=;\r\nContact ID;Name\r\nC1;Ann, Lee\r\n\r\nC2;Bo\r\n"))
    assert table.delimiter == ";"
    assert table.headers == ("Contact ID", "Name")
    assert table.frame.rows() == [(2, "C1", "Ann, Lee"), (4, "C2", "Bo")]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need os.mkfifo")
def test_a_named_pipe_is_read_once(tmp_path: Path) -> None:
    """Process substitution (`<(cat f.csv)`) hands a pipe: its content is read like a file."""
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    writer = threading.Thread(target=pipe.write_bytes, args=(b"Contact ID\nP1\n",), daemon=True)
    writer.start()
    assert rows(pipe) == [(2, "P1")]
    writer.join(timeout=5)


@pytest.mark.parametrize(
    ("archive", "reason"),
    [
        ({"xl/workbook.xml": "<x/>"}, r"is a damaged Excel workbook"),
        (
            {"xl/workbook.bin": "x"},
            r"Excel binary workbook \(.xlsb\).*save it as an Excel workbook \(.xlsx\)",
        ),
        ({"content.xml": "<x/>"}, r"an OpenDocument spreadsheet \(.ods\), which this tool does not read"),
        ({"contacts.csv": "Contact ID\nC1\n"}, "is a zip archive, not a CSV file; extract"),
    ],
)
def test_workbooks_and_archives_given_as_csv_name_their_format(
    tmp_path: Path, archive: dict[str, str], reason: str
) -> None:
    """A zip-based workbook or archive is named for what it is, with what to do instead."""
    path = tmp_path / "input.csv"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in archive.items():
            zf.writestr(name, text)
    with pytest.raises(UnreadableFileError, match=reason):
        read_table(path)


def test_gzip_and_old_excel_files_name_their_format(tmp_path: Path) -> None:
    """gzip and Excel 97-2003 files are refused by name, not as binary noise."""
    with pytest.raises(UnreadableFileError, match="gzip-compressed, not a CSV file; decompress it first"):
        read_table(write(tmp_path, gzip.compress(b"Contact ID\nC1\n")))
    with pytest.raises(UnreadableFileError, match=r"Excel 97-2003 workbook \(.xls\)"):
        read_table(write(tmp_path, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)))


def test_headers_are_trimmed_of_unicode_spaces_and_compared_in_nfc(tmp_path: Path) -> None:
    """No-break and zero-width spaces around a header go; NFD and NFC spellings of a header collide."""
    table = read_table(write(tmp_path, "\u00a0Contact ID\u200b,Name\u3000\nC1,Ann\n"))
    assert table.headers == ("Contact ID", "Name")
    nfd = unicodedata.normalize("NFD", "Prénom")
    with pytest.raises(UnreadableFileError, match="appears in columns 2 and 3"):
        read_table(write(tmp_path, f"Contact ID,Prénom,{nfd}\nC1,a,b\n"))


def test_ten_thousand_columns_are_numbered_quickly(tmp_path: Path) -> None:
    """Row numbering does not cost per column: a 10,000-column file reads in well under a second or two."""
    names = ",".join(f"col{i}" for i in range(9_999))
    path = write(tmp_path, f"Contact ID,{names}\nC-1," + ",".join("v" for _ in range(9_999)) + "\n\n,\n")
    started = time.perf_counter()
    table = read_table(path)
    assert time.perf_counter() - started < 3
    assert table.frame.get_column("source_row").to_list() == [2, 4]
