"""Duplicate groups, scores and survivors (pure), and the checks on the edited duplicates file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.duplicates.candidates import Candidate, candidate_from
from pipeline.duplicates.grouping import MERGE_LIMIT, compare, find_groups
from pipeline.duplicates.plan import read_plan
from pipeline.errors import InputError

SOURCE = "src-crm"


def contact(record_id: str, modified: str = "2026-01-01T00:00:00Z", **fields: Any) -> Candidate:
    candidate = candidate_from({"id": record_id, "modifyDate": modified, **fields}, SOURCE, "US")
    assert candidate is not None
    return candidate


def ids(members: Any) -> list[str]:
    return [m.candidate.id for m in members]


def test_records_linked_through_different_values_form_one_group() -> None:
    """A and B share an email, B and C a phone: one group of three; D shares nothing and is left out."""
    a = contact("a", workEmail="x@example.com")
    b = contact("b", personalEmail="X@EXAMPLE.COM", homePhone={"display": "+1 415 555 0100"})
    c = contact("c", cellPhone={"display": "(415) 555-0100"})
    d = contact("d", workEmail="d@example.com")
    (group,) = find_groups([a, b, c, d])
    assert sorted(ids(group.members)) == ["a", "b", "c"]


def test_contact_without_email_or_phone_is_not_kept() -> None:
    """Only contacts that can share something are held in memory."""
    assert candidate_from({"id": "n", "firstName": "No", "lastName": "Contact"}, SOURCE, "US") is None


def test_phone_without_country_code_is_read_in_the_contacts_country() -> None:
    """A national number takes the address's country before the default region."""
    uk = contact("u", workPhone={"display": "020 7946 0018"}, address={"countryCode": "UK"})
    assert uk.phones == ("+442079460018",)


def test_names_compare_without_case_or_accents() -> None:
    """Zoë Ångström and ZOE angstrom agree on both names."""
    one = contact("1", firstName="Zoë", lastName="Ångström", workEmail="z@example.com")
    two = contact("2", firstName="ZOE", lastName="angstrom ", workEmail="z@example.com")
    assert compare(one, two) == (65, ("email", "last_name", "first_name"))


def test_survivor_is_the_import_record_then_the_most_complete_then_the_newest() -> None:
    """The ExternalId of the import's source beats completeness; without it, completeness beats recency."""
    full = contact("full", "2026-01-01", workEmail="s@example.com", title="T", firstName="F", lastName="L")
    newer = contact("newer", "2026-05-01", workEmail="s@example.com")
    older = contact("older", "2026-02-01", workEmail="s@example.com")
    (group,) = find_groups([older, newer, full])
    assert ids(group.members)[0] == "full"
    (group,) = find_groups([older, newer])
    assert ids(group.members)[0] == "newer"
    imported = contact(
        "imp", workEmail="s@example.com", externalIds=[{"externalSource": {"id": SOURCE}, "value": "C"}]
    )
    (group,) = find_groups([full, imported])
    assert ids(group.members)[0] == "imp"


def test_group_over_the_merge_limit_sets_the_rest_aside() -> None:
    """30 contacts sharing an email: the survivor and 24 others can be kept, 5 are keep=no with a note."""
    members = [contact(f"c{i:02}", workEmail="crowd@example.com", lastName="Crowd") for i in range(30)]
    (group,) = find_groups(members)
    assert group.capped
    assert len(group.members) == 30
    open_ = [m for m in group.members if not m.note]
    aside = [m for m in group.members if m.note]
    assert len(open_) == MERGE_LIMIT
    assert len(aside) == 5
    assert not any(m.keep for m in aside)
    assert all(m.keep for m in open_)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


HEADER = "group,keep,survivor,score,genesys_contact_id\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("1,yes,yes,65,a\n1,yes,yes,65,b\n", "row 3, column survivor: group 1 has 2 kept rows"),
        ("1,yes,no,65,a\n1,yes,no,65,b\n", "row 2, column survivor: group 1 has 0 kept rows"),
        ("1,yes,yes,65,a\n1,maybe,no,65,b\n", "row 3, column keep: 'maybe' is not yes or no"),
        ("1,yes,yes,65,a\n2,yes,no,65,a\n", "row 3, column genesys_contact_id: a is also on row 2"),
        ("1,yes,yes,65,a\n1,yes,no,65,\n", "row 3, column genesys_contact_id: empty"),
    ],
)
def test_ambiguous_merge_file_is_refused_with_row_and_column(tmp_path: Path, body: str, message: str) -> None:
    """Anything the tool would have to guess stops the command with the row and column to fix."""
    path = write(tmp_path / "d.csv", HEADER + body)
    with pytest.raises(InputError, match=message):
        read_plan(path)


def test_group_keeping_fewer_than_two_rows_is_skipped_with_a_reason(tmp_path: Path) -> None:
    """A group whose other rows say keep=no is planned as skipped, not as an error."""
    path = write(tmp_path / "d.csv", HEADER + "1,yes,yes,65,a\n1,no,no,25,b\n2,Y,yes,65,c\n2,true,,50,d\n")
    plan = read_plan(path)
    assert [(g.group, g.contact_ids, g.skip_reason) for g in plan.groups] == [
        ("1", ("a",), "fewer than 2 rows with keep=yes"),
        ("2", ("c", "d"), None),
    ]


def test_merge_of_an_ambiguous_file_exits_2_before_any_request(tmp_path: Path) -> None:
    """The CLI turns the file problem into one line and exit 2 before it opens any connection."""
    path = write(tmp_path / "d.csv", HEADER + "1,yes,yes,65,a\n1,yes,yes,65,b\n")
    result = CliRunner().invoke(cli, ["merge", str(path), "--sandbox", "--yes"])
    assert result.exit_code == 2
    assert "row 3, column survivor" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "d.merge-report.csv").exists()
