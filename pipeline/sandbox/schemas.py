"""Custom-field data schemas: the built-in demo schemas, loading more from JSON files, checking values.

A schema is a Genesys ``DataSchema`` (``{id, name, version, appliesTo, enabled, jsonSchema}``). Each
property of ``jsonSchema.properties`` names its core type the way Genesys does,
``"allOf": [{"$ref": "#/definitions/text"}]``, plus limits (``maxLength``, ``minimum``, ``enum``, ...).
A plain JSON-schema ``"type"`` is understood too, for hand-written files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pipeline.errors import ConfigError

APPLIES_TO = {"contact": "CONTACT", "organization": "EXTERNAL_ORGANIZATION"}
SCHEMA_URI = "/api/v2/externalcontacts/{collection}/schemas/{id}"

DEMO_CONTACT_SCHEMA_ID = "5a0c7e5e-0000-4000-8000-00000000c501"
DEMO_ORGANIZATION_SCHEMA_ID = "5a0c7e5e-0000-4000-8000-00000000c502"

# Limits Genesys applies per core type when a property does not say otherwise.
TEXT_DEFAULT_MAX = {"text": 100, "longtext": 1000, "identifier": 255, "url": 1000, "enum": 255}
TAG_MAX_ITEMS = 10


def _prop(core: str, title: str, **limits: Any) -> dict[str, Any]:
    return {"allOf": [{"$ref": f"#/definitions/{core}"}], "title": title, "description": "", **limits}


def _schema(schema_id: str, name: str, kind: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": schema_id,
        "name": name,
        "version": 1,
        "appliesTo": [APPLIES_TO[kind]],
        "enabled": True,
        "jsonSchema": {
            "$schema": "http://json-schema.org/draft-04/schema#",
            "title": name,
            "description": f"Built-in sandbox demo schema for {kind} custom fields",
            "type": "object",
            "required": [],
            "properties": properties,
        },
    }


def demo_schemas() -> list[dict[str, Any]]:
    """The two schemas every sandbox starts with."""
    contact = _schema(
        DEMO_CONTACT_SCHEMA_ID,
        "Demo contact fields",
        "contact",
        {
            "loyalty_tier_text": _prop("text", "Loyalty tier", minLength=1, maxLength=100),
            "customer_since_date": _prop("date", "Customer since"),
            "vip_boolean": _prop("checkbox", "VIP"),
            "lifetime_value_number": _prop("number", "Lifetime value", minimum=0),
            "order_count_integer": _prop("integer", "Orders", minimum=0),
            "notes_longtext": _prop("longtext", "Notes", maxLength=1000),
            "preferred_channel_enum": _prop(
                "enum", "Preferred channel", enum=["email", "phone", "sms", "none"]
            ),
            "interests_tag": _prop("tag", "Interests", maxItems=10, items={"maxLength": 100}),
            "profile_url": _prop("url", "Profile page"),
            "last_purchase_datetime": _prop("datetime", "Last purchase"),
        },
    )
    organization = _schema(
        DEMO_ORGANIZATION_SCHEMA_ID,
        "Demo organization fields",
        "organization",
        {
            "account_tier_text": _prop("text", "Account tier", maxLength=100),
            "order_day_text": _prop("text", "Order day", maxLength=100),
            "employee_count_integer": _prop("integer", "Employees", minimum=0),
            "credit_limit_number": _prop("number", "Credit limit", minimum=0),
            "key_account_checkbox": _prop("checkbox", "Key account"),
            "customer_since_date": _prop("date", "Customer since"),
            "segment_enum": _prop("enum", "Segment", enum=["smb", "mid-market", "enterprise"]),
            "portal_url": _prop("url", "Customer portal"),
        },
    )
    return [contact, organization]


def load_schema_files(paths: Iterable[Path | str]) -> list[dict[str, Any]]:
    """DataSchemas from JSON files: one schema, a list of schemas, or a listing ``{"entities": [...]}``."""
    schemas: list[dict[str, Any]] = []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ConfigError(f"cannot read schema file {path}: {err}") from err
        items = data.get("entities", [data]) if isinstance(data, dict) else data
        for item in items:
            schemas.append(_checked(item, path))
    return schemas


def _checked(item: Any, path: Path | str) -> dict[str, Any]:
    if not isinstance(item, dict) or not isinstance(item.get("jsonSchema", {}).get("properties"), dict):
        raise ConfigError(f"{path}: a schema needs jsonSchema.properties")
    if not item.get("id") or not set(item.get("appliesTo") or ()) & set(APPLIES_TO.values()):
        raise ConfigError(f"{path}: a schema needs an id and appliesTo CONTACT or EXTERNAL_ORGANIZATION")
    return {"version": 1, "enabled": True, "name": item["id"], **item}


def kind_of(schema: Mapping[str, Any]) -> list[str]:
    """The record kinds a schema applies to."""
    return [kind for kind, tag in APPLIES_TO.items() if tag in (schema.get("appliesTo") or ())]


def core_type(prop: Mapping[str, Any]) -> str:
    """The Genesys core type of a property (``text``, ``checkbox``, ...)."""
    for part in prop.get("allOf") or ():
        ref = part.get("$ref", "") if isinstance(part, dict) else ""
        if ref.startswith("#/definitions/"):
            return ref.removeprefix("#/definitions/")
    plain = {
        "string": "text",
        "boolean": "checkbox",
        "integer": "integer",
        "number": "number",
        "array": "tag",
    }
    return plain.get(prop.get("type", "string"), "text")


def check_custom_fields(
    schema: Mapping[str, Any], values: Mapping[str, Any], prefix: str = "customFields"
) -> list[tuple[str, Any, str]]:
    """Problems ``(fieldName, value, message)`` of custom field values against a schema."""
    properties = schema["jsonSchema"]["properties"]
    problems = []
    for name, value in values.items():
        path = f"{prefix}.{name}"
        if name not in properties:
            problems.append((path, value, f"is not a field of schema {schema['name']!r}"))
            continue
        if value is None:
            continue
        message = _check_value(properties[name], value)
        if message:
            problems.append((path, value, message))
    return problems


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _check_value(prop: Mapping[str, Any], value: Any) -> str | None:
    core = core_type(prop)
    if core in TEXT_DEFAULT_MAX:
        if not isinstance(value, str):
            return "must be a string"
        if len(value) > prop.get("maxLength", TEXT_DEFAULT_MAX[core]):
            return f"is longer than {prop.get('maxLength', TEXT_DEFAULT_MAX[core])} characters"
        if len(value) < prop.get("minLength", 0):
            return f"is shorter than {prop['minLength']} characters"
        if core == "url" and (urlparse(value).scheme not in ("http", "https") or not urlparse(value).netloc):
            return "must be an http(s) URL"
        if core == "enum" and value not in prop.get("enum", [value]):
            return f"must be one of {prop['enum']}"
        return None
    if core == "checkbox":
        return None if isinstance(value, bool) else "must be true or false"
    if core in ("integer", "number"):
        ok = (int,) if core == "integer" else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok):
            return "must be an integer" if core == "integer" else "must be a number"
        if "minimum" in prop and value < prop["minimum"]:
            return f"must be >= {prop['minimum']}"
        if "maximum" in prop and value > prop["maximum"]:
            return f"must be <= {prop['maximum']}"
        return None
    if core == "date":
        valid = isinstance(value, str) and bool(_DATE.match(value)) and _parses(date, value)
        return None if valid else "must be a date YYYY-MM-DD"
    if core == "datetime":
        return None if isinstance(value, str) and _parses(datetime, value) else "must be an ISO-8601 datetime"
    if core == "tag":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return "must be a list of strings"
        if len(value) > prop.get("maxItems", TAG_MAX_ITEMS):
            return f"has more than {prop.get('maxItems', TAG_MAX_ITEMS)} items"
        item_max = (prop.get("items") or {}).get("maxLength", 100)
        return (
            f"has an item longer than {item_max} characters"
            if any(len(v) > item_max for v in value)
            else None
        )
    return None


def _parses(cls: type[date] | type[datetime], value: str) -> bool:
    try:
        cls.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
