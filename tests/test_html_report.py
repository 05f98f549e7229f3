"""The HTML run report: its content (not its pixels), escaping, no network fetch, and the batch journal."""

from __future__ import annotations

import csv
import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from sandbox_support import sandbox_settings

from pipeline.cli import cli
from pipeline.importing.job import ImportOptions, import_file
from pipeline.journal.records import BatchRecord, BatchTiming
from pipeline.journal.schema import SCHEMA_VERSION
from pipeline.journal.store import Journal, RunState
from pipeline.outcomes import Outcome, Status
from pipeline.report.html import ErrorCode, ErrorExample, RunReport, build_html, throughput
from pipeline.report.validation import ValidationReport
from pipeline.sandbox import SandboxConfig, run_sandbox

HEADER = ["Contact ID", "Contact First Name", "Contact Last Name", "Contact Work Email", "Account ID",
          "Account Name"]  # fmt: skip
# Anything the browser would load by itself: a src/href to the network, or a CSS import.
_EXTERNAL = re.compile(
    r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|@import|url\(\s*["']?\s*(?:https?:)?//""", re.I
)


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def _batch(
    n: int, started: str, ended: str, records: int, attempts: int = 1, seconds: float = 1.0
) -> BatchRecord:
    return BatchRecord(n, 1, "contact", records, attempts, started, ended, seconds)


def test_page_names_counts_top_error_code_and_masks_messages() -> None:
    """The page shows each count, the most frequent error code first, and masks e-mails in examples."""
    report = RunReport(
        title="Import",
        counts=(("contact created", 7), ("contact failed", 3)),
        errors=(
            ErrorCode("invalid_email", 2, (ErrorExample("5", "'jane.doe@example.com' is not valid"),)),
            ErrorCode("too_long", 1, (ErrorExample("9", "32 characters"),)),
        ),
    )
    page = build_html(report)
    assert "contact created: 7" in page
    assert "contact failed: 3" in page
    assert page.index("invalid_email") < page.index("too_long")
    assert "jane.doe@example.com" not in page
    assert "j***@example.com" in page


def test_page_fetches_nothing_from_the_network() -> None:
    """No src, href, CSS import or url() points at http(s) or a protocol-relative address."""
    batches = (_batch(1, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:02+00:00", 10),)
    page = build_html(RunReport("Run", counts=(("x", 1),), batches=batches, links=(("report", "rec.csv"),)))
    assert not _EXTERNAL.search(page)
    assert "<script" not in page.lower()
    assert "<svg" in page


def test_throughput_counts_records_in_the_bucket_each_batch_ended() -> None:
    """Two batches ending 10 s apart land in the first and last bucket, as records per second."""
    batches = [
        _batch(1, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00.500+00:00", 10),
        _batch(2, "2026-01-01T00:00:05+00:00", "2026-01-01T00:00:10+00:00", 20),
    ]
    points = throughput(batches, buckets=10)
    assert points[0] == (0.0, 10.0)
    assert points[-1] == (10.0, 20.0)
    assert sum(rate for _, rate in points[::2]) == 30.0


def test_slowest_and_most_retried_batches_are_listed() -> None:
    """The batch that took longest and the one that needed most requests are in the page."""
    batches = (
        _batch(1, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01+00:00", 10, seconds=1.0),
        _batch(2, "2026-01-01T00:00:01+00:00", "2026-01-01T00:00:09+00:00", 10, seconds=8.25),
        _batch(3, "2026-01-01T00:00:09+00:00", "2026-01-01T00:00:10+00:00", 10, attempts=4),
    )
    page = build_html(RunReport("Run", batches=batches))
    slowest = page[page.index("Slowest batches") : page.index("Most retried")]
    retried = page[page.index("Most retried") : page.index("Throughput")]
    assert slowest.index("8.250") < slowest.index("1.000")
    assert '<td class="n">4</td>' in retried
    assert '<td class="n">3</td>' in retried


def test_validate_html_escapes_a_script_cell_and_links_the_report(tmp_path: Path) -> None:
    """A `<script>` Contact ID quoted in a conflict message arrives escaped; counts and the link are there."""
    key = "<script>alert(1)</script>"
    source = _write(
        tmp_path / "in.csv",
        [[key, "Ann", "Lee", "a@x.org", "A-1", "Acme"], [key, "Bo", "Ng", "b@x.org", "A-1", "Acme"],
         ["C-3", "Cy", "Oh", "not-an-email", "A-1", "Acme"]],
    )  # fmt: skip
    page_path = tmp_path / "out" / "validation.html"
    result = CliRunner().invoke(
        cli, ["validate", str(source), "--report", str(tmp_path / "out" / "v.csv"), "--html", str(page_path)]
    )
    assert result.exit_code == 1, result.output
    page = page_path.read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "contact conflict: 2" in page
    assert "contact invalid: 1" in page
    assert page.index("contact_conflict") < page.index("invalid_email")
    assert 'href="v.csv"' in page
    assert not _EXTERNAL.search(page)


def test_validate_html_of_a_large_file_is_the_page_of_the_same_file_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file staged chunk by chunk gets the page the in-memory path gives, built from the narrow
    outcomes (the whole report is never built in memory for it)."""
    source = Path(__file__).parent.parent / "samples" / "contacts-with-problems.csv"
    pages = []
    for limit in (10**9, 10):
        monkeypatch.setattr("pipeline.report.validation.IN_MEMORY_BYTES", limit)
        if limit == 10:
            monkeypatch.setattr(ValidationReport, "report", property(lambda _: pytest.fail("report built")))
        page = tmp_path / f"{limit}" / "validation.html"
        result = CliRunner().invoke(cli, ["validate", str(source), "--html", str(page)])
        assert result.exit_code == 1, result.output
        pages.append(page.read_text(encoding="utf-8"))
    assert pages[0] == pages[1]
    assert "contact invalid" in pages[1]


def test_a_script_value_is_escaped_everywhere() -> None:
    """Title, facts, codes, example rows and link labels are escaped, not interpreted."""
    evil = "<script>alert('x')</script>"
    report = RunReport(
        title=evil,
        facts=(("input", evil),),
        counts=((evil, 1),),
        errors=(ErrorCode(evil, 1, (ErrorExample(evil, evil),)),),
        links=((evil, "a.csv"),),
    )
    page = build_html(report)
    assert "<script" not in page.lower()
    assert page.count("&lt;script&gt;") >= 5


def test_import_html_shows_the_batches_the_journal_recorded(tmp_path: Path) -> None:
    """An import's page counts what the sandbox stored, and lists batches read back from the journal."""
    rows = [
        [f"C-{i}", f"F{i}", f"L{i}", f"u{i}@example.com", f"A-{i // 5}", f"Org {i // 5}"] for i in range(25)
    ]
    source = _write(tmp_path / "in.csv", rows)
    journal = tmp_path / "journal.db"
    page_path = tmp_path / "run.html"
    with run_sandbox(SandboxConfig(rate_limit=0)) as sb:
        result = import_file(
            source, sandbox_settings(sb), ImportOptions(create_source=True), report_path=tmp_path / "rec.csv",
            journal=journal,
        )  # fmt: skip
        stored = sb.store.count("contacts")
    assert stored == 25
    assert result.summary.run_id is not None
    with Journal(journal, create=False) as db:
        batches = db.batch_records(result.summary.run_id)
    # 5 organizations in one batch, 25 contacts in three of at most 10 (sent at once, so the journal
    # records them in the order they are answered).
    assert sorted((b.kind, b.records) for b in batches) == [("contact", 5), ("contact", 10), ("contact", 10),
                                                            ("organization", 5)]  # fmt: skip
    assert all(b.attempts == 1 and b.duration_s >= 0 for b in batches)
    shown = CliRunner().invoke(
        cli, ["runs", "--journal", str(journal), "show", "1", "--html", str(page_path)]
    )
    assert shown.exit_code == 0, shown.output
    page = page_path.read_text(encoding="utf-8")
    assert f"contact created: {stored}" in page
    assert "4 bulk batches, 30 records answered" in page
    assert 'href="rec.csv"' in page


def test_a_version_2_journal_is_read_without_batches_and_upgraded_by_a_writer(tmp_path: Path) -> None:
    """Readers of a journal written before batch timing see no batches; the next writer adds the table."""
    path = tmp_path / "journal.db"
    with Journal(path) as journal:
        run = journal.start_run("in.csv", "abc", {}, dry_run=False)
        timing = BatchTiming("2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01+00:00", 1.0, 1)
        outcome = Outcome("contact", "C-1", Status.CREATED, (2,), "g1")
        journal.record(run, [outcome], batch=1, session=1, fingerprints={}, scope=None, timing=timing)
    db = sqlite3.connect(path)
    db.execute("DROP TABLE batches")
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with Journal(path, create=False) as reader:
        assert reader.batch_records(run) == []
        assert reader.record_counts(run) == {"contact": {"created": 1}}
    with Journal(path) as writer:
        assert writer.batch_records(run) == []
    db = sqlite3.connect(path)
    version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    db.close()
    assert int(version) == SCHEMA_VERSION == 4


@pytest.mark.parametrize("flag_command", [["validate"], ["import", "--sandbox"]])
def test_html_over_the_input_file_is_refused(tmp_path: Path, flag_command: list[str]) -> None:
    """`--html` naming the input file exits 2 with one line, before anything is read or sent."""
    source = _write(tmp_path / "in.csv", [["C-1", "Ann", "Lee", "a@x.org", "A-1", "Acme"]])
    result = CliRunner().invoke(
        cli, [*flag_command[:1], str(source), *flag_command[1:], "--html", str(source)]
    )
    assert result.exit_code == 2, result.output
    assert "--html" in result.output
    assert "Traceback" not in result.output


def test_export_html_counts_what_was_written_and_links_the_manifest(tmp_path: Path) -> None:
    """An export's page counts the records the sandbox held and links the file and its manifest."""
    state = tmp_path / "sb.db"
    with run_sandbox(SandboxConfig(rate_limit=0, state_path=state)) as sb:
        import_file(
            _write(tmp_path / "in.csv", [["C-1", "Ann", "Lee", "a@x.org", "A-1", "Acme"]]),
            sandbox_settings(sb), ImportOptions(create_source=True), report_path=tmp_path / "rec.csv",
        )  # fmt: skip
        stored = (sb.store.count("contacts"), sb.store.count("organizations"))
    page_path = tmp_path / "out" / "export.html"
    result = CliRunner().invoke(
        cli, ["export", "--sandbox", "--sandbox-state", str(state), "--out", str(tmp_path / "out" / "e.csv"),
              "--html", str(page_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    page = page_path.read_text(encoding="utf-8")
    assert f"exported contacts: {stored[0]}" in page
    assert f"exported organizations: {stored[1]}" in page
    assert 'href="e.csv.manifest.json"' in page


def test_runs_show_html_falls_back_to_the_journal_when_the_report_is_gone(tmp_path: Path) -> None:
    """Without the reconciliation file the errors come from the journal, named by record key."""
    journal = tmp_path / "journal.db"
    with Journal(journal) as db:
        run = db.start_run("in.csv", "abc", {}, dry_run=False)
        failed = Outcome("contact", "C-7", Status.FAILED, (3,), error_code="bad.email",
                         error_message="ann.lee@example.com is refused")  # fmt: skip
        db.record(run, [failed], batch=1, session=1, fingerprints={}, scope=None)
        db.finish_run(run, RunState.COMPLETED, report_path=str(tmp_path / "gone.csv"))
    page_path = tmp_path / "run.html"
    result = CliRunner().invoke(
        cli, ["runs", "--journal", str(journal), "show", str(run), "--html", str(page_path)]
    )
    assert result.exit_code == 0, result.output
    page = page_path.read_text(encoding="utf-8")
    assert "bad.email" in page
    assert "contact C-7" in page
    assert "ann.lee@example.com" not in page
    assert "reconciliation file is not there" in page
