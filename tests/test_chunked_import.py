"""``import`` of a large file (chunked stage, partition by partition) does what the in-memory import does.

Each case runs the same imports twice, each time into a fresh sandbox on 127.0.0.1 over real HTTP: once
in memory, once chunked (the size limit, chunk rows and partitions made tiny). Generated ids differ from
run to run, so what is compared is what the sandbox stored (every field, every organization link, read
as external ids) and the reconciliation files with each Genesys id replaced by the external id of the
record the sandbox stores under it.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sandbox_support import sandbox_settings
from test_chunked_stage import cross_chunk_rows, random_rows, write_rows

from pipeline.cli import cli
from pipeline.errors import ConfigError, RunError, RunInterruptedError
from pipeline.genesys.client import GenesysClient
from pipeline.importing import chunked_job
from pipeline.importing import job as job_module
from pipeline.importing.job import ImportOptions, import_file
from pipeline.importing.preview import PlanResult, plan_file
from pipeline.prepare.stage import PrepareOptions
from pipeline.report.summary import ImportResult
from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
OPTIONS = ImportOptions(create_source=True, contact_schema="Demo contact fields")
# Fields that differ from run to run whatever was imported: ids, links and timestamps.
_VOLATILE = {"id", "selfUri", "createDate", "modifyDate", "dateCreated", "version", "externalSource"}


@dataclass
class Step:
    """One import of a run: its file (or a function of the run's folder making it) and its options."""

    file: Path | Callable[[Path], Path]
    options: ImportOptions = OPTIONS
    prepare: PrepareOptions = field(default_factory=PrepareOptions)
    only_failed: bool = False
    journal: bool = False


def _external(record: dict[str, Any]) -> str:
    return ",".join(sorted(x["value"] for x in record.get("externalIds") or ()))


def _canonical(value: Any, orgs: dict[str, str]) -> Any:
    """A stored record without what differs between runs; its organization link as that organization's
    external id."""
    if isinstance(value, dict):
        out = {k: _canonical(v, orgs) for k, v in value.items() if k not in _VOLATILE}
        if "externalOrganization" in value:
            out["externalOrganization"] = orgs.get(value["externalOrganization"]["id"], "?unknown")
        return out
    if isinstance(value, list):
        return [_canonical(v, orgs) for v in value]
    return value


def stored(sb: Sandbox) -> dict[str, list[str]]:
    """Everything the sandbox stores, comparable across runs (sorted, as JSON).

    An email or phone identifier goes to the first record stored with it, like the real API's, and the
    partitions are pushed in another order than the whole file: so which contact holds a value two
    contacts share may differ. Those identifiers are compared as one set per kind, not per record.
    """
    orgs = {o["id"]: _external(o) for o in sb.store.all("organizations")}
    found: dict[str, list[str]] = {}
    for kind in ("organizations", "contacts"):
        records = [_canonical(r, orgs) for r in sb.store.all(kind)]
        held = [i for r in records for i in r.get("identifiers", ()) if i["type"] != "ExternalId"]
        for record in records:
            record["identifiers"] = [i for i in record.get("identifiers", ()) if i["type"] == "ExternalId"]
        found[kind] = sorted(json.dumps(r, sort_keys=True) for r in records)
        found[f"{kind} identifiers"] = sorted(json.dumps(i, sort_keys=True) for i in held)
    return found


def report_rows(path: Path, sb: Sandbox) -> list[dict[str, str]]:
    """The reconciliation file's rows, each Genesys id read as the external id stored under it."""
    ids = {r["id"]: _external(r) for kind in ("organizations", "contacts") for r in sb.store.all(kind)}
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for column in ("genesys_organization_id", "genesys_contact_id"):
            if row[column]:
                row[column] = ids.get(row[column], "(an id the sandbox does not store)")
    return rows


@dataclass
class Outcome:
    reports: list[list[dict[str, str]]]
    summaries: list[dict[str, Any]]
    stored: dict[str, list[str]]
    warnings: list[list[str]]
    partitions_pushed: int


def _summary(result: ImportResult) -> dict[str, Any]:
    """The counts of a summary (not timings, nor requests: partitions end batches early)."""
    s = result.summary
    return {
        "rows": s.rows,
        "rows_succeeded": s.rows_succeeded,
        "organization_rows": s.organization_rows,
        "contact_rows": s.contact_rows,
        "organizations": s.organizations,
        "contacts": s.contacts,
        "deletions": s.deletions,
    }


def run_steps(
    folder: Path, steps: list[Step], monkeypatch: pytest.MonkeyPatch, chunked: tuple[int, int] | None
) -> Outcome:
    """Run ``steps`` into a fresh sandbox, in memory or (``chunked``: chunk rows, partitions) chunked."""
    folder.mkdir()
    pushed: list[int] = []
    with monkeypatch.context() as patch:
        if chunked is not None:
            patch.setattr("pipeline.report.validation.IN_MEMORY_BYTES", 10)
            patch.setattr(chunked_job, "CHUNK_ROWS", chunked[0])
            patch.setattr(chunked_job, "PARTITIONS", chunked[1])
        original = chunked_job.SpilledParts.__iter__

        def counted(self: chunked_job.SpilledParts) -> Iterator[Any]:
            for part in original(self):
                pushed.append(1)
                yield part

        patch.setattr(chunked_job.SpilledParts, "__iter__", counted)
        with run_sandbox(SandboxConfig(rate_limit=0)) as sb:
            reports, summaries, warnings = [], [], []
            for index, step in enumerate(steps):
                path = step.file(folder) if callable(step.file) else step.file
                report = folder / f"report{index}.csv"
                result = import_file(
                    path,
                    sandbox_settings(sb),
                    step.options,
                    prepare=step.prepare,
                    report_path=report,
                    only_failed=step.only_failed,
                    journal=folder / "journal.db" if step.journal else None,
                )
                reports.append(report_rows(report, sb))
                summaries.append(_summary(result))
                warnings.append(result.warnings)
                assert result.report.height == len(reports[-1])
            return Outcome(reports, summaries, stored(sb), warnings, len(pushed))


def assert_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, steps: list[Step], rows: int, parts: int
) -> Outcome:
    memory = run_steps(tmp_path / "memory", steps, monkeypatch, None)
    chunked = run_steps(tmp_path / "chunked", steps, monkeypatch, (rows, parts))
    assert memory.partitions_pushed == 0
    assert chunked.partitions_pushed >= len(steps)  # every step went through the partitions
    assert chunked.reports == memory.reports
    assert chunked.summaries == memory.summaries
    assert chunked.warnings == memory.warnings
    assert chunked.stored == memory.stored
    return chunked


