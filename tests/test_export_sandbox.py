"""Export end to end: the real client over HTTP against the sandbox on 127.0.0.1, and import of the result."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest
from click.testing import CliRunner
from sandbox_support import sandbox_settings

from pipeline.cli import cli
from pipeline.csvsafe import CsvAppender
from pipeline.exporting.job import ExportOptions, export
from pipeline.genesys.settings import ClientSettings
from pipeline.importing.job import ImportOptions, import_file
from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox
from pipeline.sandbox.enrich import Outcome
from pipeline.sandbox.records import CONTACT, ORGANIZATION, Kind, finalize

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
FIRST_IMPORT = ImportOptions(create_source=True, contact_schema="Demo contact fields")
# The export has a column for every custom field of both demo schemas, so re-import names both schemas.
REIMPORT = ImportOptions(contact_schema="Demo contact fields", organization_schema="Demo organization fields")
# The sandbox shows two divisions, so export scans every division's view.
SCAN_CONTACTS = "GET /api/v2/externalcontacts/scan/contacts/divisionviews/all"
SCAN_ORGANIZATIONS = "GET /api/v2/externalcontacts/scan/organizations/divisionviews/all"
WRITES = (
    "POST /api/v2/externalcontacts/bulk/contacts/enrich",
    "POST /api/v2/externalcontacts/bulk/organizations/enrich",
)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with run_sandbox(SandboxConfig(rate_limit=0)) as sandbox:
        yield sandbox


def _settings(sb: Sandbox) -> ClientSettings:
    return sandbox_settings(sb, backoff_max_s=0.05)


def _stored(sb: Sandbox) -> dict[str, dict[str, Any]]:
    """Every stored record by id, without ``modifyDate`` (an update that changes nothing may touch it)."""
    return {
        record["id"]: {k: v for k, v in record.items() if k != "modifyDate"}
        for collection in ("contacts", "organizations")
        for record in sb.store.all(collection)
    }


def _insert(sb: Sandbox, kind: Kind, records: list[dict[str, Any]]) -> None:
    """Put records straight into the sandbox store: thousands in well under a second."""
    division = sb.store.division(None)
    stamp = "2026-01-01T00:00:00.000Z"
    with sb.store.transaction():
        for fields in records:
            record = finalize(
                kind,
                fields,
                record_id=fields.pop("id"),
                division=division,
                create_date=stamp,
                modify_date=stamp,
            )
            sb.store.apply(Outcome(kind, record, created=True))


def _ext(value: str, sb: Sandbox) -> list[dict[str, Any]]:
    return [{"externalSource": {"id": sb.external_source_id}, "value": value}]


def test_samples_survive_import_export_import_unchanged(sb: Sandbox, tmp_path: Path) -> None:
    """Re-importing the export of the imported samples creates nothing, and with the journal every row
    is ``unchanged`` (its payload is identical to the first import's) and nothing is sent."""
    settings, journal = _settings(sb), tmp_path / "journal.sqlite"
    first = import_file(SAMPLES / "contacts.csv", settings, FIRST_IMPORT, journal=journal)
    assert first.all_succeeded
    before = _stored(sb)

    exported = export(tmp_path / "export.csv", settings, ExportOptions())
    assert exported.manifest["records"] == {"contacts": 234, "organizations": 44}
    writes_before = [sb.stats.requests.get(w, 0) for w in WRITES]

    again = import_file(exported.path, settings, REIMPORT, journal=journal)
    assert set(again.report["contact_status"]) == {"unchanged"}
    assert set(again.report["organization_status"]) == {"unchanged"}
    assert again.warnings == []
    assert [sb.stats.requests.get(w, 0) for w in WRITES] == writes_before
    assert _stored(sb) == before


def test_full_reimport_of_the_export_updates_every_row_with_no_field_changes(
    sb: Sandbox, tmp_path: Path
) -> None:
    """Sending every exported row again (no journal) updates each record without changing any field."""
    settings = _settings(sb)
    assert import_file(SAMPLES / "contacts.csv", settings, FIRST_IMPORT).all_succeeded
    before = _stored(sb)
    exported = export(tmp_path / "export.csv", settings, ExportOptions())

    again = import_file(exported.path, settings, replace(REIMPORT, full=True))
    assert set(again.report["contact_status"]) == {"updated"}
    assert set(again.report["organization_status"]) == {"updated"}
    assert again.summary.contacts == {"updated": 234}
    assert again.summary.organizations == {"updated": 44}
    assert _stored(sb) == before


def test_organization_without_contacts_and_contact_without_organization_round_trip(
    sb: Sandbox, tmp_path: Path
) -> None:
    """A lone organization gets its own row and a lone contact empty account columns; both go back in."""
    settings = _settings(sb)
    source = tmp_path / "in.csv"
    source.write_text(
        "Contact ID,Contact First Name,Account ID,Account Name,Account Tags\n"
        "C-1,Ann,ACC-1,Acme,a;b\n"
        "C-2,Bo,,,\n"
        ",,ACC-2,Lonely Ltd,\n",
        encoding="utf-8",
    )
    assert import_file(source, settings, FIRST_IMPORT).all_succeeded
    before = _stored(sb)
    out = export(tmp_path / "export.csv", settings, ExportOptions(columns="spec")).path
    rows = pl.read_csv(out, infer_schema=False)
    assert rows.select("Contact ID", "Account ID", "Account Tags").rows() == [
        ("C-1", "ACC-1", "a;b"),
        ("C-2", None, None),
        (None, "ACC-2", None),
    ]
    again = import_file(out, settings, replace(REIMPORT, full=True))
    assert again.all_succeeded
    assert sb.store.count("contacts") == 2
    assert sb.store.count("organizations") == 2
    assert _stored(sb) == before


def test_formula_looking_name_comes_out_inert_and_goes_back_unchanged(sb: Sandbox, tmp_path: Path) -> None:
    """A first name ``=HYPERLINK(...)`` is written as ``'=HYPERLINK(...)`` and re-imports as the same name."""
    settings = _settings(sb)
    name = '=HYPERLINK("http://evil.example.com","Click me")'
    source = tmp_path / "in.csv"
    with source.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Contact ID", "Contact First Name", "Account ID", "Account Name"])
        writer.writerow(["C-1", name, "ACC-1", "@Acme"])
    assert import_file(source, settings, FIRST_IMPORT).all_succeeded
    assert sb.store.all("contacts")[0]["firstName"] == name

    out = export(tmp_path / "export.csv", settings, ExportOptions(columns="spec")).path
    with out.open(newline="", encoding="utf-8") as fh:
        row = next(csv.DictReader(fh))
    assert row["Contact First Name"] == "'" + name
    assert row["Account Name"] == "'@Acme"

    again = import_file(out, settings, replace(REIMPORT, full=True))
    assert set(again.report["contact_status"]) == {"updated"}
    assert sb.store.all("contacts")[0]["firstName"] == name
    assert sb.store.all("organizations")[0]["name"] == "@Acme"


def test_export_uses_one_scan_request_per_200_records(sb: Sandbox, tmp_path: Path) -> None:
    """5,001 contacts take ceil(5001/200) = 26 contact scan requests; 3 organizations take one."""
    _insert(
        sb,
        ORGANIZATION,
        [{"id": f"o{i}", "name": f"Org {i}", "externalIds": _ext(f"A{i}", sb)} for i in range(3)],
    )
    contacts = [
        {
            "id": f"c{i}",
            "firstName": f"N{i}",
            "externalIds": _ext(f"C{i}", sb),
            "externalOrganization": {"id": f"o{i % 3}"},
        }
        for i in range(5001)
    ]
    _insert(sb, CONTACT, contacts)
    options = ExportOptions(external_source="contacts-pipeline", columns="spec")
    result = export(tmp_path / "big.csv", _settings(sb), options)

    requests = sb.stats.requests
    assert requests[SCAN_CONTACTS] == math.ceil(5001 / 200) == 26
    assert requests[SCAN_ORGANIZATIONS] == 1
    assert result.manifest["rows"] == 5001
    assert result.manifest["scan_requests"] == {"contacts": 26, "organizations": 1}
    ids = pl.read_csv(result.path, infer_schema=False)["Contact ID"]
    assert ids.n_unique() == 5001


# Streaming is shown by many pages, not by many records: small pages make 200 of them from 5,000 contacts.
STREAM_CONTACTS, STREAM_PAGE = 5_000, 25


def test_export_streams_one_write_per_page_over_200_pages(
    sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """5,000 contacts in pages of 25 take 200 scan requests, and each page is written as it arrives: one
    write per page of at most a page of rows, so the export never holds more than one page of contacts."""
    contacts = [{"id": f"c{i}", "externalIds": _ext(f"C{i}", sb)} for i in range(STREAM_CONTACTS)]
    _insert(sb, CONTACT, contacts)
    writes: list[int] = []
    original = CsvAppender.write

    def spy(self: CsvAppender, frame: pl.DataFrame) -> int:
        writes.append(frame.height)
        return original(self, frame)

    monkeypatch.setattr(CsvAppender, "write", spy)
    options = ExportOptions(columns="spec", page_size=STREAM_PAGE)
    result = export(tmp_path / "big.csv", _settings(sb), options)
    pages = math.ceil(STREAM_CONTACTS / STREAM_PAGE)
    assert pages == 200
    assert sb.stats.requests[SCAN_CONTACTS] == pages
    assert writes == [STREAM_PAGE] * pages
    assert result.manifest["rows"] == STREAM_CONTACTS
    assert pl.read_csv(result.path, infer_schema=False)["Contact ID"].n_unique() == STREAM_CONTACTS


def test_failed_scan_pages_are_retried_not_skipped(tmp_path: Path) -> None:
    """With 5xx faults on a fifth of requests every record is still exported once; the extra requests
    are exactly the faulted ones."""
    # A request's fault is drawn from the seed and the request; later cursors carry the clock, so only the
    # first requests are the same each run. With seed 8 the first scan page faults, so a fault always happens.
    with run_sandbox(SandboxConfig(rate_limit=0, seed=8)) as sb:
        _insert(sb, CONTACT, [{"id": f"c{i}", "externalIds": _ext(f"C{i}", sb)} for i in range(2000)])
        sb.configure(fault_rate=0.2, fault_kinds=("server_error",))
        # Ten attempts: five faults in a row on one page (1 in 3,000 per page) would end the export.
        settings = replace(_settings(sb), max_attempts=10)
        result = export(tmp_path / "x.csv", settings, ExportOptions(kind="contacts", columns="spec"))
        stats = sb.stats

    assert stats.faults_injected > 0
    api_requests = sum(n for route, n in stats.requests.items() if "/api/v2/" in route)
    # One source lookup, one divisions listing, one contact scan per 200 records, one repeat per fault.
    assert api_requests == 1 + 1 + 10 + stats.faults_injected
    ids = pl.read_csv(result.path, infer_schema=False)["Contact ID"]
    assert sorted(ids.to_list()) == sorted(f"C{i}" for i in range(2000))


def test_export_reaches_every_division_through_the_division_views(sb: Sandbox, tmp_path: Path) -> None:
    """With several divisions visible, export scans ``divisionviews/all`` and gets the records of both,
    which the plain scan (home division only) would miss."""
    _insert(sb, CONTACT, [{"id": "c1", "externalIds": _ext("C1", sb)}])
    second = sb.store.division("5a0c7e5e-0000-4000-8000-00000000d002")
    assert second is not None
    stamp = "2026-01-01T00:00:00.000Z"
    record = finalize(
        CONTACT, {"externalIds": _ext("C2", sb)}, record_id="c2", division=second, create_date=stamp,
        modify_date=stamp,
    )  # fmt: skip
    sb.store.apply(Outcome(CONTACT, record, created=True))
    result = export(tmp_path / "all.csv", _settings(sb), ExportOptions(kind="contacts", columns="spec"))
    assert sorted(pl.read_csv(result.path, infer_schema=False)["Contact ID"].to_list()) == ["C1", "C2"]
    assert result.manifest["source"]["scan"] == "divisionviews/all"
    assert sb.stats.requests.get("GET /api/v2/externalcontacts/scan/contacts", 0) == 0


def test_division_option_exports_that_division_only(sb: Sandbox, tmp_path: Path) -> None:
    """``--division`` is passed to the scans: records of other divisions are left out."""
    _insert(sb, CONTACT, [{"id": "c1", "externalIds": _ext("C1", sb)}])
    second = sb.store.division("5a0c7e5e-0000-4000-8000-00000000d002")
    assert second is not None
    record = finalize(
        CONTACT,
        {"externalIds": _ext("C2", sb)},
        record_id="c2",
        division=second,
        create_date="2026-01-01T00:00:00.000Z",
        modify_date="2026-01-01T00:00:00.000Z",
    )
    sb.store.apply(Outcome(CONTACT, record, created=True))
    options = ExportOptions(kind="contacts", columns="spec", division_id=second["id"])
    result = export(tmp_path / "d.csv", _settings(sb), options)
    assert pl.read_csv(result.path, infer_schema=False)["Contact ID"].to_list() == ["C2"]
    assert result.manifest["source"]["division_id"] == second["id"]


def test_cli_export_against_the_embedded_sandbox(tmp_path: Path) -> None:
    """``contacts-pipeline export --sandbox`` writes the file and its manifest and exits 0."""
    out = tmp_path / "e.csv"
    result = CliRunner().invoke(cli, ["export", "--sandbox", "--rate-limit", "0", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Exported 0 rows" in result.output
    assert out.read_bytes().startswith(b"Contact ID,")
    assert (tmp_path / "e.csv.manifest.json").exists()


def test_cli_format_follows_the_out_extension_and_excel_is_a_deprecated_alias(tmp_path: Path) -> None:
    """``--out x.xlsx`` writes a workbook; ``--excel`` does too, with a deprecation warning."""
    runner = CliRunner()
    by_name = runner.invoke(
        cli, ["export", "--sandbox", "--rate-limit", "0", "--out", str(tmp_path / "a.xlsx")]
    )
    assert by_name.exit_code == 0, by_name.output
    aliased = runner.invoke(
        cli, ["export", "--sandbox", "--rate-limit", "0", "--out", str(tmp_path / "b.xlsx"), "--excel"]
    )
    assert aliased.exit_code == 0, aliased.output
    assert "--excel is deprecated" in aliased.stderr
    for name in ("a.xlsx", "b.xlsx"):
        assert openpyxl.load_workbook(tmp_path / name).sheetnames == ["Export", "Summary", "Legend"]


def test_cli_refuses_excel_with_parquet(tmp_path: Path) -> None:
    """``--excel`` now means xlsx; with ``--format parquet`` it is a usage error (exit 2)."""
    result = CliRunner().invoke(cli, ["export", "--sandbox", "--format", "parquet", "--excel"])
    assert result.exit_code == 2
    assert "--excel means --format xlsx" in result.output


def test_cli_import_export_import_with_a_shared_sandbox_state(tmp_path: Path) -> None:
    """Through the CLI, with the sandbox kept in one state file: the re-import of the export reports every
    row ``unchanged`` and the sandbox still holds 234 contacts and 44 organizations."""
    runner = CliRunner()
    state, out, report = tmp_path / "sandbox.db", tmp_path / "export.csv", tmp_path / "again.csv"
    common = ["--sandbox", "--sandbox-state", str(state), "--rate-limit", "0"]
    journal = ["--journal", str(tmp_path / "journal.db")]
    schemas = ["--contact-schema", "Demo contact fields", "--organization-schema", "Demo organization fields"]
    first = runner.invoke(
        cli,
        ["import", str(SAMPLES / "contacts.csv"), *common, *journal, *schemas[:2], "--report", str(report)],
    )
    assert first.exit_code == 0, first.output
    exported = runner.invoke(cli, ["export", *common, "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    again = runner.invoke(cli, ["import", str(out), *common, *journal, *schemas, "--report", str(report)])
    assert again.exit_code == 0, again.output

    outcomes = pl.read_csv(report, infer_schema=False)
    assert set(outcomes["contact_status"]) == {"unchanged"}
    assert set(outcomes["organization_status"]) == {"unchanged"}
    with run_sandbox(SandboxConfig(rate_limit=0, state_path=state)) as sb:
        assert sb.store.count("contacts") == 234
        assert sb.store.count("organizations") == 44
