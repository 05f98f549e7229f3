"""Checks on enrich operations and record data, as the real API makes them.

``check_operation`` reads one operation into an :class:`Operation` or raises an :class:`EntityError`:
``bad.request`` when the operation itself is malformed, ``invalid.value`` when field values are wrong
(lengths, email and URL formats, unknown division, external source, organization or schema, custom
fields that do not fit their schema). Every problem found is listed in ``details``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlparse

from pipeline.sandbox import records
from pipeline.sandbox.fieldrules import FieldRules, parse_field_rules
from pipeline.sandbox.problems import Problems, bad_request
from pipeline.sandbox.records import ORGANIZATION, ClaimKey, Kind
from pipeline.sandbox.schemas import check_custom_fields, kind_of

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
MAX_MATCHING_IDENTIFIERS = 25
HOME_ALIASES = ("*", "")  # division ids that mean the home division (inferred)
SOURCES = "externalsources"  # checked for existence only: copying the source for each check cost more


class Refs(Protocol):
    """What checks and enrich need to look up; the store provides it."""

    def division(self, division_id: str | None) -> dict[str, Any] | None: ...
    def source(self, source_id: str) -> dict[str, Any] | None: ...
    def get(self, collection: str, record_id: str) -> dict[str, Any] | None: ...
    def exists(self, collection: str, record_id: str) -> bool: ...
    def schema(self, schema_id: str) -> dict[str, Any] | None: ...
    def claim_owner(self, key: ClaimKey) -> str | None: ...

    # Strict mode refuses an email or phone another contact holds (the sandbox's old claims model).
    strict_claims: bool


@dataclass(frozen=True)
class Operation:
    """One checked enrich operation."""

    tracker: Any
    division: dict[str, Any]
    identifiers: tuple[ClaimKey | None, ...]  # None: a type the sandbox never claims, so never matches
    action: str
    data: dict[str, Any]
    rules: FieldRules
    promote: bool


def check_operation(kind: Kind, op: Any, refs: Refs) -> Operation:
    if not isinstance(op, dict):
        raise bad_request("Each enrich operation must be an object")
    structure = Problems()
    action: Any = op.get("action")  # JSON from the request; checked against kind.actions below
    if action not in kind.actions:
        structure.add("action", action, f"must be one of {', '.join(kind.actions)}")
    raw_ids = op.get("matchingIdentifiers")
    if not isinstance(raw_ids, list) or not 1 <= len(raw_ids) <= MAX_MATCHING_IDENTIFIERS:
        structure.add(
            "matchingIdentifiers", raw_ids, f"must list 1 to {MAX_MATCHING_IDENTIFIERS} identifiers"
        )
        raw_ids = []
    raw_data = op.get(kind.payload_key)
    if not isinstance(raw_data, dict):
        structure.add(kind.payload_key, raw_data, "is required and must be an object")
    options = op.get("options") or {}
    if not isinstance(options, dict) or not isinstance(options.get("promote", False), bool):
        structure.add("options.promote", options, "must be true or false")
        options = {}
    for i, ident in enumerate(raw_ids):
        if not isinstance(ident, dict) or ident.get("type") not in kind.identifier_types:
            allowed = ", ".join(sorted(kind.identifier_types))
            structure.add(f"matchingIdentifiers[{i}].type", ident, f"must be one of {allowed}")
    if structure:
        raise bad_request("Invalid enrich operation", *structure.items)
    rules = parse_field_rules(op.get("fieldRules"))

    problems = Problems()
    division = check_division(op.get("division"), refs, problems)
    division_id = division["id"] if division else ""
    identifiers = tuple(
        identifier_key(kind, division_id, ident, f"matchingIdentifiers[{i}]", refs, problems)
        for i, ident in enumerate(raw_ids)
    )
    data = clean_record(kind, raw_data, kind.payload_key, refs, problems)
    problems.raise_if_any()
    assert division is not None  # a missing division is a problem raised above
    return Operation(op.get("id"), division, identifiers, action, data, rules, options.get("promote", False))


def check_division(raw: Any, refs: Refs, problems: Problems, field: str = "division.id") -> dict | None:
    """The division an operation names; absent, ``*`` or empty mean the home division."""
    division_id = raw.get("id") if isinstance(raw, dict) else raw
    if division_id is not None and not isinstance(division_id, str):
        problems.add(field, division_id, "must be a division id")
        return None
    found = refs.division(None if division_id in HOME_ALIASES else division_id)
    if found is None:
        problems.add(field, division_id, "no such division")
    return found


def identifier_key(
    kind: Kind, division_id: str, ident: Mapping[str, Any], where: str, refs: Refs, problems: Problems
) -> ClaimKey | None:
    """The claim key an identifier is looked up under (problems recorded for bad values)."""
    value = ident.get("value")
    if not isinstance(value, str) or not value or len(value) > records.IDENTIFIER_VALUE_MAX:
        problems.add(f"{where}.value", value, f"must be 1 to {records.IDENTIFIER_VALUE_MAX} characters")
        return None
    id_type = ident["type"]
    source_id = ""
    if id_type == "ExternalId":
        source_id = ((ident.get("externalSource") or {}).get("id")) or ""
        if not refs.exists(SOURCES, source_id):
            problems.add(f"{where}.externalSource.id", source_id, "no such external source")
            return None
    if id_type == "Email" and not EMAIL.match(value):
        problems.add(f"{where}.value", value, "is not a valid email address")
    if id_type == "Phone" and (not value.startswith("+") or records.e164(value) is None):
        problems.add(f"{where}.value", value, "must be a phone number in E.164 form with a leading +")
    return records.claim_key(kind, division_id, id_type, value, source_id)


def clean_record(kind: Kind, raw: Any, prefix: str, refs: Refs, problems: Problems) -> dict[str, Any]:
    """The writable fields of provided record data, checked and normalized; read-only and unknown keys
    are dropped, and so is null (the API treats null and omitted alike)."""
    out: dict[str, Any] = {}
    if not isinstance(raw, dict):
        return out
    for name in kind.fields:
        value = raw.get(name)
        if value is None:
            continue
        cleaned = _clean_field(kind, name, value, f"{prefix}.{name}", refs, problems)
        if cleaned is not None:
            out[name] = cleaned
    return out


def _clean_field(kind: Kind, name: str, value: Any, path: str, refs: Refs, problems: Problems) -> Any:
    if name in kind.texts:
        return _text(value, kind.texts[name], path, problems)
    if name in kind.emails:
        text = _text(value, records.EMAIL_MAX, path, problems)
        if text is not None and not EMAIL.match(text):
            problems.add(path, value, "is not a valid email address")
        return text
    if name in kind.urls:
        return _url(value, kind.urls[name], path, problems)
    if name in kind.booleans:
        return value if _is(value, bool, path, "must be true or false", problems) else None
    if name in kind.integers:
        low, high = kind.integers[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            problems.add(path, value, f"must be an integer between {low} and {high}")
            return None
        return value
    if name in kind.phones:
        return _phone(value, path, problems)
    if name == "address":
        if not _is(value, dict, path, "must be an object", problems):
            return None
        return {
            k: _text(value[k], limit, f"{path}.{k}", problems)
            for k, limit in records.ADDRESS_LIMITS.items()
            if value.get(k) is not None
        }
    if name == "externalIds":
        return _external_ids(value, kind.arrays[name], path, refs, problems)
    if name == "externalOrganization":
        return _organization_ref(value, path, refs, problems)
    if name == "schema":
        return _schema_ref(kind, value, path, refs, problems)
    if name == "customFields":
        return value if _is(value, dict, path, "must be an object", problems) else None
    if name in kind.arrays:
        return _array(name, value, kind.arrays[name], path, problems)
    return value if _is(value, dict, path, "must be an object", problems) else None


def check_combined(kind: Kind, fields: Mapping[str, Any], refs: Refs, prefix: str) -> None:
    """Checks on the record as it would be stored: required fields and custom fields against the schema."""
    problems = Problems()
    if kind is ORGANIZATION and not fields.get("name"):
        problems.add(f"{prefix}.name", None, "is required")
    custom = fields.get("customFields") or {}
    if custom:
        schema = refs.schema(fields["schema"]["id"]) if fields.get("schema") else None
        if schema is None:
            problems.add(f"{prefix}.schema", None, "customFields need a schema {id, version}")
        else:
            for field_name, value, message in check_custom_fields(schema, custom, f"{prefix}.customFields"):
                problems.add(field_name, value, message)
    problems.raise_if_any()


def _is(value: Any, cls: type, path: str, message: str, problems: Problems) -> bool:
    if isinstance(value, cls):
        return True
    problems.add(path, value, message)
    return False


def _text(value: Any, limit: int, path: str, problems: Problems) -> str | None:
    if not _is(value, str, path, "must be a string", problems):
        return None
    if len(value) > limit:
        problems.add(path, value, f"is longer than {limit} characters")
    return value


def _url(value: Any, limit: int, path: str, problems: Problems) -> str | None:
    text = _text(value, limit, path, problems)
    if text is not None:
        parts = urlparse(text)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.add(path, value, "must be an http or https URL")
    return text


def _phone(value: Any, path: str, problems: Problems) -> dict[str, Any] | None:
    if not _is(value, dict, path, "must be a PhoneNumber object", problems):
        return None
    for key in ("display", "e164", "userInput", "normalizationCountryCode"):
        if value.get(key) is not None:
            _text(value[key], records.PHONE_DISPLAY_MAX, f"{path}.{key}", problems)
    if value.get("extension") is not None and (
        isinstance(value["extension"], bool) or not isinstance(value["extension"], int)
    ):
        problems.add(f"{path}.extension", value["extension"], "must be an integer")
    if value.get("acceptsSMS") is not None:
        _is(value["acceptsSMS"], bool, f"{path}.acceptsSMS", "must be true or false", problems)
    if not value.get("display") and not value.get("e164"):
        problems.add(f"{path}.display", None, "is required")
        return None
    return records.parse_phone(value)


def _external_ids(value: Any, limit: int, path: str, refs: Refs, problems: Problems) -> list | None:
    if not _is(value, list, path, "must be a list", problems):
        return None
    if len(value) > limit:
        problems.add(path, len(value), f"has more than {limit} items")
    out: list[dict[str, Any]] = []
    for i, ext in enumerate(value):
        where = f"{path}[{i}]"
        source_id = ((ext.get("externalSource") or {}).get("id")) if isinstance(ext, dict) else None
        item_value = ext.get("value") if isinstance(ext, dict) else None
        if not isinstance(source_id, str) or not refs.exists(SOURCES, source_id):
            problems.add(f"{where}.externalSource.id", source_id, "no such external source")
            continue
        if not isinstance(item_value, str) or not 1 <= len(item_value) <= records.EXTERNAL_ID_VALUE_MAX:
            problems.add(
                f"{where}.value", item_value, f"must be 1 to {records.EXTERNAL_ID_VALUE_MAX} characters"
            )
            continue
        item = {"externalSource": records.source_ref(source_id), "value": item_value}
        if item not in out:
            out.append(item)
    return out


def _organization_ref(value: Any, path: str, refs: Refs, problems: Problems) -> dict | None:
    if not _is(value, dict, path, "must be an object", problems):
        return None
    org_id = value.get("id")
    if org_id is None:
        return None  # not linked: the API links a contact to an organization by its Genesys id only
    if not isinstance(org_id, str) or not refs.exists("organizations", org_id):
        problems.add(f"{path}.id", org_id, "no such external organization")
        return None
    return {"id": org_id, "selfUri": f"{ORGANIZATION.uri}/{org_id}"}


def _schema_ref(kind: Kind, value: Any, path: str, refs: Refs, problems: Problems) -> dict | None:
    if not _is(value, dict, path, "must be an object", problems):
        return None
    schema = refs.schema(value.get("id")) if isinstance(value.get("id"), str) else None
    if schema is None or kind.name not in kind_of(schema):
        problems.add(f"{path}.id", value.get("id"), f"no such {kind.name} schema")
        return None
    version = value.get("version", schema["version"])
    if version != schema["version"]:
        problems.add(f"{path}.version", version, f"schema version is {schema['version']}")
    return {"id": schema["id"], "version": schema["version"]}


def _array(name: str, value: Any, limit: int, path: str, problems: Problems) -> list | None:
    if not _is(value, list, path, "must be a list", problems):
        return None
    if len(value) > limit:
        problems.add(path, len(value), f"has more than {limit} items")
    out = []
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        if name == "websites":
            item = _url(item, 1000, where, problems)
        elif name == "tags":
            item = _text(item, 255, where, problems)
        elif not _is(item, dict, where, "must be an object", problems):
            item = None
        if item is not None and item not in out:
            out.append(item)
    return out
