"""``import`` of a large file (chunked stage, partition by partition) does what the in-memory import does.

Each case runs the same imports twice, each time into a fresh sandbox on 127.0.0.1 over real HTTP: once
in memory, once chunked (the size limit, chunk rows and partitions made tiny). Generated ids differ from
run to run, so what is compared is what the sandbox stored (every field, every organization link, read
as external ids) and the reconciliation files with each Genesys id replaced by the external id of the
record the sandbox stores under it.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest
from chunked_import_support import (
    OPTIONS,
    SAMPLES,
    Step,
    assert_same,
    changed_rows,
    generated,
    generated_rows,
    rows_file,
)
from test_chunked_stage import cross_chunk_rows, random_rows, write_rows

from pipeline.prepare.stage import PrepareOptions


@pytest.mark.parametrize(
    ("name", "prepare", "rows", "parts"),
    [
        ("contacts.csv", PrepareOptions(), 40, 3),
        ("contacts-with-problems.csv", PrepareOptions(), 3, 3),
        ("contacts-with-problems.csv", PrepareOptions(account_conflicts="first"), 7, 2),
        ("dynamics-export.csv", PrepareOptions(mapping=SAMPLES / "dynamics.mapping.toml"), 3, 2),
    ],
)
def test_the_samples_import_the_same_records_and_outcomes_chunked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, prepare: PrepareOptions, rows: int, parts: int
) -> None:
    """Each sample imported partition by partition stores and reports what the in-memory import does."""
    assert_same(tmp_path, monkeypatch, [Step(SAMPLES / name, prepare=prepare)], rows, parts)


@pytest.mark.parametrize("conflicts", ["error", "first"])
@pytest.mark.parametrize(("rows", "parts"), [(3, 3), (7, 2)])
def test_rows_related_across_partitions_import_as_in_one_piece(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, conflicts: str, rows: int, parts: int
) -> None:
    """Accounts over several chunks, a contact under two accounts, conflicts, invalid rows and contacts
    without an Account ID end with the same records, links and outcomes."""
    prepare = PrepareOptions(account_conflicts=conflicts)  # type: ignore[arg-type]
    outcome = assert_same(
        tmp_path, monkeypatch, [Step(rows_file(cross_chunk_rows()), prepare=prepare)], rows, parts
    )
    statuses = {r["organization_status"] for r in outcome.reports[0]} | {
        r["contact_status"] for r in outcome.reports[0]
    }
    assert {"created", "invalid"} <= statuses


@pytest.mark.parametrize("seed", range(2))
def test_random_key_collisions_import_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Small pools of keys, colliding in every way, store and report the same in both paths."""
    assert_same(tmp_path, monkeypatch, [Step(rows_file(random_rows(seed)))], 4, 3)


def test_a_journaled_reimport_with_live_comparison_and_matching_agrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Change-only re-import, --compare-live --full, and --match email with --save-before over the
    journal settle the same records the same way partition by partition."""
    matching = [
        ["C30", "Ann", "ann@example.com", "", "A1", "Acme"],  # found by email as C1's person
        ["C31", "New", "new@example.com", "", "A11", "Lambda"],
    ]
    steps = [
        Step(rows_file(cross_chunk_rows()), journal=True),
        Step(lambda folder: write_rows(folder / "changed.csv", changed_rows()), journal=True),
        Step(
            lambda folder: write_rows(folder / "changed.csv", changed_rows()),
            options=replace(OPTIONS, compare_live=True, full=True),
            journal=True,
        ),
        Step(
            lambda folder: write_rows(folder / "match.csv", matching),
            options=replace(OPTIONS, match=("email",), save_before=True),
            journal=True,
        ),
    ]
    outcome = assert_same(tmp_path, monkeypatch, steps, 3, 3)
    statuses = [{r["contact_status"] for r in report} for report in outcome.reports]
    assert "unchanged" in statuses[1]
    assert "updated" in statuses[1]
    assert "unchanged" in statuses[2]


def test_delete_missing_deletes_the_same_records_from_keys_gathered_across_partitions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--delete-missing plans from every key of the file before anything is sent, and deletes the same
    contacts and organizations as the in-memory import."""
    gone = {5, 12, 13, 14, 15}  # contact C-0005, and account A-003 with all four of its contacts

    def kept(folder: Path) -> Path:
        rows = generated_rows(40, per_account=4)
        return write_rows(folder / "kept.csv", [row for i, row in enumerate(rows) if i not in gone])

    steps = [
        Step(lambda folder: generated(folder / "in.csv", 40, per_account=4)),
        Step(kept, options=replace(OPTIONS, delete_missing=True, max_delete="100%")),
    ]
    outcome = assert_same(tmp_path, monkeypatch, steps, 6, 3)
    assert outcome.summaries[1]["deletions"] == {"contacts": {"deleted": 5}, "organizations": {"deleted": 1}}
    assert len(outcome.stored["contacts"]) == 35
    assert (tmp_path / "chunked" / "report1.deleted.csv").is_file()


ENUM_HEADER = ["Contact ID", "Contact First Name", "Contact Work Email", "Account ID", "Account Name"]


def _api_failures(folder: Path) -> Path:
    """Rows the sandbox refuses: a contact with an unknown enum value, an organization with another."""
    header = [*ENUM_HEADER, "custom:preferred_channel_enum", "account custom:segment_enum"]
    rows = [
        [f"C-{i}", "F", f"u{i}@example.com", f"A-{i % 4}", f"Org {i % 4}", "email", "smb"] for i in range(16)
    ]
    rows[5][5] = "carrier-pigeon"
    for row in rows:
        if row[3] == "A-2":
            row[6] = "gigantic"
    path = folder / "in.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def _fixed_report(folder: Path) -> Path:
    """The first step's reconciliation file with the refused values fixed, to be fed back."""
    text = (folder / "report0.csv").read_text(encoding="utf-8")
    (folder / "fixed.csv").write_text(text.replace("carrier-pigeon", "sms").replace("gigantic", "smb"))
    return folder / "fixed.csv"


def test_only_failed_reruns_the_same_rows_chunked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reconciliation file fed back with --only-failed re-runs only its failed rows, staged in chunks,
    and the report keeps every row's outcome."""
    options = replace(OPTIONS, organization_schema="Demo organization fields")
    steps = [Step(_api_failures, options=options), Step(_fixed_report, options=options, only_failed=True)]
    outcome = assert_same(tmp_path, monkeypatch, steps, 3, 3)
    assert {"failed", "skipped"} <= {r["contact_status"] for r in outcome.reports[0]}
    assert {r["contact_status"] for r in outcome.reports[1]} == {"created"}
    assert outcome.summaries[1]["contacts"] == {"created": 5}


def test_dry_runs_report_the_same_before_and_after_the_source_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dry run against a source that does not exist yet (every record new, one warning), the real
    import, then a dry run against it, agree partition by partition."""
    new_source = replace(OPTIONS, external_source="Not yet", dry_run=True)
    steps = [
        Step(rows_file(cross_chunk_rows()), options=new_source),
        Step(rows_file(cross_chunk_rows()), options=replace(new_source, dry_run=False)),
        Step(rows_file(changed_rows()), options=replace(new_source, dry_run=True)),
    ]
    outcome = assert_same(tmp_path, monkeypatch, steps, 3, 3)
    assert any("does not exist yet" in w for w in outcome.warnings[0])
    assert outcome.summaries[2]["contacts"].get("updated")
