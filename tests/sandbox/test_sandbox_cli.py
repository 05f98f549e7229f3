"""``contacts-pipeline sandbox``: refuses non-loopback hosts, prints where it listens, stops on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.cli.sandbox_cmd import banner
from pipeline.sandbox import SandboxConfig


def test_refuses_a_non_loopback_host_without_allow_remote() -> None:
    """Binding 0.0.0.0 needs --allow-remote; without it the command exits 2 with the reason."""
    result = CliRunner().invoke(cli, ["sandbox", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert "not a loopback address" in result.output
    assert "--allow-remote" in result.output


def test_help_shows_an_example() -> None:
    """--help lists the options and an example command line."""
    result = CliRunner().invoke(cli, ["sandbox", "--help"])
    assert result.exit_code == 0
    for option in ("--state", "--rate-limit", "--latency-ms", "--fault-rate", "--seed", "--allow-remote"):
        assert option in result.output
    assert "contacts-pipeline sandbox --port" in result.output


def test_serves_until_interrupted() -> None:
    """The command prints its base URL and demo credentials, serves, and stops cleanly on Ctrl-C."""
    entry = "from pipeline.cli import main; main()"
    command = [sys.executable, "-c", entry, "sandbox", "--port", "0", "--rate-limit", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            first = proc.stdout.readline()  # type: ignore[union-attr]
            assert first.startswith("Sandbox listening on http://127.0.0.1:")
            base_url = first.split()[-1]
            lines = [proc.stdout.readline() for _ in range(2)]  # type: ignore[union-attr]
            assert "demo-client" in lines[0]
            assert "demo-secret" in lines[1]
            response = httpx.post(
                f"{base_url}/oauth/token",
                auth=("demo-client", "demo-secret"),
                data={"grant_type": "client_credentials"},
            )
            assert response.status_code == 200
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    assert "Sandbox stopped." in out


def test_banner_says_none_when_nothing_limits_or_disturbs_calls() -> None:
    """With no rate limit, latency or faults the banner says "none" instead of a zero with units."""
    shown = banner("http://127.0.0.1:8765", SandboxConfig(rate_limit=0))
    assert "  rate limit        none" in shown
    assert "  latency           none" in shown
    assert "  faults            none" in shown
    assert not any("0 requests" in line or "off requests" in line for line in shown)


def test_banner_states_each_limit_with_its_unit() -> None:
    """Set limits read as a rate per window, milliseconds per call and a fault percentage with its kinds."""
    config = SandboxConfig(
        rate_limit=1,
        rate_window_s=2.0,
        latency_ms=20,
        latency_jitter_ms=10,
        fault_rate=0.005,
        fault_kinds=("server_error",),
        seed=7,
    )
    shown = banner("http://127.0.0.1:8765", config)
    assert "  rate limit        1 request/2 s per token" in shown
    assert "  latency           20 ms + up to 10 ms per API call, seed 7" in shown
    assert "  faults            0.5% chance per API call (server_error), seed 7" in shown
    assert "  rate limit        300 requests/min per token" in banner("http://x", SandboxConfig())
