"""The export job: cursor scans -> rows in the import layout -> a CSV or parquet file and its manifest.

Only the cursor scan endpoints are used (``limit`` 200, following ``cursors.after``), never the search
endpoints, which stop at 1,000 records. Every request goes through :class:`GenesysClient`, so a page that
fails is retried there (5xx, timeouts, 429 with ``Retry-After``); when retries run out the export stops
with its state saved, and ``--resume`` carries on from the last page written.

``--kind both`` (the default):

1. scan every organization into a map, Genesys id -> account values: O(#organizations), the one thing
   kept for the whole run;
2. stream contacts: each page becomes rows joined with their organization's values, is appended to the
   partial file (``<out>.partial``) and the state file is saved; one page is held at a time;
3. organizations no contact linked to get rows of their own at the end;
4. the partial file becomes ``<out>`` (CSV: renamed; parquet: converted, see below), then the manifest
   ``<out>.manifest.json`` is written and the state deleted.

Parquet and xlsx: rows are streamed into the partial file as unescaped CSV exactly as for CSV output,
and converted at the end (:mod:`pipeline.exporting.output`), so resume works alike for every format.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from pipeline import asyncrun
from pipeline.csvsafe import CsvAppender
from pipeline.errors import ConfigError, TerminalApiError
from pipeline.exporting import output
from pipeline.exporting.layout import (
    COLUMNS_SPEC,
    OrganizationValues,
    PageRows,
    build_layout,
    contact_rows,
    organization_rows,
    organization_values,
)
from pipeline.exporting.options import FORMATS, ExportOptions, ExportProgress, ExportResult
from pipeline.exporting.output import organizations_in, publish, workbook_sheets
from pipeline.exporting.state import (
    Counts,
    ExportState,
    export_outputs,
    manifest_path,
    partial_path,
    signature,
    state_path,
    write_manifest,
)
from pipeline.fields import FieldType, Specs, load_specs
from pipeline.files import check_outputs, utc_now_iso
from pipeline.genesys.client import GenesysClient
from pipeline.genesys.models import Kind, ScanPage
from pipeline.genesys.scanning import Scanner
from pipeline.genesys.settings import ClientSettings

# The options and result types live in exporting.options; callers import them from here too.
__all__ = ["FORMATS", "ExportOptions", "ExportProgress", "ExportResult", "export", "export_records"]


def export(
    out: str | Path,
    settings: ClientSettings,
    options: ExportOptions,
    *,
    progress: ExportProgress | None = None,
    specs: Specs | None = None,
) -> ExportResult:
    """Export records to ``out`` through a client built from ``settings``."""

    async def run() -> ExportResult:
        async with GenesysClient(settings) as client:
            host = httpx.URL(settings.api_base_url).netloc.decode("ascii")
            return await export_records(client, out, options, api_host=host, progress=progress, specs=specs)

    return asyncrun.run(run())


async def export_records(
    client: Any,
    out: str | Path,
    options: ExportOptions,
    *,
    api_host: str,
    progress: ExportProgress | None = None,
    specs: Specs | None = None,
) -> ExportResult:
    """Export with an open client (anything with ``scan``, ``division_ids``, ``find_external_source``,
    ``list_schemas``)."""
    if options.format not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, not {options.format!r}")
    suffix = Path(out).suffix.lower().lstrip(".")
    if suffix in FORMATS and suffix != options.format:
        # A workbook named .csv (or CSV named .xlsx) opens as garbage: the name must say what is inside.
        raise ConfigError(f"--out {out} ends in .{suffix} but the format is {options.format}")
    check_outputs(export_outputs(Path(out)))  # before any request; the CLI adds the files it reads
    job = _Export(client, Path(out), options, progress or ExportProgress(), specs or load_specs(), api_host)
    return await job.run()


class _Export:
    def __init__(
        self,
        client: Any,
        out: Path,
        options: ExportOptions,
        progress: ExportProgress,
        specs: Specs,
        api_host: str,
    ) -> None:
        self.client = client
        self.out = out
        self.options = options
        self.progress = progress
        self.specs = specs
        self.api_host = api_host
        self.partial = partial_path(out)
        self.state_file = state_path(out)
        self.warnings: list[str] = []
        self.organizations: dict[str, OrganizationValues] = {}
        self.used: set[str] = set()
        self.scanner = Scanner(client, division_id=options.division_id)
        self.division_views = False

    async def run(self) -> ExportResult:
        o = self.options
        source_id = await self._source_id()
        self.division_views = await self.scanner.division_views()
        self.warnings.extend(self.scanner.warnings)
        custom = await self._custom_fields() if o.columns != COLUMNS_SPEC else {}
        layout, notes = build_layout(self.specs, o.kind, custom, o.columns)
        self.warnings.extend(notes)
        self.layout, self.source_id = layout, source_id
        shape = {
            "kind": o.kind,
            "format": o.format,
            "columns": layout.headers,
            "division": o.division_id,
            "source": source_id,
            "host": self.api_host,
        }
        state, resumed = self._start_state(signature(shape))
        self.state = state
        writer = CsvAppender(
            self.partial,
            layout.headers,
            escape=o.format == "csv",
            resume_at=state.offset if resumed else None,
        )
        with writer:
            if not resumed:
                state.offset = writer.offset
                state.save(self.state_file)
            await self._write_everything(writer, resumed)
        return self._finish(resumed)

    # -- setup -----------------------------------------------------------------------------------------

    async def _source_id(self) -> str:
        name = self.options.external_source
        source = await self.client.find_external_source(name)
        if source is None:
            raise ConfigError(
                f"external source {name!r} does not exist; name the source that owns the Contact and "
                "Account IDs with --external-source"
            )
        return str(source["id"])

    async def _custom_fields(self) -> dict[str, list[str]]:
        """Every custom field of every schema, per record kind: the header is written before any record."""
        kinds = ("contact", "organization") if self.options.kind == "both" else (self.options.kind[:-1],)
        fields: dict[str, list[str]] = {}
        for kind in kinds:
            names: dict[str, None] = {}
            for schema in await self.client.list_schemas(f"{kind}s"):
                properties = (schema.get("jsonSchema") or {}).get("properties") or {}
                names.update(dict.fromkeys(properties))
            fields[kind] = list(names)
        return fields

    def _start_state(self, sig: str) -> tuple[ExportState, bool]:
        fresh = ExportState(sig, self._first_phase(), None, 0, started_at=utc_now_iso())
        if not self.options.resume:
            return fresh, False
        saved = ExportState.load(self.state_file)
        if saved is None:
            self.warnings.append("--resume: no interrupted export of this file was found; started afresh")
            return fresh, False
        if saved.signature != sig:
            self.warnings.append(
                "--resume: the interrupted export used other options (or the field specs changed); "
                "started afresh"
            )
            return fresh, False
        size = self.partial.stat().st_size if self.partial.exists() else -1
        if size < saved.offset:
            self.warnings.append(
                "--resume: the partial file is missing or shorter than recorded; started afresh"
            )
            return fresh, False
        return saved, True

    def _first_phase(self) -> str:
        return "organizations" if self.options.kind == "organizations" else "contacts"

    # -- the phases ------------------------------------------------------------------------------------

    async def _write_everything(self, writer: CsvAppender, resumed: bool) -> None:
        kind = self.options.kind
        if kind == "both":
            await self._scan_organizations()
            if resumed:
                self.used = organizations_in(self.partial)
        if self.state.phase == "organizations":
            await self._stream(writer, "organizations", self._organization_page, next_phase="finish")
        if self.state.phase == "contacts":
            after = "orphans" if kind == "both" else "finish"
            await self._stream(writer, "contacts", self._contact_page, next_phase=after)
        if self.state.phase == "orphans":
            self._write_orphans(writer)

    async def _scan_organizations(self) -> None:
        self.progress.phase = "organizations (scan)"
        cursor: str | None = None
        while True:
            page = await self._scan("organizations", cursor)
            self.state.counts.organization_scan_requests += 1
            for record in page.entities:
                values = organization_values(record, self.layout, self.source_id)
                self.organizations[str(record.get("id"))] = values
            self.progress.organizations_scanned = len(self.organizations)
            self.progress.notify()
            if page.after is None or page.after == cursor:
                return
            cursor = page.after

    async def _stream(
        self,
        writer: CsvAppender,
        kind: Kind,
        to_rows: Callable[[list[dict[str, Any]]], PageRows],
        *,
        next_phase: str,
    ) -> None:
        """Scan ``kind`` from the saved cursor, appending each page and saving the state after it."""
        state = self.state
        self.progress.phase = kind
        cursor = state.cursor
        resuming_cursor = cursor is not None
        while True:
            try:
                page = await self._scan(kind, cursor)
            except TerminalApiError as err:
                if not (resuming_cursor and err.status == 400):
                    raise
                # The saved cursor has expired (they live 24 h) or is no longer valid: start over.
                self.warnings.append(f"--resume: the saved cursor was refused ({err.code}); started afresh")
                self._restart(writer)
                cursor, resuming_cursor = None, False
                continue
            resuming_cursor = False
            if kind == "contacts":
                state.counts.contact_scan_requests += 1
            else:
                state.counts.organization_scan_requests += 1
            rows = to_rows(page.entities)
            state.offset = writer.write(rows.frame)
            self._count(kind, rows)
            last = page.after is None or page.after == cursor
            state.phase, state.cursor = (next_phase, None) if last else (state.phase, page.after)
            state.save(self.state_file)
            self.progress.notify()
            if last:
                return
            cursor = page.after

    def _restart(self, writer: CsvAppender) -> None:
        # In place: the scan loop holds this state object. Scan requests stay counted: they were sent.
        state, sent = self.state, self.state.counts
        state.counts = Counts(
            contact_scan_requests=sent.contact_scan_requests,
            organization_scan_requests=sent.organization_scan_requests,
        )
        state.phase, state.cursor = self._first_phase(), None
        state.offset = writer.restart()
        state.save(self.state_file)
        self.used.clear()
        self.progress.rows_written = 0

    async def _scan(self, kind: Kind, cursor: str | None) -> ScanPage:
        return await self.scanner.page(kind, limit=self.options.page_size, cursor=cursor)

    def _contact_page(self, records: list[dict[str, Any]]) -> PageRows:
        rows = contact_rows(records, self.organizations, self.layout, self.source_id)
        self.used |= rows.organizations_used
        return rows

    def _organization_page(self, records: list[dict[str, Any]]) -> PageRows:
        pairs = ((str(r.get("id")), organization_values(r, self.layout, self.source_id)) for r in records)
        return organization_rows(pairs, self.layout)

    def _count(self, kind: Kind, rows: PageRows) -> None:
        counts = self.state.counts
        counts.rows += rows.frame.height
        if kind == "contacts":
            counts.contacts += rows.records
            counts.contacts_without_external_id += rows.without_key
            counts.contacts_with_unknown_organization += rows.unknown_organization
        else:
            counts.organizations += rows.records
            counts.organizations_without_external_id += rows.without_key
        self.progress.rows_written = counts.rows

    def _write_orphans(self, writer: CsvAppender) -> None:
        """Organizations no contact linked to, in scan order, a page at a time; redone whole on resume."""
        self.progress.phase = "organizations without contacts"
        orphans = [(i, v) for i, v in self.organizations.items() if i not in self.used]
        size = self.options.page_size
        for start in range(0, len(orphans), size):
            rows = organization_rows(orphans[start : start + size], self.layout)
            writer.write(rows.frame)
            self.state.counts.rows += rows.frame.height
            self.progress.rows_written = self.state.counts.rows
            self.progress.notify()
        self.state.phase = "finish"
        self.state.offset = writer.offset
        self.state.save(self.state_file)

    # -- the end ---------------------------------------------------------------------------------------

    def _finish(self, resumed: bool) -> ExportResult:
        counts = self.state.counts
        if self.options.kind == "both":
            counts.organizations = len(self.organizations)
            key = next(i for i, s in enumerate(self.layout.organization) if s.type == FieldType.KEY)
            counts.organizations_without_external_id = sum(
                values[key] is None for values in self.organizations.values()
            )
        o = self.options
        fields = [*self.layout.contact, *self.layout.organization]
        sheets = workbook_sheets(counts, self.layout.headers, fields)
        publish(self.partial, self.out, o.format, self.layout.headers, sheets)
        manifest = output.manifest(
            self.out,
            counts,
            file_format=o.format,
            kind=o.kind,
            headers=self.layout.headers,
            started_at=self.state.started_at,
            resumed=resumed,
            source={
                "api_host": self.api_host,
                "external_source": {"name": o.external_source, "id": self.source_id},
                "division_id": o.division_id,
                "scan": "divisionviews/all" if self.division_views else "plain",
            },
        )
        write_manifest(manifest_path(self.out), manifest)
        self.state_file.unlink(missing_ok=True)
        self.progress.phase = "done"
        self.progress.notify()
        return ExportResult(self.out, manifest_path(self.out), manifest, self.warnings, resumed)
