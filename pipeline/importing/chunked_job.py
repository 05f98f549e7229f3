"""``import`` of a file larger than memory: the chunked stage, then the push partition by partition.

The chunked stage (:mod:`pipeline.prepare.chunked`) hands each partition's grouping to a synchronous
callback; the push is asynchronous. They meet on disk: each grouping is written to a temporary Parquet
folder as the stage settles it (:class:`SpilledParts`), and once the stage is done the push reads them
back one at a time, organizations then contacts, so only one partition's records are in memory. A
partition holds every row of its accounts and contacts (the stage's straddler partition is closed), so a
contact's organization is pushed in its own partition and linking by external id stays correct. What
stays for the whole file is narrow: every row's ``source_row`` and outcome columns, and with
``--delete-missing`` the set of keys the file holds. The reconciliation file is then written by reading
the input again (:mod:`pipeline.report.streamed`). The temporary folder is removed on success, failure
and Ctrl-C.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.errors import ConfigError
from pipeline.fields import Specs
from pipeline.genesys.client import GenesysClient
from pipeline.importing.deletions import PresentKeys, present_keys
from pipeline.importing.options import ImportOptions, Progress, PushReport
from pipeline.importing.push_file import start_push
from pipeline.journal.ledger import RunLedger
from pipeline.outcomes import OUTCOME_COLUMNS, SOURCE_ROW
from pipeline.prepare.chunked import chunked_stage, partitions_for, spill
from pipeline.prepare.chunks import DEFAULT_CHUNK_ROWS, TableChunks, chunks_of, open_again, open_chunks
from pipeline.prepare.group import Grouped
from pipeline.prepare.read import RawTable
from pipeline.prepare.stage import PrepareOptions, resolve_input_columns, stage_warnings
from pipeline.report import validation
from pipeline.report.merge import empty_outcomes, merge_outcomes
from pipeline.report.reconcile import record_counts, report_format
from pipeline.scratch import Scratch
from pipeline.workbook import MAX_ROWS

# Rows per chunk of the stage, and partitions (None: one per PARTITION_BYTES of input, see
# :func:`partitions_for`). Module settings so tests can make a small file take the chunked path in earnest.
CHUNK_ROWS = DEFAULT_CHUNK_ROWS
PARTITIONS: int | None = None
_FRAMES = ("organizations", "contacts", "outcomes")


def is_large(path: str | Path) -> bool:
    """Whether ``import`` stages ``path`` chunk by chunk: the size ``validate`` does it at."""
    path = Path(path)
    return path.is_file() and path.stat().st_size > validation.IN_MEMORY_BYTES


class SpilledParts:
    """Partitions' groupings written to a folder as the stage settles them, read back one at a time."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self.organizations = 0
        self.contacts = 0
        # Rows settled before any API call (invalid, in conflict, or whose contact is skipped for them).
        self.settled = 0

    def add(self, grouped: Grouped) -> None:
        target = self.folder / f"{self.count:05d}"
        target.mkdir()
        for name in _FRAMES:
            spill(getattr(grouped, name), target / f"{name}.parquet")
        self.count += 1
        self.organizations += grouped.organizations.height
        self.contacts += grouped.contacts.height
        self.settled += grouped.outcomes.height

    def columns(self) -> Grouped:
        """No rows, every column any partition has: what the schemas and custom fields are resolved from."""
        schemas: dict[str, dict[str, pl.DataType]] = {name: {} for name in _FRAMES}
        for index in range(self.count):
            for name, schema in schemas.items():
                schema.update(pl.read_parquet_schema(self.folder / f"{index:05d}" / f"{name}.parquet"))
        frames = {name: pl.DataFrame(schema=schema) for name, schema in schemas.items()}
        return Grouped(frames["organizations"], frames["contacts"], frames["outcomes"])

    def __iter__(self) -> Iterator[Grouped]:
        for index in range(self.count):
            part = self.folder / f"{index:05d}"
            frames = {name: pl.read_parquet(part / f"{name}.parquet") for name in _FRAMES}
            yield Grouped(frames["organizations"], frames["contacts"], frames["outcomes"])


@contextmanager
def spill_folder() -> Iterator[Path]:
    """A temporary folder for the run's partitions, removed however the block ends (Ctrl-C included)."""
    with Scratch("import") as folder:
        yield folder


@dataclass(frozen=True)
class StagedFile:
    """What the stage left for the push: the partitions on disk, and what is kept of the whole file."""

    parts: SpilledParts
    # The source_row of every row staged: each ends with one outcome, pushed or not.
    source_rows: pl.Series
    # Every key of the file, invalid rows included (for --delete-missing); empty unless asked for.
    keys: PresentKeys
    warnings: list[str]


