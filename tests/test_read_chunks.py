"""The streaming CSV reader behind open_chunks: its chunks together are read_table's rows, warnings, errors.

Every file is read both ways, with chunks of 1, 2, 3, 7 and 10,000 rows, so cut points fall on every record:
inside runs of blank lines, next to quoted cells with line breaks, before the last record without a line end.
"""

from __future__ import annotations

import codecs
import csv
import io
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bad_inputs import CASES, Case, _input_path

from pipeline.errors import ConfigError, UnreadableFileError
from pipeline.outcomes import SOURCE_ROW
from pipeline.prepare.chunks import open_chunks
from pipeline.prepare.read import read_table

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
CHUNK_ROWS = (1, 2, 3, 7, 10_000)
HEADER = "Contact ID,Contact First Name,Contact Last Name,Account ID,Account Name"

Read = tuple[object, ...]


def whole(path: Path, encoding: str | None = None) -> Read:
    """What read_table answers: its frame, headers, warnings, encoding and delimiter, or its error."""
    try:
        raw = read_table(path, encoding=encoding)
    except (UnreadableFileError, ConfigError) as err:
        return (type(err).__name__, str(err))
    return (raw.frame.rows(), raw.frame.columns, raw.headers, raw.warnings, raw.encoding, raw.delimiter)


def streamed(path: Path, rows: int, encoding: str | None = None) -> Read:
    """The same for open_chunks, its chunks concatenated; an error may come at open or from any chunk."""
    try:
        table = open_chunks(path, encoding=encoding, rows=rows)
        frames = list(table.chunks)
    except (UnreadableFileError, ConfigError) as err:
        return (type(err).__name__, str(err))
    assert all(f.height > 0 for f in frames), "no empty chunk is served"
    frame = pl.concat(frames)
    assert frame.schema == pl.Schema({SOURCE_ROW: pl.Int64, **dict.fromkeys(table.headers, pl.String)})
    return (
        frame.rows(),
        frame.columns,
        table.headers,
        tuple(table.warnings),
        table.encoding,
        table.delimiter,
    )


def assert_streams_like_read_table(path: Path, encoding: str | None = None) -> Read:
    expected = whole(path, encoding)
    for rows in CHUNK_ROWS:
        assert streamed(path, rows, encoding) == expected, f"chunks of {rows} row(s)"
    return expected


def _csv_cases() -> list[Case]:
    return [c for c in CASES if c.mapping is None and c.generate not in ("directory", "missing")]


@pytest.mark.parametrize("case", _csv_cases(), ids=[c.id for c in _csv_cases()])
def test_every_file_of_the_bad_input_corpus_streams_like_read_table(case: Case, tmp_path: Path) -> None:
    """Each corpus file gives the same rows, warnings and error message chunked as read whole."""
    assert_streams_like_read_table(_input_path(case, tmp_path))


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.csv")))
def test_every_sample_streams_like_read_table(name: str) -> None:
    """The sample files read chunk by chunk give read_table's rows and warnings."""
    result = assert_streams_like_read_table(SAMPLES / name)
    assert isinstance(result[0], list), "the samples are readable"
    assert result[0]


