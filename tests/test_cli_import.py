"""The import command in-process: exit codes, summary, files written."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.sandbox import SandboxConfig, run_sandbox

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def test_sandbox_import_of_the_samples_exits_0_and_writes_report_and_summary(tmp_path: Path) -> None:
    """`import --sandbox` on the samples succeeds, prints the summary and writes both files."""
    report = tmp_path / "out" / "rec.csv"
    result = CliRunner().invoke(
        cli,
        [
            "import",
            str(SAMPLES / "contacts.csv"),
            "--sandbox",
            "--contact-schema",
            "Demo contact fields",
            "--report",
            str(report),
            "--rate-limit",
            "3000",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Import summary" in result.output
    assert "234 succeeded" in result.output
    summary = json.loads((report.parent / "rec.summary.json").read_text(encoding="utf-8"))
    assert summary["rows"]["total"] == 234
    assert summary["records"]["contacts"] == {"created": 234}


def test_rows_that_fail_validation_make_the_import_exit_1(tmp_path: Path) -> None:
    """A file with invalid rows is still imported where valid, and the command exits 1."""
    result = CliRunner().invoke(
        cli,
        [
            "import",
            str(SAMPLES / "contacts-with-problems.csv"),
            "--sandbox",
            "--contact-schema",
            "Demo contact fields",
            "--report",
            str(tmp_path / "rec.csv"),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "created" in result.output


def test_missing_input_file_exits_2_with_one_line(tmp_path: Path) -> None:
    """A missing file is a one-line error with exit code 2, before any connection is made."""
    result = CliRunner().invoke(cli, ["import", str(tmp_path / "nope.csv"), "--sandbox"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "nope.csv" in result.output


def test_refused_credentials_exit_3_without_showing_the_secret(tmp_path: Path) -> None:
    """Wrong credentials stop the run with exit code 3 and the secret appears nowhere."""
    secret = "s3cr3t-Zebra-Quartz-991"
    with run_sandbox(SandboxConfig()) as sb:
        result = CliRunner().invoke(
            cli,
            [
                "import",
                str(SAMPLES / "contacts.csv"),
                "--base-url",
                sb.base_url,
                "--client-id",
                "demo-client",
            ],
            env={"GENESYS_CLIENT_SECRET": secret, "GENESYS_REGION": ""},
        )
    assert result.exit_code == 3, result.output
    assert secret not in result.output
    assert "Traceback" not in result.output


def test_http_to_a_non_loopback_host_is_refused_with_exit_2(tmp_path: Path) -> None:
    """Plain http is only for loopback: anything else is a configuration error."""
    result = CliRunner().invoke(
        cli,
        ["import", str(SAMPLES / "contacts.csv"), "--base-url", "http://api.example.com"],
        env={"GENESYS_CLIENT_ID": "x", "GENESYS_CLIENT_SECRET": "y", "GENESYS_REGION": ""},
    )
    assert result.exit_code == 2
    assert "loopback" in result.output


def test_base_url_flag_overrides_an_exported_region(tmp_path: Path) -> None:
    """With GENESYS_REGION exported, --base-url still wins instead of clashing with it."""
    with run_sandbox(SandboxConfig()) as sb:
        result = CliRunner().invoke(
            cli,
            [
                "import",
                str(SAMPLES / "contacts.csv"),
                "--base-url",
                sb.base_url,
                "--rate-limit",
                "0",
                "--contact-schema",
                "Demo contact fields",
                "--report",
                str(tmp_path / "rec.csv"),
            ],
            env={
                "GENESYS_REGION": "mypurecloud.ie",
                "GENESYS_CLIENT_ID": sb.client_id,
                "GENESYS_CLIENT_SECRET": sb.client_secret,
            },
        )
    assert result.exit_code == 0, result.output
