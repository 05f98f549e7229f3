"""Field specs: the single source of truth for mapping, validation, payloads and export columns.

The specs live in ``schemas/<kind>.toml``. Each field becomes a canonical frame column named
``"<kind>.<path>"`` (``contact.workPhone``, ``organization.address.city``); custom fields are
``"<kind>.customFields.<name>"`` and take their type from the Genesys suffix convention.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path

from pipeline.errors import MappingError

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"

KINDS = ("contact", "organization")


class FieldType(StrEnum):
    KEY = "key"
    TEXT = "text"
    PHONE = "phone"
    EMAIL = "email"
    URL = "url"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    LIST = "list"


# Genesys custom field names end with their type. Both the names Genesys uses (`_number`, `_checkbox`) and
# the plainer spellings people write (`_decimal`, `_boolean`) are accepted.
CUSTOM_SUFFIX_TYPES: dict[str, tuple[FieldType, FieldType | None]] = {
    "text": (FieldType.TEXT, None),
    "longtext": (FieldType.TEXT, None),
    "identifier": (FieldType.TEXT, None),
    "enum": (FieldType.TEXT, None),
    "url": (FieldType.URL, None),
    "integer": (FieldType.INTEGER, None),
    "number": (FieldType.DECIMAL, None),
    "decimal": (FieldType.DECIMAL, None),
    "checkbox": (FieldType.BOOLEAN, None),
    "boolean": (FieldType.BOOLEAN, None),
    "date": (FieldType.DATE, None),
    "datetime": (FieldType.DATETIME, None),
    "tag": (FieldType.LIST, FieldType.TEXT),
    "list": (FieldType.LIST, FieldType.TEXT),
}

# Custom text fields: `_text` is capped at 100 characters in Genesys schemas, `_longtext` at 1000.
CUSTOM_TEXT_LIMITS = {"text": 100, "longtext": 1000, "identifier": 255, "enum": 255, "url": 1000}

LIST_SEPARATOR = ";"


@dataclass(frozen=True)
class FieldSpec:
    """One column of the spreadsheet and the API field it fills."""

    kind: str
    path: str
    type: FieldType
    headers: tuple[str, ...] = ()
    max_length: int | None = None
    required: bool = False
    pii: bool = False
    item_type: FieldType | None = None
    min_value: int | None = None
    max_value: int | None = None

    @property
    def column(self) -> str:
        """The canonical frame column, e.g. ``contact.address.city``."""
        return f"{self.kind}.{self.path}"

    @property
    def header(self) -> str:
        """The header export writes: the Genesys template name, or ``custom:<name>``."""
        if self.headers:
            return self.headers[0]
        prefix = "custom:" if self.kind == "contact" else "account custom:"
        return prefix + self.custom_name

    @property
    def is_custom(self) -> bool:
        return self.path.startswith("customFields.")

    @property
    def custom_name(self) -> str:
        return self.path.removeprefix("customFields.")


@dataclass(frozen=True)
class Specs:
    """Both record kinds' field specs, in spec-file order."""

    contact: tuple[FieldSpec, ...]
    organization: tuple[FieldSpec, ...]
    by_column: dict[str, FieldSpec] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.by_column.update({f.column: f for f in (*self.contact, *self.organization)})

    def of(self, kind: str) -> tuple[FieldSpec, ...]:
        return self.contact if kind == "contact" else self.organization

    @property
    def all(self) -> tuple[FieldSpec, ...]:
        return (*self.contact, *self.organization)

    def get(self, column: str) -> FieldSpec | None:
        """The spec of a canonical column, built on the fly for custom fields."""
        if column in self.by_column:
            return self.by_column[column]
        kind, _, path = column.partition(".")
        if kind in KINDS and path.startswith("customFields."):
            return custom_field(kind, path.removeprefix("customFields."))
        return None


CONTACT_KEY = "contact.externalId"
ORGANIZATION_KEY = "organization.externalId"
ORGANIZATION_NAME = "organization.name"
# Columns export adds after the field columns: the records' Genesys ids. They are read-only in Genesys, so
# import recognizes them and drops them without calling them ignored columns.
GENESYS_CONTACT_ID = "genesys_contact_id"
GENESYS_ORGANIZATION_ID = "genesys_organization_id"
GENESYS_ID_COLUMNS = (GENESYS_CONTACT_ID, GENESYS_ORGANIZATION_ID)


def custom_field(kind: str, name: str) -> FieldSpec:
    """A custom field typed by its suffix (``loyalty_tier_text`` -> text of at most 100)."""
    if kind not in KINDS:
        raise MappingError(f"custom field {name!r}: unknown record kind {kind!r}")
    suffix = name.rsplit("_", 1)[-1].lower() if "_" in name else ""
    if suffix not in CUSTOM_SUFFIX_TYPES:
        known = ", ".join(f"_{s}" for s in CUSTOM_SUFFIX_TYPES)
        raise MappingError(
            f"custom field {name!r} has no type suffix; Genesys custom field names end in one of {known}"
        )
    ftype, item_type = CUSTOM_SUFFIX_TYPES[suffix]
    return FieldSpec(
        kind=kind,
        path=f"customFields.{name}",
        type=ftype,
        max_length=CUSTOM_TEXT_LIMITS.get(suffix),
        item_type=item_type,
    )


def _parse_spec_file(path: Path) -> tuple[FieldSpec, ...]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    kind = data["kind"]
    specs = []
    for raw in data["field"]:
        specs.append(
            FieldSpec(
                kind=kind,
                path=raw["path"],
                type=FieldType(raw["type"]),
                headers=tuple(raw.get("headers", ())),
                max_length=raw.get("max_length"),
                required=raw.get("required", False),
                pii=raw.get("pii", False),
                item_type=FieldType(raw["item_type"]) if "item_type" in raw else None,
                min_value=raw.get("min_value"),
                max_value=raw.get("max_value"),
            )
        )
    return tuple(specs)


@cache
def load_specs(schemas_dir: Path = SCHEMAS_DIR) -> Specs:
    """Load ``contact.toml`` and ``organization.toml`` from the schemas directory."""
    return Specs(
        contact=_parse_spec_file(schemas_dir / "contact.toml"),
        organization=_parse_spec_file(schemas_dir / "organization.toml"),
    )