def stage_parts(
    table: TableChunks, prepare: PrepareOptions, specs: Specs, folder: Path, *, partitions: int, keys: bool
) -> StagedFile:
    """Stage ``table`` chunk by chunk into ``folder`` (:class:`SpilledParts`); ``keys``: gather the file's
    keys too, narrowly, before any partition is settled."""
    columns = resolve_input_columns(table.headers, table.path, specs, prepare.mapping)
    parts = SpilledParts(folder)
    seen: dict[str, object] = {}

    def on_keys(frame: pl.DataFrame) -> None:
        seen["rows"] = frame.get_column(SOURCE_ROW)
        if keys:
            seen["keys"] = present_keys(frame)

    staged = chunked_stage(
        table,
        columns,
        specs,
        default_region=prepare.default_region,
        account_conflicts=prepare.account_conflicts,
        on_part=parts.add,
        partitions=partitions,
        on_keys=on_keys,
    )
    rows = seen.get("rows")
    source_rows = rows if isinstance(rows, pl.Series) else pl.Series(SOURCE_ROW, [], dtype=pl.Int64)
    found = seen.get("keys")
    present = found if isinstance(found, PresentKeys) else PresentKeys(frozenset(), frozenset())
    warnings = stage_warnings(table.warnings, columns, staged.group_warnings)
    return StagedFile(parts, source_rows, present, warnings)


@dataclass(frozen=True)
class ChunkedInput:
    """The rows to stage, and how to read every row of the input again for the report."""

    table: TableChunks
    reopen: Callable[[], TableChunks]
    partitions: int


def chunked_input(
    path: str | Path, prepare: PrepareOptions, rerun: RawTable | None, whole: RawTable | None
) -> ChunkedInput:
    """``path`` opened chunk by chunk; or, for ``--only-failed`` (a reconciliation file fed back, which
    the reader reads whole), the rows to re-run (``rerun``) served in chunks, the report over ``whole``."""
    partitions = PARTITIONS or partitions_for(Path(path))
    if rerun is not None and whole is not None:
        return ChunkedInput(chunks_of(rerun, CHUNK_ROWS), lambda: chunks_of(whole, CHUNK_ROWS), partitions)
    stamp = validation.file_stamp(path)

    first = open_chunks(path, encoding=prepare.encoding, sheet=prepare.sheet, rows=CHUNK_ROWS)

    def reopen() -> TableChunks:
        # The report reads the file again: it must still be the file staged.
        validation.check_unchanged(path, stamp)
        return open_again(first, rows=CHUNK_ROWS)

    return ChunkedInput(first, reopen, partitions)


def check_report_fits(report_path: str | Path | None, rows: int) -> None:
    """Refuse, before anything is sent, an .xlsx report a sheet cannot hold."""
    if report_path is not None and report_format(report_path) == "xlsx" and rows > MAX_ROWS - 1:
        raise ConfigError(
            f"{rows} rows do not fit in one .xlsx sheet (at most {MAX_ROWS - 1}); write the report as CSV "
            "(nothing was sent)"
        )


def _add_counts(total: dict[str, dict[str, int]], counts: dict[str, dict[str, int]]) -> None:
    for kind, tally in counts.items():
        into = total.setdefault(kind, {})
        for status, n in tally.items():
            into[status] = into.get(status, 0) + n


def _most_first(tally: dict[str, int]) -> dict[str, int]:
    """As :func:`~pipeline.report.reconcile.count_statuses` orders a count: most frequent first."""
    return dict(sorted(tally.items(), key=lambda item: -item[1]))


async def push_parts(
    client: GenesysClient,
    parts: SpilledParts,
    options: ImportOptions,
    *,
    rate_limit: int,
    specs: Specs,
    progress: Progress,
    ledger: RunLedger | None = None,
) -> PushReport:
    """Push every partition in turn (its organizations, then its contacts) under one run, and merge each
    partition's outcomes per row as it is done: only the narrow outcome frames outlive a partition."""
    started = time.monotonic()
    pusher = await start_push(
        client, parts.columns(), options, rate_limit=rate_limit, specs=specs, progress=progress, ledger=ledger
    )
    progress.organizations_total = parts.organizations
    progress.contacts_total = parts.contacts
    pieces: list[pl.DataFrame] = []
    counts: dict[str, dict[str, int]] = {}
    for grouped in parts:
        outcomes = await pusher.push(grouped)
        _add_counts(counts, record_counts(outcomes))
        pieces.append(merge_outcomes(grouped.outcomes, outcomes))
    merged = pl.concat(pieces).sort(SOURCE_ROW) if pieces else empty_outcomes()
    stats = pusher.stats
    return PushReport(
        outcomes=merged,
        organizations=_most_first(counts.get("organization", {})),
        contacts=_most_first(counts.get("contact", {})),
        duration_s=time.monotonic() - started,
        batches=stats.batches,
        entity_retries=stats.entity_retries,
        warnings=pusher.warnings,
        match_lookups=stats.match_lookups,
    )


def every_row(source_rows: pl.Series, pushed: pl.DataFrame, carried: pl.DataFrame | None) -> pl.DataFrame:
    """One outcome row per input row, sorted by ``source_row``: a row no record and no check spoke for
    gets empty outcome columns, as the in-memory report's join gives it; ``carried`` rows as they were."""
    rows = source_rows.cast(pl.Int64).to_frame(SOURCE_ROW)
    outcomes = rows.join(pushed.select(OUTCOME_COLUMNS), on=SOURCE_ROW, how="left").select(OUTCOME_COLUMNS)
    if carried is not None and carried.height:
        outcomes = pl.concat([outcomes, carried.select(OUTCOME_COLUMNS).cast(outcomes.schema)])
    return outcomes.sort(SOURCE_ROW)
