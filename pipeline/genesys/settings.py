"""Client settings, and building them from command-line flags and the environment.

Flags win over the environment (``GENESYS_REGION``, ``GENESYS_CLIENT_ID``, ``GENESYS_CLIENT_SECRET``). A
``base_url`` (the sandbox, or any emulator) replaces both the API and the login host. Plain ``http://`` is
accepted only for loopback hosts, so credentials never cross a network unencrypted; TLS verification is
always on and deliberately has no switch.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from pipeline.errors import ConfigError
from pipeline.genesys import regions
from pipeline.genesys.secret import Secret

ENV_REGION = "GENESYS_REGION"
ENV_CLIENT_ID = "GENESYS_CLIENT_ID"
ENV_CLIENT_SECRET = "GENESYS_CLIENT_SECRET"

# Genesys's default budget per client-credentials token.
DEFAULT_RATE_LIMIT_PER_MINUTE = 300
DEFAULT_RATE_WINDOW_S = 60.0
# Attempts per request for 5xx, timeouts and connection errors (the first try included).
DEFAULT_MAX_ATTEMPTS = 5
# 429s are the server pacing us, not failing: they get a separate, larger bound.
DEFAULT_MAX_THROTTLED_ATTEMPTS = 20
# A bulk enrich of 10 entities can take several seconds server-side; connecting should not.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=30.0, pool=60.0)
# Enough sockets for the concurrency a 300/min budget can keep busy; more would only queue at the server.
DEFAULT_MAX_CONNECTIONS = 20
# Ask for a new token this long before the current one expires, so no request carries a dying token.
DEFAULT_TOKEN_REFRESH_MARGIN_S = 60.0
DEFAULT_BACKOFF_BASE_S = 0.5
DEFAULT_BACKOFF_MAX_S = 30.0


def _default_timeout() -> httpx.Timeout:
    return DEFAULT_TIMEOUT


@dataclass(frozen=True)
class ClientSettings:
    """Everything :class:`~pipeline.genesys.client.GenesysClient` needs; ``repr`` never shows the secret."""

    api_base_url: str
    login_base_url: str
    client_id: str
    client_secret: Secret
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT_PER_MINUTE  # 0 = no client-side limit
    rate_window_s: float = DEFAULT_RATE_WINDOW_S
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_throttled_attempts: int = DEFAULT_MAX_THROTTLED_ATTEMPTS
    timeout: httpx.Timeout = field(default_factory=_default_timeout)
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    token_refresh_margin_s: float = DEFAULT_TOKEN_REFRESH_MARGIN_S
    backoff_base_s: float = DEFAULT_BACKOFF_BASE_S
    backoff_max_s: float = DEFAULT_BACKOFF_MAX_S

    def __post_init__(self) -> None:
        for url in (self.api_base_url, self.login_base_url):
            check_base_url(url)
        if self.rate_limit_per_minute < 0:
            raise ConfigError(
                f"the rate limit must be 0 (no limit) or positive, not {self.rate_limit_per_minute}"
            )
        if self.rate_window_s <= 0:
            raise ConfigError("the rate window must be positive")
        if self.max_attempts < 1 or self.max_throttled_attempts < 1:
            raise ConfigError("the number of attempts per request must be at least 1")
        if self.max_connections < 1:
            raise ConfigError("at least one connection is needed")

    @property
    def is_loopback(self) -> bool:
        return _is_loopback(httpx.URL(self.api_base_url).host) and _is_loopback(
            httpx.URL(self.login_base_url).host
        )


def settings_from(
    *,
    region: str | None,
    base_url: str | None,
    client_id: str | None,
    client_secret: str | None,
    rate_limit: int = DEFAULT_RATE_LIMIT_PER_MINUTE,
    env: Mapping[str, str] | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    timeout: httpx.Timeout | None = None,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> ClientSettings:
    """Settings from flags (``None`` = not given) falling back to ``env`` (default ``os.environ``).

    Raises :class:`~pipeline.errors.ConfigError` naming what to set when something is missing or wrong.
    """
    env = os.environ if env is None else env
    if base_url is not None and region is not None:
        raise ConfigError("give either a region or a base URL, not both")
    if base_url is not None:
        api = login = check_base_url(base_url)
    else:
        domain = _region_domain(_given(region) or _given(env.get(ENV_REGION)))
        api, login = regions.api_base_url(domain), regions.login_base_url(domain)
    cid = _given(client_id) or _given(env.get(ENV_CLIENT_ID))
    if cid is None:
        raise ConfigError(f"no client id: set {ENV_CLIENT_ID} (or pass --client-id)")
    secret = _given(client_secret) or _given(env.get(ENV_CLIENT_SECRET))
    if secret is None:
        raise ConfigError(f"no client secret: set {ENV_CLIENT_SECRET}")
    return ClientSettings(
        api_base_url=api,
        login_base_url=login,
        client_id=cid,
        client_secret=Secret(secret),
        rate_limit_per_minute=rate_limit,
        max_attempts=max_attempts,
        timeout=timeout or DEFAULT_TIMEOUT,
        max_connections=max_connections,
    )


def check_base_url(url: str) -> str:
    """The URL without a trailing slash, if it is https, or http on a loopback host.

    A URL carrying credentials (``https://user:secret@host``) or a query (``?access_token=...``) is
    refused without being echoed: the base URL is recorded in the journal and shown in messages, so it
    must never hold a secret. Credentials come from ``--client-id`` and ``GENESYS_CLIENT_SECRET`` only.
    """
    shown = _redacted(url)
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError):
        raise ConfigError(f"not a valid base URL: {shown!r}") from None
    if parsed.userinfo or "@" in parsed.netloc.decode("ascii", "replace"):
        raise ConfigError(
            "the base URL must not contain a user name or password (user:password@host); give the "
            "client id with --client-id and the secret in GENESYS_CLIENT_SECRET"
        )
    if parsed.query or parsed.fragment:
        raise ConfigError(
            f"the base URL must not have a query or fragment (?... or #...): use "
            f"{parsed.scheme}://{parsed.netloc.decode('ascii', 'replace')}{parsed.path.rstrip('/')}"
        )
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(f"the base URL must be http(s)://host[:port], not {shown!r}")
    if parsed.scheme == "http" and not _is_loopback(parsed.host):
        raise ConfigError(
            f"plain http is allowed only for loopback hosts (127.0.0.1, localhost, ::1), "
            f"not {parsed.host!r}: use https"
        )
    return str(parsed).rstrip("/")


# Whatever sits between "//" and the last "@" before the path: user info, to be hidden in messages.
_USERINFO_RE = re.compile(r"(?<=//)[^/?#]*@")


def _redacted(url: object) -> str:
    """``url`` for a message, with any user info (``user:secret@``) replaced by ``***@``."""
    return _USERINFO_RE.sub("***@", str(url))


def _region_domain(region: str | None) -> str:
    if region is None:
        raise ConfigError(f"no region: set {ENV_REGION} (e.g. mypurecloud.ie) or pass --region or --base-url")
    domain = region.strip().lower()
    if domain not in regions.REGION_DOMAINS:
        raise ConfigError(f"unknown region {region!r}; use one of: {', '.join(regions.REGION_DOMAINS)}")
    return domain


def _given(value: str | None) -> str | None:
    """Blank flags and variables count as not given (an exported but empty variable is a common slip)."""
    return value if value is not None and value.strip() else None


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
