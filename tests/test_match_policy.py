"""Safe matching by email/phone (--match-policy), checked against what the sandbox stored."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from sandbox_support import sandbox_settings

from pipeline.cli import cli
from pipeline.importing.job import ImportOptions, import_file
from pipeline.importing.matching import Person, compare, confirms
from pipeline.sandbox import Sandbox, SandboxConfig, run_sandbox

HEADER = ["Contact ID", "Contact First Name", "Contact Last Name", "Contact Cell Phone", "Contact Work Email"]
OPTIONS = ImportOptions(create_source=True, match=("email", "phone"))


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with run_sandbox(SandboxConfig(rate_limit=0)) as sandbox:
        yield sandbox


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def _stored(sb: Sandbox) -> dict[str, str]:
    """Every stored contact, serialized: what "untouched" is compared against."""
    return {r["id"]: json.dumps(r, sort_keys=True) for r in sb.store.all("contacts")}


def _import(sb: Sandbox, path: Path, tmp_path: Path, **changes: object):  # type: ignore[no-untyped-def]
    options = replace(OPTIONS, **changes)  # type: ignore[arg-type]
    return import_file(path, sandbox_settings(sb), options, report_path=tmp_path / f"{path.stem}.r.csv")


def test_a_family_member_sharing_only_a_mobile_is_ambiguous_and_the_first_record_is_untouched(
    sb: Sandbox, tmp_path: Path
) -> None:
    """A new Contact ID sharing only a mobile with a stored person of another last name is
    ambiguous_match naming that person's id; nothing is written and the stored person is unchanged."""
    first = _write(tmp_path / "a.csv", [["C-1", "Ann", "Lee", "+14155550100", "ann@x.example"]])
    _import(sb, first, tmp_path)
    before = _stored(sb)
    (ann_id,) = before
    second = _write(tmp_path / "b.csv", [["C-2", "Bob", "Park", "+14155550100", "bob@y.example"]])
    result = _import(sb, second, tmp_path)
    row = result.report.row(0, named=True)
    assert row["contact_status"] == "ambiguous_match"
    assert row["error_code"] == "match.ambiguous"
    assert ann_id in row["error_message"]
    assert "agree: phone" in row["error_message"]
    assert "last name" in row["error_message"]
    assert _stored(sb) == before
    assert not result.all_succeeded
    assert result.summary.contact_rows == {"ambiguous_match": 1}
    assert result.summary.match_lookups >= 2


def test_look_alike_names_with_the_same_email_update_the_stored_person(sb: Sandbox, tmp_path: Path) -> None:
    """The same email and a last name equal once accents and case are folded confirm the person: the
    stored record is updated (no new one) and from then on carries this row's Contact ID."""
    first = _write(tmp_path / "a.csv", [["OLD-1", "José", "Núñez", "", "jose@x.example"]])
    _import(sb, first, tmp_path, external_source="crm-old")
    (stored,) = sb.store.all("contacts")
    second = _write(tmp_path / "b.csv", [["C-9", "Jose", "NUNEZ", "+14155550111", "JOSE@x.example"]])
    result = _import(sb, second, tmp_path)
    row = result.report.row(0, named=True)
    assert (row["contact_status"], row["genesys_contact_id"]) == ("updated", stored["id"])
    (after,) = sb.store.all("contacts")
    assert after["cellPhone"]["e164"] == "+14155550111"
    assert sorted(x["value"] for x in after["externalIds"]) == ["C-9", "OLD-1"]
    again = _import(sb, second, tmp_path, full=True)
    assert again.report.row(0, named=True)["contact_status"] == "updated"
    assert sb.store.count("contacts") == 1


def test_email_only_policy_accepts_an_email_match_alone_but_not_a_phone_one(
    sb: Sandbox, tmp_path: Path
) -> None:
    """With --match-policy email-only a shared email suffices and a shared phone alone does not."""
    seed = [["C-1", "Ann", "Lee", "+14155550100", "desk@x.example"]]
    _import(sb, _write(tmp_path / "a.csv", seed), tmp_path, external_source="crm-old")
    rows = [
        ["C-2", "Bob", "Park", "", "desk@x.example"],
        ["C-3", "Cy", "Park", "+14155550100", "cy@x.example"],
    ]
    result = _import(sb, _write(tmp_path / "b.csv", rows), tmp_path, match_policy="email-only")
    assert result.report["contact_status"].to_list() == ["updated", "ambiguous_match"]
    assert sb.store.count("contacts") == 1


