"""The import job end to end: the real client over real HTTP against the sandbox on 127.0.0.1."""

from __future__ import annotations

import csv
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from sandbox_support import sandbox_settings

from pipeline.genesys.settings import ClientSettings
from pipeline.importing import push_file as import_push_module
from pipeline.importing.job import ImportOptions, import_file
from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
OPTIONS = ImportOptions(create_source=True, contact_schema="Demo contact fields")
HEADER = [
    "Contact ID",
    "Contact First Name",
    "Contact Last Name",
    "Contact Work Email",
    "Account ID",
    "Account Name",
]


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with run_sandbox(SandboxConfig(rate_limit=0)) as sandbox:
        yield sandbox


def _settings(sb: Sandbox, *, rate_limit: int = 0, **changes: object) -> ClientSettings:
    return sandbox_settings(sb, rate_limit=rate_limit, **changes)


def _write(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _generated(path: Path, contacts: int, per_account: int = 5) -> Path:
    rows = [
        [
            f"C-{i}",
            f"First{i}",
            f"Last{i}",
            f"user{i}@example.com",
            f"A-{i // per_account}",
            f"Org {i // per_account}",
        ]
        for i in range(contacts)
    ]
    return _write(path, rows)


def _external_ids(records: list[dict]) -> Counter[str]:
    return Counter(x["value"] for r in records for x in r.get("externalIds") or ())


def _assert_complete(report: pl.DataFrame, rows: int) -> None:
    assert report.height == rows
    assert report["source_row"].to_list() == list(range(2, rows + 2))
    has_status = report.select(
        (pl.col("organization_status").is_not_null() | pl.col("contact_status").is_not_null()).all()
    ).item()
    assert has_status


def test_samples_import_creates_every_record_linked_to_its_organization(sb: Sandbox, tmp_path: Path) -> None:
    """Every sample row is created and each contact points at the organization of its Account ID."""
    result = import_file(SAMPLES / "contacts.csv", _settings(sb), OPTIONS, report_path=tmp_path / "r.csv")
    report = result.report
    _assert_complete(report, 234)
    assert set(report["contact_status"]) == {"created"}
    assert set(report["organization_status"]) == {"created"}
    assert sb.store.count("contacts") == 234
    orgs = {o["id"]: o for o in sb.store.all("organizations")}
    contacts = {c["id"]: c for c in sb.store.all("contacts")}
    for row in report.iter_rows(named=True):
        contact = contacts[row["genesys_contact_id"]]
        assert contact["externalIds"][0]["value"] == row["Contact ID"]
        org = orgs[contact["externalOrganization"]["id"]]
        assert org["externalIds"][0]["value"] == row["Account ID"]
        assert row["genesys_organization_id"] == org["id"]
    assert (tmp_path / "r.summary.json").exists()
    assert report["run_id"].to_list() == [None] * 234  # no journal given, so no run
    assert set(report["dry_run"]) == {"false"}


def test_second_import_updates_and_creates_nothing(sb: Sandbox, tmp_path: Path) -> None:
    """Importing the same file again updates every record and creates none."""
    import_file(SAMPLES / "contacts.csv", _settings(sb), OPTIONS)
    counts = (sb.store.count("contacts"), sb.store.count("organizations"))
    again = import_file(SAMPLES / "contacts.csv", _settings(sb), OPTIONS)
    assert set(again.report["contact_status"]) == {"updated"}
    assert set(again.report["organization_status"]) == {"updated"}
    assert (sb.store.count("contacts"), sb.store.count("organizations")) == counts


def test_dry_run_changes_nothing_and_reports_what_would_happen(sb: Sandbox, tmp_path: Path) -> None:
    """A dry run stores nothing and reports which records would be created and which updated."""
    path = _generated(tmp_path / "in.csv", 30)
    import_file(_generated(tmp_path / "first.csv", 10), _settings(sb), OPTIONS)
    before = (sb.store.count("contacts"), sb.store.count("organizations"))
    result = import_file(path, _settings(sb), replace(OPTIONS, dry_run=True))
    assert (sb.store.count("contacts"), sb.store.count("organizations")) == before
    statuses = result.report["contact_status"].to_list()
    assert statuses == ["updated"] * 10 + ["created"] * 20
    assert result.summary.dry_run
    assert result.summary.requests_sent > 0


def test_dry_run_with_a_new_source_creates_not_even_the_source(sb: Sandbox, tmp_path: Path) -> None:
    """Against a source that does not exist yet, a dry run reports everything as new and writes nothing."""
    options = replace(OPTIONS, dry_run=True, external_source="brand-new-crm")
    result = import_file(_generated(tmp_path / "in.csv", 12), _settings(sb), options)
    assert set(result.report["contact_status"]) == {"created"}
    assert sb.store.count("contacts") == 0
    assert all(s["name"] != "brand-new-crm" for s in sb.store.all("externalsources"))
    assert any("does not exist yet" in w for w in result.warnings)


def test_api_rejections_fail_only_their_records(sb: Sandbox, tmp_path: Path) -> None:
    """A contact the API refuses fails alone; its batch-mates are created."""
    header = [*HEADER, "custom:preferred_channel_enum"]
    rows = [[f"C-{i}", "F", "L", f"u{i}@example.com", "", "", "email"] for i in range(12)]
    rows[4][-1] = "carrier-pigeon"
    result = import_file(_write(tmp_path / "in.csv", rows, header), _settings(sb), OPTIONS)
    statuses = result.report["contact_status"].to_list()
    assert statuses.count("failed") == 1
    assert statuses[4] == "failed"
    assert result.report["error_stage"][4] == "contact"
    assert sb.store.count("contacts") == 11


def test_a_failing_organization_skips_its_contacts(sb: Sandbox, tmp_path: Path) -> None:
    """Contacts of an organization the API refused are skipped with the organization's error."""
    header = [*HEADER, "account custom:segment_enum"]
    rows = [
        ["C-1", "F", "L", "a@example.com", "A-1", "Good Org", "smb"],
        ["C-2", "F", "L", "b@example.com", "A-2", "Bad Org", "gigantic"],
        ["C-3", "F", "L", "c@example.com", "A-2", "Bad Org", "gigantic"],
    ]
    options = replace(OPTIONS, organization_schema="Demo organization fields")
    result = import_file(_write(tmp_path / "in.csv", rows, header), _settings(sb), options)
    report = result.report
    assert report["organization_status"].to_list() == ["created", "failed", "failed"]
    assert report["contact_status"].to_list() == ["created", "skipped", "skipped"]
    assert report["error_stage"].to_list()[1:] == ["organization", "organization"]
    assert sb.store.count("contacts") == 1
    assert not result.all_succeeded


def test_429_storm_ends_with_every_row_created_once(sb: Sandbox, tmp_path: Path) -> None:
    """With a server budget far below the client's, 429s are waited out and nothing is lost or doubled."""
    sb.configure(rate_limit=8, rate_window_s=1.0)
    path = _generated(tmp_path / "in.csv", 200)
    result = import_file(path, _settings(sb), replace(OPTIONS, concurrency=6))
    _assert_complete(result.report, 200)
    assert set(result.report["contact_status"]) == {"created"}
    assert result.summary.throttled > 0
    assert max(_external_ids(sb.store.all("contacts")).values()) == 1
    assert sb.store.count("contacts") == 200


def test_faults_and_dropped_connections_leave_no_duplicates(sb: Sandbox, tmp_path: Path) -> None:
    """5xx, retryable entity errors and writes dropped after being applied end in one record per key."""
    sb.configure(fault_rate=0.3)
    path = _generated(tmp_path / "in.csv", 300, per_account=3)
    result = import_file(path, _settings(sb, max_attempts=8), replace(OPTIONS, concurrency=4))
    _assert_complete(result.report, 300)
    # A write applied before its connection dropped is found again by the replay: "updated" is honest.
    assert set(result.report["contact_status"]) <= {"created", "updated"}
    assert result.summary.retries > 0
    assert sb.store.count("contacts") == 300
    assert sb.store.count("organizations") == 100
    assert max(_external_ids(sb.store.all("contacts")).values()) == 1
    assert max(_external_ids(sb.store.all("organizations")).values()) == 1


def test_token_revoked_mid_run_is_renewed_once(sb: Sandbox, tmp_path: Path) -> None:
    """Tokens revoked while the run is going cost a refresh, not the run."""
    sb.configure(latency_ms=20)
    path = _generated(tmp_path / "in.csv", 200)
    timer = threading.Timer(0.3, sb.revoke_tokens)
    timer.start()
    try:
        result = import_file(path, _settings(sb), replace(OPTIONS, concurrency=2))
    finally:
        timer.cancel()
    assert set(result.report["contact_status"]) == {"created"}
    assert sb.store.count("contacts") == 200


def test_only_failed_reruns_just_the_rows_that_did_not_succeed(sb: Sandbox, tmp_path: Path) -> None:
    """Feeding the reconciliation file back with --only-failed re-sends only its failed rows."""
    header = [*HEADER, "custom:preferred_channel_enum"]
    rows = [[f"C-{i}", "F", "L", f"u{i}@example.com", "", "", "email"] for i in range(5)]
    rows[2][-1] = "carrier-pigeon"
    first = import_file(
        _write(tmp_path / "in.csv", rows, header), _settings(sb), OPTIONS, report_path=tmp_path / "r1.csv"
    )
    assert first.report["contact_status"].to_list().count("failed") == 1

    # The user fixes the failed row in the reconciliation file and feeds it back.
    text = (tmp_path / "r1.csv").read_text(encoding="utf-8").replace("carrier-pigeon", "sms")
    (tmp_path / "r1.csv").write_text(text, encoding="utf-8")
    second = import_file(tmp_path / "r1.csv", _settings(sb), OPTIONS, only_failed=True)
    statuses = second.report["contact_status"].to_list()
    assert statuses == ["created", "created", "created", "created", "created"]
    assert second.summary.contacts == {"created": 1}
    assert sb.store.count("contacts") == 5


def test_plan_is_streamed_in_chunks_without_losing_or_mislinking_rows(
    sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With tiny plan chunks, every row still gets its outcome and every contact its organization."""
    monkeypatch.setattr(import_push_module, "PLAN_CHUNK", 7)
    path = _generated(tmp_path / "in.csv", 103, per_account=4)
    result = import_file(path, _settings(sb), OPTIONS)
    _assert_complete(result.report, 103)
    assert set(result.report["contact_status"]) == {"created"}
    orgs = {o["id"]: o["externalIds"][0]["value"] for o in sb.store.all("organizations")}
    for contact in sb.store.all("contacts"):
        key = int(contact["externalIds"][0]["value"].removeprefix("C-"))
        assert orgs[contact["externalOrganization"]["id"]] == f"A-{key // 4}"


def test_contacts_naming_only_an_account_id_link_to_the_account_wherever_it_is(
    sb: Sandbox, tmp_path: Path
) -> None:
    """An Account ID without a name links to the row that defines it, or to the account already in
    Genesys; one found nowhere skips its contact with a message saying so."""
    import_file(
        _write(tmp_path / "accounts.csv", [["", "", "", "", "A-OLD", "Old Account"]]), _settings(sb), OPTIONS
    )
    rows = [
        ["C-1", "F", "L", "a@example.com", "A-NEW", "New Account"],
        ["C-2", "F", "L", "b@example.com", "A-NEW", ""],
        ["C-3", "F", "L", "c@example.com", "A-OLD", ""],
        ["C-4", "F", "L", "d@example.com", "A-NOWHERE", ""],
    ]
    result = import_file(_write(tmp_path / "in.csv", rows), _settings(sb), OPTIONS)
    report = result.report
    assert report["contact_status"].to_list() == ["created", "created", "created", "skipped"]
    assert report["error_code"][3] == "organization.not_found"
    orgs = {o["externalIds"][0]["value"]: o["id"] for o in sb.store.all("organizations")}
    links = {
        c["externalIds"][0]["value"]: c.get("externalOrganization", {}).get("id")
        for c in sb.store.all("contacts")
    }
    assert links == {"C-1": orgs["A-NEW"], "C-2": orgs["A-NEW"], "C-3": orgs["A-OLD"]}


def test_contacts_sharing_an_email_and_phone_are_all_created(sb: Sandbox, tmp_path: Path) -> None:
    """The sample family sharing an email and a mobile: both contacts are created and stored with
    both values, exactly one of them claims each, and the warning says so without claiming failure."""
    result = import_file(
        SAMPLES / "contacts-with-problems.csv", _settings(sb), OPTIONS, report_path=tmp_path / "r.csv"
    )
    family = result.report.filter(pl.col("Contact ID").is_in(["C-900024", "C-900025"]))
    assert family["contact_status"].to_list() == ["created", "created"]
    stored = [c for c in sb.store.all("contacts") if c["externalIds"][0]["value"] in ("C-900024", "C-900025")]
    assert [c["personalEmail"] for c in stored] == ["patel.family@example.com"] * 2
    assert [c["cellPhone"]["e164"] for c in stored] == ["+447700900024"] * 2
    claims = Counter((i["type"], i["value"]) for c in stored for i in c["identifiers"])
    assert claims[("Email", "patel.family@example.com")] == 1
    assert claims[("Phone", "+447700900024")] == 1
    shared = [w for w in result.warnings if "on 2 contacts (C-900024, C-900025)" in w]
    assert len(shared) == 2
    assert all("refused" not in w and "all are imported" in w for w in shared)
