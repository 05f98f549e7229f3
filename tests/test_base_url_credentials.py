"""Credentials never ride in a base URL, so they can never reach the journal or a message."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sandbox_support import sandbox_settings

from pipeline.cli import cli
from pipeline.errors import ConfigError
from pipeline.genesys.settings import check_base_url, settings_from
from pipeline.importing.job import ImportOptions, import_file
from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox

SECRET = "Hq3-url-SECRET-9d2e-never-stored"
ROWS = "Contact ID,Contact First Name,Contact Last Name,Account ID,Account Name\nC-1,Ann,Lee,A-1,Acme\n"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with run_sandbox(SandboxConfig(rate_limit=0)) as sandbox:
        yield sandbox


def _journal_bytes(journal: Path) -> bytes:
    """The journal database and any SQLite side files next to it."""
    return b"".join(p.read_bytes() for p in journal.parent.glob(journal.name + "*") if p.is_file())


@pytest.mark.parametrize(
    "url",
    [
        f"http://user:{SECRET}@127.0.0.1:8080",
        f"https://{SECRET}@api.mypurecloud.ie",
        f"https://:{SECRET}@api.mypurecloud.ie/",
        f"ftp://user:{SECRET}@example.com",
    ],
)
def test_base_url_with_user_info_is_refused_without_echoing_it(url: str) -> None:
    """A base URL carrying user:password@ is a configuration error whose message omits the secret."""
    with pytest.raises(ConfigError) as caught:
        check_base_url(url)
    assert SECRET not in str(caught.value)
    # Nothing chained either: a traceback of the parse error would quote the URL.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_base_url_with_a_query_is_refused_without_echoing_it() -> None:
    """A token passed as a query parameter is refused too, and not repeated in the message."""
    with pytest.raises(ConfigError) as caught:
        settings_from(
            region=None,
            base_url=f"https://api.mypurecloud.ie/?access_token={SECRET}",
            client_id="id",
            client_secret="s",
            env={},
        )
    assert SECRET not in str(caught.value)
    assert "https://api.mypurecloud.ie" in str(caught.value)


def test_import_with_credentials_in_the_url_exits_2_and_journals_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`import --base-url http://user:secret@host` exits 2; stderr and the journal never hold the secret."""
    monkeypatch.chdir(tmp_path)
    Path("in.csv").write_text(ROWS)
    journal = tmp_path / "j" / "journal.db"
    result = CliRunner().invoke(
        cli,
        ["import", "in.csv", "--journal", str(journal), "--base-url", f"http://user:{SECRET}@127.0.0.1:9"],
        env={"GENESYS_CLIENT_ID": "id", "GENESYS_CLIENT_SECRET": "other"},
    )
    assert result.exit_code == 2, result.output
    assert "user name or password" in result.stderr
    assert SECRET not in result.output + result.stderr
    if journal.exists():
        assert SECRET.encode() not in _journal_bytes(journal)


def test_journal_of_a_run_holds_no_credentials(sb: Sandbox, tmp_path: Path) -> None:
    """After a journaled import the database bytes hold neither the client secret nor the client id, and
    the recorded options carry only the API base URL (free of user info) besides the import options."""
    source = tmp_path / "in.csv"
    source.write_text(ROWS)
    journal = tmp_path / "j" / "journal.db"
    settings = sandbox_settings(sb)
    import_file(source, settings, ImportOptions(create_source=True), journal=journal)
    stored = _journal_bytes(journal)
    assert stored, "the journal was written"
    assert sb.client_secret.encode() not in stored
    assert sb.client_id.encode() not in stored
    with sqlite3.connect(journal) as db:
        (options,) = db.execute("SELECT options FROM runs").fetchone()
    recorded = json.loads(options)
    assert recorded["api"] == settings.api_base_url
    assert "@" not in recorded["api"]
    words = json.dumps(recorded).lower()
    assert not any(word in words for word in ("secret", "token", "password", "client_id"))
