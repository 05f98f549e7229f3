"""The chunked stage (spill, partitions, straddlers, streamed report) gives what the in-memory stage gives."""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import patch

import openpyxl
import polars as pl
import pytest
from click.testing import CliRunner
from test_api_validate import write_csv as write_rows

from pipeline.cli import cli
from pipeline.errors import ConfigError, InputError, UnreadableFileError
from pipeline.fields import CONTACT_KEY, ORGANIZATION_KEY, load_specs
from pipeline.outcomes import SOURCE_ROW
from pipeline.prepare import read, sniff
from pipeline.prepare.chunked import chunked_stage, straddling_rows
from pipeline.prepare.chunks import open_chunks
from pipeline.prepare.stage import PrepareOptions, prepare_file, resolve_input_columns
from pipeline.report.reconcile import build_report, write_report
from pipeline.report.validation import parts_valid, validate_chunked, validate_file

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SPECS = load_specs()


def cross_chunk_rows() -> list[list[str]]:
    """Every way rows relate across chunks, spread so that 3- and 7-row chunks split each case."""
    rows = [
        ["C1", "Ann", "ann@example.com", "(415) 555-0101", "A1", "Acme"],
        ["C2", "Bob", "shared@example.com", "(415) 555-0102", "A2", "Beta"],
        ["C3", "Cy", "cy@example.com", "(415) 555-0199", "A3", "Gamma"],
        ["C4", "Di", "not-an-email", "", "A4", "Delta"],  # invalid contact part
        ["", "", "", "", "A5", "Epsilon"],  # account-only row
        ["C5", "Ed", "ed@example.com", "", "A2", "Beta"],
        ["C6", "Fay", "fay@example.com", "", "A6", "Zeta"],
        ["", "", "", "", "", ""],  # empty row
        ["C7", "Gus", "gus@example.com", "", "A5", ""],  # links to A5, defined on another row
        ["C8", "Hal", "SHARED@example.com", "(415) 555-0199", "A7", "Eta"],
        ["C1", "Ann", "ann@example.com", "", "A1", "Acme Inc"],  # A1 disagrees with row 2
        ["C5", "Ed", "ed@example.com", "", "A8", "Theta"],  # C5 under two accounts
        ["C6", "Fay", "fay@example.com", "", "", ""],  # C6 with and without an Account ID
        ["C9", "Ivy", "ivy@example.com", "", "A8", "Theta"],  # A8 touched by straddler C5
        ["C10", "Jo", "jo@example.com", "", "A6", "Zeta"],
        ["C11", "Kim", "kim@example.com", "", "A9", "Iota\nline two"],  # a line break in a cell
        ["C12", "Lu", "lu@example.com", "", "A4", "Delta"],  # A4 again, after its invalid row
        ["C13", "=1+1", "mo@example.com", "", "A10", "@Kappa"],  # cells a spreadsheet would run
    ]
    return rows


