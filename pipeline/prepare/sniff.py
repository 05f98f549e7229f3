"""The bytes of an input file: is it a usable file, what format is it, and which encoding does it use.

The result is a UTF-8 file polars can parse: the input itself when it already is UTF-8, otherwise a
transcoded copy in a scratch folder. Paths are always opened literally (never globbed).

Encoding rule
    1. A byte-order mark decides: UTF-8, UTF-16 LE or UTF-16 BE.
    2. ``encoding=`` given explicitly: exactly that codec, strictly; bytes it cannot decode are refused.
    3. Otherwise the file must be UTF-8. It is read as Windows-1252 (with a warning) only when it holds no
       valid UTF-8 multi-byte sequence at all: a file with at least one (``é`` written as ``C3 A9``) is
       UTF-8 with damaged bytes, and is refused naming the byte offset and row of the first invalid one.
NUL bytes anywhere in the text are refused, with their byte offset and row.
"""

from __future__ import annotations

import codecs
import os
import re
import shutil
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.errors import ConfigError, UnreadableFileError
from pipeline.prepare.records import record_at
from pipeline.prepare.xlsx_scan import is_workbook

SNIFF_BYTES = 8 * 1024
CHUNK_BYTES = 1 << 20
# A text file has almost no C0 control characters besides tab, CR and LF; a few strays (a vertical tab from
# a spreadsheet cell) are tolerated.
MAX_CONTROL_SHARE = 0.05
MIN_CONTROL_BYTES = 8
_CONTROL_BYTES = frozenset(range(32)) - {9, 10, 13}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# A lead byte followed by its continuation bytes: text that some program wrote as UTF-8.
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_SAVE_AS_CSV = "save it as CSV (UTF-8) from the spreadsheet program and use that file"
_SAVE_AS_XLSX = "save it as an Excel workbook (.xlsx) or as CSV (UTF-8) and use that file"
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
# Names that promise an Office Open XML workbook; the content decides, but a text file so named is refused.
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


@dataclass(frozen=True)
class Decoded:
    """The UTF-8 file to parse, the encoding of the input, and the warning the guess deserves if any."""

    source: Path
    encoding: str
    warning: str | None = None


