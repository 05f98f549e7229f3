"""Config profiles: precedence (flags > GENESYS_* > profile > defaults), refusals, secret files, init."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.errors import ConfigError
from pipeline.profiles import Profile, read_secret_file, resolve_connection
from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox
from pipeline.sandbox.store import SOURCES

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
POSIX = os.name != "nt"
NO_ENV = {"GENESYS_REGION": "", "GENESYS_CLIENT_ID": "", "GENESYS_CLIENT_SECRET": ""}


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with run_sandbox(SandboxConfig(rate_limit=0)) as sandbox:
        yield sandbox


def _config(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def _profile(**values: object) -> Profile:
    return Profile("p", dict(values))


def test_flags_win_over_the_environment_which_wins_over_the_profile() -> None:
    """A flag beats GENESYS_*, GENESYS_* beats the profile, and the profile fills what is left."""
    profile = _profile(region="profile.example", client_id="profile-id")
    env = {"GENESYS_REGION": "env.example", "GENESYS_CLIENT_ID": ""}
    flagged = resolve_connection(
        region="flag.example", base_url=None, client_id="flag-id", env=env, profile=profile
    )
    assert (flagged.region, flagged.client_id) == ("flag.example", "flag-id")
    unflagged = resolve_connection(region=None, base_url=None, client_id=None, env=env, profile=profile)
    # The region is left to the environment (None: settings_from reads it); the client id: the profile's.
    assert (unflagged.region, unflagged.client_id) == (None, "profile-id")
    env_id = resolve_connection(
        region=None, base_url=None, client_id=None, env={"GENESYS_CLIENT_ID": "env-id"}, profile=profile
    )
    assert (env_id.region, env_id.client_id) == ("profile.example", None)  # None: the environment's id
    bare = resolve_connection(region=None, base_url=None, client_id=None, env={}, profile=None)
    assert (bare.region, bare.client_id, bare.client_secret) == (None, None, None)


def test_a_base_url_flag_replaces_the_profile_region() -> None:
    """--base-url with a profile that names a region does not send both to the client."""
    chosen = resolve_connection(
        region=None,
        base_url="http://127.0.0.1:1",
        client_id=None,
        env={},
        profile=_profile(region="x.example"),
    )
    assert chosen.region is None


def test_the_environment_secret_wins_over_the_secret_file(tmp_path: Path) -> None:
    """With GENESYS_CLIENT_SECRET set, the profile's secret file is not even read."""
    chosen = resolve_connection(
        region=None,
        base_url=None,
        client_id=None,
        env={"GENESYS_CLIENT_SECRET": "from-env"},
        profile=_profile(client_secret_file=str(tmp_path / "missing.secret")),
    )
    assert chosen.client_secret is None


@pytest.mark.skipif(not POSIX, reason="POSIX mode bits; Windows skips the check (documented)")
def test_a_group_readable_secret_file_is_refused_with_one_line(tmp_path: Path) -> None:
    """A secret file others can read is refused, naming the file and the chmod that fixes it."""
    secret = tmp_path / "prod.secret"
    secret.write_text("s3cret\n", encoding="utf-8")
    secret.chmod(0o640)
    with pytest.raises(ConfigError, match="chmod 600"):
        read_secret_file(secret)
    secret.chmod(0o600)
    assert read_secret_file(secret) == "s3cret"


def test_the_mode_check_is_skipped_where_there_are_no_mode_bits(tmp_path: Path) -> None:
    """On Windows (posix=False) a file's mode is not held against it."""
    secret = tmp_path / "prod.secret"
    secret.write_text("s3cret", encoding="utf-8")
    secret.chmod(0o644)
    assert read_secret_file(secret, posix=False) == "s3cret"


