"""The prepare stage for files larger than memory: chunk by chunk, spilled to disk, grouped part by part.

Each chunk of the input is mapped, normalized and validated on its own (every one of those steps looks at
one row at a time), and its rows and failures are written to a temporary Parquet dataset, partitioned by a
hash of the Account ID (of the Contact ID for rows without one). Grouping then runs one partition at a
time, and gives exactly what :func:`pipeline.prepare.group.group` gives on the whole file, because rows
relate to each other only through those two keys:

- rows of one Account ID share a partition by construction;
- rows of one Contact ID share one too, unless the contact appears with two account values (a null counts
  as a value). Those contacts are *straddlers*: their rows, and every row of an account one of them
  touches, are moved into one extra partition (see :func:`straddling_rows` for why that set is closed).

What looks across all contacts (shared emails and phones) is computed from every contact's identifiers,
spilled too, once the partitions are settled. The temporary data lives in a folder removed on success,
failure and Ctrl-C.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.errors import RunError
from pipeline.fields import CONTACT_KEY, ORGANIZATION_KEY, Specs
from pipeline.outcomes import SOURCE_ROW
from pipeline.prefetch import ahead
from pipeline.prepare.chunks import TableChunks
from pipeline.prepare.conflicts import IDENTIFIER_SCHEMA, identifier_values, shared_value_warnings
from pipeline.prepare.group import WARNING, AccountConflicts, Grouped, settle
from pipeline.prepare.mapping import ColumnMap, to_canonical
from pipeline.prepare.normalize import normalize
from pipeline.prepare.validate import FAILURE_SCHEMA, validate
from pipeline.scratch import Scratch

# Input bytes per partition of the spilled rows: about 200k rows of the Genesys template, whose grouping
# (rows, joins and records) stays a few hundred MB. Without a file size to go by, DEFAULT_PARTITIONS.
PARTITION_BYTES = 64 * 1024 * 1024
DEFAULT_PARTITIONS = 16
_PART = "_partition"
# Chunks mapped, normalized and validated at the same time (see :func:`_spill`).
IN_FLIGHT = 2


@dataclass(frozen=True)
class StagedPart:
    """One partition's grouping: its records to push and the outcomes of its rows (no warnings)."""

    organizations: pl.DataFrame
    contacts: pl.DataFrame
    outcomes: pl.DataFrame


@dataclass(frozen=True)
class ChunkedStage:
    """What the chunked stage found, beside the partitions it handed to ``on_part``."""

    rows_read: int
    # The account-conflict warnings, then the shared-identifier ones: what ``group`` returns for the file.
    group_warnings: list[str]
    organizations: int
    contacts: int


def partition_expr(partitions: int) -> pl.Expr:
    """The partition of a row: a hash of its Account ID, or of its Contact ID when it has none."""
    key = pl.coalesce(pl.col(ORGANIZATION_KEY), pl.col(CONTACT_KEY))
    return (key.hash(seed=0) % partitions).cast(pl.Int32).alias(_PART)


def _with_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with both key columns, null where the mapping has none (as ``group`` does)."""
    missing = [k for k in (CONTACT_KEY, ORGANIZATION_KEY) if k not in frame.columns]
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias(k) for k in missing)


@dataclass(frozen=True)
class _StageSettings:
    specs: Specs
    columns: ColumnMap
    default_region: str
    account_conflicts: AccountConflicts
    partitions: int


def spill(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` to the temporary folder; a full or unwritable disk is a :class:`RunError` that
    says where, and how to put the folder elsewhere."""
    try:
        frame.write_parquet(path, compression="lz4")
    except (OSError, pl.exceptions.ComputeError) as err:
        # polars reports a failed write (a full disk included) as a ComputeError around the OS's message.
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        reason = reason.rpartition("underlying IO error: ")[2]
        raise RunError(
            f"cannot write temporary data to {path.parent}: {reason}; the chunked stage needs about half "
            "the input's size there: set TMPDIR (TEMP on Windows) to a folder with room"
        ) from None


def _spill_chunk(raw: pl.DataFrame, index: int, settings: _StageSettings, folder: Path) -> int:
    """Map, normalize and validate one chunk; write its rows and failures by partition. Rows read."""
    columns, specs = settings.columns, settings.specs
    normalized = normalize(to_canonical(raw, columns), specs, default_region=settings.default_region)
    failures = validate(normalized, specs, columns.headers_for, constants=tuple(columns.constants))
    normalized = _with_keys(normalized).with_columns(partition_expr(settings.partitions))
    failures = failures.join(
        normalized.select(SOURCE_ROW, _PART), on=SOURCE_ROW, how="left", maintain_order="left"
    )
    for kind, frame in (("rows", normalized), ("failures", failures)):
        for (part,), piece in frame.partition_by(_PART, as_dict=True, include_key=False).items():
            target = folder / kind / f"{part}"
            target.mkdir(parents=True, exist_ok=True)
            spill(piece, target / f"{index:08d}.parquet")
    return raw.height