def regular_file(path: Path, scratch: Path) -> Path:
    """``path`` when it is a regular file; a pipe (``<(cat f.csv)``) is copied into the folder ``scratch``."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise UnreadableFileError(f"{path}: no such file") from None
    except OSError as err:
        raise UnreadableFileError(f"{path}: cannot be read ({err.strerror or err})") from None
    if stat.S_ISDIR(mode):
        raise UnreadableFileError(f"{path}: is a directory, not a CSV file")
    if stat.S_ISFIFO(mode):
        copy = scratch / "input.bin"
        with path.open("rb") as pipe, copy.open("wb") as out:
            shutil.copyfileobj(pipe, out, CHUNK_BYTES)
        path = copy
    elif not stat.S_ISREG(mode):
        raise UnreadableFileError(f"{path}: needs a regular file (this is a device or a socket)")
    if os.path.getsize(path) == 0:
        raise UnreadableFileError(f"{path}: the file is empty")
    return path


def is_workbook_file(data: Path, path: Path) -> bool:
    """Whether ``data`` (the bytes of the input ``path``) is an Excel workbook (.xlsx, .xlsm), by content."""
    with data.open("rb") as f:
        if not f.read(4).startswith(_ZIP_SIGNATURES):
            return False
    try:
        with zipfile.ZipFile(data) as archive:
            return is_workbook(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        if path.suffix.lower() in WORKBOOK_SUFFIXES:
            raise UnreadableFileError(
                f"{path}: is a damaged Excel workbook (not a readable zip file)"
            ) from None
        return False


def chunks(path: Path) -> Iterator[bytes]:
    """The bytes of ``path`` in chunks."""
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            yield chunk


def decode(path: Path, data: Path, scratch: Path, encoding: str | None, *, checked: bool = False) -> Decoded:
    """The UTF-8 view of ``data`` (the bytes of the input ``path``, named in messages). ``checked``:
    ``data`` was decoded with ``encoding`` before and is unchanged, so a UTF-8 file is not scanned again
    for invalid bytes and NULs (another encoding is still transcoded: that is the reading itself)."""
    with data.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    _reject_other_formats(path, data, head)
    bom = next((name for mark, name in _BOMS if head.startswith(mark)), None)
    if encoding is not None:
        return _explicit(path, data, scratch, encoding, bom, checked=checked)
    if bom is not None and bom.startswith("utf-16"):
        return _transcoded(path, data, scratch, "utf-16", bom)
    if bom == "utf-8-sig":
        if (bad := first_invalid_utf8(data)) is not None:
            raise UnreadableFileError(
                f"{path}: starts with a UTF-8 byte-order mark but is not valid UTF-8 "
                f"(byte offset {bad}, row {record_at(data, bad) + 1})"
            )
        _reject_nul(path, data)
        return Decoded(data, bom)
    _reject_nul(path, data)
    _reject_control_characters(path, head)
    bad = first_invalid_utf8(data)
    if bad is None:
        return Decoded(data, "utf-8")
    if _has_utf8_multibyte(data):
        raise UnreadableFileError(
            f"{path}: not valid UTF-8 at byte offset {bad} (row {record_at(data, bad) + 1}), although other "
            "characters in the file are UTF-8; repair that cell, or name the file's encoding explicitly"
        )
    result = _transcoded(path, data, scratch, "cp1252", "Windows-1252")
    warning = (
        f"{path.name} is not valid UTF-8 (byte offset {bad}); read it as Windows-1252: "
        "check accented characters, or save the file as UTF-8"
    )
    return Decoded(result.source, "cp1252", warning)


def _explicit(
    path: Path, data: Path, scratch: Path, encoding: str, bom: str | None, *, checked: bool = False
) -> Decoded:
    """Decode with exactly the codec the user named (a matching byte-order mark is skipped)."""
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise ConfigError(
            f"unknown encoding {encoding!r}; use a name such as utf-8, cp1252, latin-1 or utf-16"
        ) from None
    if codec in ("utf-8", "utf-8-sig"):
        if not checked:
            if (bad := first_invalid_utf8(data)) is not None:
                raise UnreadableFileError(
                    f"{path}: cannot be decoded as {encoding} at byte offset {bad} "
                    f"(row {record_at(data, bad) + 1}); check the encoding named for it"
                )
            _reject_nul(path, data)
        return Decoded(data, "utf-8-sig" if bom == "utf-8-sig" else "utf-8")
    if codec == "utf-16" and bom in ("utf-16-le", "utf-16-be"):
        codec = bom
    result = _transcoded(path, data, scratch, codec, encoding)
    _reject_nul(path, result.source, transcoded=True)
    return result


def _reject_other_formats(path: Path, data: Path, head: bytes) -> None:
    """Name the real format of a workbook or archive given as CSV."""
    if head.startswith(b"\x1f\x8b"):
        raise UnreadableFileError(f"{path}: is gzip-compressed, not a CSV file; decompress it first")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFileError(
            f"{path}: is an Excel 97-2003 workbook (.xls), which this tool does not read; {_SAVE_AS_XLSX}"
        )
    if head.startswith(_ZIP_SIGNATURES):
        try:
            with zipfile.ZipFile(data) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            names = []
        if any(n.startswith("xl/") for n in names):
            # An .xlsx has xl/workbook.xml and never gets here (see is_workbook_file): this is an .xlsb.
            raise UnreadableFileError(
                f"{path}: is an Excel binary workbook (.xlsb) or a damaged workbook, which this tool does "
                f"not read; {_SAVE_AS_XLSX}"
            )
        if "content.xml" in names:
            raise UnreadableFileError(
                f"{path}: is an OpenDocument spreadsheet (.ods), which this tool does not read; "
                f"{_SAVE_AS_XLSX}"
            )
        raise UnreadableFileError(
            f"{path}: is a zip archive, not a CSV file; extract the CSV file from it first"
        )


def _reject_nul(path: Path, data: Path, *, transcoded: bool = False) -> None:
    offset = 0
    for chunk in chunks(data):
        found = chunk.find(b"\x00")
        if found >= 0:
            at = offset + found
            where = "" if transcoded else f" at byte offset {at}"
            raise UnreadableFileError(
                f"{path}: binary content (a NUL byte{where}, row {record_at(data, at) + 1}), not a CSV file; "
                "UTF-16 files need a byte-order mark"
            )
        offset += len(chunk)


def _reject_control_characters(path: Path, head: bytes) -> None:
    controls = sum(1 for b in head if b in _CONTROL_BYTES)
    if controls >= MIN_CONTROL_BYTES and controls / len(head) > MAX_CONTROL_SHARE:
        raise UnreadableFileError(f"{path}: binary content (control characters), not a CSV file")


def first_invalid_utf8(path: Path) -> int | None:
    """The offset of the first byte that is not valid UTF-8, or None when the whole file is.

    The file is checked in polars first (its UTF-8 validation is about six times quicker than Python's
    decoder, which was most of the time before a large file's first row); only a file that fails it is
    decoded again, in Python, to find where.
    """
    if _valid_utf8(path):
        return None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    offset = 0
    try:
        for chunk in chunks(path):
            decoder.decode(chunk)
            offset += len(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as err:
        # The decoder buffers an incomplete sequence from the previous chunk; start is relative to that.
        pending = len(decoder.getstate()[0])
        return max(0, offset - pending + err.start)
    return None


def _valid_utf8(path: Path) -> bool:
    """Whether ``path`` is all valid UTF-8, checked chunk by chunk, each cut before the last character
    that may be incomplete (at most four bytes carried to the next chunk, whatever the line ends: a file
    without a single line feed must not be carried whole)."""
    carry = b""
    for chunk in chunks(path):
        data = carry + chunk
        cut = _last_character_start(data)
        if not _valid_utf8_run(data[:cut]):
            return False
        carry = data[cut:]
    return _valid_utf8_run(carry)


def _last_character_start(data: bytes) -> int:
    """Where the last character of ``data`` starts: the last byte in its final four that is not a
    continuation byte (``10xxxxxx``). Valid UTF-8 is never split there; four continuation bytes in a row
    are invalid wherever the cut falls."""
    for back in range(1, min(4, len(data)) + 1):
        if data[-back] & 0xC0 != 0x80:
            return len(data) - back
    return len(data)


def _valid_utf8_run(data: bytes) -> bool:
    try:
        pl.Series([data], dtype=pl.Binary).cast(pl.String)
    except pl.exceptions.ComputeError:
        return False
    return True


def _has_utf8_multibyte(path: Path) -> bool:
    tail = b""
    for chunk in chunks(path):
        if _UTF8_MULTIBYTE.search(tail + chunk):
            return True
        tail = chunk[-3:]
    return False


def _transcoded(path: Path, data: Path, scratch: Path, codec: str, label: str) -> Decoded:
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    target = scratch / "utf8.csv"
    offset = 0
    try:
        with target.open("w", encoding="utf-8", newline="") as out:
            for chunk in chunks(data):
                out.write(decoder.decode(chunk))
                offset += len(chunk)
            out.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as err:
        at = max(0, offset - len(decoder.getstate()[0]) + err.start)
        # Rows can be counted in the raw bytes only when the codec writes line ends as ASCII.
        row = "" if codec.startswith(("utf-16", "utf-32")) else f", row {record_at(data, at) + 1}"
        raise UnreadableFileError(
            f"{path}: cannot be decoded as {label} at byte offset {at}{row} ({err.reason})"
        ) from None
    # A leading byte-order mark decodes to U+FEFF, which the header reader strips.
    return Decoded(target, label)