def _rows_file(rows: list[list[str]]) -> Callable[[Path], Path]:
    return lambda folder: write_rows(folder / "in.csv", rows)


@pytest.mark.parametrize(
    ("name", "prepare", "rows", "parts"),
    [
        ("contacts.csv", PrepareOptions(), 40, 3),
        ("contacts-with-problems.csv", PrepareOptions(), 3, 3),
        ("contacts-with-problems.csv", PrepareOptions(account_conflicts="first"), 7, 2),
        ("dynamics-export.csv", PrepareOptions(mapping=SAMPLES / "dynamics.mapping.toml"), 3, 2),
    ],
)
def test_the_samples_import_the_same_records_and_outcomes_chunked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, prepare: PrepareOptions, rows: int, parts: int
) -> None:
    """Each sample imported partition by partition stores and reports what the in-memory import does."""
    assert_same(tmp_path, monkeypatch, [Step(SAMPLES / name, prepare=prepare)], rows, parts)


@pytest.mark.parametrize("conflicts", ["error", "first"])
@pytest.mark.parametrize(("rows", "parts"), [(3, 3), (7, 2)])
def test_rows_related_across_partitions_import_as_in_one_piece(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, conflicts: str, rows: int, parts: int
) -> None:
    """Accounts over several chunks, a contact under two accounts, conflicts, invalid rows and contacts
    without an Account ID end with the same records, links and outcomes."""
    prepare = PrepareOptions(account_conflicts=conflicts)  # type: ignore[arg-type]
    outcome = assert_same(
        tmp_path, monkeypatch, [Step(_rows_file(cross_chunk_rows()), prepare=prepare)], rows, parts
    )
    statuses = {r["organization_status"] for r in outcome.reports[0]} | {
        r["contact_status"] for r in outcome.reports[0]
    }
    assert {"created", "invalid"} <= statuses


