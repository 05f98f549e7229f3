"""``runs revert``: undo one import run, from what the journal recorded of it.

Read the run's outcomes and before-images from the journal, read the records it created or updated as
they are stored now (by id, ten a request), plan (:mod:`pipeline.revert.plan`), and, only when asked to
act, carry the plan out (:mod:`pipeline.revert.execute`) and record the revert in the journal. Either way
one row per record goes to a CSV. A dry revert sends reads only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from pipeline import asyncrun
from pipeline.csvsafe import write_csv
from pipeline.errors import ConfigError
from pipeline.files import check_outputs
from pipeline.genesys.client import GenesysClient
from pipeline.genesys.settings import ClientSettings
from pipeline.journal.images import (
    Reverted,
    RunRecord,
    before_images,
    forget,
    later_writes,
    mark_reverted,
    reverted,
    run_records,
)
from pipeline.journal.lock import claim_database, journal_lock
from pipeline.journal.run import check_target
from pipeline.journal.store import Journal
from pipeline.outcomes import Status
from pipeline.revert.execute import carry_out
from pipeline.revert.plan import DONE, FAILED, Step, counts, plan_revert

COLUMNS = ("kind", "key", "genesys_id", "action", "status", "message")


@dataclass(frozen=True)
class RevertResult:
    run_id: int
    steps: list[Step]
    acted: bool
    out: Path | None
    already: Reverted | None = None

    @property
    def failed(self) -> int:
        return sum(1 for s in self.steps if s.status == FAILED)

    def counts(self) -> dict[str, dict[str, int]]:
        return counts(self.steps)


def default_out(journal: str | Path, run_id: int) -> Path:
    return Path(journal).parent / f"revert-{run_id}.csv"


def revert_run(
    journal_path: str | Path,
    run_id: int,
    settings: ClientSettings,
    *,
    target: str | None,
    act: bool = False,
    out: str | Path | None = None,
    concurrency: int = 4,
) -> RevertResult:
    """Plan (and with ``act``, carry out) the revert of run ``run_id``; write one row per record to
    ``out`` (default ``<journal dir>/revert-<run>.csv``). ``target`` names where this command sends, as
    ``import`` records it (None: the API base URL); a run recorded against another target is refused
    (ConfigError, exit 2). A run already reverted is a no-op: ``already`` says when, nothing is sent."""
    journal_path = Path(journal_path)
    out = Path(out) if out is not None else default_out(journal_path, run_id)
    check_outputs({"--out": out}, {"the journal": journal_path})
    if not journal_path.exists():
        raise ConfigError(f"no journal at {journal_path} (pass --journal to name another)")
    now = {"target": target or settings.api_base_url, "api": settings.api_base_url}
    if not act:
        with Journal(journal_path, create=False) as journal:
            return _revert(journal, run_id, settings, now, act=False, out=out, concurrency=concurrency)
    with journal_lock(journal_path) as lock, Journal(journal_path) as journal:
        claim_database(journal, lock)
        journal.settle_stale_runs()
        return _revert(journal, run_id, settings, now, act=True, out=out, concurrency=concurrency)


def _revert(
    journal: Journal,
    run_id: int,
    settings: ClientSettings,
    now: dict[str, Any],
    *,
    act: bool,
    out: Path,
    concurrency: int,
) -> RevertResult:
    info = journal.run(run_id)
    if info is None:
        raise ConfigError(f"no run {run_id} in journal {journal.path} (see `contacts-pipeline runs`)")
    if info.dry_run:
        raise ConfigError(f"run {run_id} was a dry run: it changed nothing, so there is nothing to revert")
    done = reverted(journal, run_id)
    if done is not None:
        return RevertResult(run_id, [], act, None, already=done)
    check_target(
        run_id, info.options, now, "Revert with the run's own --region / --base-url / --sandbox-state"
    )
    records = run_records(journal, run_id)
    images, later = before_images(journal, run_id), later_writes(journal, run_id)
    steps = asyncrun.run(_plan_and_act(settings, records, images, later, act, concurrency))
    if act:
        deleted = [s.genesys_id for s in steps if s.action == "delete" and s.status == DONE and s.genesys_id]
        restored = [
            s.genesys_id for s in steps if s.action == "restore" and s.status == DONE and s.genesys_id
        ]
        if any(s.status == FAILED for s in steps):
            forget(journal, deleted, restored)  # not marked reverted: a second revert retries the rest
        else:
            mark_reverted(journal, run_id, counts(steps), deleted, restored)
    write_steps(steps, out)
    return RevertResult(run_id, steps, act, out)


async def _plan_and_act(
    settings: ClientSettings,
    records: Sequence[RunRecord],
    images: Any,
    later: dict[str, int],
    act: bool,
    concurrency: int,
) -> list[Step]:
    touched = [r for r in records if r.status in (Status.CREATED, Status.UPDATED) and r.genesys_id]
    stored: dict[tuple[str, str], dict[str, Any]] = {}
    async with GenesysClient(settings) as client:
        for kind, api in (("contact", "contacts"), ("organization", "organizations")):
            ids = [str(r.genesys_id) for r in touched if r.kind == kind]
            if ids:
                found = await client.bulk_get(api, ids)  # type: ignore[arg-type]
                stored.update({(kind, gid): record for gid, record in found.items()})
        steps = plan_revert(records, images, stored, later)
        if act:
            steps = await carry_out(client, steps, concurrency=concurrency)
    return steps


def write_steps(steps: Sequence[Step], path: str | Path) -> None:
    frame = pl.DataFrame(
        {name: [getattr(s, name) for s in steps] for name in COLUMNS},
        schema=dict.fromkeys(COLUMNS, pl.String),
    )
    write_csv(frame, path)
