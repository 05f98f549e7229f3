"""The files the tool writes: atomic replacement, outputs that never clobber inputs, checksums, timestamps.

Every report, summary, export and manifest is written through :func:`atomic_path` (or its helpers): to a
temporary file in the same folder, renamed over the final path only once it is complete, so a full disk or
a crash never leaves a truncated file where a finished one is expected, and the temporary file is removed
when the write fails. :func:`check_outputs` runs before any work (and any API request): an output path
that is one of the run's inputs, or another of its outputs, is refused.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pipeline.errors import ConfigError

# Files are hashed in pieces of this size, so a large input or export never sits in memory.
CHECKSUM_CHUNK = 1 << 20
TEMP_SUFFIX = ".tmp"


def sha256_file(path: str | Path) -> str:
    """The SHA-256 of the file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHECKSUM_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def utc_now_iso() -> str:
    """Now, in UTC, to the second (ISO 8601)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- atomic writes ---------------------------------------------------------------------------------------


def temp_path_for(path: str | Path) -> Path:
    """A fresh hidden name next to ``path`` (same folder, so the final rename never crosses filesystems)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on failure it is removed.

    For writers that take a path (polars ``write_csv``, ``sink_parquet``). The folder is created if needed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path_for(path)
    try:
        yield temp
        _fsync(temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically."""
    with atomic_path(path) as temp:
        temp.write_bytes(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def _fsync(path: Path) -> None:
    # The bytes are on disk before the rename publishes them: a crash right after never shows an empty file.
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


# -- outputs never clobber inputs ------------------------------------------------------------------------


def check_outputs(
    outputs: Mapping[str, str | Path | None], inputs: Mapping[str, str | Path | None] | None = None
) -> None:
    """Refuse an output that is one of the ``inputs`` or another output (``ConfigError``, exit 2).

    Keys name the files in the message (``"--report"``, ``"the input file"``). Two paths are the same
    file when they resolve to the same path (relative aliases, ``..``, symbolic links), when they are
    hard links of one file, or when they differ only in letter case (which many filesystems ignore).
    ``None`` entries are skipped. Runs before any work, so nothing is sent when it refuses.
    """
    given_inputs = [(name, Path(p)) for name, p in (inputs or {}).items() if p is not None]
    given_outputs = [(name, Path(p)) for name, p in outputs.items() if p is not None]
    for i, (name, path) in enumerate(given_outputs):
        for other, other_path in given_inputs:
            if same_file(path, other_path):
                raise ConfigError(
                    f"{name} {path} is the same file as {other} {other_path}: it would be overwritten; "
                    f"write {name} elsewhere"
                )
        for other, other_path in given_outputs[:i]:
            if same_file(path, other_path):
                raise ConfigError(
                    f"{name} {path} is the same file as {other} {other_path}, which the run also writes; "
                    "choose another name"
                )


def deleted_records_path(report_path: str | Path) -> Path:
    """Where ``import --delete-missing`` writes the records it deletes: ``<report stem>.deleted.csv``
    next to the reconciliation file (an output like the report, so :func:`check_outputs` covers it)."""
    report_path = Path(report_path)
    return report_path.with_name(f"{report_path.stem}.deleted.csv")


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether ``a`` and ``b`` name one file (see :func:`check_outputs`); neither needs to exist."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists() and os.path.samefile(a, b):
            return True
    except OSError:
        pass
    return _key(a) == _key(b)


def _key(path: Path) -> str:
    return os.path.normcase(str(path.resolve())).casefold()