def random_rows(seed: int, count: int = 60) -> list[list[str]]:
    """Small pools of keys and values, so that accounts and contacts collide often and in every way."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        contact = rng.choice(["", *(f"C{i}" for i in range(12))])
        account = rng.choice(["", *(f"A{i}" for i in range(6))])
        name = rng.choice(["", f"Org {account}", f"Org {account} Ltd"]) if account else ""
        email = rng.choice(["", f"{contact or 'x'}@example.com", "team@example.com", "broken@"])
        phone = rng.choice(["", "(415) 555-0100", f"(415) 555-01{rng.randint(10, 99)}"])
        first = rng.choice(["", "Ann", "Bea"]) if contact else ""
        rows.append([contact, first, email if contact else "", phone if contact else "", account, name])
    return rows


def in_memory(path: Path, options: PrepareOptions, target: Path) -> tuple[bytes, list[str]]:
    """The report and warnings of the in-memory stage, written the way ``write_report`` always has."""
    prepared = prepare_file(path, options)
    write_report(build_report(prepared.raw.frame, parts_valid(prepared.grouped)), target)
    return target.read_bytes(), prepared.warnings


def chunked(
    path: Path, options: PrepareOptions, target: Path, rows: int, parts: int
) -> tuple[bytes, list[str]]:
    result = validate_chunked(path, options, chunk_rows=rows, partitions=parts)
    result.write_report(target)
    return target.read_bytes(), result.warnings


CASES = [
    ("contacts.csv", PrepareOptions()),
    ("contacts-with-problems.csv", PrepareOptions()),
    ("contacts-with-problems.csv", PrepareOptions(account_conflicts="first")),
    ("dynamics-export.csv", PrepareOptions(mapping=SAMPLES / "dynamics.mapping.toml")),
]


# The demo sample (234 rows) in 1- and 3-row chunks would be hundreds of chunks for nothing the smaller
# files and the cross-chunk cases below do not already cover: it runs in 7- and 40-row chunks.
SAMPLE_SPLITS = [
    pytest.param(name, options, rows, parts, id=f"{rows}-{parts}-{name}-{i}")
    for i, (name, options) in enumerate(CASES)
    for rows, parts in ([(7, 2), (40, 3)] if name == "contacts.csv" else [(1, 2), (3, 3), (7, 2)])
]


@pytest.mark.parametrize(("name", "options", "rows", "parts"), SAMPLE_SPLITS)
def test_the_samples_give_byte_identical_reports_and_equal_warnings(
    tmp_path: Path, name: str, options: PrepareOptions, rows: int, parts: int
) -> None:
    """Each sample staged in tiny chunks and few partitions reports exactly what the in-memory stage does."""
    expected = in_memory(SAMPLES / name, options, tmp_path / "memory.csv")
    assert chunked(SAMPLES / name, options, tmp_path / "chunked.csv", rows, parts) == expected


@pytest.mark.parametrize("conflicts", ["error", "first"])
@pytest.mark.parametrize(("rows", "parts"), [(1, 2), (3, 3), (7, 2)])
def test_rows_related_across_chunks_are_grouped_as_in_one_piece(
    tmp_path: Path, conflicts: str, rows: int, parts: int
) -> None:
    """Accounts split over chunks, straddling contacts, links, shared identifiers and invalid rows agree."""
    path = write_rows(tmp_path / "in.csv", cross_chunk_rows())
    options = PrepareOptions(account_conflicts=conflicts)  # type: ignore[arg-type]
    expected = in_memory(path, options, tmp_path / "memory.csv")
    assert any("shared" in w or "is on 2 contacts" in w for w in expected[1])
    assert chunked(path, options, tmp_path / "chunked.csv", rows, parts) == expected


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("conflicts", ["error", "first"])
def test_random_collisions_of_keys_give_the_same_report(tmp_path: Path, seed: int, conflicts: str) -> None:
    """Random rows over small pools of keys (every kind of collision) report identically in 3-row chunks."""
    path = write_rows(tmp_path / "in.csv", random_rows(seed))
    options = PrepareOptions(account_conflicts=conflicts)  # type: ignore[arg-type]
    expected = in_memory(path, options, tmp_path / "memory.csv")
    assert chunked(path, options, tmp_path / "chunked.csv", 3, 3) == expected


def test_the_straddling_set_holds_every_row_related_to_a_straddler() -> None:
    """A contact under two accounts pulls in both accounts' rows, and the contacts of those accounts."""
    keys = pl.DataFrame(
        {
            SOURCE_ROW: [2, 3, 4, 5, 6, 7],
            CONTACT_KEY: ["C1", "C1", "C2", "C3", "C4", None],
            ORGANIZATION_KEY: ["A1", "A2", "A2", "A3", None, "A1"],
        }
    )
    assert straddling_rows(keys).get_column(SOURCE_ROW).to_list() == [2, 3, 4, 7]


def test_a_file_without_data_rows_is_refused_as_in_memory(tmp_path: Path) -> None:
    """A header without rows is the same input error (one line, exit 2) on both paths, no traceback."""
    path = write_rows(tmp_path / "in.csv", [])
    with pytest.raises(UnreadableFileError) as memory:
        prepare_file(path, PrepareOptions())
    with pytest.raises(UnreadableFileError) as staged:
        validate_chunked(path, PrepareOptions(), chunk_rows=2, partitions=2)
    assert str(staged.value) == str(memory.value)