def _spill(table: TableChunks, settings: _StageSettings, folder: Path) -> int:
    """Spill every chunk (:func:`_spill_chunk`), two at a time. Rows read.

    Nearly all of a chunk's work runs inside polars, which lets go of the GIL, and one chunk's work keeps
    about one core busy: a second chunk in flight uses the second core (2-core machines: about a third
    off the stage). Each chunk writes its own files, named by its index, so the order of the output does
    not depend on which finishes first; at most :data:`IN_FLIGHT` chunks are held at once.
    """
    rows_read = 0
    pending: deque[Future[int]] = deque()
    with ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="stage") as pool:
        try:
            for index, raw in enumerate(table.chunks):
                pending.append(pool.submit(_spill_chunk, raw, index, settings, folder))
                del raw
                if len(pending) >= IN_FLIGHT:
                    rows_read += pending.popleft().result()
            while pending:
                rows_read += pending.popleft().result()
        except BaseException:
            # Let the chunk in progress finish before the caller removes the folder it writes into.
            for future in pending:
                future.cancel()
            raise
    return rows_read


def _read(folder: Path) -> pl.DataFrame | None:
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        return None
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")


def straddling_rows(keys: pl.DataFrame) -> pl.DataFrame:
    """The ``source_row`` of every row that must be grouped together with rows of other partitions.

    A straddler is a Contact ID seen with more than one account value (null included). The set taken is:
    the straddlers' rows, plus every row whose Account ID is on a straddler's row. It is closed, i.e. no
    row outside it shares a key with a row inside it: a row sharing an Account ID with a row inside has
    an account touched by a straddler, so it is inside; a row sharing a Contact ID ``c`` with a row inside
    is inside if ``c`` straddles, and otherwise ``c`` has a single account value, the one that put the
    other row inside, so it is inside too. Outside the set, each contact has one account value, so all
    rows of a contact and all rows of an account hash to the same partition.
    """
    named = keys.filter(pl.col(CONTACT_KEY).is_not_null() & pl.col(CONTACT_KEY).is_duplicated())
    straddlers = (
        named.group_by(CONTACT_KEY)
        .agg(pl.col(ORGANIZATION_KEY).n_unique().alias("accounts"))
        .filter(pl.col("accounts") > 1)
        .get_column(CONTACT_KEY)
    )
    # Imploded: polars deprecates is_in with a bare Series of the column's type (ambiguous in its eyes).
    straddling = pl.col(CONTACT_KEY).is_in(straddlers.implode())
    touched = named.filter(straddling).get_column(ORGANIZATION_KEY).drop_nulls()
    inside = straddling | pl.col(ORGANIZATION_KEY).is_in(touched.unique().implode())
    return keys.filter(inside).select(SOURCE_ROW)


def _narrow_keys(folder: Path) -> pl.DataFrame:
    """``source_row`` and both keys of every spilled row (the narrow pass)."""
    files = sorted((folder / "rows").glob("*/*.parquet"))
    if not files:
        return pl.DataFrame(
            schema={SOURCE_ROW: pl.Int64, CONTACT_KEY: pl.String, ORGANIZATION_KEY: pl.String}
        )
    return pl.scan_parquet(files).select(SOURCE_ROW, CONTACT_KEY, ORGANIZATION_KEY).collect()


class _Grouper:
    """Settles partitions one at a time, hands each grouping on, and keeps what is merged at the end."""

    def __init__(self, settings: _StageSettings, folder: Path, on_part: Callable[[Grouped], object]) -> None:
        self.settings = settings
        self.identifiers = folder / "identifiers"
        self.identifiers.mkdir()
        self.on_part = on_part
        self.account_warnings: list[pl.DataFrame] = []
        self.organizations = 0
        self.contacts = 0

    def group(
        self, index: int, rows: pl.DataFrame, failures: pl.DataFrame | None
    ) -> tuple[Grouped, pl.DataFrame]:
        """Partition ``index``'s grouping and account-conflict warnings; its contacts' emails and phones
        are written to disk (may run in a worker thread: it writes only its own file)."""
        s = self.settings
        # Failures come chunk by chunk: a stable sort puts them in file order, each row's in its own order.
        failures = (
            failures.sort(SOURCE_ROW, maintain_order=True)
            if failures is not None
            else pl.DataFrame(schema=FAILURE_SCHEMA)
        )
        grouped, warnings = settle(
            rows.sort(SOURCE_ROW),
            failures,
            s.specs,
            account_conflicts=s.account_conflicts,
            headers_for=s.columns.headers_for,
            constants=tuple(s.columns.constants),
        )
        # Every contact's emails and phones go to disk: at 10M rows they would be a gigabyte in memory.
        values = identifier_values(grouped.contacts, s.specs)
        spill(values, self.identifiers / f"{index:05d}.parquet")
        return grouped, warnings

    def accept(self, grouped: Grouped, warnings: pl.DataFrame) -> None:
        """Hand one partition's grouping on, and keep what is merged at the end (in the caller's thread)."""
        self.on_part(grouped)
        self.account_warnings.append(warnings)
        self.organizations += grouped.organizations.height
        self.contacts += grouped.contacts.height

    def warnings(self) -> list[str]:
        """Account-conflict warnings in Account ID order, then shared identifiers: ``group``'s order."""
        accounts = (
            pl.concat(self.account_warnings).sort(ORGANIZATION_KEY).get_column(WARNING).to_list()
            if self.account_warnings
            else []
        )
        return [*accounts, *shared_value_warnings(self._repeated_values())]

    def _repeated_values(self) -> pl.DataFrame:
        """The identifier values whose hash occurs more than once in the file, read back from disk.

        Only one 8-byte hash per value is held for the whole file, and repeats are found by sorting them:
        polars' hash-based ``is_duplicated`` or a lazy semi join took 2.7 and 4.3 GB for 30M values, the
        sort 0.7 GB. A hash collision only lets a value through that :func:`shared_value_warnings` then
        finds is not repeated.
        """
        files = sorted(self.identifiers.glob("*.parquet"))
        if not files:
            return pl.DataFrame(schema=IDENTIFIER_SCHEMA)
        hashed = pl.col("value").hash(seed=0).alias("_hash")
        hashes = pl.concat([pl.read_parquet(f, columns=["value"]).select(hashed) for f in files])
        ordered = hashes.get_column("_hash").sort()
        repeated = ordered.filter(ordered == ordered.shift(1)).unique().to_frame()
        del hashes, ordered
        return pl.concat(
            pl.read_parquet(f).with_columns(hashed).join(repeated, on="_hash", how="semi").drop("_hash")
            for f in files
        )


