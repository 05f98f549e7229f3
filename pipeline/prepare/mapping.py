"""Input headers -> canonical columns, from the field specs and an optional user mapping file.

A mapping file (TOML) lets a CRM export keep its own headers::

    [columns]
    "Full Name"     = "contact.firstName"
    "Loyalty Tier"  = "contact.customFields.loyalty_tier_text"
    "Internal Memo" = ""              # known and deliberately dropped: not reported as ignored

    [constants]
    "contact.address.countryCode" = "US"

Headers match by :func:`header_key`: case-insensitively, ignoring surrounding spaces, with any Unicode
space (a no-break space from a spreadsheet) as a plain one and NFC-normalized, everywhere. Mapping-file
entries win over the spec headers; ``custom:<name>`` and ``account custom:<name>`` headers address custom
fields directly.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipeline.errors import InputError, MappingError, MissingKeyColumnError
from pipeline.fields import CONTACT_KEY, GENESYS_ID_COLUMNS, ORGANIZATION_KEY, Specs, load_specs
from pipeline.outcomes import DELETE_COLUMNS, OUTCOME_COLUMNS, SOURCE_ROW
from pipeline.prepare.header import header_key, tidy_header

_CUSTOM_PREFIXES = {"custom:": "contact", "account custom:": "organization"}
_SECTIONS = ("columns", "constants")


@dataclass(frozen=True)
class Mapping:
    """A user mapping file: input header -> canonical column (``""`` drops it) and constant values."""

    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    source: str = "<mapping>"


@dataclass(frozen=True)
class ColumnMap:
    """How one input file's headers land in canonical columns."""

    columns: dict[str, str]
    constants: dict[str, str]
    ignored: tuple[str, ...]
    headers_for: dict[str, str]
    # Mapping-file headers the input does not have: a mapping is often shared by exports of one CRM, so
    # this is a warning, unless the missing column was the only key.
    missing: tuple[str, ...] = ()


__all__ = ["ColumnMap", "Mapping", "header_key", "load_mapping", "parse_mapping", "resolve_columns"]


def load_mapping(path: str | Path, specs: Specs | None = None) -> Mapping:
    """Read and check a TOML mapping file; every problem is a :class:`MappingError` naming the file."""
    path = Path(path)
    specs = specs or load_specs()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise MappingError(f"mapping file {path}: cannot be read ({err.strerror or err})") from err
    except UnicodeDecodeError as err:
        raise MappingError(f"mapping file {path}: not UTF-8 text") from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise MappingError(f"mapping file {path}: not valid TOML ({err})") from err
    return parse_mapping(data, specs, source=str(path))


def parse_mapping(data: AbcMapping[str, object], specs: Specs, *, source: str = "<mapping>") -> Mapping:
    """Check an already-parsed mapping document against the specs."""
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise MappingError(
            f"mapping file {source}: unknown section(s) {', '.join(unknown)}; "
            "expected [columns] and [constants]"
        )
    columns = _string_table(data.get("columns", {}), "columns", source)
    constants = _string_table(data.get("constants", {}), "constants", source)
    _reject_same_header_twice(columns, source)
    for header, target in columns.items():
        if target:
            _check_field(target, specs, source, f"[columns] {header!r}")
    for target in constants:
        _check_field(target, specs, source, f"[constants] {target!r}")
    return Mapping(columns=columns, constants=constants, source=source)


def _string_table(table: object, name: str, source: str) -> dict[str, str]:
    if not isinstance(table, dict):
        raise MappingError(f'mapping file {source}: [{name}] must be a table of "name" = "value" entries')
    for key, value in table.items():
        if not isinstance(value, str):
            raise MappingError(
                f"mapping file {source}: [{name}] {key!r} must be a string, not {type(value).__name__}"
            )
    return dict(table)


def _reject_same_header_twice(columns: dict[str, str], source: str) -> None:
    seen: dict[str, str] = {}
    for header in columns:
        other = seen.setdefault(header_key(header), header)
        if other != header:
            raise MappingError(
                f"mapping file {source}: [columns] {other!r} and {header!r} name the same column (headers "
                "match ignoring case and spaces); keep one of them"
            )


def _check_field(target: str, specs: Specs, source: str, where: str) -> None:
    try:
        spec = specs.get(target)
    except MappingError as err:
        raise MappingError(f"mapping file {source}: {where}: {err}") from err
    if spec is None:
        raise MappingError(
            f"mapping file {source}: {where} names unknown field {target!r}; fields look like "
            "'contact.firstName', 'organization.name' or 'contact.customFields.<name>_<type>'"
        )


