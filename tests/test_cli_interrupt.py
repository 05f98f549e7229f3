"""One line and a clear exit code, never a traceback: Ctrl-C at any moment, and unreachable APIs."""

from __future__ import annotations

import gc
import socket
import ssl
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.genesys.auth import transport_problem
from pipeline.genesys.client import GenesysClient
from pipeline.importing import job

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
# Ctrl-C while a module loads: an import hook raises KeyboardInterrupt when the named module is imported.
INTERRUPT_IMPORT = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            raise KeyboardInterrupt
        return None
sys.meta_path.insert(0, Interrupt())
from pipeline.cli import main
sys.exit(main())
"""


def _import_args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "import",
        str(SAMPLES / "contacts.csv"),
        "--report",
        str(tmp_path / "out" / "rec.csv"),
        "--journal",
        str(tmp_path / "journal.db"),
        *extra,
    ]


def _one_line(text: str) -> str:
    """The one message line on stderr (progress lines aside), which is its last line."""
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    messages = [line for line in lines if line.startswith(("Error:", "Interrupted"))]
    assert messages == lines[-1:], text
    return lines[-1]


@pytest.mark.parametrize("module", ["click", "polars", "httpx"])
def test_ctrl_c_while_the_program_loads_exits_130_with_one_line(module: str) -> None:
    """Ctrl-C during the first second, while modules are still being imported, is one line and exit 130."""
    done = subprocess.run(
        [sys.executable, "-c", INTERRUPT_IMPORT.format(module=module), "validate", "x.csv"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 130, done.stderr
    assert _one_line(done.stderr) == "Interrupted."


def test_ctrl_c_while_the_file_is_read_exits_130_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C before anything is sent (reading the file) is one line and exit 130."""

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    # The job's reading step (``read_input`` since reading took options, ``read_table`` before).
    monkeypatch.setattr(job, "read_input" if hasattr(job, "read_input") else "read_table", interrupted)
    result = CliRunner().invoke(cli, _import_args(tmp_path, "--sandbox"))
    assert result.exit_code == 130
    assert _one_line(result.stderr) == "Interrupted."


def test_ctrl_c_during_the_push_exits_130_naming_the_resume_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while batches are in flight ends the run as interrupted: one line, exit 130, how to go on."""

    async def interrupted(self: GenesysClient, *args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(GenesysClient, "bulk_enrich", interrupted)
    state = tmp_path / "sandbox.db"
    result = CliRunner().invoke(
        cli,
        _import_args(
            tmp_path, "--sandbox", "--sandbox-state", str(state), "--contact-schema", "Demo contact fields"
        ),
    )
    assert result.exit_code == 130
    line = _one_line(result.stderr)
    assert line.startswith("Error: interrupted: run 1 stopped cleanly")
    assert "--resume 1" in line


def test_ctrl_c_during_the_push_leaves_no_socket_to_the_garbage_collector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After Ctrl-C in the push, the client's connections are closed before the event loop ends: none is
    found open (a ResourceWarning) when garbage is collected."""

    async def interrupted(self: GenesysClient, *args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(GenesysClient, "bulk_enrich", interrupted)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        result = CliRunner().invoke(
            cli, _import_args(tmp_path, "--sandbox", "--contact-schema", "Demo contact fields")
        )
        gc.collect()
    assert result.exit_code == 130
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert [m for m in unclosed if "socket" in m or "transport" in m] == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_connection_names_the_url_the_cause_and_what_to_check(tmp_path: Path) -> None:
    """Nothing listening at --base-url: exit 3 and one line with the URL, 'connection refused' and a hint."""
    url = f"http://127.0.0.1:{_closed_port()}"
    env = {"GENESYS_CLIENT_ID": "demo-client", "GENESYS_CLIENT_SECRET": "demo-secret"}
    result = CliRunner(env=env).invoke(cli, _import_args(tmp_path, "--base-url", url))
    assert result.exit_code == 3
    line = _one_line(result.stderr)
    assert f"{url}/oauth/token: connection refused" in line
    assert "is the sandbox running? check --base-url" in line


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
        (socket.gaierror(-2, "Name or service not known"), "DNS lookup failed (Name or service not known)"),
        (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), "TLS handshake failed"),
    ],
)
def test_connection_errors_say_what_went_wrong(cause: OSError, expected: str) -> None:
    """Refused, DNS and TLS failures under an httpx error are told apart, with a hint for remote hosts."""
    try:
        raise httpx.ConnectError("connect failed") from cause
    except httpx.ConnectError as exc:
        problem = transport_problem(exc, "https://api.example.test/oauth/token", loopback=False)
    assert problem.startswith(f"https://api.example.test/oauth/token: {expected}")
    assert "--region / --base-url" in problem


def test_a_dropped_connection_names_the_url_without_blaming_the_address() -> None:
    """A connection lost after it was made names the URL and the error, with no 'is it running' hint."""
    problem = transport_problem(httpx.ReadError("peer closed"), "http://127.0.0.1:1/x", loopback=True)
    assert problem.startswith("http://127.0.0.1:1/x: the connection failed (ReadError")
    assert "sandbox running" not in problem
