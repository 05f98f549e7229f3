"""The files an export keeps next to its output: the resume state while it runs, the manifest when done.

State (``<out>.export-state.json``, deleted when the export completes) records, after every page written,
the cursor that fetches the next page, the byte offset of the partial file after the page, and the run's
counters. It is replaced atomically (write a temporary file, then rename), so a crash leaves either the
old state or the new one, never half of one; the partial file is cut back to the recorded offset on
resume, which drops a page that was written but not yet recorded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline.files import write_text_atomic

STATE_VERSION = 1


def state_path(out: Path) -> Path:
    return out.with_name(out.name + ".export-state.json")


def partial_path(out: Path) -> Path:
    """Where the rows go while the export runs; renamed (CSV) or converted (parquet) at the end."""
    return out.with_name(out.name + ".partial")


def manifest_path(out: Path) -> Path:
    return out.with_name(out.name + ".manifest.json")


def export_outputs(out: Path) -> dict[str, Path]:
    """Every file an export of ``out`` writes, named for messages (no two may be the same file)."""
    return {
        "--out": out,
        "the partial file": partial_path(out),
        "the resume state": state_path(out),
        "the manifest": manifest_path(out),
    }


@dataclass
class Counts:
    """What the manifest reports; carried through the state so a resumed export counts everything once."""

    rows: int = 0
    contacts: int = 0
    organizations: int = 0
    contacts_without_external_id: int = 0
    organizations_without_external_id: int = 0
    contacts_with_unknown_organization: int = 0
    contact_scan_requests: int = 0
    organization_scan_requests: int = 0


@dataclass
class ExportState:
    """Where an interrupted export stands. ``phase``: ``contacts``, ``organizations`` or ``orphans``."""

    signature: str
    phase: str
    cursor: str | None
    offset: int
    counts: Counts = field(default_factory=Counts)
    started_at: str = ""
    version: int = STATE_VERSION

    def save(self, path: Path) -> None:
        write_text_atomic(path, json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> ExportState | None:
        """The saved state, or None when there is none or it cannot be read (the export starts afresh)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != STATE_VERSION:
                return None
            return cls(**{**data, "counts": Counts(**data["counts"])})
        except (OSError, ValueError, TypeError, KeyError):
            return None


def signature(settings: dict[str, Any]) -> str:
    """A digest of everything that shapes the file; a resume with other settings starts afresh."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