@pytest.mark.parametrize("seed", range(2))
def test_random_key_collisions_import_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Small pools of keys, colliding in every way, store and report the same in both paths."""
    assert_same(tmp_path, monkeypatch, [Step(_rows_file(random_rows(seed)))], 4, 3)


def _changed_rows() -> list[list[str]]:
    """The cross-partition rows with one contact changed and one added to an account of another row."""
    rows = [row[:] for row in cross_chunk_rows()]
    rows[2][1] = "Cyrus"
    rows.append(["C20", "Zed", "zed@example.com", "", "A2", "Beta"])
    return rows


def test_a_journaled_reimport_with_live_comparison_and_matching_agrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Change-only re-import, --compare-live --full, and --match email with --save-before over the
    journal settle the same records the same way partition by partition."""
    matching = [
        ["C30", "Ann", "ann@example.com", "", "A1", "Acme"],  # found by email as C1's person
        ["C31", "New", "new@example.com", "", "A11", "Lambda"],
    ]
    steps = [
        Step(_rows_file(cross_chunk_rows()), journal=True),
        Step(lambda folder: write_rows(folder / "changed.csv", _changed_rows()), journal=True),
        Step(
            lambda folder: write_rows(folder / "changed.csv", _changed_rows()),
            options=replace(OPTIONS, compare_live=True, full=True),
            journal=True,
        ),
        Step(
            lambda folder: write_rows(folder / "match.csv", matching),
            options=replace(OPTIONS, match=("email",), save_before=True),
            journal=True,
        ),
    ]
    outcome = assert_same(tmp_path, monkeypatch, steps, 3, 3)
    statuses = [{r["contact_status"] for r in report} for report in outcome.reports]
    assert "unchanged" in statuses[1]
    assert "updated" in statuses[1]
    assert "unchanged" in statuses[2]


def test_delete_missing_deletes_the_same_records_from_keys_gathered_across_partitions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--delete-missing plans from every key of the file before anything is sent, and deletes the same
    contacts and organizations as the in-memory import."""
    gone = {5, 12, 13, 14, 15}  # contact C-0005, and account A-003 with all four of its contacts

    def kept(folder: Path) -> Path:
        rows = _generated_rows(40, per_account=4)
        return write_rows(folder / "kept.csv", [row for i, row in enumerate(rows) if i not in gone])

    steps = [
        Step(lambda folder: _generated(folder / "in.csv", 40, per_account=4)),
        Step(kept, options=replace(OPTIONS, delete_missing=True, max_delete="100%")),
    ]
    outcome = assert_same(tmp_path, monkeypatch, steps, 6, 3)
    assert outcome.summaries[1]["deletions"] == {"contacts": {"deleted": 5}, "organizations": {"deleted": 1}}
    assert len(outcome.stored["contacts"]) == 35
    assert (tmp_path / "chunked" / "report1.deleted.csv").is_file()


ENUM_HEADER = ["Contact ID", "Contact First Name", "Contact Work Email", "Account ID", "Account Name"]


def _api_failures(folder: Path) -> Path:
    """Rows the sandbox refuses: a contact with an unknown enum value, an organization with another."""
    header = [*ENUM_HEADER, "custom:preferred_channel_enum", "account custom:segment_enum"]
    rows = [
        [f"C-{i}", "F", f"u{i}@example.com", f"A-{i % 4}", f"Org {i % 4}", "email", "smb"] for i in range(16)
    ]
    rows[5][5] = "carrier-pigeon"
    for row in rows:
        if row[3] == "A-2":
            row[6] = "gigantic"
    path = folder / "in.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def _fixed_report(folder: Path) -> Path:
    """The first step's reconciliation file with the refused values fixed, to be fed back."""
    text = (folder / "report0.csv").read_text(encoding="utf-8")
    (folder / "fixed.csv").write_text(text.replace("carrier-pigeon", "sms").replace("gigantic", "smb"))
    return folder / "fixed.csv"


def test_only_failed_reruns_the_same_rows_chunked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reconciliation file fed back with --only-failed re-runs only its failed rows, staged in chunks,
    and the report keeps every row's outcome."""
    options = replace(OPTIONS, organization_schema="Demo organization fields")
    steps = [Step(_api_failures, options=options), Step(_fixed_report, options=options, only_failed=True)]
    outcome = assert_same(tmp_path, monkeypatch, steps, 3, 3)
    assert {"failed", "skipped"} <= {r["contact_status"] for r in outcome.reports[0]}
    assert {r["contact_status"] for r in outcome.reports[1]} == {"created"}
    assert outcome.summaries[1]["contacts"] == {"created": 5}


def _temp_folders(root: Path) -> list[Path]:
    return [*root.glob("contacts-pipeline-stage-*"), *root.glob("contacts-pipeline-import-*")]