def _spec_header_index(specs: Specs) -> dict[str, str]:
    index: dict[str, str] = {}
    for spec in specs.all:
        for header in spec.headers:
            # The spec lists template names first, so an alias never overrides a template header.
            index.setdefault(header_key(header), spec.column)
    return index


def _custom_column(header: str, specs: Specs) -> str | None:
    lowered = header_key(header)
    for prefix, kind in _CUSTOM_PREFIXES.items():
        if lowered.startswith(prefix):
            name = tidy_header(header)[len(prefix) :].strip()
            column = f"{kind}.customFields.{name}"
            specs.get(column)  # raises MappingError when the name has no type suffix
            return column
    return None


def resolve_columns(headers: Iterable[str], specs: Specs, mapping: Mapping | None = None) -> ColumnMap:
    """Decide which canonical column every input header fills; unknown headers are listed as ignored."""
    headers = tuple(headers)
    user_columns = mapping.columns if mapping else {}
    mapped = {header_key(h): t for h, t in user_columns.items()}
    present_keys = {header_key(h) for h in headers}
    missing = tuple(h for h in user_columns if header_key(h) not in present_keys)
    constants = dict(mapping.constants) if mapping else {}
    columns, ignored = _assign(headers, specs, mapped, constants)
    headers_for = {target: header for header, target in columns.items()}
    for target in constants:
        spec = specs.get(target)
        headers_for[target] = f"{spec.header if spec else target} (mapping constant)"
    _require_key(set(columns.values()) | set(constants), missing, mapped)
    return ColumnMap(
        columns=columns,
        constants=constants,
        ignored=ignored,
        headers_for=headers_for,
        missing=missing,
    )


def _assign(
    headers: tuple[str, ...], specs: Specs, mapped: dict[str, str], constants: dict[str, str]
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Header -> canonical column for the headers that fill one, and the headers that fill none."""
    spec_index = _spec_header_index(specs)
    # Outcome columns of a reconciliation file fed back as input are expected and dropped silently; so are
    # the Genesys id columns of an export fed back as input, and the outcome columns of a .deleted.csv.
    silent = {header_key(c) for c in (*OUTCOME_COLUMNS, *GENESYS_ID_COLUMNS, *DELETE_COLUMNS)}
    columns: dict[str, str] = {}
    filled_by: dict[str, str] = {}
    ignored: list[str] = []
    for header in headers:
        key = header_key(header)
        if key in mapped:
            target: str | None = mapped[key] or None
            if target is None:
                continue
        elif key in silent:
            continue
        else:
            target = _custom_column(header, specs) or spec_index.get(key)
        if target is None:
            ignored.append(header)
            continue
        if target in filled_by:
            raise InputError(
                f"columns {filled_by[target]!r} and {header!r} both fill {target}; keep one of them "
                "or map one elsewhere with --mapping"
            )
        if target in constants:
            raise InputError(
                f"column {header!r} fills {target}, which the mapping file also sets as a constant"
            )
        columns[header] = target
        filled_by[target] = header
    return columns, tuple(ignored)


def _require_key(present: set[str], missing: tuple[str, ...], mapped: dict[str, str]) -> None:
    if CONTACT_KEY in present or ORGANIZATION_KEY in present:
        return
    absent_keys = [h for h in missing if mapped[header_key(h)] in (CONTACT_KEY, ORGANIZATION_KEY)]
    hint = (
        f"; the mapping file maps {', '.join(repr(h) for h in absent_keys)} to a key, "
        "but the file has no such column"
        if absent_keys
        else ""
    )
    raise MissingKeyColumnError(
        "no Contact ID or Account ID column; expected a header such as 'Contact ID' or 'Account ID'" + hint
    )


def to_canonical(raw: pl.DataFrame, cmap: ColumnMap) -> pl.DataFrame:
    """``source_row`` plus one String column per canonical field, constants as literal columns."""
    return (
        raw.lazy()
        .select(
            pl.col(SOURCE_ROW).cast(pl.Int64),
            *(pl.col(header).cast(pl.String).alias(target) for header, target in cmap.columns.items()),
            *(pl.lit(value, dtype=pl.String).alias(target) for target, value in cmap.constants.items()),
        )
        .collect()
    )