def _spill_folders() -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob("contacts-pipeline-stage-*"))


def test_the_spill_folder_is_removed_after_success_and_after_ctrl_c(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing of the temporary dataset is left, whether the stage finishes or is interrupted mid-file."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    path = write_rows(tmp_path / "in.csv", cross_chunk_rows())
    validate_chunked(path, PrepareOptions(), chunk_rows=4, partitions=2)
    assert _spill_folders() == []

    table = open_chunks(path, rows=4)
    columns = resolve_input_columns(table.headers, table.path, SPECS, None)

    def interrupted(chunks: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
        yield next(chunks)
        assert len(_spill_folders()) == 1  # the first chunk was spilled
        raise KeyboardInterrupt

    table.chunks = interrupted(table.chunks)
    with pytest.raises(KeyboardInterrupt):
        chunked_stage(
            table, columns, SPECS, default_region="US", account_conflicts="error", on_part=lambda _: None
        )
    assert _spill_folders() == []


def test_validate_file_picks_the_chunked_stage_for_large_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the size limit ``validate_file`` stages in chunks, and its report and counts are unchanged."""
    path = write_rows(tmp_path / "in.csv", cross_chunk_rows())
    small = validate_file(path)
    monkeypatch.setattr("pipeline.report.validation.IN_MEMORY_BYTES", 10)
    large = validate_file(path)
    assert small.prepared is not None
    assert large.prepared is None
    assert large.summary == small.summary
    assert large.report.equals(small.report)


def test_validate_command_prints_and_writes_the_same_on_the_chunked_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``validate --report`` past the size limit prints the same summary and writes the same bytes."""
    path = write_rows(tmp_path / "in.csv", cross_chunk_rows())

    def run(report: Path) -> tuple[int, str, bytes]:
        result = CliRunner().invoke(cli, ["validate", str(path), "--report", str(report)])
        output = result.output.replace(str(report), "REPORT")
        return result.exit_code, output, report.read_bytes()

    in_memory_run = run(tmp_path / "memory.csv")
    monkeypatch.setattr("pipeline.report.validation.IN_MEMORY_BYTES", 10)
    monkeypatch.setattr("pipeline.report.validation.DEFAULT_CHUNK_ROWS", 4)
    chunked_run = run(tmp_path / "chunked.csv")
    assert chunked_run == in_memory_run
    assert in_memory_run[0] == 1  # the file has invalid and conflicting rows


def test_a_full_temp_disk_says_where_and_how_to_move_the_spill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """polars' failed write (how a full disk shows) stops the command with exit 3 and a message naming the
    temporary folder and TMPDIR, no traceback, and the folder is removed."""
    path = write_rows(tmp_path / "in.csv", cross_chunk_rows())
    monkeypatch.setenv("TMPDIR", str(tmp_path / "spill"))
    (tmp_path / "spill").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    monkeypatch.setattr("pipeline.report.validation.IN_MEMORY_BYTES", 10)
    full = pl.exceptions.ComputeError(
        "parquet: File out of specification: underlying IO error: No space left on device (os error 28)"
    )
    monkeypatch.setattr(pl.DataFrame, "write_parquet", lambda *_, **__: (_ for _ in ()).throw(full))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 3, result.output
    assert "cannot write temporary data to " + str(tmp_path / "spill") in result.output
    assert "No space left on device (os error 28); " in result.output
    assert "TMPDIR" in result.output
    assert "Traceback" not in result.output
    assert list((tmp_path / "spill").iterdir()) == []


@pytest.mark.parametrize("change", ["row added", "row removed", "row replaced by two"])
def test_a_file_changed_between_the_stage_and_its_report_writes_no_report(
    tmp_path: Path, change: str
) -> None:
    """The chunked report reads the input a second time: if it no longer has the rows staged, the report
    is refused (exit 2 from the CLI) instead of pairing rows with other rows' outcomes."""
    rows = cross_chunk_rows()
    path = write_rows(tmp_path / "in.csv", rows)
    staged = validate_chunked(path, PrepareOptions(), chunk_rows=3)
    edited = {
        "row added": [*rows, ["C99", "Zed", "zed@example.com", "", "A99", "Omega"]],
        "row removed": rows[:-1],
        "row replaced by two": [*rows[:4], rows[4], rows[4], *rows[5:-1]],
    }[change]
    write_rows(path, edited)
    report = tmp_path / "out.csv"
    with pytest.raises(InputError, match="the file changed while it was being processed"):
        staged.write_report(report)
    assert not report.exists()


def test_validate_report_format_xlsx_writes_a_workbook_and_refuses_a_contradicting_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """validate --report-format xlsx writes a workbook (to out/ without --report), and a --report named
    .csv with --report-format xlsx is refused with exit 2 before the file is read."""
    monkeypatch.chdir(tmp_path)
    path = write_rows(tmp_path / "in.csv", cross_chunk_rows())
    result = CliRunner().invoke(cli, ["validate", str(path), "--report-format", "xlsx"])
    assert result.exit_code == 1, result.output
    book = openpyxl.load_workbook(tmp_path / "out" / "reconciliation.xlsx", read_only=True)
    assert {"Summary", "Legend"} <= set(book.sheetnames)
    refused = CliRunner().invoke(cli, ["validate", str(path), "--report", "r.csv", "--report-format", "xlsx"])
    assert refused.exit_code == 2
    assert "does not end in .xlsx" in refused.output


def test_a_report_too_long_for_a_sheet_is_refused_before_it_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More rows than an .xlsx sheet holds: refused up front, naming the limit, and nothing is written."""
    monkeypatch.setattr("pipeline.report.streamed.MAX_ROWS", 5)
    path = write_rows(tmp_path / "in.csv", cross_chunk_rows())
    staged = validate_chunked(path, PrepareOptions(), chunk_rows=3)
    with pytest.raises(ConfigError, match=r"do not fit in one \.xlsx sheet"):
        staged.write_report(tmp_path / "r.xlsx")
    assert not (tmp_path / "r.xlsx").exists()


ENCODINGS = [
    pytest.param("utf-8", None, id="utf-8"),
    pytest.param("utf-8-sig", None, id="utf-8-bom"),
    pytest.param("cp1252", None, id="cp1252-detected"),
    pytest.param("utf-16", None, id="utf-16-bom"),
    pytest.param("latin-1", "latin-1", id="latin-1-named"),
]


@pytest.mark.parametrize(("codec", "named"), ENCODINGS)
def test_the_report_pass_reads_the_file_in_the_encoding_found_without_scanning_it_again(
    tmp_path: Path, codec: str, named: str | None
) -> None:
    """The report reads the staged file a second time in the encoding the first read found (a named one,
    a byte-order mark, or Windows-1252 guessed), so accented cells come back as staged; the scans of every
    byte (invalid UTF-8, NUL bytes, bare carriage returns) run once, on the first read only."""
    rows = [["C1", "Zoë", "zoe@example.com", "", "A1", "Café Müller"], *cross_chunk_rows()]
    text = tmp_path / "utf8.csv"
    write_rows(text, rows)
    path = tmp_path / "in.csv"
    path.write_bytes(text.read_text(encoding="utf-8").encode(codec))
    options = PrepareOptions(encoding=named)
    expected = in_memory(path, options, tmp_path / "memory.csv")
    scans: list[str] = []
    first_invalid_utf8 = sniff.first_invalid_utf8
    first_bare_cr = read.reject_bare_carriage_returns

    def utf8(data: Path) -> int | None:
        scans.append("utf-8")
        return first_invalid_utf8(data)

    def bare_cr(*args: object) -> None:
        scans.append("cr")
        first_bare_cr(*args)  # type: ignore[arg-type]

    with (
        patch.object(sniff, "first_invalid_utf8", utf8),
        patch.object(read, "reject_bare_carriage_returns", bare_cr),
    ):
        assert chunked(path, options, tmp_path / "chunked.csv", 3, 2) == expected
    assert scans.count("cr") == 1
    assert scans.count("utf-8") == (1 if codec in ("utf-8", "utf-8-sig", "cp1252") else 0)
    assert "Café Müller" in (tmp_path / "chunked.csv").read_text(encoding="utf-8")
