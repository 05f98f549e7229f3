"""The bad-input corpus (tests/data/bad/cases.toml): clear messages, documented exit codes, no bad writes.

Every case runs through ``validate`` and through ``import`` against a fresh sandbox on 127.0.0.1. A file that
cannot be used (exit 2) must not reach the API at all; a readable file with bad rows may write its valid rows,
but never a record built from an invalid or conflicting row.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner, Result

from pipeline.cli import cli
from pipeline.prepare.header import header_key
from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox

BAD = Path(__file__).resolve().parent / "data" / "bad"
HEADER = "Contact ID,Contact First Name,Contact Last Name,Contact Work Email,Account ID,Account Name\n"
SUCCEEDED = ("created", "updated", "unchanged")
MIN_CASES = 30
SECRET = "bad-input-suite-secret"


@dataclass(frozen=True)
class Case:
    file: str
    exit: int
    message: str
    why: str
    mapping: str | None = None
    generate: str | None = None
    import_message: str | None = None
    args: tuple[str, ...] = field(default_factory=tuple)

    @property
    def id(self) -> str:
        parts = [Path(self.file).stem, Path(self.mapping).stem if self.mapping else "", *self.args]
        return "-".join(p for p in parts if p).replace(" ", "_")


def _load_cases() -> list[Case]:
    data: dict[str, Any] = tomllib.loads((BAD / "cases.toml").read_text(encoding="utf-8"))
    return [Case(**{**raw, "args": tuple(raw.get("args", ()))}) for raw in data["case"]]


CASES = _load_cases()


def _one_mb_cell(path: Path) -> None:
    path.write_text(
        HEADER + "C-1,Ann,Lee,ann@example.com,A-1,Acme\nC-2," + "x" * (1 << 20) + ",Ray,,A-1,Acme\n"
    )


def _ten_thousand_columns(path: Path) -> None:
    names = ",".join(f"col{i}" for i in range(9_999))
    path.write_text(f"Contact ID,{names}\nC-1," + ",".join("v" for _ in range(9_999)) + "\n")


def _nul_after_the_first_8_kb(path: Path) -> None:
    rows = "".join(f"C-{i},Ann,Lee,ann{i}@example.com,A-1,Acme\n" for i in range(200))
    path.write_bytes((HEADER + rows).encode() + b"C-200,A\x00n,Lee,,A-1,Acme\n")


def _long_line_no_newline(path: Path) -> None:
    path.write_text("Contact ID," + ",".join(f"column number {i}" for i in range(80_000)))


def _huge_header_cell(path: Path) -> None:
    path.write_text("Contact ID," + "h" * 200_000 + "\nC-1,x\n")


def _input_path(case: Case, tmp_path: Path) -> Path:
    """The input file of ``case``: from the corpus, or generated into ``tmp_path``."""
    generators = {
        "one_mb_cell": _one_mb_cell,
        "ten_thousand_columns": _ten_thousand_columns,
        "long_line_no_newline": _long_line_no_newline,
        "nul_after_the_first_8_kb": _nul_after_the_first_8_kb,
        "huge_header_cell": _huge_header_cell,
        "directory": Path.mkdir,
    }
    if case.generate in generators:
        path = tmp_path / case.file
        generators[case.generate](path)
        return path
    if case.generate == "missing":
        return tmp_path / case.file
    return BAD / case.file


def _options(case: Case, tmp_path: Path) -> list[str]:
    options = list(case.args)
    if case.mapping is not None:
        options += ["--mapping", str(BAD / case.mapping)]
    if case.generate == "missing_mapping":
        options += ["--mapping", str(tmp_path / "no-such-mapping.toml")]
    return options


def _assert_clean_exit(result: Result, case: Case) -> None:
    """The documented exit code, no traceback, and for exit 2 the message on the last stderr line."""
    assert result.exit_code == case.exit, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    if case.exit == 2:
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("Error: ")
        assert case.message in last


def _report_text(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def test_the_corpus_has_at_least_thirty_cases_and_every_committed_file_is_used() -> None:
    """The manifest lists 30+ cases and no file in the corpus folder is left without one."""
    assert len(CASES) >= MIN_CASES
    used = {c.file for c in CASES if c.generate is None} | {c.mapping for c in CASES if c.mapping}
    committed = {p.name for p in BAD.iterdir()} - {"cases.toml"}
    assert committed == used
    assert len({c.id for c in CASES}) == len(CASES), "case ids are unique"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_validate_answers_each_bad_input_with_its_documented_exit_code_and_message(
    case: Case, tmp_path: Path
) -> None:
    """`validate` gives the case's exit code and message, never a traceback; the report keeps every row."""
    report = tmp_path / "out" / "validation.csv"
    args = ["validate", str(_input_path(case, tmp_path)), *_options(case, tmp_path), "--report", str(report)]
    result = CliRunner().invoke(cli, args)
    _assert_clean_exit(result, case)
    if case.exit != 2:
        assert case.message in result.output + _report_text(report)
        assert report.exists()
    else:
        assert not report.exists(), "nothing is written for a file that cannot be used"


