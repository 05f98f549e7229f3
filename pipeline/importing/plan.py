"""Turn grouped, validated records into enrich operations.

Pure: frames in, operations out. An operation's key, source rows, organization key and fingerprint are
computed column-wise for a chunk of records at a time; its request body is built from its row only when
first asked for (:mod:`pipeline.importing.bodies`), so records settled as unchanged by their fingerprint
cost no body. Every operation matches on the record's ExternalId first, which is what makes a replayed
request (after a dropped connection) find the record it created instead of making a second one.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any

import polars as pl

from pipeline.fields import CONTACT_KEY, ORGANIZATION_KEY, Specs
from pipeline.importing.bodies import MATCH_COLUMNS as MATCH_COLUMNS
from pipeline.importing.bodies import Blanks, BodyBuilder, Kind
from pipeline.importing.bodies import PlanOptions as PlanOptions
from pipeline.importing.bodies import provided_wins as provided_wins
from pipeline.prepare.group import SOURCE_ROWS

BLANKS_MODES: tuple[Blanks, ...] = ("keep", "clear")


class Operation:
    """One enrich operation, with the input rows it stands for.

    ``fingerprint`` identifies what the operation writes, so a re-import can skip records identical to
    their last successful push (see :func:`fingerprint_source`). ``body`` is either given, or built from
    the operation's row the first time it is read (then kept): a planned operation is a key, a few
    numbers and a reference to its chunk of rows until then. Treat it as immutable (it is no longer a
    frozen dataclass, which made building one three times slower): :meth:`with_body` and
    :func:`link_organization` make new operations.
    """

    __slots__ = (
        "_body",
        "_link",
        "_row",
        "_rows",
        "fingerprint",
        "key",
        "kind",
        "organization_key",
        "source_rows",
    )

    kind: Kind
    key: str
    source_rows: tuple[int, ...]
    organization_key: str | None
    fingerprint: str
    _body: dict[str, Any] | None
    _rows: _Rows | None
    _row: int
    _link: str | None

    def __init__(
        self,
        kind: Kind,
        key: str,
        body: dict[str, Any] | None,
        source_rows: tuple[int, ...],
        organization_key: str | None = None,
        fingerprint: str = "",
        *,
        rows: _Rows | None = None,
        row: int = 0,
        link: str | None = None,
    ) -> None:
        if body is None and rows is None:
            raise ValueError("an operation needs a body or the rows to build it from")
        # Plain assignments: a million operations are made per million records, and routing these
        # through a guarding __setattr__ (as a frozen dataclass does) tripled the cost of making one.
        self.kind = kind
        self.key = key
        self._body = body
        self.source_rows = source_rows
        self.organization_key = organization_key
        self.fingerprint = fingerprint
        self._rows = rows
        self._row = row
        self._link = link

    @property
    def body(self) -> dict[str, Any]:
        """The request body, built from the operation's row on first use."""
        body: dict[str, Any] | None = self._body
        if body is None:
            assert self._rows is not None  # __init__ allows no other way
            body = self._rows.body(self._row, self._link)
            self._body = body
        return body

    @property
    def built(self) -> bool:
        """Whether the body exists yet (given, or built by reading ``body``)."""
        return self._body is not None

    def with_body(self, body: dict[str, Any]) -> Operation:
        """The same operation sending ``body`` instead."""
        return Operation(self.kind, self.key, body, self.source_rows, self.organization_key, self.fingerprint)

    def _linked(self, organization_id: str) -> Operation:
        return Operation(
            self.kind,
            self.key,
            None,
            self.source_rows,
            self.organization_key,
            self.fingerprint,
            rows=self._rows,
            row=self._row,
            link=organization_id,
        )

    def _fields(self) -> tuple[Any, ...]:
        return (self.kind, self.key, self.body, self.source_rows, self.organization_key, self.fingerprint)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Operation) and self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # equal by body, a dict

    def __repr__(self) -> str:
        body = repr(self._body) if self._body is not None else "<built when first read>"
        return (
            f"Operation(kind={self.kind!r}, key={self.key!r}, body={body}, source_rows={self.source_rows!r}, "
            f"organization_key={self.organization_key!r}, fingerprint={self.fingerprint!r})"
        )


