"""OS file locks (``flock`` on POSIX, ``msvcrt.locking`` on Windows, through ``filelock``): held for a
block, or probed. The OS releases a lock when its process dies, however it dies, so a free lock means
no live process holds it: what the journal's one-writer rule and the sweep of abandoned temporary
folders both rest on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout


@contextmanager
def holding(lock_file: Path, wait_s: float) -> Iterator[bool]:
    """Hold ``lock_file`` for the block (True), or run the block without it (False) after ``wait_s``."""
    lock = FileLock(lock_file, timeout=wait_s)
    try:
        lock.acquire()
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def is_free(lock_file: Path) -> bool:
    """Whether no process holds ``lock_file`` right now (taken and let go at once, never waited for)."""
    with holding(lock_file, 0.0) as held:
        return held
