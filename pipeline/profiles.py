"""``contacts-pipeline.toml``: named profiles of connection and import settings.

A profile (``[profile.prod]``) fills in what the command line leaves out. Precedence, highest first:
command-line flags, then the environment (``GENESYS_REGION``, ``GENESYS_CLIENT_ID``,
``GENESYS_CLIENT_SECRET``), then the profile, then the built-in defaults.

The secret never lives in the file: it comes from ``GENESYS_CLIENT_SECRET`` or from the file a profile's
``client_secret_file`` names, which must not be readable by group or others (on POSIX; Windows has no
such mode bits, so there the check is skipped and the file's ACL is the user's to keep private).
Relative paths in a profile (``mapping``, ``client_secret_file``) are relative to the config file.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

CONFIG_NAME = "contacts-pipeline.toml"
SECRET_KEY = "client_secret"
# Profile key -> the type its value must have.
PROFILE_KEYS: dict[str, type[str] | type[int]] = {
    "region": str,
    "client_id": str,
    "client_secret_file": str,
    "external_source": str,
    "division": str,
    "contact_schema": str,
    "organization_schema": str,
    "rate_limit": int,
    "default_region": str,
    "mapping": str,
}
_PATH_KEYS = ("mapping", "client_secret_file")
_TOP_KEYS = ("profile", "default_profile")
# Profile key -> (command, its click parameter): the values handed to click as defaults (default_map).
_COMMAND_DEFAULTS: dict[str, tuple[tuple[str, str], ...]] = {
    "external_source": (("import", "external_source"), ("export", "external_source")),
    "division": (("import", "division_id"), ("export", "division_id")),
    "contact_schema": (("import", "contact_schema"),),
    "organization_schema": (("import", "organization_schema"),),
    "rate_limit": (("import", "rate_limit"), ("export", "rate_limit")),
    "default_region": (("import", "default_region"), ("validate", "default_region")),
    "mapping": (("import", "mapping"), ("validate", "mapping")),
}


@dataclass(frozen=True)
class Profile:
    """One profile's values (only those it sets), and the file it came from."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def command_defaults(self) -> dict[str, dict[str, Any]]:
        """``{command: {parameter: value}}`` for click's ``default_map``: used where no flag is given."""
        defaults: dict[str, dict[str, Any]] = {}
        for key, targets in _COMMAND_DEFAULTS.items():
            if key in self.values:
                for command, parameter in targets:
                    defaults.setdefault(command, {})[parameter] = self.values[key]
        return defaults


def find_config(explicit: Path | None, cwd: Path | None = None) -> Path | None:
    """The config file: ``explicit`` (which must exist), else ``contacts-pipeline.toml`` in ``cwd``."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"--config {explicit}: no such file")
        return explicit
    found = (cwd or Path.cwd()) / CONFIG_NAME
    return found if found.is_file() else None


def parse_config(data: Mapping[str, Any], source: Path) -> dict[str, Profile]:
    """Check a parsed config file and return its profiles by name; ConfigError naming what is wrong."""
    _refuse_secret(data, source)
    unknown = sorted(set(data) - set(_TOP_KEYS))
    if unknown:
        raise ConfigError(f"{source}: unknown key {unknown[0]!r} (the file holds [profile.NAME] tables)")
    profiles = data.get("profile", {})
    if not isinstance(profiles, Mapping):
        raise ConfigError(f"{source}: 'profile' must be a table of [profile.NAME] tables")
    return {name: _profile(name, values, source) for name, values in profiles.items()}


def _refuse_secret(data: Mapping[str, Any], source: Path) -> None:
    tables = [data, *(v for v in (data.get("profile") or {}).values() if isinstance(v, Mapping))]
    if any(SECRET_KEY in table for table in tables):
        raise ConfigError(
            f"{source}: {SECRET_KEY!r}: secrets do not belong in the config file; set GENESYS_CLIENT_SECRET "
            "or point client_secret_file at a file only you can read"
        )


def _profile(name: str, values: Any, source: Path) -> Profile:
    if not isinstance(values, Mapping):
        raise ConfigError(f"{source}: [profile.{name}] must be a table")
    checked: dict[str, Any] = {}
    for key, value in dict(values).items():
        expected = PROFILE_KEYS.get(key)
        if expected is None:
            known = ", ".join(PROFILE_KEYS)
            raise ConfigError(f"{source}: [profile.{name}]: unknown key {key!r} (known: {known})")
        if not isinstance(value, expected) or isinstance(value, bool):
            raise ConfigError(
                f"{source}: [profile.{name}] {key} must be a {expected.__name__}, not {value!r}"
            )
        if key == "rate_limit" and int(value) < 0:
            raise ConfigError(f"{source}: [profile.{name}] rate_limit must be 0 (no limit) or positive")
        checked[key] = str(source.parent / Path(f"{value}").expanduser()) if key in _PATH_KEYS else value
    return Profile(name, checked, source)


def load_profile(config: Path | None, name: str | None) -> Profile | None:
    """The profile ``name`` (or the file's ``default_profile``) of the config file, if any.

    The file is checked even when no profile is chosen, so a mistake in it is found early.
    """
    if config is None:
        if name is not None:
            raise ConfigError(f"--profile {name}: no {CONFIG_NAME} here and no --config given")
        return None
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{config}: not valid TOML: {err}") from None
    profiles = parse_config(data, config)
    chosen = name or data.get("default_profile")
    if chosen is None:
        return None
    if chosen not in profiles:
        available = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(f"{config}: no profile {chosen!r} (profiles: {available})")
    return profiles[chosen]


def read_secret_file(path: Path, *, posix: bool = os.name != "nt") -> str:
    """The secret in ``path``, refusing a file others could read (POSIX only: see the module doc)."""
    try:
        mode = path.stat().st_mode
        if posix and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"client_secret_file {path} can be read by group or others (mode {stat.S_IMODE(mode):o}); "
                f"make it private: chmod 600 {path}"
            )
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise ConfigError(f"client_secret_file {path}: {err.strerror or err}") from None
    if not secret:
        raise ConfigError(f"client_secret_file {path} is empty")
    return secret


@dataclass(frozen=True)
class Connection:
    """Region, client id and secret as the client gets them (``None``: left to the environment)."""

    region: str | None
    client_id: str | None
    client_secret: str | None


def _set(env: Mapping[str, str], name: str) -> bool:
    return bool((env.get(name) or "").strip())


def resolve_connection(
    *,
    region: str | None,
    base_url: str | None,
    client_id: str | None,
    env: Mapping[str, str],
    profile: Profile | None,
) -> Connection:
    """Flags, then the environment, then the profile: a profile value is used only where neither a flag
    nor a ``GENESYS_*`` variable gives one (a --base-url flag replaces any region)."""
    if profile is None:
        return Connection(region, client_id, None)
    if region is None and base_url is None and not _set(env, "GENESYS_REGION"):
        region = profile.get("region")
    if client_id is None and not _set(env, "GENESYS_CLIENT_ID"):
        client_id = profile.get("client_id")
    secret = None
    secret_file = profile.get("client_secret_file")
    if secret_file and not _set(env, "GENESYS_CLIENT_SECRET"):
        secret = read_secret_file(Path(secret_file))
    return Connection(region, client_id, secret)