class _Rows:
    """A chunk of a grouped frame, kept for building its operations' bodies when they are asked for."""

    __slots__ = ("build", "frame")

    def __init__(self, frame: pl.DataFrame, build: BodyBuilder) -> None:
        self.frame = frame
        self.build = build

    def body(self, row: int, organization_id: str | None) -> dict[str, Any]:
        # One row at a time costs what a whole-chunk conversion costs per row (a few microseconds).
        return self.build(self.frame.row(row), organization_id)


# Part of every fingerprint: bump it when the way payloads are built changes, so every record is sent once
# more with the new payload instead of being skipped as unchanged.
# 2: the fingerprint input became canonical JSON (values holding the old separators collided).
PAYLOAD_VERSION = "2"
_FINGERPRINT = "__fingerprint_source"
FINGERPRINT_BLOCK = 50_000


def _salt(kind: Kind, options: PlanOptions) -> str:
    """What, besides the row, decides the payload: the options that go into every operation."""
    settings = {
        "version": PAYLOAD_VERSION,
        "kind": kind,
        "source": options.external_source_id,
        "division": options.division_id,
        "match": list(options.match) if kind == "contact" else [],
        "action": options.action,
    }
    if kind == "contact" and options.match and options.match_policy != "any":
        # Only then: fingerprints of imports without --match (or with the old behaviour) stay valid.
        settings["match_policy"] = options.match_policy
    if options.blanks != "keep":
        # Only when not the default, so fingerprints recorded before --blanks existed still match. "clear-2":
        # lists sent under --blanks clear replace the stored list instead of adding to it; records sent
        # before that are sent once more.
        settings["blanks"] = "clear-2" if options.blanks == "clear" else options.blanks
    return json.dumps(settings, sort_keys=True)


def _schema(kind: Kind, options: PlanOptions) -> dict[str, Any] | None:
    return options.contact_schema if kind == "contact" else options.organization_schema


def fingerprint_source(
    columns: Sequence[str], salt: str, schema: dict[str, Any] | None = None, *, blanks: Blanks = "keep"
) -> pl.Expr:
    """Per row, the text whose hash is the record's fingerprint: a JSON array of the salt, then one
    ``{"name": value}`` object per non-null data column in name order (and the custom-field schema).
    With ``blanks="clear"`` null columns are in it too (``{"name": null}``): each of them clears a field.

    JSON makes the text unambiguous: it decodes back to exactly these pairs, so two different records
    cannot share it whatever their values hold (separators, quotes, braces). Polars writes each object, so
    this stays vectorized.

    The payload is a pure function of these values and the options, so equal text means an equal payload;
    leaving null cells out means that adding an empty column to the sheet (or exporting more
    columns than were imported) changes nothing. The organization link is not a column: it is a Genesys
    id resolved at push time, while the Account ID it comes from is, so a contact that moves is re-sent.
    """
    data = sorted(c for c in columns if c != "source_rows")
    clear = blanks == "clear"
    parts = [
        pl.when(pl.col(c).is_not_null() | clear).then(
            pl.struct(pl.col(c).cast(pl.String)).struct.json_encode()
        )
        for c in data
    ]
    custom = [c for c in data if ".customFields." in c]
    if schema is not None and custom:
        # The schema reference goes only into records that carry custom fields, as in the payload (where
        # clearing one counts as carrying it).
        has_custom = pl.lit(True) if clear else pl.any_horizontal([pl.col(c).is_not_null() for c in custom])
        parts.append(pl.when(has_custom).then(pl.lit(_canonical({"schema": schema}))))
    # The opening bracket rides on the salt: one concatenation fewer over every record's text.
    items = pl.concat_str([pl.lit("[" + _canonical(salt)), *parts], separator=",", ignore_nulls=True)
    return (items + pl.lit("]")).alias(_FINGERPRINT)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _digests(texts: list[bytes]) -> list[str]:
    """The fingerprints of fingerprint texts (UTF-8): polars has no SHA-256, so this is the one step per
    row. The texts come as bytes from polars, which spares making a str of each and encoding it."""
    sha256 = hashlib.sha256
    return [sha256(text).hexdigest() for text in texts]


def chunks(operations: Iterator[Operation], size: int) -> Iterator[list[Operation]]:
    """Consecutive lists of at most ``size`` operations, built only as they are asked for."""
    while chunk := list(islice(operations, size)):
        yield chunk


