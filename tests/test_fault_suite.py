"""The fault suite: imports of a few thousand rows through every fault the sandbox can throw at once.

429 storms (the server's budget below the client's), 5xx answers, retryable per-entity errors, writes
dropped after being applied, latency spikes and tokens revoked mid-run, all seeded. Whatever happens, every
input row must come back exactly once in the reconciliation file with a final status for each of its parts,
the sandbox must hold exactly one record per key, and the summary file must agree with the file.
"""

from __future__ import annotations

import csv
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sandbox_support import sandbox_settings

from pipeline.errors import ApiUnavailableError, TransientApiError
from pipeline.genesys.client import GenesysClient
from pipeline.genesys.settings import ClientSettings
from pipeline.importing.job import ImportOptions, Progress, import_file
from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox

SEED = 20240607
ROWS = 1_500
CONTACTS_PER_ACCOUNT = 5
# One-second windows keep the suite fast; the server allows fewer requests than the client sends: a storm.
WINDOW_S = 1.0
SERVER_BUDGET = 40
CLIENT_BUDGET = 60
FINAL = ("created", "updated")
OPTIONS = ImportOptions(create_source=True, concurrency=6)
FIRST = ("Ann", "Bob", "Chloé", "Dmitri", "Eve", "François", "Grace", "Hiro", "Ines", "Jürgen")
LAST = ("Lee", "Ray", "Ng", "O'Brien", "Müller", "Søndergaard", "Tanaka", "Verma", "Wójcik", "Zhou")
HEADER = [
    "Contact ID",
    "Contact First Name",
    "Contact Last Name",
    "Contact Work Email",
    "Contact Cell Phone",
    "Account ID",
    "Account Name",
    "Account City",
]


