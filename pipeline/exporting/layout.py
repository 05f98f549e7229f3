"""Genesys records -> rows in the import layout. Pure: record dicts in, String frames out.

The layout is the one ``import`` reads, so an export fed back with no edits writes the same payloads:

- headers are each field spec's first header (:attr:`FieldSpec.header`), custom fields are
  ``custom:<name>`` (contacts) and ``account custom:<name>`` (organizations);
- the Contact ID / Account ID is the value of the record's ``externalIds`` entry of the chosen external
  source (empty when the record has none: such a row cannot be re-imported as is);
- phones are the E.164 number (``e164``, else ``display``) with ``;ext=N`` for an extension, exactly as
  import's normalizer writes them; lists are ``;``-joined; booleans are ``true``/``false``;
- ``genesys_contact_id`` and ``genesys_organization_id`` close the row; import ignores them.

Formula escaping is the writer's job (:class:`pipeline.csvsafe.CsvAppender`), not this module's: the
values here are the records' own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from pipeline.errors import ConfigError, MappingError
from pipeline.fields import (
    CONTACT_KEY,
    GENESYS_CONTACT_ID,
    GENESYS_ORGANIZATION_ID,
    LIST_SEPARATOR,
    ORGANIZATION_KEY,
    FieldSpec,
    FieldType,
    Specs,
    custom_field,
)
from pipeline.prepare.mapping import header_key

ExportKind = Literal["contacts", "organizations", "both"]
EXPORT_KINDS: tuple[ExportKind, ...] = ("contacts", "organizations", "both")
COLUMNS_ALL = "all"  # spec columns plus every custom field of the org's schemas
COLUMNS_SPEC = "spec"  # spec columns only

Cells = dict[str, str | None]


@dataclass(frozen=True)
class Layout:
    """The columns of one export, in file order; a column is a field spec or a Genesys id column."""

    contact: tuple[FieldSpec, ...]
    organization: tuple[FieldSpec, ...]
    genesys_ids: tuple[str, ...]

    @property
    def headers(self) -> list[str]:
        """Contact fields, account fields, contact custom fields, account custom fields, Genesys ids:
        the order of the Genesys template with the custom columns after it, as in ``samples/``."""
        fields = (*self.contact, *self.organization)
        ordered = [s for s in fields if not s.is_custom] + [s for s in fields if s.is_custom]
        return [s.header for s in ordered] + list(self.genesys_ids)


def build_layout(
    specs: Specs,
    kind: ExportKind,
    custom_fields: Mapping[str, Sequence[str]] | None = None,
    columns: str = COLUMNS_ALL,
) -> tuple[Layout, list[str]]:
    """The layout for ``kind`` and a ``--columns`` value, and warnings about custom fields left out.

    ``custom_fields`` maps ``"contact"``/``"organization"`` to field names (from the schemas); they are
    used with ``all`` and with a header list. A header list keeps the named columns plus, always, the key
    columns and the Genesys id columns (a file without its keys cannot go back in).
    """
    kinds = ("contact", "organization") if kind == "both" else (kind.removesuffix("s"),)
    warnings: list[str] = []
    chosen: dict[str, list[FieldSpec]] = {k: list(specs.of(k)) for k in kinds}
    if columns != COLUMNS_SPEC:
        for k in kinds:
            for name in (custom_fields or {}).get(k, ()):
                try:
                    chosen[k].append(custom_field(k, name))
                except MappingError:
                    warnings.append(f"{k} custom field {name!r} has no type suffix; not exported")
    # Contacts carry their organization's Genesys id even without the account columns, to keep the link.
    ids = (
        (GENESYS_ORGANIZATION_ID,)
        if kind == "organizations"
        else (GENESYS_CONTACT_ID, GENESYS_ORGANIZATION_ID)
    )
    layout = Layout(tuple(chosen.get("contact", ())), tuple(chosen.get("organization", ())), ids)
    if columns in (COLUMNS_ALL, COLUMNS_SPEC):
        return layout, warnings
    return _select(layout, columns), warnings


def _select(layout: Layout, columns: str) -> Layout:
    wanted = [header_key(h) for h in columns.split(",") if h.strip()]
    available = {header_key(s.header): s for s in (*layout.contact, *layout.organization)}
    unknown = [h for h in wanted if h not in available and h not in layout.genesys_ids]
    if unknown or not wanted:
        raise ConfigError(
            f"--columns: unknown column(s) {', '.join(unknown) or '(none given)'}; use 'all', 'spec' or a "
            f"comma-separated list of: {', '.join(s.header for s in available.values())}"
        )

    def keep(spec: FieldSpec) -> bool:
        return spec.column in (CONTACT_KEY, ORGANIZATION_KEY) or header_key(spec.header) in wanted

    return Layout(
        tuple(s for s in layout.contact if keep(s)),
        tuple(s for s in layout.organization if keep(s)),
        layout.genesys_ids,
    )


def external_id(record: Mapping[str, Any], source_id: str) -> str | None:
    """The value of the record's ExternalId from external source ``source_id``, or None."""
    for ext in record.get("externalIds") or ():
        if isinstance(ext, Mapping) and (ext.get("externalSource") or {}).get("id") == source_id:
            value = ext.get("value")
            return str(value) if value not in (None, "") else None
    return None