def _chunked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Large-file settings, temporary folders under ``tmp_path/temp`` (returned)."""
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setattr("pipeline.report.validation.IN_MEMORY_BYTES", 10)
    monkeypatch.setattr(chunked_job, "CHUNK_ROWS", 20)
    monkeypatch.setattr(chunked_job, "PARTITIONS", 4)
    return temp


def _generated_rows(contacts: int, per_account: int) -> list[list[str]]:
    return [
        [
            f"C-{i:04d}",
            f"First{i}",
            f"user{i}@example.com",
            "",
            f"A-{i // per_account:03d}",
            f"Org {i // per_account}",
        ]
        for i in range(contacts)
    ]


def _generated(path: Path, contacts: int, per_account: int) -> Path:
    return write_rows(path, _generated_rows(contacts, per_account))


def test_an_interrupted_chunked_import_resumes_without_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in the middle of the partitions leaves no temporary data; --resume finishes the file and
    the sandbox holds each key once, linked as an uninterrupted import links it."""
    path = _generated(tmp_path / "in.csv", 120, per_account=4)
    with run_sandbox(SandboxConfig(rate_limit=0)) as sb:
        import_file(path, sandbox_settings(sb), OPTIONS)
        expected = stored(sb)
    temp = _chunked(monkeypatch, tmp_path)
    original = GenesysClient.bulk_enrich
    calls: list[int] = []

    async def interrupted(self: GenesysClient, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) > 7:
            raise KeyboardInterrupt
        return await original(self, *args, **kwargs)

    journal, report = tmp_path / "journal.db", tmp_path / "out" / "report.csv"
    options = replace(OPTIONS, concurrency=1)
    with run_sandbox(SandboxConfig(rate_limit=0)) as sb:
        with monkeypatch.context() as patch:
            patch.setattr(GenesysClient, "bulk_enrich", interrupted)
            with pytest.raises(RunInterruptedError):
                import_file(path, sandbox_settings(sb), options, report_path=report, journal=journal)
        assert _temp_folders(temp) == []
        assert not report.exists()
        assert 0 < sb.store.count("organizations") + sb.store.count("contacts") < 150
        result = import_file(
            path, sandbox_settings(sb), options, report_path=report, journal=journal, resume="last"
        )
        assert stored(sb) == expected
        for kind in ("organizations", "contacts"):
            keys = [_external(r) for r in sb.store.all(kind)]
            assert len(keys) == len(set(keys))
        rows = report_rows(report, sb)
        assert [r["Contact ID"] for r in rows] == [f"C-{i:04d}" for i in range(120)]
        assert all(r["genesys_contact_id"] == r["Contact ID"] for r in rows)
        assert all(r["genesys_organization_id"] == r["Account ID"] for r in rows)
        assert {r["contact_status"] for r in rows} <= {"created", "updated"}
        assert result.summary.rows_succeeded == 120
    assert _temp_folders(temp) == []


def test_ctrl_c_while_staging_leaves_no_temporary_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted after the first partition is spilled, nothing is sent and both temporary folders go."""
    path = _generated(tmp_path / "in.csv", 120, per_account=4)
    temp = _chunked(monkeypatch, tmp_path)
    original = chunked_job.SpilledParts.add

    def add(self: chunked_job.SpilledParts, grouped: Any) -> None:
        original(self, grouped)
        assert len(_temp_folders(temp)) == 2  # the stage's spill and the partitions
        raise KeyboardInterrupt

    monkeypatch.setattr(chunked_job.SpilledParts, "add", add)
    with run_sandbox(SandboxConfig(rate_limit=0)) as sb:
        with pytest.raises(KeyboardInterrupt):
            import_file(path, sandbox_settings(sb), OPTIONS)
        assert sb.store.count("organizations") == 0
    assert _temp_folders(temp) == []


def test_an_xlsx_report_too_long_for_a_sheet_is_refused_before_anything_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large file's .xlsx report that a sheet cannot hold is refused once the rows are counted, before
    the push, with the temporary data removed."""
    path = _generated(tmp_path / "in.csv", 30, per_account=3)
    temp = _chunked(monkeypatch, tmp_path)
    monkeypatch.setattr(chunked_job, "MAX_ROWS", 30)
    with run_sandbox(SandboxConfig(rate_limit=0)) as sb:
        with pytest.raises(ConfigError, match="30 rows do not fit"):
            import_file(path, sandbox_settings(sb), OPTIONS, report_path=tmp_path / "r.xlsx")
        assert sb.store.count("organizations") == 0
    assert _temp_folders(temp) == []