def _generate(path: Path, rows: int) -> Path:
    """A seeded file of ``rows`` contacts, ``CONTACTS_PER_ACCOUNT`` per account."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(rows):
            first, last = FIRST[i % len(FIRST)], LAST[(i * 7 + SEED) % len(LAST)]
            account = i // CONTACTS_PER_ACCOUNT
            writer.writerow(
                [
                    f"C-{i:05d}",
                    first,
                    last,
                    f"{first.lower()}.{i}@example.com",
                    f"+44 7700 9{i:05d}",
                    f"A-{account:04d}",
                    f"Account {account} Ltd",
                    ("Leeds", "Lyon", "Osaka")[account % 3],
                ]
            )
    return path


def _settings(sb: Sandbox, **changes: object) -> ClientSettings:
    return sandbox_settings(
        sb,
        **{
            "rate_limit": CLIENT_BUDGET,
            "rate_window_s": WINDOW_S,
            "backoff_base_s": 0.02,
            "backoff_max_s": 0.5,
            **changes,
        },
    )


class _Weather:
    """A background thread that alternates calm and latency spikes.

    It revokes no tokens: revoking on a timer can refuse the fresh token a request fetched after a 401
    while it is still in flight (on a loaded machine), which the client rightly treats as bad credentials.
    Tokens are revoked by progress instead (:func:`_revoke_at`).
    """

    def __init__(self, sb: Sandbox, *, period_s: float = 0.4) -> None:
        self._sb = sb
        self._period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-weather", daemon=True)

    def _run(self) -> None:
        tick = 0
        while not self._stop.wait(self._period_s):
            tick += 1
            spike = tick % 2 == 1
            self._sb.configure(latency_ms=250 if spike else 2, latency_jitter_ms=150 if spike else 5)

    def __enter__(self) -> _Weather:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _revoke_at(sb: Sandbox, total: int, fractions: tuple[float, ...] = (1 / 3, 2 / 3)) -> Progress:
    """Progress that revokes every token once at each fraction of the contacts done (not left to timing).

    A third of the contacts lies between two revocations, so no request is still in flight with the
    token it fetched after the first when the second comes.
    """
    progress = Progress()
    pending = sorted(int(total * f) for f in fractions)

    def listener(p: Progress) -> None:
        if pending and p.contacts_done >= pending[0]:
            while pending and p.contacts_done >= pending[0]:
                pending.pop(0)
            sb.revoke_tokens()

    progress.listeners.append(listener)
    return progress


@pytest.fixture
def stormy() -> Iterator[Sandbox]:
    config = SandboxConfig(
        rate_limit=SERVER_BUDGET,
        rate_window_s=WINDOW_S,
        fault_rate=0.3,  # about 10 % each of 5xx, retryable entity errors and drops after a write
        seed=SEED,
        latency_ms=2,
        latency_jitter_ms=5,
    )
    with run_sandbox(config) as sb:
        yield sb


def _external_ids(sb: Sandbox, kind: str) -> Counter[str]:
    return Counter(x["value"] for r in sb.store.all(kind) for x in r.get("externalIds") or ())


def _assert_every_row_once_with_final_statuses(
    report: pl.DataFrame, rows: int, allowed: tuple[str, ...]
) -> None:
    assert report.height == rows
    assert report["source_row"].cast(pl.Int64).to_list() == list(range(2, rows + 2)), (
        "each row once, in order"
    )
    assert report["Contact ID"].n_unique() == rows
    for part in ("organization_status", "contact_status"):
        statuses = set(report[part].to_list())
        unexpected = (
            report.filter(~pl.col(part).is_in(allowed)).select("error_code", "error_message").unique()
        )
        assert statuses <= set(allowed), f"{part}: {statuses}; {unexpected.rows()[:3]}"


def _assert_one_record_per_key(sb: Sandbox, contacts: int, organizations: int) -> None:
    """Distinct ExternalIds equal stored records: no lost write and no duplicate."""
    contact_ids, organization_ids = _external_ids(sb, "contacts"), _external_ids(sb, "organizations")
    assert sb.store.count("contacts") == len(contact_ids) == contacts
    assert sb.store.count("organizations") == len(organization_ids) == organizations
    assert max(contact_ids.values()) == 1
    assert max(organization_ids.values()) == 1


def _assert_links_match_the_report(sb: Sandbox, report: pl.DataFrame) -> None:
    """Each stored contact is the one the report names, linked to the organization of its Account ID."""
    contacts = {c["id"]: c for c in sb.store.all("contacts")}
    organizations = {o["id"]: o for o in sb.store.all("organizations")}
    for row in report.filter(pl.col("contact_status").is_in(FINAL)).iter_rows(named=True):
        contact = contacts[row["genesys_contact_id"]]
        assert contact["externalIds"][0]["value"] == row["Contact ID"]
        organization = organizations[contact["externalOrganization"]["id"]]
        assert organization["externalIds"][0]["value"] == row["Account ID"]
        assert organization["id"] == row["genesys_organization_id"]


def test_an_import_through_every_fault_at_once_loses_no_row_and_duplicates_no_record(
    stormy: Sandbox, tmp_path: Path
) -> None:
    """429 storms, 5xx, entity errors, dropped writes, latency spikes, revoked tokens: each row lands once."""
    path = _generate(tmp_path / "contacts.csv", ROWS)
    report_path = tmp_path / "out" / "reconciliation.csv"
    with _Weather(stormy):
        result = import_file(
            path,
            _settings(stormy, max_attempts=10),
            OPTIONS,
            report_path=report_path,
            progress=_revoke_at(stormy, ROWS),
            journal=tmp_path / "journal.db",
        )
    organizations = ROWS // CONTACTS_PER_ACCOUNT

    written = pl.read_csv(report_path, infer_schema=False)
    _assert_every_row_once_with_final_statuses(written, ROWS, FINAL)
    assert written["genesys_contact_id"].null_count() == 0
    assert written["genesys_organization_id"].null_count() == 0
    _assert_one_record_per_key(stormy, ROWS, organizations)
    _assert_links_match_the_report(stormy, written)

    summary = json.loads((report_path.parent / "reconciliation.summary.json").read_text(encoding="utf-8"))
    assert summary["rows"] == {
        "total": ROWS,
        "succeeded": ROWS,
        "not_succeeded": 0,
        "organization_status": result.summary.organization_rows,
        "contact_status": result.summary.contact_rows,
    }
    assert sum(summary["records"]["contacts"].values()) == ROWS
    assert sum(summary["records"]["organizations"].values()) == organizations
    assert summary["throttled_429"] > 0
    assert summary["request_retries"] > 0
    assert summary["entity_retries"] > 0

    stats = stormy.stats
    assert stats.rate_limited > 0, "the storm happened"
    assert stats.unauthorized > 0, "revoked tokens were met and renewed"
    assert set(stats.faults) == {"server_error", "entity_errors", "drop_after_write"}


def test_retries_running_out_leave_failed_rows_that_a_rerun_of_the_report_completes(tmp_path: Path) -> None:
    """Faults outlasting the retries leave `failed` rows; `--only-failed` then finishes them, once each."""
    rows = 600
    path = _generate(tmp_path / "contacts.csv", rows)
    first_report = tmp_path / "first" / "reconciliation.csv"
    # No rate limit here: the storm test covers 429s, and pacing would only make this one slow.
    config = SandboxConfig(
        rate_limit=0, fault_rate=0.5, fault_kinds=("server_error", "drop_after_write"), seed=SEED
    )
    with run_sandbox(config) as sb:
        first = import_file(
            path, _settings(sb, max_attempts=2, rate_limit=0), OPTIONS, report_path=first_report
        )
        report = pl.read_csv(first_report, infer_schema=False)
        _assert_every_row_once_with_final_statuses(report, rows, (*FINAL, "failed", "unknown", "skipped"))
        assert not first.all_succeeded, "the fault rate outlasts two attempts somewhere"
        _assert_report_tells_what_was_stored(sb, report)
        # A contact is skipped exactly when its organization failed (or its fate is unknown).
        skipped = report.filter(pl.col("contact_status") == "skipped")
        assert set(skipped["organization_status"].to_list()) <= {"failed", "unknown"}
        failed = report.filter(
            ~pl.col("contact_status").is_in(FINAL) | ~pl.col("organization_status").is_in(FINAL)
        )
        assert failed["error_message"].null_count() == 0, "every row that did not succeed says why"
        # Nothing failed is half-stored twice: whatever is stored is stored once.
        assert max(_external_ids(sb, "contacts").values(), default=1) == 1
        assert max(_external_ids(sb, "organizations").values(), default=1) == 1

        sb.configure(fault_rate=0.0)
        second_report = tmp_path / "second" / "reconciliation.csv"
        second = import_file(
            first_report, _settings(sb, rate_limit=0), OPTIONS, report_path=second_report, only_failed=True
        )
        assert second.all_succeeded
        final = pl.read_csv(second_report, infer_schema=False)
        _assert_every_row_once_with_final_statuses(final, rows, FINAL)
        _assert_one_record_per_key(sb, rows, rows // CONTACTS_PER_ACCOUNT)
        _assert_links_match_the_report(sb, final)


ORGANIZATION_ENRICH = "POST /api/v2/externalcontacts/bulk/organizations/enrich"


def _stored_ids(sb: Sandbox, kind: str) -> dict[str, str]:
    """ExternalId -> Genesys id of what the sandbox really stored."""
    return {x["value"]: r["id"] for r in sb.store.all(kind) for x in r.get("externalIds") or ()}


def _assert_report_tells_what_was_stored(sb: Sandbox, report: pl.DataFrame) -> None:
    """Every part reported written is stored under the reported id; every part reported failed is not."""
    for part, kind, key in (
        ("organization", "organizations", "Account ID"),
        ("contact", "contacts", "Contact ID"),
    ):
        stored = _stored_ids(sb, kind)
        for row in report.iter_rows(named=True):
            status, key_value = row[f"{part}_status"], row[key]
            if status in FINAL:
                reported_id = row[f"genesys_{part}_id"]
                assert stored.get(key_value) == reported_id, f"{part} {key_value} reported {status}"
            elif status in ("failed", "skipped"):
                assert key_value not in stored, f"{part} {key_value} reported {status} but is stored"


@pytest.mark.parametrize("rate", [0.5, 1.0])
def test_writes_applied_before_a_dropped_answer_are_reported_as_stored(rate: float, tmp_path: Path) -> None:
    """With answers dropped after the write, the report matches what the sandbox stored, row by row."""
    rows = 60
    path = _generate(tmp_path / "contacts.csv", rows)
    report_path = tmp_path / "out" / "reconciliation.csv"
    config = SandboxConfig(rate_limit=0, fault_rate=rate, fault_kinds=("drop_after_write",), seed=SEED)
    with run_sandbox(config) as sb:
        import_file(path, _settings(sb, max_attempts=2), OPTIONS, report_path=report_path)
        report = pl.read_csv(report_path, infer_schema=False)
        assert sb.stats.faults.get("drop_after_write", 0) > 0, "answers were dropped"
        _assert_every_row_once_with_final_statuses(report, rows, (*FINAL, "failed", "skipped"))
        _assert_report_tells_what_was_stored(sb, report)
        if rate == 1.0:
            # Every write was applied and every answer lost: all stored, none reported failed.
            assert set(report["organization_status"].to_list()) == {"updated"}
            assert set(report["contact_status"].to_list()) == {"updated"}
            assert len(_stored_ids(sb, "contacts")) == rows


def test_records_whose_fate_cannot_be_looked_up_are_unknown_and_a_resume_sends_them_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lookups failing too leave `unknown` records that stop the run; a resume re-sends and settles them."""
    rows = 600  # 120 organizations: 12 requests, and ten in a row without an answer stop the run
    path = _generate(tmp_path / "contacts.csv", rows)
    report_path = tmp_path / "out" / "reconciliation.csv"
    journal = tmp_path / "journal.db"
    config = SandboxConfig(rate_limit=0, fault_rate=1.0, fault_kinds=("drop_after_write",), seed=SEED)

    async def lookup_fails(self: GenesysClient, kind: str, identifier: object) -> None:
        raise TransientApiError("POST /identifierlookup -> 503: unavailable (gave up after 2 attempts)")

    with run_sandbox(config) as sb:
        # Every write lands and loses its answer; every lookup fails: nothing can be settled.
        with monkeypatch.context() as patch:
            patch.setattr(GenesysClient, "lookup_identifier", lookup_fails)
            with pytest.raises(ApiUnavailableError, match="in a row"):
                import_file(
                    path, _settings(sb, max_attempts=2), OPTIONS, report_path=report_path, journal=journal
                )
        # The ten requests that stopped the run were applied; those still in flight when it stopped may
        # or may not have been (they were cancelled), which is why the resume must send all of them.
        assert len(_stored_ids(sb, "organizations")) >= 10 * 10, "the writes landed"
        sb.configure(fault_rate=0.0)
        requests_before = sb.stats.requests.get(ORGANIZATION_ENRICH, 0)
        result = import_file(
            path, _settings(sb), OPTIONS, report_path=report_path, journal=journal, resume="last"
        )
        resent = sb.stats.requests[ORGANIZATION_ENRICH] - requests_before
        assert resent == rows // CONTACTS_PER_ACCOUNT // 10, "unknown organizations were sent again"
        assert result.all_succeeded
        report = pl.read_csv(report_path, infer_schema=False)
        _assert_every_row_once_with_final_statuses(report, rows, FINAL)
        _assert_report_tells_what_was_stored(sb, report)
        _assert_one_record_per_key(sb, rows, rows // CONTACTS_PER_ACCOUNT)


def test_a_completed_run_reports_unknown_records_and_counts_them_as_not_succeeded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records whose lost answer no lookup could settle are `unknown` in the report and its summary file."""
    rows = 20
    path = _generate(tmp_path / "contacts.csv", rows)
    report_path = tmp_path / "out" / "reconciliation.csv"
    config = SandboxConfig(rate_limit=0, fault_rate=1.0, fault_kinds=("drop_after_write",), seed=SEED)

    async def lookup_fails(self: GenesysClient, kind: str, identifier: object) -> None:
        raise TransientApiError("POST /identifierlookup -> 503: unavailable (gave up after 2 attempts)")

    monkeypatch.setattr(GenesysClient, "lookup_identifier", lookup_fails)
    with run_sandbox(config) as sb:
        result = import_file(path, _settings(sb, max_attempts=2), OPTIONS, report_path=report_path)
    assert not result.all_succeeded
    report = pl.read_csv(report_path, infer_schema=False)
    assert set(report["organization_status"].to_list()) == {"unknown"}
    assert set(report["contact_status"].to_list()) == {"skipped"}
    assert all("may have been written" in m for m in report["error_message"].to_list())
    summary = json.loads((report_path.parent / "reconciliation.summary.json").read_text(encoding="utf-8"))
    assert summary["records"]["organizations"] == {"unknown": rows // CONTACTS_PER_ACCOUNT}
    assert summary["rows"]["not_succeeded"] == rows
