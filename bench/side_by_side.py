"""Measurements of one source tree in fresh processes, and a baseline revision checked out beside this one.

``run.py`` measures the local stage and ``validate --report`` of this tree and of a baseline revision on
the same file, in the same run, with the same interpreter, so a ratio between them is not skewed by the
load of a shared machine drifting between two runs hours apart. Each tree is measured with ``PYTHONPATH``
naming it, so its own ``pipeline`` package is the one imported even where the interpreter's environment has
another checkout installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The last main before the streaming local stage: what the targets are measured against.
BASELINE_REV = "02e8f67"
# The validate command exits 1 when some rows are invalid, which the bench files have on purpose.
VALIDATE_OK_EXITS = (0, 1)


class BenchError(Exception):
    """A measurement could not be taken (a child failed, git could not check the revision out)."""


def _env(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _run(command: list[str], tree: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=_env(tree), cwd=cwd, capture_output=True, text=True, check=False)


def _last_lines(text: str, count: int = 5) -> str:
    return "\n".join(text.strip().splitlines()[-count:])


def local_stage(path: Path, tree: Path = ROOT) -> dict[str, Any]:
    """``tree``'s own bench/local_stage.py on ``path``, in a fresh interpreter: its one JSON object."""
    done = _run([sys.executable, str(tree / "bench" / "local_stage.py"), str(path)], tree)
    if done.returncode != 0:
        raise BenchError(f"local_stage.py of {tree} failed ({done.returncode}):\n{_last_lines(done.stderr)}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def validate_report(path: Path, tree: Path, workdir: Path) -> dict[str, Any]:
    """``contacts-pipeline validate FILE --report`` with ``tree``'s code, in a fresh interpreter: wall
    seconds (start to exit, as a user waits for it), the child's peak RSS, and the report's size and digest
    (two trees that agree on every outcome write the same bytes)."""
    workdir.mkdir(parents=True, exist_ok=True)
    report, result = workdir / "validation.csv", workdir / "child.json"
    command = [
        sys.executable,
        str(HERE / "cli_child.py"),
        str(result),
        "validate",
        str(path),
        "--report",
        str(report),
    ]
    started = time.perf_counter()
    done = _run(command, tree)
    seconds = time.perf_counter() - started
    if done.returncode not in VALIDATE_OK_EXITS or not result.exists():
        raise BenchError(f"validate with {tree} exited {done.returncode}:\n{_last_lines(done.stderr)}")
    child = json.loads(result.read_text())
    digest = hashlib.sha256()
    with report.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    size = report.stat().st_size
    report.unlink()  # 400 MB at 1M rows: only its digest is compared
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": child["peak_rss_mb"],
        "exit_code": child["exit_code"],
        "report_bytes": size,
        "report_sha256": digest.hexdigest(),
    }


def ratios(current: dict[str, Any], baseline: dict[str, Any]) -> dict[str, float | None]:
    """current / baseline for seconds and peak RSS: below 1 means this tree is faster or smaller."""

    def ratio(key: str) -> float | None:
        if not current.get(key) or not baseline.get(key):
            return None
        return round(current[key] / baseline[key], 3)

    return {"seconds_ratio": ratio("seconds"), "peak_rss_ratio": ratio("peak_rss_mb")}


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"git {' '.join(args)}: {_last_lines(done.stderr, 2)}")
    return done.stdout.strip()


def this_commit() -> dict[str, Any]:
    """The commit measured, and whether tracked files differ from it (figures of uncommitted code)."""
    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "-uno"))}
    except (BenchError, OSError):
        return {"commit": None, "dirty": None}


@contextmanager
def baseline_tree(rev: str) -> Iterator[tuple[Path, str]]:
    """``rev`` checked out into a temporary detached worktree (its path and full commit), removed after."""
    commit = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    parent = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    tree = parent / "tree"
    git("worktree", "add", "--detach", str(tree), commit)
    try:
        yield tree, commit
    finally:
        try:
            git("worktree", "remove", "--force", str(tree))
        finally:
            shutil.rmtree(parent, ignore_errors=True)
            git("worktree", "prune")
