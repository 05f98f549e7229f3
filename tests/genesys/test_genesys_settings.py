"""Client settings from flags and environment, and the masked Secret type."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.genesys import REGION_DOMAINS, ClientSettings, Secret, settings_from

SECRET = "flag-secret-QPZM"
ENV = {
    "GENESYS_REGION": "mypurecloud.ie",
    "GENESYS_CLIENT_ID": "env-id",
    "GENESYS_CLIENT_SECRET": "env-secret",
}


def build(env: dict[str, str] | None = None, **flags: str | None) -> ClientSettings:
    args: dict[str, str | None] = {"region": None, "base_url": None, "client_id": None, "client_secret": None}
    args.update(flags)
    return settings_from(env=ENV if env is None else env, **args)  # type: ignore[arg-type]


def test_environment_region_gives_api_and_login_hosts() -> None:
    """GENESYS_REGION names a domain; the API and login hosts are derived from it."""
    s = build()
    assert (s.api_base_url, s.login_base_url) == (
        "https://api.mypurecloud.ie",
        "https://login.mypurecloud.ie",
    )
    assert (s.client_id, s.client_secret.reveal()) == ("env-id", "env-secret")


def test_flags_override_environment() -> None:
    """Region, client id and secret given as flags win over the environment."""
    s = build(region="usw2.pure.cloud", client_id="flag-id", client_secret=SECRET)
    assert s.api_base_url == "https://api.usw2.pure.cloud"
    assert (s.client_id, s.client_secret.reveal()) == ("flag-id", SECRET)


def test_region_is_matched_case_insensitively() -> None:
    """A region typed in capitals still names the same domain."""
    assert build(region=" MyPureCloud.DE ").login_base_url == "https://login.mypurecloud.de"


def test_unknown_region_lists_known_domains() -> None:
    """An unknown region is a ConfigError that shows the valid domains."""
    with pytest.raises(ConfigError, match="unknown region") as info:
        build(region="eu-west-1")
    assert all(domain in str(info.value) for domain in REGION_DOMAINS)


def test_missing_region_names_the_variable() -> None:
    """Without a region or base URL the error says to set GENESYS_REGION."""
    with pytest.raises(ConfigError, match="GENESYS_REGION"):
        build(env={"GENESYS_CLIENT_ID": "a", "GENESYS_CLIENT_SECRET": "b"})


def test_base_url_sets_both_hosts() -> None:
    """A sandbox base URL serves both the API and the login endpoint; a trailing slash is dropped."""
    s = build(base_url="http://127.0.0.1:8765/")
    assert s.api_base_url == s.login_base_url == "http://127.0.0.1:8765"


def test_region_and_base_url_together_are_rejected() -> None:
    """Giving both a region and a base URL is ambiguous and refused."""
    with pytest.raises(ConfigError, match="either"):
        build(region="mypurecloud.ie", base_url="https://gc.example.com")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:1", "http://127.9.9.9", "http://localhost:80", "http://[::1]:9"]
)
def test_plain_http_is_allowed_for_loopback_hosts(url: str) -> None:
    """http:// is accepted for 127.0.0.0/8, localhost and ::1."""
    assert build(base_url=url).is_loopback


@pytest.mark.parametrize(
    "url", ["http://example.com", "http://10.0.0.1:8080", "http://127.0.0.1.example.com"]
)
def test_plain_http_is_refused_for_other_hosts(url: str) -> None:
    """http:// to anything but loopback would send credentials in clear text, so it is refused."""
    with pytest.raises(ConfigError, match="only for loopback"):
        build(base_url=url)


def test_https_base_url_is_accepted_anywhere() -> None:
    """An https base URL may point at any host."""
    assert build(base_url="https://gc.example.com").api_base_url == "https://gc.example.com"


@pytest.mark.parametrize("url", ["ftp://127.0.0.1", "127.0.0.1:8080", "https://"])
def test_malformed_base_url_is_refused(url: str) -> None:
    """A base URL without an http(s) scheme and host is a ConfigError."""
    with pytest.raises(ConfigError):
        build(base_url=url)


def test_missing_client_id_names_the_variable() -> None:
    """A missing client id is reported with the variable to set."""
    with pytest.raises(ConfigError, match="GENESYS_CLIENT_ID"):
        build(env={"GENESYS_REGION": "mypurecloud.ie", "GENESYS_CLIENT_SECRET": SECRET})


def test_missing_secret_names_the_variable() -> None:
    """A missing secret is reported with the variable to set."""
    with pytest.raises(ConfigError, match="GENESYS_CLIENT_SECRET"):
        build(env={"GENESYS_REGION": "mypurecloud.ie", "GENESYS_CLIENT_ID": "id"})


def test_blank_environment_values_count_as_missing() -> None:
    """An exported but empty secret variable is treated as not set."""
    with pytest.raises(ConfigError, match="GENESYS_CLIENT_SECRET"):
        build(env={**ENV, "GENESYS_CLIENT_SECRET": "  "})


def test_negative_rate_limit_is_refused() -> None:
    """The rate limit is 0 (no client limit) or positive."""
    with pytest.raises(ConfigError, match="rate limit"):
        settings_from(region=None, base_url=None, client_id=None, client_secret=None, rate_limit=-1, env=ENV)


def test_settings_repr_masks_the_secret() -> None:
    """The settings' repr, as printed in tracebacks and debuggers, never shows the secret."""
    s = build(client_secret=SECRET)
    assert SECRET not in repr(s)
    assert SECRET not in str(s)
    assert "***" in repr(s)


def test_secret_is_masked_except_through_reveal() -> None:
    """str, repr and f-strings show *** while reveal() returns the value."""
    secret = Secret(SECRET)
    assert (str(secret), f"{secret}", repr(secret)) == ("***", "***", "Secret('***')")
    assert secret.reveal() == SECRET
    assert secret == Secret(SECRET)
    assert secret != Secret("other")