def test_any_policy_keeps_the_api_matching_and_overwrites_the_phone_holder(
    sb: Sandbox, tmp_path: Path
) -> None:
    """--match-policy any is the old behaviour: the first record found by any identifier is updated."""
    _import(sb, _write(tmp_path / "a.csv", [["C-1", "Ann", "Lee", "+14155550100", ""]]), tmp_path)
    second = _write(tmp_path / "b.csv", [["C-2", "Bob", "Park", "+14155550100", ""]])
    result = _import(sb, second, tmp_path, match_policy="any")
    assert result.report.row(0, named=True)["contact_status"] == "updated"
    assert [r["lastName"] for r in sb.store.all("contacts")] == ["Park"]


def test_a_candidate_holding_another_contact_id_of_this_source_is_never_taken_over(
    sb: Sandbox, tmp_path: Path
) -> None:
    """Same email and last name, but the stored contact is another Contact ID of this source: two rows of
    the source, so ambiguous_match naming that Contact ID, and the record keeps its data."""
    _import(sb, _write(tmp_path / "a.csv", [["C-1", "Ann", "Lee", "", "ann@x.example"]]), tmp_path)
    before = _stored(sb)
    second = _write(tmp_path / "b.csv", [["C-2", "Ann", "Lee", "", "ann@x.example"]])
    row = _import(sb, second, tmp_path).report.row(0, named=True)
    assert row["contact_status"] == "ambiguous_match"
    assert "holds Contact ID 'C-1'" in row["error_message"]
    assert _stored(sb) == before


def test_a_row_found_by_nothing_is_created_and_its_own_contact_id_is_matched_first(
    sb: Sandbox, tmp_path: Path
) -> None:
    """No candidate: the contact is created; re-imported, it is found by its ExternalId, not re-judged."""
    path = _write(tmp_path / "a.csv", [["C-1", "Ann", "Lee", "+14155550100", "ann@x.example"]])
    assert _import(sb, path, tmp_path).report["contact_status"].to_list() == ["created"]
    assert _import(sb, path, tmp_path, full=True).report["contact_status"].to_list() == ["updated"]
    assert sb.store.count("contacts") == 1


def test_a_phone_match_needs_a_last_name_email_or_organization_under_strict() -> None:
    """Strict: phone plus first name alone is not enough; phone plus last name is; email plus any one."""
    row = Person.of({"firstName": "Ann", "lastName": "Lee", "cellPhone": {"display": "+14155550100"}})
    same_first = Person.of({"firstName": "ann", "lastName": "Kim", "cellPhone": {"e164": "+14155550100"}})
    same_last = Person.of({"firstName": "Bo", "lastName": "LEE", "cellPhone": {"e164": "+14155550100"}})
    assert not confirms(compare(row, same_first), "strict")
    assert confirms(compare(row, same_last), "strict")
    emailed = Person.of({"workEmail": "a@x.example", "firstName": "Ann"})
    same_email = Person.of({"personalEmail": "A@x.example", "firstName": "ANN"})
    assert confirms(compare(emailed, same_email), "strict")
    assert not confirms(compare(emailed, Person.of({"personalEmail": "a@x.example"})), "strict")


def test_an_ambiguous_row_exits_1_and_only_failed_decides_it_again(sb: Sandbox, tmp_path: Path) -> None:
    """ambiguous_match is not a success: the CLI exits 1 and --only-failed looks the row up again."""
    first = _write(tmp_path / "a.csv", [["C-1", "Ann", "Lee", "+14155550100", ""]])
    _import(sb, first, tmp_path)
    second = _write(tmp_path / "b.csv", [["C-2", "Bob", "Park", "+14155550100", ""]])
    report = tmp_path / "b.r.csv"
    args = [
        "import",
        str(second),
        "--base-url",
        sb.base_url,
        "--client-id",
        sb.client_id,
        "--rate-limit",
        "0",
    ]
    env = {"GENESYS_CLIENT_SECRET": sb.client_secret}
    result = CliRunner().invoke(cli, [*args, "--match", "email,phone", "--report", str(report)], env=env)
    assert result.exit_code == 1, result.output
    assert "ambiguous_match" in result.output
    rerun = import_file(report, sandbox_settings(sb), OPTIONS, only_failed=True)
    assert rerun.report["contact_status"].to_list() == ["ambiguous_match"]
    assert rerun.summary.match_lookups >= 2
    assert sb.store.count("contacts") == 1


