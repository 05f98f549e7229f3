"""``contacts-pipeline sandbox``: serve the local External Contacts API emulator until Ctrl-C."""

from __future__ import annotations

import time
from pathlib import Path

import click

from pipeline.sandbox import DEMO_CONTACT_SCHEMA_ID, DEMO_ORGANIZATION_SCHEMA_ID, SandboxConfig, run_sandbox
from pipeline.sandbox.config import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_DIVISION_ID,
    DEMO_DIVISION_NAME,
    DEMO_EXTERNAL_SOURCE_ID,
    DEMO_EXTERNAL_SOURCE_NAME,
    FAULT_KINDS,
)

DEFAULT_PORT = 8765


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback only).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="0 = any free port.",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file that keeps contacts, organizations and external sources across restarts.",
)
@click.option(
    "--rate-limit",
    type=click.IntRange(min=0),
    default=300,
    show_default=True,
    help="Requests per minute per token before 429 (0 = no limit).",
)
@click.option(
    "--latency-ms", type=click.IntRange(min=0), default=0, show_default=True, help="Added to each call."
)
@click.option(
    "--latency-jitter-ms",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Up to this much more, at random.",
)
@click.option(
    "--fault-rate",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Probability that an API call meets a fault (5xx, retryable entity errors, dropped connection).",
)
@click.option(
    "--fault-kind",
    "fault_kinds",
    type=click.Choice(FAULT_KINDS),
    multiple=True,
    help="Only these fault kinds (repeatable; default all).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Makes faults and latency reproducible.")
@click.option(
    "--token-lifetime", type=click.IntRange(min=1), default=86400, show_default=True, help="Seconds."
)
@click.option("--client-id", default=DEMO_CLIENT_ID, show_default=True)
@click.option("--client-secret", default=DEMO_CLIENT_SECRET, show_default=True)
@click.option(
    "--schema-file",
    "schema_files",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="JSON file with more custom-field schemas (DataSchema, list, or listing; repeatable).",
)
@click.option(
    "--allow-remote", is_flag=True, help="Allow a non-loopback --host (the sandbox has no real security)."
)
@click.option(
    "--strict-claims",
    is_flag=True,
    help="Refuse (409) a contact whose email or phone another contact holds (default: left unclaimed).",
)
def sandbox(
    host: str,
    port: int,
    state_path: Path | None,
    rate_limit: int,
    latency_ms: int,
    latency_jitter_ms: int,
    fault_rate: float,
    fault_kinds: tuple[str, ...],
    seed: int,
    token_lifetime: int,
    client_id: str,
    client_secret: str,
    schema_files: tuple[Path, ...],
    allow_remote: bool,
    strict_claims: bool,
) -> None:
    """Serve a local emulator of the Genesys Cloud External Contacts API until Ctrl-C.

    It answers POST /oauth/token and /api/v2/externalcontacts/... on one base URL, which
    `import --sandbox` and tests use in place of Genesys Cloud. See docs/sandbox.md.

    \b
    Example:
      contacts-pipeline sandbox --port 8765 --state out/sandbox.db --fault-rate 0.05 --seed 7
    """
    config = SandboxConfig(
        host=host,
        port=port,
        state_path=state_path,
        rate_limit=rate_limit,
        latency_ms=latency_ms,
        latency_jitter_ms=latency_jitter_ms,
        fault_rate=fault_rate,
        fault_kinds=fault_kinds or FAULT_KINDS,
        seed=seed,
        token_lifetime=token_lifetime,
        client_id=client_id,
        client_secret=client_secret,
        schema_files=schema_files,
        allow_remote=allow_remote,
        strict_claims=strict_claims,
    )
    with run_sandbox(config) as sb:
        for line in banner(sb.base_url, config):
            click.echo(line)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            click.echo("Sandbox stopped.")


STRICT_LINE = "  claims            strict: a shared email or phone is refused (409)"


def banner(base_url: str, config: SandboxConfig) -> list[str]:
    """What the command prints once it listens."""
    return [
        f"Sandbox listening on {base_url}",
        f"  client id         {config.client_id}",
        f"  client secret     {config.client_secret}",
        f"  division          {DEMO_DIVISION_NAME} ({DEMO_DIVISION_ID})",
        f"  external source   {DEMO_EXTERNAL_SOURCE_NAME} ({DEMO_EXTERNAL_SOURCE_ID})",
        f"  schemas           contact {DEMO_CONTACT_SCHEMA_ID}, organization {DEMO_ORGANIZATION_SCHEMA_ID}",
        f"  rate limit        {_rate_limit_text(config)}",
        f"  latency           {_latency_text(config)}",
        f"  faults            {_faults_text(config)}",
        f"  state             {config.state_path or 'in memory only'}",
        *([STRICT_LINE] if config.strict_claims else []),
        "Press Ctrl-C to stop.",
    ]


def _rate_limit_text(config: SandboxConfig) -> str:
    if config.rate_limit == 0:
        return "none"
    requests = "request" if config.rate_limit == 1 else "requests"
    window = "min" if config.rate_window_s == 60 else f"{config.rate_window_s:g} s"
    return f"{config.rate_limit} {requests}/{window} per token"


def _latency_text(config: SandboxConfig) -> str:
    fixed, jitter = config.latency_ms, config.latency_jitter_ms
    if not fixed and not jitter:
        return "none"
    if not jitter:
        return f"{fixed} ms per API call"
    added = f"{fixed} ms + up to {jitter} ms" if fixed else f"up to {jitter} ms"
    return f"{added} per API call, seed {config.seed}"


def _faults_text(config: SandboxConfig) -> str:
    if config.fault_rate == 0 or not config.fault_kinds:
        return "none"
    # A percentage reads better than a probability; :g keeps 0.5% from showing as 0%.
    chance = f"{config.fault_rate * 100:g}% chance per API call"
    return f"{chance} ({', '.join(config.fault_kinds)}), seed {config.seed}"