HOSTILE: dict[str, bytes] = {
    "quoted_line_breaks": (
        f"{HEADER}\n"
        'C-1,"Ann\nMarie",Lee,A-1,"Acme\r\nNorth"\r\n'
        'C-2,"""Bo""\n\n",Ray,A-1,Acme\n'
        '"C-3","multi\nline\nname",,A-2,"x,\ny"\n'
        "C-4,Di,,A-2,Beta"
    ).encode(),
    "blank_lines_everywhere": (
        f"\n\r\n{HEADER}\n\nC-1,Ann,Lee,A-1,Acme\n\n\r\n,,,,\nC-2,Bo,,A-1,Acme\n\n\n".encode()
    ),
    "sep_line_and_semicolons": (
        b'sep=;\r\n\r\nContact ID;Name;Account ID\r\nC-1;Ann;A-1\r\n\r\nC-2;"x;\r\ny";A-1\r\n'
    ),
    "bom_and_trailing_empty_fields": (
        "\ufeff" + HEADER + ",\nC-1,Ann,Lee,A-1,Acme,\nC-2,Bo,,A-1,Acme,,\n"
    ).encode(),
    "utf16_with_bom": ("\ufeff" + HEADER + '\nC-1,"Zoë\nX",Lee,A-1,Acme\n\nC-2,Bo,,A-1,Acme\n').encode(
        "utf-16-le"
    ),
    "cp1252_guess": (HEADER + "\nC-1,Zo\xeb,M\xfcller,A-1,Caf\xe9\nC-2,Ren\xe9,,A-1,Acme\n").encode("cp1252"),
    "blank_header_column_empty": b"Contact ID,,Account ID\nC-1,,A-1\nC-2, ,A-1\n",
    "blank_header_column_with_data_late": (
        b"Contact ID,,Account ID\nC-1,,A-1\nC-2,,A-1\nC-3,,A-1\nC-4,x,A-1\n"
    ),
    "extra_field_with_data_late": f"{HEADER}\nC-1,A,B,A-1,N,\nC-2,A,B,A-1,N\nC-3,A,B,A-1,N,data\n".encode(),
    "other_delimiter_row_late": f"{HEADER}\nC-1,A,B,A-1,N\nC-2,A,B,A-1,N\nC-3;A;B;A-1;N\n".encode(),
    "missing_closing_quote": f'{HEADER}\nC-1,A,B,A-1,N\nC-2,"A,B,A-1,N\nC-3,A,B,A-1,N\n'.encode(),
    "stray_quote_mid_file": f'{HEADER}\nC-1,A,B,A-1,N\nC-2,O"Brien,B,A-1,N\nC-3,A,B,A-1,N\n'.encode(),
    "two_blank_columns_the_left_one_filled_late": (
        b"Contact ID,,Account ID,\nC-1,,A-1,x\nC-2,,A-1,\nC-3,,A-1,\nC-4,y,A-1,\n"
    ),
    "tab_row_early_semicolon_row_late": (
        f"{HEADER}\nC-1\tA\tB\tA-1\tN\nC-2,A,B,A-1,N\nC-3,A,B,A-1,N\nC-4;A;B;A-1;N\n".encode()
    ),
    "other_delimiter_early_extra_data_late": (
        f"{HEADER}\nC-1;A;B;A-1;N\nC-2,A,B,A-1,N\nC-3,A,B,A-1,N\nC-4,A,B,A-1,N,data\n".encode()
    ),
    "blank_column_data_early_other_delimiter_late": (
        b"Contact ID,,Account ID\nC-1,x,A-1\nC-2,,A-1\nC-3,,A-1\nC-4;;A-1\n"
    ),
    "previous_source_row_column": b"source_row,Contact ID,Account ID\n7,C-1,A-1\n9,C-2,A-1\n",
    "header_then_blank_lines_only": f"{HEADER}\n\n\r\n\n".encode(),
    "no_line_end_after_last_row": f"{HEADER}\r\nC-1,A,B,A-1,N\r\nC-2,A,B,A-1,N".encode(),
    "short_rows": f"{HEADER}\nC-1\nC-2,A\n\nC-3,A,B,A-1,N\n".encode(),
    "report_fed_back": (
        b"source_row,Contact ID,Account ID,organization_status,contact_status\n2,C-1,A-1,created,created\n"
        b"3,C-2,A-1,created,invalid\n"
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_stream_like_read_table(name: str, tmp_path: Path) -> None:
    """Line breaks in quotes across cut points, blank lines, sep=, BOM, UTF-16, cp1252 and bad rows agree."""
    path = tmp_path / f"{name}.csv"
    path.write_bytes(HOSTILE[name])
    assert_streams_like_read_table(path)


@pytest.mark.parametrize(
    ("encoding", "content"),
    [
        ("cp1252", (HEADER + '\nC-1,Zo\xeb,"a\r\nb",A-1,Acme\n').encode("cp1252")),
        ("latin-1", (HEADER + "\nC-1,\xd8ystein,,A-1,\xc5s\n").encode("latin-1")),
        ("utf-8", ("\ufeff" + HEADER + "\nC-1,Zoë,,A-1,Acme\n").encode()),
        ("utf-16", ("\ufeff" + HEADER + "\nC-1,Zoë,,A-1,Acme\n").encode("utf-16-be")),
        ("ascii", (HEADER + "\nC-1,Zoë,,A-1,Acme\n").encode()),
        ("no-such-codec", b"a,b\n1,2\n"),
    ],
)
def test_a_named_encoding_streams_like_read_table(encoding: str, content: bytes, tmp_path: Path) -> None:
    """--encoding gives the same rows, or the same refusal, chunked as read whole."""
    path = tmp_path / "named.csv"
    path.write_bytes(content)
    assert_streams_like_read_table(path, encoding)


def test_a_problem_in_a_late_chunk_is_raised_after_the_earlier_chunks_with_read_tables_message(
    tmp_path: Path,
) -> None:
    """A row with another delimiter far down the file stops the stream there, worded as read_table does."""
    path = tmp_path / "late.csv"
    path.write_text(HEADER + "\n" + "".join(f"C-{i},A,B,A-1,N\n" for i in range(100)) + "C-x;A;B;A-1;N\n")
    chunks = open_chunks(path, rows=10).chunks
    first = next(chunks)
    assert first.get_column(SOURCE_ROW).to_list()[0] == 2
    with pytest.raises(UnreadableFileError) as err:
        list(chunks)
    assert str(err.value) == f"{path}: row 102 is separated by semicolons but the header by commas; " + (
        "save the file with one delimiter throughout"
    )


def test_a_damaged_byte_far_down_the_file_fails_before_any_chunk_is_served(tmp_path: Path) -> None:
    """Whole-file byte checks (here a NUL in the last row) run when the file is opened, not mid-stream."""
    path = tmp_path / "nul.csv"
    path.write_bytes((HEADER + "\n" + "C-1,A,B,A-1,N\n" * 5000).encode() + b"C-2,A\x00,B,A-1,N\n")
    with pytest.raises(UnreadableFileError, match="binary content"):
        open_chunks(path, rows=100)


def test_chunks_hold_about_the_number_of_rows_asked_for(tmp_path: Path) -> None:
    """A file of 10,000 rows in chunks of 500 comes in about 20 chunks, each between 250 and 1,000 rows."""
    path = tmp_path / "uniform.csv"
    path.write_text(
        HEADER + "\n" + "".join(f"C-{i},First{i % 7},Last,A-{i % 13},Name\n" for i in range(10_000))
    )
    heights = [f.height for f in open_chunks(path, rows=500).chunks]
    assert sum(heights) == 10_000
    assert 10 <= len(heights) <= 40
    assert all(250 <= h <= 1_000 for h in heights[:-1])


def test_the_transcoded_copy_is_removed_once_the_chunks_are_read_or_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cp1252 file is streamed from a UTF-8 copy in a scratch folder, which does not outlive the chunks."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    path = tmp_path / "cp1252.csv"
    path.write_bytes((HEADER + "\n" + "C-1,Zo\xeb,,A-1,Acme\n" * 50).encode("cp1252"))
    table = open_chunks(path, rows=5)
    assert any(scratch.iterdir()), "the copy exists while chunks are being read"
    assert sum(f.height for f in table.chunks) == 50
    assert not any(scratch.iterdir())
    dropped = open_chunks(path, rows=5)
    next(dropped.chunks)
    dropped.chunks.close()  # type: ignore[attr-defined]
    assert not any(scratch.iterdir())


def test_a_workbook_name_cannot_be_used_with_a_csv_file_streamed(tmp_path: Path) -> None:
    """--sheet on a CSV file is refused as read_table refuses it."""
    path = tmp_path / "plain.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ConfigError, match="--sheet applies to Excel workbooks"):
        open_chunks(path, sheet="Sheet1")


# "x;y" alone in a row of a 2-column file is a row with another delimiter; cells past the header: extra data.
cells = st.sampled_from(
    ["", "a", "b c", " ", "Zoë", "x,y", 'q"q', "l\nm", "r\r\nn", "\n", '""', "é\n\n", "x;y"]
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    width=st.integers(1, 4),
    data=st.data(),
    line_end=st.sampled_from(["\n", "\r\n"]),
    prefix=st.sampled_from(["", "\ufeff", "sep=,\n", "\n\r\n"]),
    final_line_end=st.booleans(),
    encoding=st.sampled_from(["utf-8", "utf-16"]),
)
def test_random_small_csv_files_stream_like_read_table(
    tmp_path: Path,
    width: int,
    data: st.DataObject,
    line_end: str,
    prefix: str,
    final_line_end: bool,
    encoding: str,
) -> None:
    """Random quoted cells, short and long rows, blank lines, foreign rows: chunks equal the whole read."""
    records = data.draw(
        st.lists(
            st.one_of(st.just([]), st.lists(cells, min_size=1, max_size=width + 1)),
            min_size=0,
            max_size=9,
        )
    )
    trailing = data.draw(st.lists(st.integers(0, 2), min_size=len(records), max_size=len(records)))
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator=line_end)
    writer.writerow([f"H{i}" for i in range(width)])
    for record, extra in zip(records, trailing, strict=True):
        if record:
            writer.writerow(record + [""] * extra)
        else:
            out.write(line_end)
    text = prefix + out.getvalue()
    if not final_line_end:
        text = text.removesuffix(line_end)
    content = text.encode("utf-8") if encoding == "utf-8" else codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    path = tmp_path / "random.csv"
    path.write_bytes(content)
    assert_streams_like_read_table(path)