def _group_partitions(
    settings: _StageSettings,
    folder: Path,
    on_part: Callable[[Grouped], object],
    on_keys: Callable[[pl.DataFrame], object] | None = None,
) -> _Grouper:
    """Group every partition without its straddling rows, then those rows as one more partition."""
    keys = _narrow_keys(folder)
    if on_keys is not None:
        on_keys(keys)
    straddling = straddling_rows(keys)
    del keys
    grouper = _Grouper(settings, folder, on_part)
    extra_rows: list[pl.DataFrame] = []
    extra_failures: list[pl.DataFrame] = []

    def partitions() -> Iterator[tuple[int, pl.DataFrame, pl.DataFrame | None]]:
        """Each partition's rows and failures without the straddling ones, which are set aside."""
        for part in range(settings.partitions):
            rows = _read(folder / "rows" / f"{part}")
            if rows is None:
                continue
            failures = _read(folder / "failures" / f"{part}")
            if straddling.height:
                extra_rows.append(rows.join(straddling, on=SOURCE_ROW, how="semi"))
                rows = rows.join(straddling, on=SOURCE_ROW, how="anti")
                if failures is not None:
                    extra_failures.append(failures.join(straddling, on=SOURCE_ROW, how="semi"))
                    failures = failures.join(straddling, on=SOURCE_ROW, how="anti")
            if rows.height:
                yield part, rows, failures

    # The next partition is read and grouped in a worker while this one is handed on (``on_part``: the
    # benchmark's plan, validate's outcomes), both mostly inside polars, off the GIL.
    groupings = (grouper.group(*partition) for partition in partitions())
    for grouped, warnings in ahead(groupings, name="partitions"):
        grouper.accept(grouped, warnings)
    if straddling.height:
        failures = pl.concat(extra_failures, how="diagonal_relaxed") if extra_failures else None
        extra = pl.concat(extra_rows, how="diagonal_relaxed")
        grouper.accept(*grouper.group(settings.partitions, extra, failures))
    return grouper


def chunked_stage(
    table: TableChunks,
    columns: ColumnMap,
    specs: Specs,
    *,
    default_region: str,
    account_conflicts: AccountConflicts,
    on_part: Callable[[Grouped], object],
    partitions: int = DEFAULT_PARTITIONS,
    on_keys: Callable[[pl.DataFrame], object] | None = None,
) -> ChunkedStage:
    """Stage ``table`` chunk by chunk, calling ``on_part`` with each partition's grouping (records and
    outcomes, no warnings) as it is settled; the temporary folder is removed before this returns or
    raises, Ctrl-C included. ``on_keys`` is called once, before the first ``on_part``, with ``source_row``
    and both keys of every row read (what ``import --delete-missing`` needs of the whole file)."""
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, not {partitions}")
    settings = _StageSettings(specs, columns, default_region, account_conflicts, partitions)
    with Scratch("stage") as folder:
        rows_read = _spill(table, settings, folder)
        grouper = _group_partitions(settings, folder, on_part, on_keys)
        warnings = grouper.warnings()
    return ChunkedStage(rows_read, warnings, grouper.organizations, grouper.contacts)


def partitions_for(path: Path) -> int:
    """Partitions for a file of this size: about one per :data:`PARTITION_BYTES` of input, at least 2.

    Each partition's rows and grouping are in memory at once, so this bounds the grouping's memory;
    fewer partitions spare each one's fixed cost (a few dozen polars calls).
    """
    size = path.stat().st_size if path.is_file() else 0
    return max(2, -(-size // PARTITION_BYTES))
