"""One import run's life in the journal: lock, start or resume, and the state it ends in.

``with journaled_run(...) as run:`` holds the journal's lock for the whole block and leaves the run
``completed`` (the block ended normally), ``interrupted`` (Ctrl-C: re-raised as
:class:`RunInterruptedError` naming the resume command) or ``failed`` (any other error, re-raised).
A SIGKILL leaves it ``running``; the next run that takes the lock calls it ``interrupted``.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pipeline.errors import ConfigError, PipelineError, RunInterruptedError
from pipeline.files import sha256_file
from pipeline.journal.ledger import RunLedger
from pipeline.journal.lock import claim_database, journal_lock
from pipeline.journal.store import DEFAULT_JOURNAL, Journal, RunInfo, RunState

Resume = int | Literal["last"] | None
# Options a resume may change: where the report goes and how much is sent, never what a record becomes or
# where it goes. Every other option that differs from the run's is refused (docs/journal.md).
HONOURED_ON_RESUME = frozenset({"report_path", "full", "compare_live", "create_source", "save_before"})
_FLAGS = {"report_path": "--report", "division_id": "--division"}
# A failed run's error is kept for ``runs show``; messages are one line, this bounds a pathological one.
ERROR_MAX = 500


@dataclass
class ActiveRun:
    """The run being worked on, and what the block reports for its end."""

    journal: Journal
    ledger: RunLedger
    run_id: int
    options: dict[str, Any]
    resumed: bool
    counts: dict[str, Any] | None = None
    report_path: str | None = None


def input_key(path: str | Path) -> str:
    """How the journal names an input file: its absolute path."""
    return str(Path(path).resolve())


def resume_command(input_path: str, run_id: int, journal_path: Path) -> str:
    words = ["contacts-pipeline", "import", input_path, "--resume", str(run_id)]
    if Path(journal_path).resolve() != DEFAULT_JOURNAL.resolve():
        words += ["--journal", str(journal_path)]
    return shlex.join(words)


def _to_resume(journal: Journal, resume: int | Literal["last"], key: str, checksum: str) -> RunInfo:
    if resume == "last":
        info = journal.last_unfinished(key, checksum)
        if info is None:
            raise ConfigError(
                f"nothing to resume: journal {journal.path} has no unfinished run of {key} with its "
                "current content; run the import without --resume"
            )
        return info
    info = journal.run(resume)
    if info is None:
        raise ConfigError(f"no run {resume} in journal {journal.path} (see `contacts-pipeline runs`)")
    if info.state is RunState.COMPLETED:
        raise ConfigError(f"run {resume} already completed; nothing to resume")
    if info.dry_run:
        raise ConfigError(f"run {resume} was a dry run; dry runs are not resumed")
    if info.input_sha256 != checksum:
        raise ConfigError(
            f"run {resume} imported {info.input_path} with other content (sha256 {info.input_sha256[:12]}…); "
            "the file changed since, so start a new import (unchanged records are skipped anyway)"
        )
    return info


def _flag(name: str) -> str:
    return _FLAGS.get(name, "--" + name.replace("_", "-"))


def _same(a: Any, b: Any) -> bool:
    """Equal as the journal records them (JSON: tuples are lists, paths are text)."""
    return json.dumps(a, default=str, sort_keys=True) == json.dumps(b, default=str, sort_keys=True)


def _target_of(options: Mapping[str, Any]) -> Any:
    """Where a run's records went: its target (a scope for change-only memory), else its API base URL
    (an in-memory sandbox, which has a new address each time; runs recorded before the target was)."""
    return options.get("target") or options.get("api")


def _recorded_value(options: Mapping[str, Any], section: str, name: str) -> Any:
    values = options.get(section)
    if isinstance(values, Mapping) and name in values:
        return values[name]
    # Older runs kept some options in another section (the prepare options under "file").
    for other in options.values():
        if isinstance(other, Mapping) and name in other:
            return other[name]
    return None


def check_target(run_id: int, then: Mapping[str, Any], now: Mapping[str, Any], advice: str) -> None:
    """Raise ConfigError (exit 2) when ``now`` (a command's recorded options) goes to another target than
    run ``run_id`` did (``then``): the ids the run recorded do not exist there."""
    before, after = _target_of(then), _target_of(now)
    if before != after:
        raise ConfigError(
            f"run {run_id} sent its records to {before}, but this command sends them to {after}: the ids "
            f"it recorded do not exist there. {advice}"
        )


def resume_options(
    run_id: int, then: Mapping[str, Any], now: Mapping[str, Any], given: Collection[str]
) -> dict[str, Any]:
    """The options a resumed run goes on with: the run's own, with the options in ``given`` (those the
    command names) that are safe to change taken from ``now``.

    Raises ConfigError (exit 2) when the command sends to another target than the run did (its recorded
    ids would not exist there), or names an option that differs from the run's and is not safe to change.
    """
    check_target(
        run_id,
        then,
        now,
        "Resume with the run's own --region / --base-url / --sandbox-state, or start a new import "
        "(without --resume)",
    )
    merged = {k: dict(v) if isinstance(v, Mapping) else v for k, v in then.items()}
    refused: list[str] = []
    for section, values in now.items():
        if not isinstance(values, Mapping):
            continue
        for name, value in values.items():
            old = _recorded_value(then, section, name)
            if name not in given or _same(old, value):
                continue
            if name in HONOURED_ON_RESUME:
                merged.setdefault(section, {})[name] = value
            else:
                refused.append(
                    f"{_flag(name)} (run: {json.dumps(old, default=str)}, now: "
                    f"{json.dumps(value, default=str)})"
                )
    if refused:
        raise ConfigError(
            f"run {run_id} was started with other options than this command gives, and a resume goes on "
            f"as the run started: {'; '.join(refused)}. Leave them out to resume with the run's own, or "
            "start a new import (without --resume)"
        )
    return merged


@contextmanager
def journaled_run(
    journal_path: str | Path,
    input_path: str | Path,
    *,
    options: Mapping[str, Any],
    dry_run: bool,
    resume: Resume = None,
    target: str | None = None,
    given: Collection[str] = frozenset(),
) -> Iterator[ActiveRun]:
    """Lock the journal, start (or resume) a run for ``input_path``, and record how it ends.

    On resume the run's recorded ``options`` are handed back in :attr:`ActiveRun.options`: a run goes on
    as it was started, but for the options in ``given`` (named by the command) that are safe to change;
    see :func:`resume_options`. ``target`` names where records go, for change-only memory (see RunLedger);
    it is recorded so that a resume cannot send elsewhere.
    """
    if target is not None:
        options = {**options, "target": target}
    journal_path = Path(journal_path)
    with journal_lock(journal_path) as lock, Journal(journal_path) as journal:
        claim_database(journal, lock)
        journal.settle_stale_runs()
        key = input_key(input_path)
        checksum = sha256_file(input_path)
        if resume is None:
            run_id = journal.start_run(key, checksum, dict(options), dry_run=dry_run)
            session, recorded, resumed = 1, dict(options), False
        else:
            info = _to_resume(journal, resume, key, checksum)
            recorded = resume_options(info.id, info.options, options, given)
            run_id, resumed = info.id, True
            session = journal.reopen_run(run_id)
        ledger = RunLedger(journal, run_id, session, dry_run=dry_run, resuming=resumed, target=target)
        run = ActiveRun(journal, ledger, run_id, recorded, resumed)
        try:
            yield run
        except KeyboardInterrupt:
            journal.finish_run(run_id, RunState.INTERRUPTED, error="interrupted")
            command = resume_command(str(input_path), run_id, journal_path)
            raise RunInterruptedError(
                f"interrupted: run {run_id} stopped cleanly and every answered batch is in the journal; "
                f"go on where it stopped with: {command} (and the same connection options)",
                run_id=run_id,
            ) from None
        except BaseException as err:
            message = str(err) if isinstance(err, PipelineError) else type(err).__name__
            journal.finish_run(run_id, RunState.FAILED, error=message[:ERROR_MAX])
            raise
        journal.finish_run(run_id, RunState.COMPLETED, counts=run.counts, report_path=run.report_path)