def _store_keys(sb: Sandbox, kind: str) -> set[str]:
    """The ExternalId values of the stored records of ``kind``."""
    return {x["value"] for r in sb.store.all(kind) for x in r.get("externalIds") or ()}


def _keys_with_status(report: pl.DataFrame, key: str, status: str, wanted: tuple[str, ...]) -> set[str]:
    # The report keeps the input's own header spelling (a no-break space in "Contact ID", say).
    key = next((c for c in report.columns if header_key(c) == header_key(key)), key)
    if key not in report.columns:
        return set()
    rows = report.filter(pl.col(status).is_in(wanted) & pl.col(key).is_not_null())
    return set(rows.get_column(key).to_list())


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_import_never_writes_a_record_from_a_bad_input(case: Case, tmp_path: Path) -> None:
    """`import` exits like `validate`; exit 2 sends no request at all, and only valid rows are stored."""
    report = tmp_path / "out" / "reconciliation.csv"
    with run_sandbox(SandboxConfig(rate_limit=0, client_secret=SECRET)) as sb:
        sources_before = sb.store.count("externalsources")
        args = [
            "import",
            str(_input_path(case, tmp_path)),
            *_options(case, tmp_path),
            "--base-url",
            sb.base_url,
            "--client-id",
            sb.client_id,
            "--create-source",
            "--report",
            str(report),
            "--journal",
            str(tmp_path / "journal.db"),
        ]
        result = CliRunner().invoke(cli, args, env={"GENESYS_CLIENT_SECRET": SECRET, "GENESYS_REGION": ""})
        _assert_clean_exit(result, case)
        if case.exit == 2:
            assert sb.stats.requests == {}, "a file that cannot be used never reaches the API"
            assert sb.store.count("externalsources") == sources_before
            assert not report.exists()
            return
        frame = pl.read_csv(report, infer_schema=False)
        contacts, organizations = _store_keys(sb, "contacts"), _store_keys(sb, "organizations")
    assert (case.import_message or case.message) in result.output + _report_text(report)
    # Every stored record comes from a row that succeeded, and every row that succeeded is stored.
    assert contacts == _keys_with_status(frame, "Contact ID", "contact_status", SUCCEEDED)
    assert organizations == _keys_with_status(frame, "Account ID", "organization_status", SUCCEEDED)
    refused = ("invalid", "conflict", "skipped")
    assert not contacts & _keys_with_status(frame, "Contact ID", "contact_status", refused)
    assert not organizations & _keys_with_status(frame, "Account ID", "organization_status", refused)


def test_formula_cells_are_written_back_formula_safe_in_the_report(tmp_path: Path) -> None:
    """Cells a spreadsheet would evaluate come back in the reconciliation file with a leading quote."""
    report = tmp_path / "validation.csv"
    result = CliRunner().invoke(cli, ["validate", str(BAD / "formula_cells.csv"), "--report", str(report)])
    assert result.exit_code == 0, result.output
    row = pl.read_csv(report, infer_schema=False).row(0, named=True)
    assert row["Contact First Name"].startswith("'=HYPERLINK(")
    assert row["Contact Last Name"] == "'@SUM(1+1)"
    assert row["Account Name"].startswith("'+cmd|")


def test_a_report_path_that_cannot_be_written_stops_import_before_any_request(tmp_path: Path) -> None:
    """A --report under a file is exit 2 with one line, and the API is never called (nothing to lose)."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with run_sandbox(SandboxConfig(rate_limit=0, client_secret=SECRET)) as sb:
        args = [
            "import",
            str(BAD / "valid.csv"),
            "--base-url",
            sb.base_url,
            "--client-id",
            sb.client_id,
            "--report",
            str(blocker / "reconciliation.csv"),
            "--journal",
            str(tmp_path / "journal.db"),
        ]
        result = CliRunner().invoke(cli, args, env={"GENESYS_CLIENT_SECRET": SECRET, "GENESYS_REGION": ""})
        assert sb.stats.requests == {}
    assert result.exit_code == 2, result.output
    report = blocker / "reconciliation.csv"
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: cannot write the report to {report}: {blocker} is a file, not a folder"
    )


@pytest.mark.parametrize("command", ["validate", "import", "export"])
def test_an_unusable_output_path_is_one_line_never_a_traceback(command: str, tmp_path: Path) -> None:
    """Report, journal and export paths under a file end the command with one error line, not a traceback."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    args = {
        "validate": ["validate", str(BAD / "valid.csv"), "--report", str(blocker / "r.csv")],
        "import": ["import", str(BAD / "valid.csv"), "--sandbox", "--journal", str(blocker / "j.db")],
        "export": ["export", "--sandbox", "--out", str(blocker / "export.csv")],
    }[command]
    result = CliRunner().invoke(
        cli, [*args, "--report", str(tmp_path / "r.csv")] if command == "import" else args
    )
    # 2 when the command checks the path up front, 3 when the failure is met during the run.
    assert result.exit_code in (2, 3), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert str(blocker.name) in result.stderr
