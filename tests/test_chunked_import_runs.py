"""A large file's import and plan: resume, Ctrl-C, refusals, the CLI, and plan against the in-memory plan."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from chunked_import_support import (
    OPTIONS,
    SAMPLES,
    changed_rows,
    external,
    generated,
    large_file_settings,
    report_rows,
    stored,
    temp_folders,
)
from click.testing import CliRunner
from sandbox_support import sandbox_settings
from test_chunked_stage import cross_chunk_rows, write_rows

from pipeline.cli import cli
from pipeline.errors import ConfigError, RunError, RunInterruptedError
from pipeline.genesys.client import GenesysClient
from pipeline.importing import chunked_job
from pipeline.importing import job as job_module
from pipeline.importing.job import ImportOptions, import_file
from pipeline.importing.preview import PlanResult, plan_file
from pipeline.report.summary import ImportResult
from pipeline.sandbox import SandboxConfig, run_sandbox


def test_an_interrupted_chunked_import_resumes_without_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in the middle of the partitions leaves no temporary data; --resume finishes the file and
    the sandbox holds each key once, linked as an uninterrupted import links it."""
    path = generated(tmp_path / "in.csv", 120, per_account=4)
    with run_sandbox(SandboxConfig(rate_limit=0)) as sb:
        import_file(path, sandbox_settings(sb), OPTIONS)
        expected = stored(sb)
    temp = large_file_settings(monkeypatch, tmp_path)
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
        assert temp_folders(temp) == []
        assert not report.exists()
        assert 0 < sb.store.count("organizations") + sb.store.count("contacts") < 150
        result = import_file(
            path, sandbox_settings(sb), options, report_path=report, journal=journal, resume="last"
        )
        assert stored(sb) == expected
        for kind in ("organizations", "contacts"):
            keys = [external(r) for r in sb.store.all(kind)]
            assert len(keys) == len(set(keys))
        rows = report_rows(report, sb)
        assert [r["Contact ID"] for r in rows] == [f"C-{i:04d}" for i in range(120)]
        assert all(r["genesys_contact_id"] == r["Contact ID"] for r in rows)
        assert all(r["genesys_organization_id"] == r["Account ID"] for r in rows)
        assert {r["contact_status"] for r in rows} <= {"created", "updated"}
        assert result.summary.rows_succeeded == 120
    assert temp_folders(temp) == []


def test_ctrl_c_while_staging_leaves_no_temporary_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted after the first partition is spilled, nothing is sent and both temporary folders go."""
    path = generated(tmp_path / "in.csv", 120, per_account=4)
    temp = large_file_settings(monkeypatch, tmp_path)
    original = chunked_job.SpilledParts.add

    def add(self: chunked_job.SpilledParts, grouped: Any) -> None:
        original(self, grouped)
        assert len(temp_folders(temp)) == 2  # the stage's spill and the partitions
        raise KeyboardInterrupt

    monkeypatch.setattr(chunked_job.SpilledParts, "add", add)
    with run_sandbox(SandboxConfig(rate_limit=0)) as sb:
        with pytest.raises(KeyboardInterrupt):
            import_file(path, sandbox_settings(sb), OPTIONS)
        assert sb.store.count("organizations") == 0
    assert temp_folders(temp) == []


def test_an_xlsx_report_too_long_for_a_sheet_is_refused_before_anything_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large file's .xlsx report that a sheet cannot hold is refused once the rows are counted, before
    the push, with the temporary data removed."""
    path = generated(tmp_path / "in.csv", 30, per_account=3)
    temp = large_file_settings(monkeypatch, tmp_path)
    monkeypatch.setattr(chunked_job, "MAX_ROWS", 30)
    with run_sandbox(SandboxConfig(rate_limit=0)) as sb:
        with pytest.raises(ConfigError, match="30 rows do not fit"):
            import_file(path, sandbox_settings(sb), OPTIONS, report_path=tmp_path / "r.xlsx")
        assert sb.store.count("organizations") == 0
    assert temp_folders(temp) == []


def test_the_import_command_on_a_large_file_writes_the_report_and_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the CLI, a large file prints its summary, exits 1 for its invalid rows, and writes the
    streamed report and the HTML page."""
    large_file_settings(monkeypatch, tmp_path)
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


def test_the_page_of_a_large_import_is_built_without_the_whole_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--html`` on a large file builds its page from the narrow outcomes: the whole report is never
    built in memory, and the page still counts every status."""
    large_file_settings(monkeypatch, tmp_path)
    monkeypatch.setattr(ImportResult, "report", property(lambda _: pytest.fail("report built")))
    page = tmp_path / "r.html"
    result = CliRunner().invoke(
        cli,
        [
            "import", str(SAMPLES / "contacts-with-problems.csv"), "--sandbox", "--report",
            str(tmp_path / "r.csv"), "--html", str(page), "--contact-schema", "Demo contact fields",
            "--journal", str(tmp_path / "j.db"),
        ],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    text = page.read_text(encoding="utf-8")
    assert "contact created" in text
    assert "contact invalid" in text


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
    changed = [*changed_rows(), ["C40", "Ann", "ann@example.com", "", "A1", "Acme"]]
    with run_sandbox(SandboxConfig(rate_limit=0)) as sb:
        import_file(write_rows(tmp_path / "base.csv", base), sandbox_settings(sb), OPTIONS)
        path = write_rows(tmp_path / "changed.csv", changed)
        memory = plan_file(path, sandbox_settings(sb), options)
        temp = large_file_settings(monkeypatch, tmp_path)
        monkeypatch.setattr(chunked_job, "CHUNK_ROWS", 3)
        monkeypatch.setattr(chunked_job, "PARTITIONS", 3)
        parts: list[int] = []
        add = chunked_job.SpilledParts.add
        monkeypatch.setattr(chunked_job.SpilledParts, "add", lambda self, g: (parts.append(1), add(self, g)))
        chunked = plan_file(path, sandbox_settings(sb), options)
    assert len(parts) > 1
    assert _plan_figures(chunked) == _plan_figures(memory)
    assert len({r.source_row for r in chunked.rows}) > 5
    assert temp_folders(temp) == []


def test_a_large_file_changed_during_the_push_ends_without_a_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report reads the file again: edited meanwhile, the run stops (exit 3) with no report rather than
    pair rows with other rows' outcomes, and says the records were pushed."""
    path = generated(tmp_path / "in.csv", 30, per_account=3)
    large_file_settings(monkeypatch, tmp_path)
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
