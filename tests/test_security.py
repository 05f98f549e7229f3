"""Security checks as tests: secrets, tokens and personal data stay out of every output; transport is safe.

The commands run in-process with a distinctive client secret, at ``--log-level debug`` in both log formats,
against a sandbox that throttles, fails and revokes tokens so the error paths log too. Then every output is
searched: stdout, stderr, the reconciliation file, its summary, the journal database, the export and its
manifest, and the text of every exception.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import http.server
import json
import re
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import certifi
import click
import httpx
import pytest
from click.testing import CliRunner, Result

from pipeline.cli import cli
from pipeline.errors import ConfigError, PipelineError
from pipeline.genesys.client import GenesysClient
from pipeline.genesys.settings import settings_from
from pipeline.importing.job import ImportOptions, import_file
from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox
from pipeline.sandbox.auth import TokenIssuer

SECRET = "Zq7-distinctive-SECRET-4f1c9e-never-print"
CLIENT_ID = "security-suite-client"
# Personal data of one row, to be looked for in the logs (where it must be masked).
NAME, SURNAME = "Wilhelmina", "Quackenbush"
EMAIL = "wilhelmina.quackenbush@pii-example.org"
PHONE = "+442079460123"
HEADER = [
    "Contact ID",
    "Contact First Name",
    "Contact Last Name",
    "Contact Work Email",
    "Contact Cell Phone",
    "Account ID",
    "Account Name",
]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def issued(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every access token any sandbox hands out during the test, as the /oauth/token answers carry them."""
    tokens: list[str] = []
    original = TokenIssuer.issue

    def recording(self: TokenIssuer) -> dict[str, object]:
        answer = original(self)
        tokens.append(str(answer["access_token"]))
        return answer

    monkeypatch.setattr(TokenIssuer, "issue", recording)
    return tokens


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    config = SandboxConfig(
        client_id=CLIENT_ID,
        client_secret=SECRET,
        rate_limit=12,
        rate_window_s=1.0,
        fault_rate=0.3,
        seed=7,
    )
    with run_sandbox(config) as sandbox:
        yield sandbox


