"""Temporary folders are locked while in use, and a later run removes those a killed run left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from unittest.mock import patch

import pytest
from filelock import FileLock

from pipeline.scratch import LOCK_NAME, PREFIX, SETTLING_S, UNLOCKED_MAX_AGE_S, Scratch, sweep_abandoned

NOW = 2_000_000_000.0


def _folder(root: Path, name: str, *, lock_age: float | None, folder_age: float = 0.0) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "rows.parquet").write_bytes(b"spilled")
    if lock_age is not None:
        lock = folder / LOCK_NAME
        lock.touch()
        os.utime(lock, (NOW - lock_age, NOW - lock_age))
    os.utime(folder, (NOW - folder_age, NOW - folder_age))
    return folder


def test_only_folders_of_ours_that_no_live_process_holds_are_swept(tmp_path: Path) -> None:
    """A free lock older than the settling time goes; a held lock, a fresh one, a young unlocked folder
    and anything not named like ours stay; an unlocked folder of ours goes once a day old."""
    dead = _folder(tmp_path, f"{PREFIX}stage-dead", lock_age=SETTLING_S + 1)
    held = _folder(tmp_path, f"{PREFIX}stage-held", lock_age=SETTLING_S + 1)
    fresh = _folder(tmp_path, f"{PREFIX}read-fresh", lock_age=5)
    legacy_young = _folder(tmp_path, f"{PREFIX}read-young", lock_age=None, folder_age=60)
    legacy_old = _folder(tmp_path, f"{PREFIX}read-old", lock_age=None, folder_age=UNLOCKED_MAX_AGE_S + 1)
    other = _folder(tmp_path, "someone-else", lock_age=SETTLING_S + 1)
    with FileLock(held / LOCK_NAME):
        removed = sweep_abandoned(tmp_path, now=lambda: NOW)
    assert sorted(removed) == sorted([dead, legacy_old])
    assert [p.exists() for p in (dead, held, fresh, legacy_young, legacy_old, other)] == [
        False,
        True,
        True,
        True,
        False,
        True,
    ]


def test_a_scratch_folder_is_locked_while_in_use_and_removed_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live folder survives a sweep however old its lock file looks; closing removes it."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with Scratch("stage") as folder:
        assert folder.parent == tmp_path
        assert folder.name.startswith(f"{PREFIX}stage-")
        lock = folder / LOCK_NAME
        os.utime(lock, (NOW - 2 * SETTLING_S, NOW - 2 * SETTLING_S))
        assert sweep_abandoned(tmp_path, now=lambda: NOW) == []
        assert folder.exists()
    assert not folder.exists()


def test_a_planted_lock_file_that_links_elsewhere_is_left_alone(tmp_path: Path) -> None:
    """A folder named like ours whose lock file is a symbolic link is never probed or removed, and the
    file the link points to is untouched (locking would open it)."""
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    planted = _folder(tmp_path, f"{PREFIX}stage-planted", lock_age=None, folder_age=UNLOCKED_MAX_AGE_S + 1)
    try:
        (planted / LOCK_NAME).symlink_to(target)
    except OSError:
        pytest.skip("this system does not let a test make symbolic links")
    os.utime(planted, (NOW - UNLOCKED_MAX_AGE_S - 1,) * 2)
    probed: list[Path] = []
    with patch("pipeline.scratch.is_free", side_effect=lambda lock: probed.append(lock) or True):
        assert sweep_abandoned(tmp_path, now=lambda: NOW) == []
    assert probed == []
    assert planted.exists()
    assert target.read_text() == "keep me"


_CHILD = """
import sys, time
from pipeline.scratch import Scratch
scratch = Scratch("import")
(scratch.path / "partition.parquet").write_bytes(b"x" * 1000)
print(scratch.path, flush=True)
time.sleep(120)
"""


def test_the_folder_of_a_killed_run_is_removed_by_the_next_sweep(tmp_path: Path) -> None:
    """A process killed outright (no clean-up runs) leaves its folder; the OS frees its lock, so a sweep
    once the settling time has passed removes it."""
    env = {**os.environ, "TMPDIR": str(tmp_path), "TEMP": str(tmp_path), "TMP": str(tmp_path)}
    child = subprocess.Popen([sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None
        folder = Path(child.stdout.readline().strip())
        assert folder.is_dir()
        assert folder.parent == tmp_path
        assert sweep_abandoned(tmp_path, now=lambda: NOW) == []  # alive: its lock is held
    finally:
        child.kill()
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    assert folder.is_dir()
    later = (folder / LOCK_NAME).stat().st_mtime + SETTLING_S + 1
    assert sweep_abandoned(tmp_path, now=lambda: later) == [folder]
    assert not folder.exists()
