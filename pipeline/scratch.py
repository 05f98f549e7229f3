"""Temporary folders for a run's spilled data, and the removal of those a killed run left behind.

Every folder the tool makes in the system's temp directory is named ``contacts-pipeline-<kind>-...`` and
holds a lock file, locked (``flock`` on POSIX, ``msvcrt.locking`` on Windows, through ``filelock``) for as
long as its process uses it. A run removes its own folder however it ends short of being killed; a killed
one (SIGKILL, an out-of-memory kill, a power cut) cannot, and its folder may hold gigabytes. The OS
releases a dead process's lock, so each new folder first sweeps the temp directory: a folder of ours
whose lock can be taken belongs to no live process, and goes.

A lock file younger than :data:`SETTLING_S` is left alone even when free: its process may have created
it an instant ago and not locked it yet. A folder without a lock file (made before folders had one) is
removed only once older than :data:`UNLOCKED_MAX_AGE_S`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from filelock import FileLock

from pipeline.oslock import is_free

PREFIX = "contacts-pipeline-"
LOCK_NAME = ".in-use.lock"
# Longer than any process takes between creating its folder's lock file and locking it.
SETTLING_S = 10 * 60
UNLOCKED_MAX_AGE_S = 24 * 60 * 60


class Scratch:
    """One temporary folder of ours (``path``), locked until :meth:`close` removes it."""

    def __init__(self, kind: str) -> None:
        sweep_abandoned()
        self.path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{kind}-"))
        self._lock = FileLock(self.path / LOCK_NAME)
        try:
            self._lock.acquire()
        except BaseException:
            shutil.rmtree(self.path, ignore_errors=True)
            raise

    def close(self) -> None:
        """Remove the folder (a second call does nothing)."""
        if self._lock.is_locked:
            # Released first: Windows cannot delete a file that is open.
            self._lock.release()
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> Path:
        return self.path

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def sweep_abandoned(root: Path | None = None, *, now: Callable[[], float] = time.time) -> list[Path]:
    """Remove the folders of ours under ``root`` (the system's temp directory) that no live process
    uses; returns them. Folders that cannot be removed (another user's, a file held open) are skipped."""
    root = Path(tempfile.gettempdir()) if root is None else root
    removed: list[Path] = []
    try:
        candidates = [p for p in root.iterdir() if p.name.startswith(PREFIX)]
    except OSError:
        return removed
    for folder in candidates:
        if _abandoned(folder, now()):
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                removed.append(folder)
    return removed


def _abandoned(folder: Path, now: float) -> bool:
    try:
        if folder.is_symlink() or not folder.is_dir() or not _owned(folder):
            return False
        lock = folder / LOCK_NAME
        if lock.is_symlink():
            # Planted, not made by us (the folder is ours only by name): locking it would open its target.
            return False
        if not lock.exists():
            return now - folder.stat().st_mtime > UNLOCKED_MAX_AGE_S
        if now - lock.stat().st_mtime <= SETTLING_S:
            return False
        return is_free(lock)
    except OSError:
        return False


def _owned(folder: Path) -> bool:
    """Whether this user owns ``folder`` (always, where the OS has no user ids): another user's folder in a
    shared temp directory is theirs to clean, and a name like ours proves nothing."""
    getuid = getattr(os, "getuid", None)
    return getuid is None or folder.stat().st_uid == getuid()
