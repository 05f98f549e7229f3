"""Turn grouped, validated records into enrich operations.

Pure: frames in, plain dicts out. Every operation matches on the record's ExternalId first, which is what
makes a replayed request (after a dropped connection) find the record it created instead of making a
second one.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any, Literal

import polars as pl

from pipeline.fields import CONTACT_KEY, LIST_SEPARATOR, ORGANIZATION_KEY, FieldSpec, FieldType, Specs
from pipeline.genesys.models import external_id_identifier

Kind = Literal["contact", "organization"]
# What an empty cell of a column the file has does to the stored field: nothing (keep), or clear it.
Blanks = Literal["keep", "clear"]
BLANKS_MODES: tuple[Blanks, ...] = ("keep", "clear")

# The key columns become identifiers, not record fields.
_KEY_COLUMNS = {CONTACT_KEY, ORGANIZATION_KEY}
# Contact matching by email/phone (--match) uses these columns, in this order, after the ExternalId.
MATCH_COLUMNS: dict[str, tuple[str, ...]] = {
    "email": ("contact.workEmail", "contact.personalEmail", "contact.otherEmail"),
    "phone": ("contact.cellPhone", "contact.workPhone", "contact.homePhone", "contact.otherPhone"),
}
_MATCH_TYPES = {"email": "Email", "phone": "Phone"}


@dataclass(frozen=True)
class PlanOptions:
    """What the operations carry besides the row data."""

    external_source_id: str
    division_id: str | None = None
    contact_schema: dict[str, Any] | None = None
    organization_schema: dict[str, Any] | None = None
    match: tuple[str, ...] = ()
    # "any" lets the API match by the email/phone identifiers; the others decide before sending
    # (pipeline.importing.candidates), so operations carry the ExternalId alone.
    match_policy: str = "strict"
    action: str = "Upsert"
    blanks: Blanks = "keep"


@dataclass(frozen=True)
class Operation:
    """One enrich operation, with the input rows it stands for.

    ``fingerprint`` identifies what the operation writes, so a re-import can skip records identical to
    their last successful push (see :func:`fingerprint_source`).
    """

    kind: Kind
    key: str
    body: dict[str, Any]
    source_rows: tuple[int, ...]
    organization_key: str | None = None
    fingerprint: str = ""


# Part of every fingerprint: bump it when the way payloads are built changes, so every record is sent once
# more with the new payload instead of being skipped as unchanged.
# 2: the fingerprint input became canonical JSON (values holding the old separators collided).
PAYLOAD_VERSION = "2"
_FINGERPRINT = "__fingerprint_source"


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
    items = pl.concat_str([pl.lit(_canonical(salt)), *parts], separator=",", ignore_nulls=True)
    return (pl.lit("[") + items + pl.lit("]")).alias(_FINGERPRINT)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunks(operations: Iterator[Operation], size: int) -> Iterator[list[Operation]]:
    """Consecutive lists of at most ``size`` operations, built only as they are asked for."""
    while chunk := list(islice(operations, size)):
        yield chunk


def _phone(value: str) -> dict[str, Any]:
    number, _, ext = value.partition(";ext=")
    # `e164` and `countryCode` are the server's to fill in from `display`.
    phone: dict[str, Any] = {"display": number}
    if ext:
        phone["extension"] = int(ext)
    return phone


def _converter(spec: FieldSpec) -> Callable[[str], Any]:
    match spec.type:
        case FieldType.PHONE:
            return _phone
        case FieldType.INTEGER:
            return int
        case FieldType.DECIMAL:
            return float
        case FieldType.BOOLEAN:
            return lambda v: v == "true"
        case FieldType.LIST:
            return lambda v: [item for item in v.split(LIST_SEPARATOR) if item]
        case _:
            return str


@dataclass(frozen=True)
class _Slot:
    column: str
    path: tuple[str, ...]
    convert: Callable[[str], Any]
    is_list: bool = False

    @property
    def rule(self) -> dict[str, str]:
        return provided_wins(".".join(self.path), is_list=self.is_list)


def provided_wins(path: str, *, is_list: bool = False) -> dict[str, str]:
    """The field rule under which the provided value is stored as it is, null clearing the field: an
    array is replaced (by nothing, for null) rather than combined with the stored one."""
    rule = {"field": "$." + path, "action": "AlwaysUseProvided"}
    if is_list:
        rule["arrayAction"] = "Replace"
    return rule


def _slots(columns: Sequence[str], specs: Specs, kind: Kind) -> list[_Slot]:
    slots = []
    for column in columns:
        if not column.startswith(f"{kind}.") or column in _KEY_COLUMNS:
            continue
        spec = specs.get(column)
        if spec is None:
            continue
        is_list = spec.type is FieldType.LIST
        slots.append(_Slot(column, tuple(spec.path.split(".")), _converter(spec), is_list))
    return slots


def _record(row: dict[str, Any], slots: list[_Slot], blanks: Blanks) -> tuple[dict[str, Any], list[_Slot]]:
    """The record a row writes, and the slots whose provided value must win over the stored one.

    With ``blanks="clear"`` those are its null columns (cleared) and its lists: the file is the whole
    truth then, so an item removed from a cell is removed from Genesys, where the default array rule
    (``Fill``) would keep every stored item and only add the new ones.
    """
    record: dict[str, Any] = {}
    ruled = []
    for slot in slots:
        value = row.get(slot.column)
        if value is None and blanks == "keep":
            continue
        target = record
        for part in slot.path[:-1]:
            target = target.setdefault(part, {})
        if value is None:
            # Null, not omitted: the rule below applies to it either way, but null says what is meant.
            target[slot.path[-1]] = None
            ruled.append(slot)
        else:
            target[slot.path[-1]] = slot.convert(value)
            if slot.is_list and blanks == "clear":
                ruled.append(slot)
    return record, ruled


def _external_id(source_id: str, value: str) -> dict[str, Any]:
    return {"externalSource": {"id": source_id}, "value": value}


def _common(key: str, options: PlanOptions, ruled: Sequence[_Slot] = ()) -> dict[str, Any]:
    body: dict[str, Any] = {"id": key, "action": options.action}
    if options.division_id:
        body["division"] = {"id": options.division_id}
    body["matchingIdentifiers"] = [external_id_identifier(options.external_source_id, key)]
    if ruled:
        # Per field, so the default (PreferProvided: null keeps the stored value) holds for every other one.
        body["fieldRules"] = {"rules": [slot.rule for slot in ruled]}
    return body


def _records(
    frame: pl.DataFrame, specs: Specs, options: PlanOptions, kind: Kind, chunk_size: int
) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]]:
    """Per row of a grouped frame: the row, the operation's common part (with the field rules clearing
    its blanks), the record it writes (``externalIds`` carrying the key, the schema reference when it has
    custom fields) and its fingerprint.

    The frame's data columns are the ones the file has (or the mapping sets), so with
    ``blanks="clear"`` only fields the file speaks of are ever cleared.
    """
    slots = _slots(frame.columns, specs, kind)
    schema = _schema(kind, options)
    key_column = CONTACT_KEY if kind == "contact" else ORGANIZATION_KEY
    fingerprint = fingerprint_source(frame.columns, _salt(kind, options), schema, blanks=options.blanks)
    for chunk in frame.iter_slices(chunk_size):
        for row in chunk.with_columns(fingerprint).iter_rows(named=True):
            key = row[key_column]
            record, ruled = _record(row, slots, options.blanks)
            record["externalIds"] = [_external_id(options.external_source_id, key)]
            if schema and "customFields" in record:
                record["schema"] = schema
            yield row, _common(key, options, ruled), record, _digest(row[_FINGERPRINT])


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

    Each operation is a dozen small dicts and lists, none of them in a cycle (reference counting frees
    them), but their number alone sets off a collection every few hundred operations, and each older
    generation's collection walks the operations still held again: about a quarter of the plan's time.
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
    return _built_in_batches(_organizations(organizations, specs, options, chunk_size), chunk_size)


def _organizations(
    organizations: pl.DataFrame, specs: Specs, options: PlanOptions, chunk_size: int
) -> Iterator[Operation]:
    for row, body, record, fingerprint in _records(organizations, specs, options, "organization", chunk_size):
        key = row[ORGANIZATION_KEY]
        body["externalOrganization"] = record
        yield Operation("organization", key, body, tuple(row["source_rows"]), fingerprint=fingerprint)


def contact_operations(
    contacts: pl.DataFrame, specs: Specs, options: PlanOptions, *, chunk_size: int = 10_000
) -> Iterator[Operation]:
    """One Upsert per Contact ID; the organization link is filled in by :func:`link_organization`."""
    return _built_in_batches(_contacts(contacts, specs, options, chunk_size), chunk_size)


def _contacts(
    contacts: pl.DataFrame, specs: Specs, options: PlanOptions, chunk_size: int
) -> Iterator[Operation]:
    api_matches = options.match if options.match_policy == "any" else ()
    match_columns = [(kind, MATCH_COLUMNS[kind]) for kind in api_matches]
    for row, body, record, fingerprint in _records(contacts, specs, options, "contact", chunk_size):
        key = row[CONTACT_KEY]
        for kind, columns in match_columns:
            for column in columns:
                value = row.get(column)
                if value:
                    # Identifiers are bare E.164 (no extension) and bare addresses.
                    body["matchingIdentifiers"].append(
                        {"type": _MATCH_TYPES[kind], "value": value.partition(";ext=")[0]}
                    )
        body["contact"] = record
        yield Operation(
            "contact",
            key,
            body,
            tuple(row["source_rows"]),
            organization_key=row.get(ORGANIZATION_KEY),
            fingerprint=fingerprint,
        )


def link_organization(operation: Operation, organization_id: str) -> Operation:
    """The contact operation with ``externalOrganization`` pointing at the organization's Genesys id."""
    body = dict(operation.body)
    body["contact"] = {**body["contact"], "externalOrganization": {"id": organization_id}}
    return replace(operation, body=body)


def batched(operations: Sequence[Operation], size: int = 10) -> Iterator[list[Operation]]:
    """Consecutive batches of at most ``size`` (the bulk endpoints take 10)."""
    for start in range(0, len(operations), size):
        yield list(operations[start : start + size])