def _operations(
    frame: pl.DataFrame, specs: Specs, options: PlanOptions, kind: Kind, chunk_size: int
) -> Iterator[Operation]:
    """Per row of a grouped frame, its operation: key, source rows, organization key and fingerprint
    taken column by column for a chunk at a time, the body left to build from the chunk when read.

    Hashing the fingerprint text is the one step per row besides making the operation (about 1 µs).
    Fingerprint texts are made for :data:`FINGERPRINT_BLOCK` rows at a time: polars' fixed cost per call
    made a fifth of their cost at 10k rows.
    """
    build = BodyBuilder(frame.columns, specs, options, kind)
    key_column = CONTACT_KEY if kind == "contact" else ORGANIZATION_KEY
    fingerprint = fingerprint_source(
        frame.columns, _salt(kind, options), _schema(kind, options), blanks=options.blanks
    )
    linked = kind == "contact" and ORGANIZATION_KEY in frame.columns
    for block in frame.iter_slices(max(chunk_size, FINGERPRINT_BLOCK)):
        block_digests = _digests(block.select(fingerprint.cast(pl.Binary)).to_series().to_list())
        for start in range(0, block.height, chunk_size):
            chunk = block.slice(start, chunk_size)
            rows = _Rows(chunk, build)
            digests = block_digests[start : start + chunk_size]
            keys = chunk.get_column(key_column).to_list()
            sources = _source_rows(chunk.get_column(SOURCE_ROWS))
            organizations = chunk.get_column(ORGANIZATION_KEY).to_list() if linked else [None] * chunk.height
            for row, (key, source, organization, digest) in enumerate(
                zip(keys, sources, organizations, digests, strict=True)
            ):
                yield Operation(kind, key, None, source, organization, digest, rows=rows, row=row)


def _source_rows(column: pl.Series) -> list[tuple[int, ...]]:
    """Each record's source rows as a tuple. Nearly every record comes from one row: then the tuples are
    made from the first items, four times quicker than from a list per record."""
    if column.list.len().max() == 1:
        return [(row,) for row in column.list.first().to_list()]
    return [tuple(rows) for rows in column.to_list()]


@contextmanager
def _collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _built_in_batches(operations: Iterator[Operation], size: int) -> Iterator[Operation]:
    """``operations``, built ``size`` at a time with the cyclic garbage collector paused.

    Operations (and their source-row tuples) are in no cycle (reference counting frees them), but their
    number alone sets off a collection every few hundred operations, and each older generation's
    collection walks the operations still held again.
    Paused only while a batch is built, never while the consumer holds the generator (pushing, with
    asyncio and HTTP objects that do make cycles).
    """
    while True:
        with _collector_paused():
            batch = list(islice(operations, size))
        if not batch:
            return
        yield from batch


def organization_operations(
    organizations: pl.DataFrame, specs: Specs, options: PlanOptions, *, chunk_size: int = 10_000
) -> Iterator[Operation]:
    """One Upsert per Account ID, matched by the Account ID as ExternalId of the external source."""
    return _built_in_batches(
        _operations(organizations, specs, options, "organization", chunk_size), chunk_size
    )


def contact_operations(
    contacts: pl.DataFrame, specs: Specs, options: PlanOptions, *, chunk_size: int = 10_000
) -> Iterator[Operation]:
    """One Upsert per Contact ID; the organization link is filled in by :func:`link_organization`."""
    return _built_in_batches(_operations(contacts, specs, options, "contact", chunk_size), chunk_size)


def link_organization(operation: Operation, organization_id: str) -> Operation:
    """The contact operation with ``externalOrganization`` pointing at the organization's Genesys id."""
    if not operation.built:
        # Still unbuilt: the link goes into the body when it is built, so linking builds nothing.
        return operation._linked(organization_id)
    body = dict(operation.body)
    body["contact"] = {**body["contact"], "externalOrganization": {"id": organization_id}}
    return operation.with_body(body)


def batched(operations: Sequence[Operation], size: int = 10) -> Iterator[list[Operation]]:
    """Consecutive batches of at most ``size`` (the bulk endpoints take 10)."""
    for start in range(0, len(operations), size):
        yield list(operations[start : start + size])
