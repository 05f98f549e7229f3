"""The plan as it was before bodies became lazy (commit caabe40): every body built per row from a dict of
the row. Kept only as the oracle the lazy bodies are compared with; not used by the pipeline. It shares
only the value converters and the field-rule shape with the code under test (both unchanged by it)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import polars as pl

from pipeline.fields import CONTACT_KEY, ORGANIZATION_KEY, FieldType, Specs
from pipeline.genesys.models import external_id_identifier
from pipeline.importing.bodies import _MATCH_TYPES, MATCH_COLUMNS, Kind, _converter, provided_wins
from pipeline.importing.plan import PlanOptions, _salt, _schema, fingerprint_source

Eager = tuple[str, tuple[int, ...], str | None, str, dict[str, Any]]


def _record(
    row: dict[str, Any], columns: list[str], specs: Specs, kind: Kind, blanks: str
) -> tuple[dict, list]:
    record: dict[str, Any] = {}
    ruled = []
    for column in columns:
        if not column.startswith(f"{kind}.") or column in (CONTACT_KEY, ORGANIZATION_KEY):
            continue
        spec = specs.get(column)
        if spec is None:
            continue
        path, value = spec.path.split("."), row.get(column)
        if value is None and blanks == "keep":
            continue
        target = record
        for part in path[:-1]:
            target = target.setdefault(part, {})
        is_list = spec.type is FieldType.LIST
        if value is None:
            target[path[-1]] = None
            ruled.append(provided_wins(spec.path, is_list=is_list))
        else:
            target[path[-1]] = _converter(spec)(value)
            if is_list and blanks == "clear":
                ruled.append(provided_wins(spec.path, is_list=is_list))
    return record, ruled


def eager_operations(frame: pl.DataFrame, specs: Specs, options: PlanOptions, kind: Kind) -> Iterator[Eager]:
    """(key, source rows, organization key, fingerprint, body) per row, as the old plan built them."""
    schema = _schema(kind, options)
    key_column = CONTACT_KEY if kind == "contact" else ORGANIZATION_KEY
    text = fingerprint_source(frame.columns, _salt(kind, options), schema, blanks=options.blanks)
    api_matches = options.match if kind == "contact" and options.match_policy == "any" else ()
    for row in frame.with_columns(text).iter_rows(named=True):
        key = row[key_column]
        record, ruled = _record(row, frame.columns, specs, kind, options.blanks)
        record["externalIds"] = [{"externalSource": {"id": options.external_source_id}, "value": key}]
        if schema and "customFields" in record:
            record["schema"] = schema
        body: dict[str, Any] = {"id": key, "action": options.action}
        if options.division_id:
            body["division"] = {"id": options.division_id}
        body["matchingIdentifiers"] = [external_id_identifier(options.external_source_id, key)]
        if ruled:
            body["fieldRules"] = {"rules": ruled}
        for match in api_matches:
            for column in MATCH_COLUMNS[match]:
                if row.get(column):
                    value = row[column].partition(";ext=")[0]
                    body["matchingIdentifiers"].append({"type": _MATCH_TYPES[match], "value": value})
        body["contact" if kind == "contact" else "externalOrganization"] = record
        fingerprint = hashlib.sha256(row[text.meta.output_name()].encode("utf-8")).hexdigest()
        organization = row.get(ORGANIZATION_KEY) if kind == "contact" else None
        yield key, tuple(row["source_rows"]), organization, fingerprint, body
