"""Settings of one sandbox instance, and the fixed demo objects every instance starts with."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import ConfigError

# The demo objects are fixed so that fixtures, docs and samples can name them.
DEMO_CLIENT_ID = "demo-client"
DEMO_CLIENT_SECRET = "demo-secret"  # a documented credential of a local emulator
DEMO_DIVISION_ID = "5a0c7e5e-0000-4000-8000-00000000d001"
DEMO_DIVISION_NAME = "Home"
SECOND_DIVISION_ID = "5a0c7e5e-0000-4000-8000-00000000d002"
SECOND_DIVISION_NAME = "Sandbox Secondary"
DEMO_EXTERNAL_SOURCE_ID = "5a0c7e5e-0000-4000-8000-00000000e001"
DEMO_EXTERNAL_SOURCE_NAME = "contacts-pipeline"  # the default source name of `import`

FAULT_KINDS = ("server_error", "entity_errors", "drop_after_write")


@dataclass(frozen=True)
class SandboxConfig:
    """How to run a sandbox. Every field has a default that suits tests and demos.

    ``rate_limit`` is requests per ``rate_window_s`` seconds per token (0 turns limiting off);
    ``fault_rate`` is the probability that one API request meets one of ``fault_kinds``;
    ``state_path`` is a SQLite file that keeps the data across restarts (``None``: memory only).
    """

    host: str = "127.0.0.1"
    port: int = 0
    state_path: Path | str | None = None
    rate_limit: int = 300
    rate_window_s: float = 60.0
    latency_ms: int = 0
    latency_jitter_ms: int = 0
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    token_lifetime: int = 86400
    client_id: str = DEMO_CLIENT_ID
    client_secret: str = DEMO_CLIENT_SECRET
    schema_files: tuple[Path | str, ...] = field(default_factory=tuple)
    allow_remote: bool = False
    # The old claims model: an email or phone another contact holds makes a write fail (409).
    strict_claims: bool = False

    def check(self) -> None:
        """Raise :class:`ConfigError` for settings that cannot work or are unsafe."""
        if not self.allow_remote and not is_loopback(self.host):
            raise ConfigError(
                f"refusing to serve the sandbox on {self.host!r}: it is not a loopback address "
                "(use 127.0.0.1, or pass --allow-remote if you really want it reachable)"
            )
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port} is out of range 0..65535")
        if self.rate_limit < 0 or self.rate_window_s <= 0:
            raise ConfigError("rate limit must be >= 0 and its window > 0 seconds")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ConfigError(f"fault rate {self.fault_rate} is not a probability between 0 and 1")
        if self.latency_ms < 0 or self.latency_jitter_ms < 0:
            raise ConfigError("latency and jitter must be >= 0 milliseconds")
        if self.token_lifetime <= 0:
            raise ConfigError("token lifetime must be > 0 seconds")
        unknown = set(self.fault_kinds) - set(FAULT_KINDS)
        if unknown:
            raise ConfigError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