def render(spec: FieldSpec, value: Any) -> str | None:
    """One stored value as import's normalizer would have written it; None for nothing."""
    if value is None:
        return None
    if spec.type == FieldType.PHONE and isinstance(value, Mapping):
        return _phone(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        items = [rendered for v in value if (rendered := _item(v))]
        return LIST_SEPARATOR.join(items) or None
    text = str(value)
    return text if text != "" else None


def _item(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) or None


def _phone(phone: Mapping[str, Any]) -> str | None:
    number = phone.get("e164") or phone.get("display")
    if not number:
        return None
    extension = phone.get("extension")
    return f"{number};ext={extension}" if extension not in (None, "") else str(number)


def _get(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def record_cells(record: Mapping[str, Any], specs: Sequence[FieldSpec], source_id: str) -> Cells:
    """Header -> text for one record's columns; the key column from the external source's ExternalId."""
    cells: Cells = {}
    for spec in specs:
        if spec.type == FieldType.KEY:
            cells[spec.header] = external_id(record, source_id)
        else:
            cells[spec.header] = render(spec, _get(record, spec.path))
    return cells


@dataclass
class PageRows:
    """One page turned into rows, with what the run counts about it."""

    frame: pl.DataFrame
    records: int = 0
    without_key: int = 0
    unknown_organization: int = 0
    organizations_used: set[str] = field(default_factory=set)


def frame_of(rows: list[Cells], layout: Layout) -> pl.DataFrame:
    headers = layout.headers
    return pl.DataFrame(
        {h: [row.get(h) for row in rows] for h in headers}, schema=dict.fromkeys(headers, pl.String)
    )


def contact_rows(
    records: Iterable[Mapping[str, Any]],
    organizations: Mapping[str, OrganizationValues],
    layout: Layout,
    source_id: str,
) -> PageRows:
    """One row per contact; its organization's columns come from ``organizations`` (Genesys id -> values).

    A contact whose organization is not in the map (none, or one the organization scan did not see) gets
    empty account columns; ``genesys_organization_id`` still names the organization it links to.
    """
    org_headers = [s.header for s in layout.organization]
    rows: list[Cells] = []
    page = PageRows(pl.DataFrame())
    for record in records:
        cells = record_cells(record, layout.contact, source_id)
        org_id = _get(record, "externalOrganization.id")
        if layout.organization and org_id is not None:
            org = organizations.get(str(org_id))
            if org is None:
                page.unknown_organization += 1
            else:
                cells.update(zip(org_headers, org, strict=True))
                page.organizations_used.add(str(org_id))
        cells[GENESYS_CONTACT_ID] = _text(record.get("id"))
        cells[GENESYS_ORGANIZATION_ID] = _text(org_id)
        page.without_key += cells.get(_key_header(layout.contact)) is None
        page.records += 1
        rows.append(cells)
    page.frame = frame_of(rows, layout)
    return page


OrganizationValues = tuple[str | None, ...]


def organization_values(record: Mapping[str, Any], layout: Layout, source_id: str) -> OrganizationValues:
    """An organization's account columns in layout order: what the organization map keeps (a tuple, not
    a dict, because the map holds every organization for the whole run)."""
    cells = record_cells(record, layout.organization, source_id)
    return tuple(cells[s.header] for s in layout.organization)


def organization_rows(organizations: Iterable[tuple[str, OrganizationValues]], layout: Layout) -> PageRows:
    """Rows of their own for organizations (``(genesys id, values)`` pairs): contact columns empty."""
    headers = [s.header for s in layout.organization]
    key = _key_header(layout.organization)
    rows: list[Cells] = []
    page = PageRows(pl.DataFrame())
    for org_id, values in organizations:
        row: Cells = dict(zip(headers, values, strict=True))
        row[GENESYS_ORGANIZATION_ID] = org_id
        page.without_key += row.get(key) is None
        page.records += 1
        rows.append(row)
    page.frame = frame_of(rows, layout)
    return page


def _key_header(specs: Sequence[FieldSpec]) -> str:
    return next((s.header for s in specs if s.type == FieldType.KEY), "")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