def test_the_import_command_on_a_large_file_writes_the_report_and_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the CLI, a large file prints its summary, exits 1 for its invalid rows, and writes the
    streamed report and the HTML page."""
    _chunked(monkeypatch, tmp_path)
    report, page = tmp_path / "r.csv", tmp_path / "r.html"
    result = CliRunner().invoke(
        cli,
        [
            "import", str(SAMPLES / "contacts-with-problems.csv"), "--sandbox", "--report", str(report),
            "--html", str(page), "--contact-schema", "Demo contact fields",
            "--journal", str(tmp_path / "j.db"),
        ],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    with report.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["source_row"]) for r in rows] == list(range(2, 26))
    assert {r["run_id"] for r in rows} == {"1"}
    assert page.is_file()


def test_dry_runs_report_the_same_before_and_after_the_source_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dry run against a source that does not exist yet (every record new, one warning), the real
    import, then a dry run against it, agree partition by partition."""
    new_source = replace(OPTIONS, external_source="Not yet", dry_run=True)
    steps = [
        Step(_rows_file(cross_chunk_rows()), options=new_source),
        Step(_rows_file(cross_chunk_rows()), options=replace(new_source, dry_run=False)),
        Step(_rows_file(_changed_rows()), options=replace(new_source, dry_run=True)),
    ]
    outcome = assert_same(tmp_path, monkeypatch, steps, 3, 3)
    assert any("does not exist yet" in w for w in outcome.warnings[0])
    assert outcome.summaries[2]["contacts"].get("updated")


def _plan_figures(result: PlanResult) -> dict[str, Any]:
    """What a plan says, but how it read (per partition, a read may pick another way)."""
    return {
        "rows": result.rows,
        "records": result.records,
        "fields": (result.fields_updated, result.fields_cleared),
        "not_planned": result.not_planned,
        "skipped": result.skipped,
        "ambiguous": result.ambiguous,
        "warnings": sorted(result.warnings),
    }


@pytest.mark.parametrize(
    "options",
    [
        OPTIONS,
        replace(OPTIONS, blanks="clear", match=("email",)),
        replace(OPTIONS, delete_missing=True, max_delete="100%"),
    ],
    ids=["default", "clear-match", "delete-missing"],
)
def test_plan_of_a_large_file_lists_what_the_in_memory_plan_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: ImportOptions
) -> None:
    """Against the same stored records, a plan staged partition by partition gives the same diff rows in
    the same order, counts and warnings as the in-memory plan, and leaves no temporary data."""
    base = [row for row in cross_chunk_rows() if row[0] != "C9"]
    changed = [*_changed_rows(), ["C40", "Ann", "ann@example.com", "", "A1", "Acme"]]
    with run_sandbox(SandboxConfig(rate_limit=0)) as sb:
        import_file(write_rows(tmp_path / "base.csv", base), sandbox_settings(sb), OPTIONS)
        path = write_rows(tmp_path / "changed.csv", changed)
        memory = plan_file(path, sandbox_settings(sb), options)
        temp = _chunked(monkeypatch, tmp_path)
        monkeypatch.setattr(chunked_job, "CHUNK_ROWS", 3)
        monkeypatch.setattr(chunked_job, "PARTITIONS", 3)
        parts: list[int] = []
        add = chunked_job.SpilledParts.add
        monkeypatch.setattr(chunked_job.SpilledParts, "add", lambda self, g: (parts.append(1), add(self, g)))
        chunked = plan_file(path, sandbox_settings(sb), options)
    assert len(parts) > 1
    assert _plan_figures(chunked) == _plan_figures(memory)
    assert len({r.source_row for r in chunked.rows}) > 5
    assert _temp_folders(temp) == []


def test_a_large_file_changed_during_the_push_ends_without_a_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report reads the file again: edited meanwhile, the run stops (exit 3) with no report rather than
    pair rows with other rows' outcomes, and says the records were pushed."""
    path = _generated(tmp_path / "in.csv", 30, per_account=3)
    _chunked(monkeypatch, tmp_path)
    original = job_module.push_parts

    async def edited_meanwhile(*args: Any, **kwargs: Any) -> Any:
        pushed = await original(*args, **kwargs)
        with path.open("a", encoding="utf-8") as handle:
            handle.write("C-9999,Late,late@example.com,,A-999,Late Org\n")
        return pushed

    monkeypatch.setattr(job_module, "push_parts", edited_meanwhile)
    report = tmp_path / "r.csv"
    with run_sandbox(SandboxConfig(rate_limit=0)) as sb:
        with pytest.raises(RunError, match=r"changed while it was being processed.*records were pushed"):
            import_file(path, sandbox_settings(sb), OPTIONS, report_path=report)
        assert sb.store.count("contacts") == 30
    assert not report.exists()
