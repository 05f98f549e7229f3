"""Turn grouped, validated records into enrich operations.

Pure: frames in, plain dicts out. Every operation matches on the record's ExternalId first, which is what
makes a replayed request (after a dropped connection) find the record it created instead of making a
second one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from pipeline.fields import CONTACT_KEY, LIST_SEPARATOR, ORGANIZATION_KEY, FieldSpec, FieldType, Specs

Kind = Literal["contact", "organization"]

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
    action: str = "Upsert"


@dataclass(frozen=True)
class Operation:
    """One enrich operation, with the input rows it stands for."""

    kind: Kind
    key: str
    body: dict[str, Any]
    source_rows: tuple[int, ...]
    organization_key: str | None = None

    @property
    def fingerprint(self) -> str:
        """A hash of what the operation writes, so unchanged records can be skipped on re-import."""
        return payload_fingerprint(self.body)


def payload_fingerprint(body: dict[str, Any]) -> str:
    """Stable hash of an operation body, ignoring the tracker ``id`` and the organization link.

    The link is left out because it is a Genesys id resolved at push time; the Account ID it came from
    is part of the record's data and already changes the fingerprint of a contact that moves.
    """
    record = dict(body)
    record.pop("id", None)
    if "contact" in record:
        record["contact"] = {k: v for k, v in record["contact"].items() if k != "externalOrganization"}
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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


def _slots(columns: Sequence[str], specs: Specs, kind: Kind) -> list[_Slot]:
    slots = []
    for column in columns:
        if not column.startswith(f"{kind}.") or column in _KEY_COLUMNS:
            continue
        spec = specs.get(column)
        if spec is None:
            continue
        slots.append(_Slot(column, tuple(spec.path.split(".")), _converter(spec)))
    return slots


def _record(row: dict[str, Any], slots: list[_Slot]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for slot in slots:
        value = row.get(slot.column)
        if value is None:
            continue
        target = record
        for part in slot.path[:-1]:
            target = target.setdefault(part, {})
        target[slot.path[-1]] = slot.convert(value)
    return record


def _external_id(source_id: str, value: str) -> dict[str, Any]:
    return {"externalSource": {"id": source_id}, "value": value}


def _identifier(source_id: str, value: str) -> dict[str, Any]:
    return {"type": "ExternalId", "value": value, "externalSource": {"id": source_id}}


def _common(key: str, options: PlanOptions) -> dict[str, Any]:
    body: dict[str, Any] = {"id": key, "action": options.action}
    if options.division_id:
        body["division"] = {"id": options.division_id}
    body["matchingIdentifiers"] = [_identifier(options.external_source_id, key)]
    return body


def organization_operations(
    organizations: pl.DataFrame, specs: Specs, options: PlanOptions, *, chunk_size: int = 10_000
) -> Iterator[Operation]:
    """One Upsert per Account ID, matched by the Account ID as ExternalId of the external source."""
    slots = _slots(organizations.columns, specs, "organization")
    for chunk in organizations.iter_slices(chunk_size):
        for row in chunk.iter_rows(named=True):
            key = row[ORGANIZATION_KEY]
            record = _record(row, slots)
            record["externalIds"] = [_external_id(options.external_source_id, key)]
            if options.organization_schema and "customFields" in record:
                record["schema"] = options.organization_schema
            body = _common(key, options)
            body["externalOrganization"] = record
            yield Operation("organization", key, body, tuple(row["source_rows"]))


def contact_operations(
    contacts: pl.DataFrame, specs: Specs, options: PlanOptions, *, chunk_size: int = 10_000
) -> Iterator[Operation]:
    """One Upsert per Contact ID; the organization link is filled in by :func:`link_organization`."""
    slots = _slots(contacts.columns, specs, "contact")
    match_columns = [(kind, MATCH_COLUMNS[kind]) for kind in options.match]
    for chunk in contacts.iter_slices(chunk_size):
        for row in chunk.iter_rows(named=True):
            key = row[CONTACT_KEY]
            record = _record(row, slots)
            record["externalIds"] = [_external_id(options.external_source_id, key)]
            if options.contact_schema and "customFields" in record:
                record["schema"] = options.contact_schema
            body = _common(key, options)
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
            )


def link_organization(operation: Operation, organization_id: str) -> Operation:
    """The contact operation with ``externalOrganization`` pointing at the organization's Genesys id."""
    body = dict(operation.body)
    body["contact"] = {**body["contact"], "externalOrganization": {"id": organization_id}}
    return Operation(operation.kind, operation.key, body, operation.source_rows, operation.organization_key)


def batched(operations: Sequence[Operation], size: int = 10) -> Iterator[list[Operation]]:
    """Consecutive batches of at most ``size`` (the bulk endpoints take 10)."""
    for start in range(0, len(operations), size):
        yield list(operations[start : start + size])