def test_a_dry_run_reports_the_confirmed_candidate_as_updated_and_claims_nothing(
    sb: Sandbox, tmp_path: Path
) -> None:
    """In a dry run a confirmed candidate is reported updated with its id, and no claim is made."""
    first = _write(tmp_path / "a.csv", [["OLD-1", "Ann", "Lee", "", "ann@x.example"]])
    _import(sb, first, tmp_path, external_source="crm-old")
    before = _stored(sb)
    second = _write(tmp_path / "b.csv", [["C-9", "Ann", "Lee", "", "ann@x.example"]])
    row = _import(sb, second, tmp_path, dry_run=True).report.row(0, named=True)
    assert (row["contact_status"], row["genesys_contact_id"]) == ("updated", next(iter(before)))
    assert _stored(sb) == before


def _plan(sb: Sandbox, path: Path, tmp_path: Path, *extra: str) -> tuple[str, list[dict[str, str]]]:
    runner = CliRunner(env={"GENESYS_CLIENT_SECRET": sb.client_secret, "GENESYS_REGION": None})
    out = tmp_path / f"{path.stem}.plan.csv"
    args = [
        "plan", str(path), "--base-url", sb.base_url, "--client-id", sb.client_id, "--rate-limit", "0",
        "--match", "email,phone", "--out", str(out), "--journal", str(tmp_path / "j.db"), *extra,
    ]  # fmt: skip
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8", newline="") as fh:
        return result.output, list(csv.DictReader(fh))


def test_plan_with_match_diffs_the_person_import_would_update_and_names_the_ambiguous(
    sb: Sandbox, tmp_path: Path
) -> None:
    """plan --match looks a new Contact ID up by email/phone as import would: a confirmed person is an
    update of that stored record, a family member sharing a mobile is counted as ambiguous_match (not a
    create); the import that follows does exactly that, and plan wrote nothing."""
    seed = [["OLD-1", "José", "Núñez", "", "jose@x.example"], ["OLD-2", "Ann", "Lee", "+14155550100", ""]]
    _import(sb, _write(tmp_path / "a.csv", seed), tmp_path, external_source="crm-old")
    _import(sb, _write(tmp_path / "s.csv", [["X-1", "Sam", "Roe", "", "sam@z.example"]]), tmp_path)
    jose = next(r for r in sb.store.all("contacts") if r["lastName"] == "Núñez")
    before = _stored(sb)
    rows = [["C-9", "Jose", "NUNEZ", "", "JOSE@x.example"], ["C-2", "Bob", "Park", "+14155550100", ""]]
    path = _write(tmp_path / "b.csv", rows)

    output, diff = _plan(sb, path, tmp_path, "--external-source", "contacts-pipeline")
    assert _stored(sb) == before
    assert {(d["key"], d["genesys_id"], d["action"]) for d in diff if d["field"] == "Contact Work Email"} == {
        ("C-9", jose["id"], "update")
    }
    assert "C-2" not in {d["key"] for d in diff}
    assert "Contacts not sent (ambiguous_match): 1" in output
    assert "Would create: 0 records" in output

    result = _import(sb, path, tmp_path)
    statuses = {r["Contact ID"]: r["contact_status"] for r in result.report.iter_rows(named=True)}
    assert statuses == {"C-9": "updated", "C-2": "ambiguous_match"}
    assert len(sb.store.all("contacts")) == len(before)


def test_plan_with_match_policy_any_diffs_the_first_record_an_identifier_finds(
    sb: Sandbox, tmp_path: Path
) -> None:
    """Under --match-policy any the API updates the first record found, whoever it is: plan says so."""
    _import(sb, _write(tmp_path / "a.csv", [["OLD-2", "Ann", "Lee", "+14155550100", ""]]), tmp_path)
    (ann,) = sb.store.all("contacts")
    path = _write(tmp_path / "b.csv", [["C-2", "Bob", "Park", "+14155550100", ""]])
    _, diff = _plan(sb, path, tmp_path, "--match-policy", "any")
    assert {(d["key"], d["genesys_id"], d["action"]) for d in diff if d["field"] == "Contact Last Name"} == {
        ("C-2", ann["id"], "update")
    }