def _input(path: Path, rows: int = 60) -> Path:
    """A file whose first row holds the personal data looked for, plus rows the API or validation refuses."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerow(["C-0", NAME, SURNAME, EMAIL, PHONE, "A-0", "Quackenbush Holdings"])
        # Invalid values that quote personal data in their messages.
        writer.writerow(
            ["C-1", NAME, SURNAME, "wilhelmina.quackenbush@", PHONE, "A-0", "Quackenbush Holdings"]
        )
        writer.writerow(["C-2", NAME, SURNAME, EMAIL, "+44 20 79", "A-0", "Quackenbush Holdings"])
        for i in range(3, rows):
            writer.writerow(
                [f"C-{i}", f"First{i}", f"Last{i}", f"user{i}@example.com", "", f"A-{i % 7}", "Org"]
            )
    return path


@dataclass
class Outputs:
    """Everything the commands produced, gathered for searching."""

    texts: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)

    def add_result(self, name: str, result: Result) -> None:
        assert "Traceback" not in result.output, result.output
        self.texts[f"{name}: stdout"] = result.stdout
        self.texts[f"{name}: stderr"] = result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            self.texts[f"{name}: exception"] = repr(result.exception)

    def add_files(self, folder: Path) -> None:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                self.files[str(path.relative_to(folder))] = path.read_bytes()

    def containing(self, needle: str) -> list[str]:
        raw = needle.encode()
        found = [name for name, text in self.texts.items() if needle in text]
        return found + [name for name, data in self.files.items() if raw in data]


def _forbidden(tokens: list[str]) -> list[str]:
    """The secret in every form it could be written (plain, in a Basic header) and every issued token."""
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    return [SECRET, basic, *tokens]


def _run_everything(sb: Sandbox, tmp_path: Path, log_format: str) -> Outputs:
    """validate, import (through faults, a revoked token and refused rows), export, runs, a refused login."""
    runner = CliRunner()
    work = tmp_path / "work"
    work.mkdir()
    source = _input(work / "contacts.csv")
    env = {"GENESYS_CLIENT_SECRET": SECRET, "GENESYS_CLIENT_ID": CLIENT_ID, "GENESYS_REGION": ""}
    logs = ["--log-level", "debug", "--log-format", log_format]
    journal = ["--journal", str(work / "journal.db")]
    outputs = Outputs()

    result = runner.invoke(cli, [*logs, "validate", str(source), "--report", str(work / "validation.csv")])
    assert result.exit_code == 1, result.output
    outputs.add_result("validate", result)

    # A client budget keeps the limiter in the path whose logs are searched, without pacing to a crawl.
    connection = ["--base-url", sb.base_url, "--rate-limit", "3000"]
    imported = [*logs, "import", str(source), *connection, "--create-source", *journal]
    result = runner.invoke(cli, [*imported, "--report", str(work / "first" / "reconciliation.csv")], env=env)
    assert result.exit_code == 1, result.output
    outputs.add_result("import", result)

    sb.revoke_tokens()
    result = runner.invoke(cli, [*imported, "--full", "--report", str(work / "second" / "rec.csv")], env=env)
    assert result.exit_code == 1, result.output
    outputs.add_result("import again", result)

    result = runner.invoke(cli, [*logs, "runs", *journal], env=env)
    outputs.add_result("runs", result)

    sb.configure(fault_rate=0.0)
    export = [*logs, "export", *connection, "--out", str(work / "export.csv")]
    result = runner.invoke(cli, export, env=env)
    assert result.exit_code == 0, result.output
    outputs.add_result("export", result)

    wrong = {**env, "GENESYS_CLIENT_SECRET": SECRET + "-but-wrong"}
    result = runner.invoke(cli, [*imported, "--report", str(work / "refused.csv")], env=wrong)
    assert result.exit_code == 3, result.output
    outputs.add_result("refused login", result)

    outputs.add_files(work)
    return outputs


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_secret_and_tokens_appear_in_no_output_of_any_command(
    sb: Sandbox, issued: list[str], tmp_path: Path, log_format: str
) -> None:
    """Through validate, import, re-import, runs, export and a refused login, no output holds a credential."""
    outputs = _run_everything(sb, tmp_path, log_format)
    assert len(issued) >= 2, "tokens were issued (and one revoked and renewed)"
    assert any("journal.db" in name for name in outputs.files), "the journal was searched"
    assert "export.csv" in outputs.files
    assert any(name.endswith("reconciliation.summary.json") for name in outputs.files)
    assert any("DEBUG" in t or '"level": "debug"' in t for t in outputs.texts.values()), "debug logs ran"
    for needle in _forbidden(issued):
        assert outputs.containing(needle) == [], f"a credential leaked ({needle[:4]}...)"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_personal_data_is_masked_in_debug_logs(
    sb: Sandbox, issued: list[str], tmp_path: Path, log_format: str
) -> None:
    """At debug level, in both formats, stderr never shows a full email, phone or surname from the input."""
    outputs = _run_everything(sb, tmp_path, log_format)
    stderr = "\n".join(text for name, text in outputs.texts.items() if name.endswith("stderr"))
    assert stderr.strip(), "the commands logged something"
    for value in (EMAIL, PHONE, PHONE.removeprefix("+"), "2079460123", SURNAME, "wilhelmina.quackenbush@"):
        assert value not in stderr, f"{value[:3]}... reached the logs unmasked"


def test_exceptions_carry_no_credential_in_their_text_or_chain(
    sb: Sandbox, issued: list[str], tmp_path: Path
) -> None:
    """The errors a library caller catches say nothing secret, and neither do their causes."""
    source = _input(tmp_path / "contacts.csv", rows=12)
    options = ImportOptions(create_source=True)
    good = settings_from(region=None, base_url=sb.base_url, client_id=CLIENT_ID, client_secret=SECRET, env={})
    import_file(source, good, options)
    wrong = settings_from(
        region=None, base_url=sb.base_url, client_id=CLIENT_ID, client_secret=SECRET + "x", env={}
    )
    texts: list[str] = []
    for settings in (wrong, good):
        sb.revoke_tokens()
        try:
            import_file(source, settings, options)
        except PipelineError as err:
            chain: BaseException | None = err
            while chain is not None:
                texts += [str(chain), repr(chain), repr(vars(chain)), repr(chain.args)]
                chain = chain.__cause__ or chain.__context__
    assert texts, "the refused login raised"
    for needle in [*_forbidden(issued), SECRET + "x"]:
        assert not [t for t in texts if needle in t]


# -- transport -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com",
        "http://10.0.0.8:8080",
        "http://192.168.1.20",
        "http://0.0.0.0:8765",
        "http://127.0.0.1.nip.io",
        "http://localhost.example.com",
        "http://127.0.0.1@evil.example.com",
        "http://[::ffff:10.0.0.1]",
        "ftp://127.0.0.1",
    ],
)
def test_plain_http_is_refused_for_any_host_that_is_not_loopback(url: str) -> None:
    """`import --base-url` refuses anything but https, or http on a loopback host, with exit 2."""
    result = CliRunner().invoke(
        cli,
        ["import", str(ROOT / "samples" / "contacts.csv"), "--base-url", url],
        env={"GENESYS_CLIENT_ID": "x", "GENESYS_CLIENT_SECRET": SECRET, "GENESYS_REGION": ""},
    )
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert SECRET not in result.output
    with pytest.raises(ConfigError):
        settings_from(region=None, base_url=url, client_id="x", client_secret="y", env={})


@pytest.mark.parametrize("url", ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"])
def test_plain_http_is_accepted_on_loopback(url: str) -> None:
    """The sandbox's own http on 127.0.0.1, localhost or ::1 is allowed."""
    assert settings_from(region=None, base_url=url, client_id="x", client_secret="y", env={}).is_loopback


