"""The whole-file UTF-8 check: polars' quick validation first, Python's decoder only to say where."""

from __future__ import annotations

import tempfile
from pathlib import Path
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.prepare import sniff

# Valid characters of every width, line feeds (where runs are cut), and bytes that break UTF-8: a lone
# continuation, an overlong form, a surrogate, a truncated sequence, a byte never valid.
_VALID = [b"a", b"\n", b"\r\n", "é".encode(), "€".encode(), "😀".encode(), b"\x00"]
_BROKEN = [b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xff"]
_PIECES = st.sampled_from([*_VALID, *_BROKEN])


def _python_offset(data: bytes) -> int | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start
    return None


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=40).map(b"".join), st.integers(min_value=1, max_value=9))
def test_the_first_invalid_byte_is_where_pythons_decoder_finds_it(data: bytes, chunk_bytes: int) -> None:
    """For any bytes read in chunks of any size, the offset found (or None for a valid file) is the one
    decoding the whole file at once reports."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "in.csv"
        path.write_bytes(data)
        with patch.object(sniff, "CHUNK_BYTES", chunk_bytes):
            assert sniff.first_invalid_utf8(path) == _python_offset(data)


def test_a_file_without_line_feeds_is_checked_a_chunk_at_a_time(tmp_path: Path) -> None:
    """A file whose lines end in CR alone has no line feed to cut at: every run checked holds at most a
    chunk and the few bytes of a character it split, never the file read so far."""
    path = tmp_path / "cr-only.csv"
    path.write_bytes(b"Name\r" + "Zoë,Café €\r".encode() * 2000)
    runs: list[int] = []
    check = sniff._valid_utf8_run

    def counted(data: bytes) -> bool:
        runs.append(len(data))
        return check(data)

    with patch.object(sniff, "CHUNK_BYTES", 7), patch.object(sniff, "_valid_utf8_run", counted):
        assert sniff.first_invalid_utf8(path) is None
    assert max(runs) <= 7 + 3
    assert sum(runs) == path.stat().st_size
