"""The request body of one enrich operation, built from its grouped row when it is first asked for.

Pure: a row (a tuple in the frame's column order) in, a plain dict out. Planning a file only computes
keys and fingerprints (column-wise, in :mod:`pipeline.importing.plan`); most records of a change-only
re-import are settled by their fingerprint and never need a body, so none is built until the
operation is sent, compared live, saved or previewed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pipeline.fields import CONTACT_KEY, LIST_SEPARATOR, ORGANIZATION_KEY, FieldSpec, FieldType, Specs
from pipeline.genesys.models import external_id_identifier

Kind = Literal["contact", "organization"]
# What an empty cell of a column the file has does to the stored field: nothing (keep), or clear it.
Blanks = Literal["keep", "clear"]


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


# The key columns become identifiers, not record fields.
_KEY_COLUMNS = {CONTACT_KEY, ORGANIZATION_KEY}
# Contact matching by email/phone (--match) uses these columns, in this order, after the ExternalId.
MATCH_COLUMNS: dict[str, tuple[str, ...]] = {
    "email": ("contact.workEmail", "contact.personalEmail", "contact.otherEmail"),
    "phone": ("contact.cellPhone", "contact.workPhone", "contact.homePhone", "contact.otherPhone"),
}
_MATCH_TYPES = {"email": "Email", "phone": "Phone"}
# Where the record goes in the body of each kind.
_RECORD_FIELD: dict[Kind, str] = {"contact": "contact", "organization": "externalOrganization"}


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


def provided_wins(path: str, *, is_list: bool = False) -> dict[str, str]:
    """The field rule under which the provided value is stored as it is, null clearing the field: an
    array is replaced (by nothing, for null) rather than combined with the stored one."""
    rule = {"field": "$." + path, "action": "AlwaysUseProvided"}
    if is_list:
        rule["arrayAction"] = "Replace"
    return rule


@dataclass(frozen=True)
class _Slot:
    index: int  # of the column in the row
    path: tuple[str, ...]
    convert: Callable[[str], Any]
    is_list: bool = False

    @property
    def rule(self) -> dict[str, str]:
        return provided_wins(".".join(self.path), is_list=self.is_list)


def _slots(columns: Sequence[str], specs: Specs, kind: Kind) -> list[_Slot]:
    slots = []
    for index, column in enumerate(columns):
        if not column.startswith(f"{kind}.") or column in _KEY_COLUMNS:
            continue
        spec = specs.get(column)
        if spec is None:
            continue
        is_list = spec.type is FieldType.LIST
        slots.append(_Slot(index, tuple(spec.path.split(".")), _converter(spec), is_list))
    return slots


def _record(row: tuple[Any, ...], slots: list[_Slot], blanks: Blanks) -> tuple[dict[str, Any], list[_Slot]]:
    """The record a row writes, and the slots whose provided value must win over the stored one.

    With ``blanks="clear"`` those are its null columns (cleared) and its lists: the file is the whole
    truth then, so an item removed from a cell is removed from Genesys, where the default array rule
    (``Fill``) would keep every stored item and only add the new ones.
    """
    record: dict[str, Any] = {}
    ruled = []
    for slot in slots:
        value = row[slot.index]
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


def _common(key: str, options: PlanOptions, ruled: Sequence[_Slot] = ()) -> dict[str, Any]:
    body: dict[str, Any] = {"id": key, "action": options.action}
    if options.division_id:
        body["division"] = {"id": options.division_id}
    body["matchingIdentifiers"] = [external_id_identifier(options.external_source_id, key)]
    if ruled:
        # Per field, so the default (PreferProvided: null keeps the stored value) holds for every other one.
        body["fieldRules"] = {"rules": [slot.rule for slot in ruled]}
    return body


class BodyBuilder:
    """Builds the body of each row of one grouped frame (its columns, its kind, the plan's options).

    The frame's data columns are the ones the file has (or the mapping sets), so with
    ``blanks="clear"`` only fields the file speaks of are ever cleared.
    """

    def __init__(self, columns: Sequence[str], specs: Specs, options: PlanOptions, kind: Kind) -> None:
        self.kind = kind
        self.options = options
        self.slots = _slots(columns, specs, kind)
        self.key_index = list(columns).index(CONTACT_KEY if kind == "contact" else ORGANIZATION_KEY)
        self.schema = options.contact_schema if kind == "contact" else options.organization_schema
        api_matches = options.match if kind == "contact" and options.match_policy == "any" else ()
        # Identifiers the API matches by besides the ExternalId (``--match-policy any``): the others
        # decide before sending (pipeline.importing.candidates).
        self.matches = [
            (_MATCH_TYPES[match], [columns.index(c) for c in MATCH_COLUMNS[match] if c in columns])
            for match in api_matches
        ]

    def __call__(self, row: tuple[Any, ...], organization_id: str | None = None) -> dict[str, Any]:
        """The body of ``row``; for a contact with ``organization_id``, linked to that organization."""
        key = row[self.key_index]
        record, ruled = _record(row, self.slots, self.options.blanks)
        record["externalIds"] = [{"externalSource": {"id": self.options.external_source_id}, "value": key}]
        if self.schema and "customFields" in record:
            record["schema"] = self.schema
        if organization_id is not None:
            record["externalOrganization"] = {"id": organization_id}
        body = _common(key, self.options, ruled)
        for kind, indexes in self.matches:
            for index in indexes:
                value = row[index]
                if value:
                    # Identifiers are bare E.164 (no extension) and bare addresses.
                    body["matchingIdentifiers"].append({"type": kind, "value": value.partition(";ext=")[0]})
        body[_RECORD_FIELD[self.kind]] = record
        return body