# Environment variables that turn verification off or weaken it in other tools; none may do so here.
INSECURE_ENV = {
    "PYTHONHTTPSVERIFY": "0",
    "CURL_CA_BUNDLE": "",
    "REQUESTS_CA_BUNDLE": "",
    # A CA bundle of one's own is legitimate (and still verified); it must not switch checking off.
    "SSL_CERT_FILE": certifi.where(),
    "HTTPX_VERIFY": "0",
    "GENESYS_VERIFY_SSL": "false",
    "GENESYS_INSECURE": "1",
    "GENESYS_TLS_VERIFY": "0",
    "NODE_TLS_REJECT_UNAUTHORIZED": "0",
    "HTTPS_PROXY": "http://127.0.0.1:9",
}


def _ssl_contexts(client: httpx.AsyncClient) -> list[ssl.SSLContext]:
    """The TLS context of the client's transport and of any proxy mount it made from the environment."""
    transports = [client._transport, *(t for t in client._mounts.values() if t is not None)]
    return [t._pool._ssl_context for t in transports]  # type: ignore[attr-defined]


@pytest.mark.parametrize("with_env", [False, True], ids=["clean-env", "insecure-looking-env"])
def test_tls_verification_is_on_for_https_and_no_environment_variable_turns_it_off(
    monkeypatch: pytest.MonkeyPatch, with_env: bool
) -> None:
    """For a Genesys region the client verifies certificates and host names, whatever the environment says."""
    if with_env:
        for name, value in INSECURE_ENV.items():
            monkeypatch.setenv(name, value)
    settings = settings_from(
        region="mypurecloud.ie", base_url=None, client_id="x", client_secret="y", env=dict(INSECURE_ENV)
    )
    assert settings.api_base_url.startswith("https://")

    async def contexts() -> list[ssl.SSLContext]:
        async with GenesysClient(settings) as client:
            return _ssl_contexts(client._http)  # type: ignore[arg-type]

    found = asyncio.run(contexts())
    assert found
    for context in found:
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname is True


def _all_options(command: click.Command) -> Iterator[str]:
    for param in command.params:
        yield from (*param.opts, *param.secondary_opts)
        if isinstance(param, click.Option) and param.envvar:
            yield from ([param.envvar] if isinstance(param.envvar, str) else param.envvar)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            yield from _all_options(sub)


def test_no_command_has_an_option_or_variable_that_turns_tls_verification_off() -> None:
    """No flag or environment variable of any command mentions insecure, verify, TLS or certificates."""
    suspicious = re.compile(r"insecure|verify|no-?ssl|tls|cert|skip-?check", re.IGNORECASE)
    assert [name for name in _all_options(cli) if suspicious.search(name)] == []


def test_the_code_never_disables_certificate_checks() -> None:
    """No module of the package builds an unverified TLS context or passes verify=False."""
    pattern = re.compile(
        r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False|_create_unverified_context"
    )
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "pipeline").rglob("*.py"))
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


@pytest.mark.parametrize("bundle", ["/dev/null", "/nonexistent/ca.pem"])
def test_a_broken_ca_bundle_variable_is_a_clear_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, bundle: str
) -> None:
    """SSL_CERT_FILE naming a missing or empty file stops `import` with exit 2 and one line, no traceback."""
    monkeypatch.setenv("SSL_CERT_FILE", bundle)
    result = CliRunner().invoke(
        cli,
        [
            "import",
            str(_input(tmp_path / "contacts.csv", rows=5)),
            "--region",
            "mypurecloud.ie",
            "--report",
            str(tmp_path / "rec.csv"),
            "--journal",
            str(tmp_path / "journal.db"),
        ],
        env={"GENESYS_CLIENT_ID": "x", "GENESYS_CLIENT_SECRET": SECRET, "SSL_CERT_FILE": bundle},
    )
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "SSL_CERT_FILE" in result.stderr.strip().splitlines()[-1]
    assert SECRET not in result.output


@pytest.fixture
def self_signed_https(tmp_path: Path) -> Iterator[str]:
    """An https server on 127.0.0.1 with a self-signed certificate that would hand out a token."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hits.append(self.path)
            body = json.dumps({"access_token": "tls-suite-token-123456", "expires_in": 3600}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert hits == [], "no request ever got through the TLS handshake"


def test_a_certificate_that_does_not_verify_stops_the_run_with_exit_3_and_sends_nothing(
    self_signed_https: str, tmp_path: Path
) -> None:
    """A self-signed server is refused at once (no retries, no credentials sent), naming the certificate."""
    result = CliRunner().invoke(
        cli,
        [
            "import",
            str(_input(tmp_path / "contacts.csv", rows=5)),
            "--base-url",
            self_signed_https,
            "--report",
            str(tmp_path / "rec.csv"),
            "--journal",
            str(tmp_path / "journal.db"),
        ],
        env={"GENESYS_CLIENT_ID": "x", "GENESYS_CLIENT_SECRET": SECRET, "GENESYS_REGION": ""},
    )
    assert result.exit_code == 3, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert "TLS certificate of 127.0.0.1 was refused" in last
    assert SECRET not in result.output
