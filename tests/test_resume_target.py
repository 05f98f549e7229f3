"""`--resume` goes on where the run went and as it started: another target, or options that would change
what records become, are refused naming both sides; the report path and --full may change."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.errors import ConfigError
from pipeline.genesys.client import GenesysClient
from pipeline.journal.run import resume_options
from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
ENV = {"GENESYS_CLIENT_ID": "demo-client", "GENESYS_CLIENT_SECRET": "demo-secret"}
THEN = {
    "import": {"external_source": "CRM", "full": False, "match": ["email"], "create_source": False},
    "prepare": {"mapping": "/data/map.toml", "default_region": "GB", "encoding": None},
    "file": {"report_path": "/data/out/rec.csv", "only_failed": False},
    "api": "https://api.mypurecloud.ie",
    "target": "https://api.mypurecloud.ie",
}


def _now(**changes: Any) -> dict[str, Any]:
    now = {k: dict(v) if isinstance(v, dict) else v for k, v in THEN.items()}
    for name, value in changes.items():
        section = next(s for s, values in now.items() if isinstance(values, dict) and name in values)
        now[section][name] = value
    return now


def test_a_resume_naming_the_run_s_own_options_goes_on_with_them() -> None:
    """Options equal to the run's (tuples and lists alike) are no difference."""
    now = _now(match=("email",))
    assert resume_options(7, THEN, now, {"match", "external_source", "mapping"}) == THEN


def test_a_new_report_path_and_full_are_honoured() -> None:
    """--report and --full change where the report goes and how much is sent: the resume takes them."""
    now = _now(report_path="/data/out/new.csv", full=True)
    merged = resume_options(7, THEN, now, {"report_path", "full"})
    assert merged["file"]["report_path"] == "/data/out/new.csv"
    assert merged["import"]["full"] is True


def test_options_left_at_their_defaults_are_the_run_s() -> None:
    """An option the command does not name is taken from the run, whatever its default is now."""
    now = _now(default_region="US", report_path="/cwd/out/reconciliation.csv")
    assert resume_options(7, THEN, now, set()) == THEN


def test_options_that_change_what_records_become_are_refused_each_named() -> None:
    """A different mapping, region, encoding or source is refused, naming each flag and both values."""
    now = _now(mapping="/data/other.toml", default_region="FR", encoding="cp1252", external_source="X")
    given = {"mapping", "default_region", "encoding", "external_source"}
    with pytest.raises(ConfigError) as caught:
        resume_options(7, THEN, now, given)
    message = str(caught.value)
    for part in (
        '--mapping (run: "/data/map.toml", now: "/data/other.toml")',
        '--default-region (run: "GB", now: "FR")',
        '--encoding (run: null, now: "cp1252")',
        '--external-source (run: "CRM", now: "X")',
    ):
        assert part in message


def test_another_target_is_refused_naming_both() -> None:
    """A resume sending to another API than the run did is refused, naming both."""
    now = {**_now(), "api": "https://api.mypurecloud.de", "target": "https://api.mypurecloud.de"}
    with pytest.raises(
        ConfigError, match=r"mypurecloud\.ie, but this command sends them to https://api\.mypurecloud\.de"
    ):
        resume_options(7, THEN, now, set())


def test_a_run_into_an_in_memory_sandbox_is_not_resumed_into_another() -> None:
    """An in-memory sandbox (no target) is known by its address, new each time: the resume is refused."""
    then = {**THEN, "api": "http://127.0.0.1:4001", "target": None}
    now = {**_now(), "api": "http://127.0.0.1:4002", "target": None}
    with pytest.raises(ConfigError, match="sends them to http://127"):
        resume_options(7, then, now, set())


def test_runs_recorded_before_the_target_compare_their_api() -> None:
    """A run recorded without a target is compared by its API base URL."""
    then = {k: v for k, v in THEN.items() if k != "target"}
    now = {**_now(), "api": "https://api.mypurecloud.de", "target": "https://api.mypurecloud.de"}
    with pytest.raises(ConfigError, match="sends them to"):
        resume_options(7, then, now, set())


# -- through the command line ------------------------------------------------------------------------------


def _closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _import(tmp_path: Path, *extra: str) -> Any:
    args = ["import", str(SAMPLES / "contacts.csv"), "--journal", str(tmp_path / "journal.db")]
    args += ["--contact-schema", "Demo contact fields", "--rate-limit", "3000", *extra]
    return CliRunner(env=ENV).invoke(cli, args)


@pytest.fixture
def sb(tmp_path: Path) -> Iterator[Sandbox]:
    with run_sandbox(SandboxConfig(rate_limit=0, state_path=tmp_path / "sandbox.db")) as sandbox:
        yield sandbox


def _interrupted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> None:
    async def interrupted(self: GenesysClient, *args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(GenesysClient, "bulk_enrich", interrupted)
        assert _import(tmp_path, *extra).exit_code == 130


def test_resume_against_another_base_url_exits_2_naming_both(
    tmp_path: Path, sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--resume` with another --base-url than the run's is refused before anything is sent."""
    report = str(tmp_path / "rec.csv")
    _interrupted_run(tmp_path, monkeypatch, "--base-url", sb.base_url, "--report", report)
    elsewhere = _closed_url()
    result = _import(tmp_path, "--base-url", elsewhere, "--resume")
    assert result.exit_code == 2, result.output
    assert f"sent its records to {sb.base_url}, but this command sends them to {elsewhere}" in result.stderr


def test_resume_with_a_new_report_path_writes_it_there_and_refuses_a_new_region(
    tmp_path: Path, sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resume refuses --default-region differing from the run's, and honours a new --report."""
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    _interrupted_run(tmp_path, monkeypatch, "--base-url", sb.base_url, "--report", str(first))
    refused = _import(tmp_path, "--base-url", sb.base_url, "--resume", "--default-region", "FR")
    assert refused.exit_code == 2
    assert '--default-region (run: "US", now: "FR")' in refused.stderr
    done = _import(tmp_path, "--base-url", sb.base_url, "--resume", "--report", str(second), "--full")
    assert done.exit_code == 0, done.output
    assert second.exists()
    assert not first.exists()


def test_runs_show_does_not_suggest_resuming_a_run_that_sent_nothing(tmp_path: Path) -> None:
    """A run that stopped before any batch was answered is shown with a new import, not --resume."""
    assert _import(tmp_path, "--base-url", _closed_url(), "--report", str(tmp_path / "r.csv")).exit_code == 3
    shown = CliRunner().invoke(cli, ["runs", "--journal", str(tmp_path / "journal.db"), "show", "1"])
    assert shown.exit_code == 0, shown.output
    assert "resume with" not in shown.output
    assert "nothing was sent; run the import again (without --resume)" in shown.output
