"""Commands refuse output paths that would overwrite their inputs or each other, before any API request."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pipeline.cli import cli
from pipeline.report.summary import summary_path

ROWS = "Contact ID,Contact First Name,Contact Last Name\nC-1,Ann,Lee\n"
# Nothing listens here: a command that sent a request would fail with exit 3, not 2.
NOWHERE = "http://127.0.0.1:9"
ENV = {"GENESYS_CLIENT_ID": "id", "GENESYS_CLIENT_SECRET": "secret"}


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=ENV)


def _refused(result: Result, *names: str) -> None:
    assert result.exit_code == 2, result.output
    # The progress display may have drawn its line; the error is one line of its own.
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for name in names:
        assert name in lines[0]


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "in.csv"
    path.write_text(ROWS)
    return path


def test_import_report_that_is_the_input_is_refused_and_the_input_kept(source: Path) -> None:
    """`import in.csv --report ./sub/../in.csv` exits 2 naming both paths, and the input is unchanged."""
    (source.parent / "sub").mkdir()
    result = _run("import", "in.csv", "--report", "sub/../in.csv", "--base-url", NOWHERE)
    _refused(result, "sub/../in.csv", "in.csv")
    assert source.read_text() == ROWS


def test_import_summary_that_is_the_journal_is_refused(source: Path) -> None:
    """`--report out/r.csv --journal out/r.summary.json`: the summary would overwrite the journal."""
    Path("out").mkdir()
    Path("out/r.summary.json").write_text("{}")
    args = ("--report", "out/r.csv", "--journal", "out/r.summary.json", "--base-url", NOWHERE)
    result = _run("import", "in.csv", *args)
    _refused(result, "r.summary.json", "the summary", "the journal")
    assert Path("out/r.summary.json").read_text() == "{}"
    assert not Path("out/r.csv").exists()


def test_two_reports_in_one_folder_get_a_summary_each() -> None:
    """The summary is named after its report, so reports side by side never share one."""
    assert summary_path(Path("out/monday.csv")) == Path("out/monday.summary.json")
    assert summary_path(Path("out/monday.xlsx")) != summary_path(Path("out/tuesday.xlsx"))


def test_import_report_that_is_the_mapping_file_is_refused(source: Path) -> None:
    """The mapping file is an input too."""
    Path("m.toml").write_text("[columns]\n")
    result = _run("import", "in.csv", "--mapping", "m.toml", "--report", "m.toml", "--base-url", NOWHERE)
    _refused(result, "--mapping")
    assert Path("m.toml").read_text() == "[columns]\n"


def test_import_report_that_is_the_journal_is_refused(source: Path) -> None:
    """Writing the report over the run journal would destroy the record of every run."""
    result = _run("import", "in.csv", "--journal", "j.db", "--report", "j.db", "--base-url", NOWHERE)
    _refused(result, "the journal")


def test_only_failed_report_over_its_input_is_refused(source: Path) -> None:
    """With --only-failed the input is the previous report; writing the new one over it is refused."""
    previous = "Contact ID,Contact First Name,organization_status,contact_status\nC-1,Ann,,failed\n"
    Path("prev.csv").write_text(previous)
    result = _run("import", "prev.csv", "--only-failed", "--report", "prev.csv", "--base-url", NOWHERE)
    _refused(result, "prev.csv", "the input file")
    assert Path("prev.csv").read_text() == previous


def test_validate_report_that_is_the_input_is_refused(source: Path) -> None:
    """`validate in.csv --report in.csv` exits 2 and leaves the input as it was."""
    result = _run("validate", "in.csv", "--report", str(source))
    _refused(result, "--report", "the input file")
    assert source.read_text() == ROWS


def test_export_out_that_is_the_sandbox_state_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`export --out` over the sandbox's state file is refused before the sandbox starts."""
    monkeypatch.chdir(tmp_path)
    Path("state.db").write_bytes(b"SQLite format 3\x00")
    result = _run("export", "--sandbox", "--sandbox-state", "state.db", "--out", "./state.db")
    _refused(result, "--out", "--sandbox-state")
    assert Path("state.db").read_bytes() == b"SQLite format 3\x00"