def test_an_unknown_profile_key_exits_2_naming_it(tmp_path: Path) -> None:
    """A misspelt key is named, with exit 2 and no traceback."""
    config = _config(tmp_path / "c.toml", '[profile.prod]\nregoin = "mypurecloud.ie"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "validate", str(SAMPLES / "contacts.csv")])
    assert result.exit_code == 2, result.output
    assert "'regoin'" in result.output
    assert "Traceback" not in result.output


def test_a_secret_in_the_config_file_exits_2(tmp_path: Path) -> None:
    """client_secret in the file is refused: secrets do not belong in the config file."""
    config = _config(tmp_path / "c.toml", '[profile.prod]\nclient_secret = "hunter2"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "--profile", "prod", "validate", "x.csv"])
    assert result.exit_code == 2, result.output
    assert "secrets do not belong in the config file" in result.output
    assert "hunter2" not in result.output


def test_an_unknown_profile_name_exits_2_listing_the_profiles(tmp_path: Path) -> None:
    """--profile naming no profile of the file lists those it has."""
    config = _config(tmp_path / "c.toml", "[profile.prod]\n[profile.test]\n")
    result = CliRunner().invoke(cli, ["--config", str(config), "--profile", "qa", "validate", "x.csv"])
    assert result.exit_code == 2, result.output
    assert "prod, test" in result.output


def test_profile_mapping_is_used_unless_a_flag_names_another(tmp_path: Path) -> None:
    """The profile's mapping (relative to the config file) applies; a --mapping flag wins over it."""
    (tmp_path / "dyn.toml").write_text((SAMPLES / "dynamics.mapping.toml").read_text(encoding="utf-8"))
    (tmp_path / "empty.toml").write_text("[columns]\n", encoding="utf-8")
    config = _config(tmp_path / "c.toml", '[profile.crm]\nmapping = "dyn.toml"\n')
    source = str(SAMPLES / "dynamics-export.csv")
    with_profile = CliRunner().invoke(cli, ["--config", str(config), "--profile", "crm", "validate", source])
    assert with_profile.exit_code == 0, with_profile.output
    assert "valid organizations         0" not in with_profile.output  # parentcustomerid is mapped
    flagged = CliRunner().invoke(
        cli,
        [
            "--config",
            str(config),
            "--profile",
            "crm",
            "validate",
            source,
            "--mapping",
            str(tmp_path / "empty.toml"),
        ],
    )
    assert flagged.exit_code == 0, flagged.output
    assert "valid organizations         0" in flagged.output
    assert "parentcustomerid" in flagged.output  # listed as ignored: the Dynamics mapping was not used


def test_profile_connection_and_source_reach_the_api(sb: Sandbox, tmp_path: Path) -> None:
    """Client id and secret file from the profile log in; its external source is the one the API stores."""
    secret = tmp_path / "sb.secret"
    secret.write_text(sb.client_secret + "\n", encoding="utf-8")
    secret.chmod(0o600)
    config = _config(
        tmp_path / "c.toml",
        f'[profile.sb]\nclient_id = "{sb.client_id}"\nclient_secret_file = "sb.secret"\n'
        'external_source = "From Profile"\ncontact_schema = "Demo contact fields"\nrate_limit = 3000\n',
    )
    result = CliRunner().invoke(
        cli,
        ["--config", str(config), "--profile", "sb", "import", str(SAMPLES / "contacts.csv"), "--base-url",
         sb.base_url, "--create-source", "--report", str(tmp_path / "rec.csv")],
        env=NO_ENV,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "From Profile" in {s["name"] for s in sb.store.all(SOURCES)}
    assert sb.store.count("contacts") == 234


def test_init_writes_a_mapping_that_validate_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """init on the Dynamics sample guesses its fields, marks guesses, and validate --mapping accepts it."""
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "dynamics-export.csv"
    source.write_bytes((SAMPLES / "dynamics-export.csv").read_bytes())
    created = CliRunner().invoke(cli, ["init", str(source)])
    assert created.exit_code == 0, created.output
    mapping = (tmp_path / "dynamics-export.mapping.toml").read_text(encoding="utf-8")
    assert '"contactid" = "contact.externalId"\n' in mapping
    assert '"emailaddress1" = "contact.workEmail"  # guess:' in mapping
    assert '# "statuscode" = ""' in mapping
    checked = CliRunner().invoke(
        cli, ["validate", str(source), "--mapping", str(tmp_path / "dynamics-export.mapping.toml")]
    )
    assert checked.exit_code == 0, checked.output
    assert "valid contacts             24" in checked.output


def test_init_refuses_to_overwrite_without_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second init exits 2 and keeps the file; --force writes it again; the starter config loads."""
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(cli, ["init"]).exit_code == 0
    config = tmp_path / "contacts-pipeline.toml"
    config.write_text(config.read_text(encoding="utf-8") + "# mine\n", encoding="utf-8")
    again = CliRunner().invoke(cli, ["init"])
    assert again.exit_code == 2
    assert "--force" in again.output
    assert config.read_text(encoding="utf-8").endswith("# mine\n")
    assert CliRunner().invoke(cli, ["init", "--force"]).exit_code == 0
    assert "# mine" not in config.read_text(encoding="utf-8")
    # Found in the working directory, and its one profile loads as written.
    loaded = CliRunner().invoke(cli, ["--profile", "prod", "validate", str(SAMPLES / "contacts.csv")])
    assert loaded.exit_code == 0, loaded.output
