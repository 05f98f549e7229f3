"""The journal's one-writer lock: an OS file lock on ``<journal>.lock`` next to the journal's real path.

``filelock`` takes ``flock`` on POSIX and ``msvcrt.locking`` on Windows; either way the OS releases the
lock when the process dies, so a killed run never leaves a lock behind. The lock file is named after the
journal's *resolved* path (symlinks and ``..`` followed), so any two spellings of one journal share one lock.

``contacts-pipeline runs`` probes the lock (:func:`lock_is_free`) by taking it for an instant; an import
that tries at that very instant waits up to :data:`ACQUIRE_WAIT_S` for it instead of being refused, so only
a real run holding the lock refuses another import.

A second guard sits in the database itself (:func:`claim_database`): the writer records its lock file in
the journal's ``meta`` table, and a writer that arrives through a path ``resolve()`` cannot equate with the
first (a bind mount, a network share under two names) finds that lock file recorded and still held.
An SQLite lock held for the whole run could not serve: WAL readers (``runs``) must read while a run
writes, and the run commits batch by batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import RunLockedError
from pipeline.oslock import holding, is_free

if TYPE_CHECKING:
    from pipeline.journal.store import Journal

# How long an import retries a held lock before refusing: long enough to outlast a `runs` probe (which
# holds it for a few milliseconds), short enough that a second import is refused promptly.
ACQUIRE_WAIT_S = 1.0
# The ``meta`` key naming the lock file of the journal's current (or last) writer.
WRITER_LOCK_KEY = "writer_lock"


def lock_path(journal_path: str | Path) -> Path:
    """``<journal>.lock`` beside the journal's real path."""
    real = Path(journal_path).resolve()
    return real.with_name(real.name + ".lock")


@contextmanager
def journal_lock(journal_path: str | Path, *, wait_s: float = ACQUIRE_WAIT_S) -> Iterator[Path]:
    """Hold the journal's exclusive lock for the block, or raise :class:`RunLockedError` within ``wait_s``.

    The journal's folder is created when missing, so the lock can live beside it.
    """
    Path(journal_path).resolve().parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(journal_path)
    with holding(path, wait_s) as held:
        if not held:
            raise RunLockedError(
                f"another import is using the journal {journal_path} (its lock {path} is held); "
                "wait for it to finish, or pass --journal to use another journal"
            )
        yield path


def lock_is_free(journal_path: str | Path) -> bool:
    """True when no process holds the journal's lock right now (so no run can be live)."""
    return is_free(lock_path(journal_path))


def claim_database(journal: Journal, lock: Path) -> None:
    """Record ``lock`` as the journal's writer lock, refusing when another lock file recorded there is held.

    Call with ``lock`` held; the check and the record are one write transaction, so of two writers that
    reach one database through different paths the second always sees the first.
    """

    def check(recorded: str | None) -> None:
        if recorded is None or recorded == str(lock):
            return
        other = Path(recorded)
        if other.exists() and not is_free(other):
            raise RunLockedError(
                f"another import is using the journal {journal.path} through another path (its lock "
                f"{other} is held); wait for it to finish, or pass --journal to use another journal"
            )

    journal.claim(WRITER_LOCK_KEY, str(lock), check)
