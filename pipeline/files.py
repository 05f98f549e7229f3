"""Checksums and timestamps, as recorded in the journal and in export manifests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

# Files are hashed in pieces of this size, so a large input or export never sits in memory.
CHECKSUM_CHUNK = 1 << 20


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
