"""Connection options shared by the commands that talk to Genesys Cloud (import, export).

Three decorators, so each command keeps its own option order in ``--help``: :func:`api_options` (where
and as whom), :func:`rate_limit_option`, and :func:`sandbox_options` (run against an embedded sandbox).
:func:`target` turns the parsed values into client settings.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from pipeline.genesys.settings import DEFAULT_RATE_LIMIT_PER_MINUTE, ClientSettings, settings_from
from pipeline.profiles import Profile, resolve_connection

# Where the command group keeps the chosen profile (ctx.meta is shared by every context of a command line).
PROFILE_META = "contacts_pipeline.profile"


def current_profile() -> Profile | None:
    """The profile chosen for this command line (--profile or the config's default_profile), if any."""
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(PROFILE_META) if ctx is not None else None


F = TypeVar("F", bound=Callable[..., object])


def api_options(command: F) -> F:
    """``--region``, ``--base-url`` and ``--client-id`` (the secret only ever comes from the environment)."""
    options = [
        # No click envvar: settings_from reads GENESYS_* itself, so that a --base-url flag overrides an
        # exported GENESYS_REGION instead of clashing with it.
        click.option("--region", help="Genesys Cloud domain, e.g. mypurecloud.ie (or GENESYS_REGION)."),
        click.option("--base-url", help="API base URL instead of a region (https, or http on loopback)."),
        click.option(
            "--client-id", help="OAuth client id (or GENESYS_CLIENT_ID; the secret: GENESYS_CLIENT_SECRET)."
        ),
    ]
    # Applied bottom-up, as stacked decorators would be, so --help lists them in the order above.
    for option in reversed(options):
        command = option(command)
    return command


def rate_limit_option(command: F) -> F:
    return click.option(
        "--rate-limit",
        type=click.IntRange(min=0),
        default=DEFAULT_RATE_LIMIT_PER_MINUTE,
        show_default=True,
        help="Requests per minute the client keeps under (0 = no client limit).",
    )(command)


def sandbox_options(command: F) -> F:
    """``--sandbox`` and ``--sandbox-state``."""
    command = click.option(
        "--sandbox-state",
        type=click.Path(dir_okay=False, path_type=Path),
        help="With --sandbox: SQLite file that keeps the sandbox's records between runs.",
    )(command)
    return click.option(
        "--sandbox", is_flag=True, help="Run against an embedded local sandbox (demo, rehearsal)."
    )(command)


def memory(sandbox: bool, sandbox_state: Path | None) -> dict[str, Any]:
    """Where pushed records are remembered: an embedded sandbox is its state file; one without a state
    file forgets everything when it stops, so there is nothing for change-only imports to remember."""
    return {
        "target": f"sandbox:{sandbox_state.resolve()}" if sandbox and sandbox_state else None,
        "remember": not sandbox or sandbox_state is not None,
    }


@contextmanager
def target(
    sandbox: bool,
    *,
    region: str | None,
    base_url: str | None,
    client_id: str | None,
    rate_limit: int,
    sandbox_state: Path | None,
) -> Iterator[ClientSettings]:
    """Client settings for the real API, or for an embedded sandbox started for this run."""
    if sandbox_state is not None and not sandbox:
        raise click.UsageError("--sandbox-state goes with --sandbox")
    if sandbox and (region or base_url):
        raise click.UsageError("--sandbox runs against its own embedded API: drop --region/--base-url")
    if not sandbox:
        chosen = resolve_connection(
            region=region, base_url=base_url, client_id=client_id, env=os.environ, profile=current_profile()
        )
        yield settings_from(
            region=chosen.region,
            base_url=base_url,
            client_id=chosen.client_id,
            client_secret=chosen.client_secret,
            rate_limit=rate_limit,
        )
        return
    from pipeline.sandbox import SandboxConfig, run_sandbox

    with run_sandbox(SandboxConfig(rate_limit=rate_limit, state_path=sandbox_state)) as sb:
        click.echo(f"Embedded sandbox at {sb.base_url}", err=True)
        yield settings_from(
            region=None,
            base_url=sb.base_url,
            client_id=sb.client_id,
            client_secret=sb.client_secret,
            rate_limit=rate_limit,
        )
