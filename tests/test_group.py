"""Grouping rows into organizations and contacts, with consistency checks."""

from __future__ import annotations

import polars as pl
import pytest

from pipeline.fields import load_specs
from pipeline.outcomes import OUTCOME_COLUMNS, Reason, Stage, Status
from pipeline.prepare.group import SHARED_IDENTIFIER_WARNINGS, Grouped, group, shared_identifier_warnings
from pipeline.prepare.validate import FAILURE_SCHEMA, validate

SPECS = load_specs()
HEADERS = {
    "contact.externalId": "Contact ID",
    "contact.firstName": "Contact First Name",
    "contact.lastName": "Contact Last Name",
    "organization.externalId": "Account ID",
    "organization.name": "Account Name",
    "organization.industry": "Account Industry",
}


def frame(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    """A normalized frame from row dicts keyed by canonical column; source rows start at 2."""
    columns = sorted({c for r in rows for c in r}, key=lambda c: (not c.startswith("contact."), c))
    data = {"source_row": list(range(2, len(rows) + 2))}
    data.update({c: [r.get(c) for r in rows] for c in columns})
    return pl.DataFrame(data, schema={c: (pl.Int64 if c == "source_row" else pl.String) for c in data})


def run(rows: list[dict[str, str | None]], **options: object) -> Grouped:
    normalized = frame(rows)
    failures = validate(normalized, SPECS, HEADERS)
    return group(normalized, failures, SPECS, headers_for=HEADERS, **options)  # type: ignore[arg-type]


def row(contact: str | None, account: str | None, name: str | None = "Acme", **extra: str | None) -> dict:
    values: dict[str, str | None] = {
        "contact.externalId": contact,
        "contact.firstName": "Ann" if contact else None,
        "organization.externalId": account,
        "organization.name": name if account else None,
    }
    values.update({k.replace("__", "."): v for k, v in extra.items()})
    return values


def outcome(grouped: Grouped, source_row: int) -> dict[str, object]:
    found = grouped.outcomes.filter(pl.col("source_row") == source_row)
    assert found.height == 1, grouped.outcomes
    return found.row(0, named=True)


def test_one_organization_per_account_id_with_all_its_rows() -> None:
    """Identical repeats of an account collapse into one organization listing every source row."""
    grouped = run([row("C1", "A1"), row("C2", "A1"), row("C3", "A2", "Beta")])
    orgs = grouped.organizations
    assert orgs.get_column("organization.externalId").to_list() == ["A1", "A2"]
    assert orgs.get_column("source_rows").to_list() == [[2, 3], [4]]
    assert grouped.outcomes.is_empty()


def test_rows_disagreeing_on_an_account_field_are_all_conflicts_naming_rows_and_field() -> None:
    """Two rows of ACC-7 with different names: both are conflicts, the message names rows and header."""
    grouped = run([row("C1", "ACC-7", "Acme"), row("C2", "ACC-8", "Beta"), row("C3", "ACC-7", "Acme Inc")])
    for source_row in (2, 4):
        found = outcome(grouped, source_row)
        assert found["organization_status"] == Status.CONFLICT
        assert found["contact_status"] == Status.SKIPPED
        assert found["error_code"] == Reason.ACCOUNT_CONFLICT
        assert found["error_stage"] == Stage.GROUP
        assert "Account ID ACC-7: rows 2, 4 disagree on Account Name" in str(found["error_message"])
    assert grouped.organizations.get_column("organization.externalId").to_list() == ["ACC-8"]
    assert grouped.contacts.get_column("contact.externalId").to_list() == ["C2"]


def test_a_blank_cell_does_not_conflict_with_a_value() -> None:
    """A blank industry on one row and a value on another is not a disagreement; the value is kept."""
    grouped = run(
        [row("C1", "A1", organization__industry=None), row("C2", "A1", organization__industry="Retail")]
    )
    assert grouped.outcomes.is_empty()
    assert grouped.organizations.get_column("organization.industry").to_list() == ["Retail"]


def test_conflicts_on_several_fields_are_all_named() -> None:
    """The message lists every disagreeing field of the account."""
    grouped = run(
        [
            row("C1", "A1", "Acme", organization__industry="Retail"),
            row("C2", "A1", "Acme Ltd", organization__industry="Banking"),
        ]
    )
    message = str(outcome(grouped, 2)["error_message"])
    assert "disagree on Account Name" in message
    assert "disagree on Account Industry" in message


def test_account_conflicts_first_keeps_the_first_rows_values_with_a_warning() -> None:
    """With account_conflicts='first' no row is a conflict; one warning per account names the rows."""
    grouped = run(
        [row("C1", "A1", "Acme"), row("C2", "A1", "Acme Inc")],
        account_conflicts="first",
    )
    assert grouped.outcomes.is_empty()
    assert grouped.organizations.get_column("organization.name").to_list() == ["Acme"]
    assert len(grouped.warnings) == 1
    assert "rows 2, 3 disagree on Account Name" in grouped.warnings[0]
    assert "row 2" in grouped.warnings[0]


def test_unknown_account_conflicts_mode_is_refused() -> None:
    """Only 'error' and 'first' are accepted."""
    with pytest.raises(ValueError, match="account_conflicts"):
        run([row("C1", "A1")], account_conflicts="last")


def test_invalid_account_part_makes_the_row_invalid_and_skips_its_contact() -> None:
    """A bad employee count invalidates the account part; the contact on that row is skipped."""
    grouped = run([row("C1", "A1", organization__employeeCount="many")])
    found = outcome(grouped, 2)
    assert found["organization_status"] == Status.INVALID
    assert found["contact_status"] == Status.SKIPPED
    assert found["error_stage"] == Stage.VALIDATE
    assert found["error_code"] == Reason.INVALID_INTEGER
    assert "contact not imported because its account (A1) is invalid" in str(found["error_message"])
    assert grouped.contacts.is_empty()


def test_invalid_contact_part_keeps_a_valid_account_part() -> None:
    """A bad email invalidates the contact only; the account of that row is still pushed."""
    grouped = run([row("C1", "A1", contact__workEmail="nope")])
    found = outcome(grouped, 2)
    assert found["contact_status"] == Status.INVALID
    assert found["organization_status"] is None
    assert found["error_code"] == Reason.INVALID_EMAIL
    assert grouped.organizations.height == 1
    assert grouped.contacts.is_empty()


def test_all_messages_of_a_row_are_joined() -> None:
    """A row with problems in both parts lists every message, separated by '; '."""
    grouped = run([row("C1", "A1", organization__employeeCount="x", contact__workEmail="nope")])
    message = str(outcome(grouped, 2)["error_message"])
    assert message.startswith("Account Employee Count: 'x' is not a whole number; ")
    assert message.endswith("is not a valid email address")


def test_repeated_contact_with_identical_data_collapses() -> None:
    """The same Contact ID on two identical rows becomes one contact for both rows, with no outcome."""
    grouped = run([row("C1", "A1"), row("C1", "A1")])
    contacts = grouped.contacts
    assert contacts.height == 1
    assert contacts.get_column("source_rows").to_list() == [[2, 3]]
    assert contacts.get_column("organization.externalId").to_list() == ["A1"]
    assert grouped.outcomes.is_empty()


def test_repeated_contact_with_complementary_data_collapses_into_the_union() -> None:
    """A blank last name on one row and a value on another is no conflict; the contact keeps the value."""
    grouped = run([row("C1", "A1", contact__lastName=None), row("C1", "A1", contact__lastName="Lee")])
    assert grouped.outcomes.is_empty()
    assert grouped.contacts.get_column("contact.lastName").to_list() == ["Lee"]


def test_repeated_contact_with_different_data_is_a_conflict_on_every_row() -> None:
    """C1 spelled Ann on one row and Anne on another: both rows are contact conflicts naming the rows."""
    grouped = run(
        [
            row("C1", "A1", contact__lastName="Lee"),
            row("C2", "A1"),
            row("C1", "A1", contact__lastName="Leigh"),
        ]
    )
    for source_row in (2, 4):
        found = outcome(grouped, source_row)
        assert found["contact_status"] == Status.CONFLICT
        assert found["organization_status"] is None
        assert found["error_code"] == Reason.CONTACT_CONFLICT
        assert "Contact ID C1: rows 2, 4 disagree on Contact Last Name" in str(found["error_message"])
    assert grouped.contacts.get_column("contact.externalId").to_list() == ["C2"]


def test_personal_data_is_not_quoted_in_conflict_messages() -> None:
    """Contact names are PII, so a contact conflict names the field but never the values."""
    grouped = run([row("C1", None, contact__lastName="Lee"), row("C1", None, contact__lastName="Leigh")])
    message = str(outcome(grouped, 2)["error_message"])
    assert "Lee" not in message


def test_a_contact_linked_to_two_accounts_is_a_conflict() -> None:
    """The Account ID link is part of the contact's data: C1 under A1 and A2 conflicts."""
    grouped = run([row("C1", "A1"), row("C1", "A2", "Beta")])
    assert outcome(grouped, 2)["contact_status"] == Status.CONFLICT
    assert "disagree on Account ID" in str(outcome(grouped, 3)["error_message"])


def test_contact_ids_are_compared_exactly() -> None:
    """`c1` and `C1` are different Contact IDs, so they never collapse or conflict."""
    grouped = run([row("c1", "A1", contact__lastName="Lee"), row("C1", "A1", contact__lastName="Leigh")])
    assert grouped.outcomes.is_empty()
    assert grouped.contacts.height == 2


def test_contacts_without_an_account_part_have_a_null_link() -> None:
    """A contact-only row is linked to no organization."""
    grouped = run([row("C1", None)])
    assert grouped.contacts.get_column("organization.externalId").to_list() == [None]


def test_empty_rows_are_invalid() -> None:
    """A row with no value in any mapped column is invalid with Reason.EMPTY_ROW."""
    grouped = run([row("C1", "A1"), {"contact.externalId": None}])
    found = outcome(grouped, 3)
    assert found["error_code"] == Reason.EMPTY_ROW
    assert Status.INVALID in (found["organization_status"], found["contact_status"])


def test_outcomes_have_the_documented_columns() -> None:
    """The outcomes frame carries exactly the reconciliation outcome columns."""
    grouped = run([row("C1", "A1", contact__workEmail="nope")])
    assert tuple(grouped.outcomes.columns) == OUTCOME_COLUMNS
    assert grouped.outcomes.schema["source_row"] == pl.Int64


def test_an_email_on_several_contacts_is_a_warning_naming_them() -> None:
    """Two Contact IDs with one email address (any case) are warned about, with the value masked."""
    grouped = group(
        pl.DataFrame(
            {
                "source_row": [2, 3, 4],
                "contact.externalId": ["C1", "C2", "C3"],
                "contact.workEmail": ["info@acme.com", None, "solo@acme.com"],
                "contact.personalEmail": [None, "INFO@acme.com", None],
            }
        ),
        pl.DataFrame(schema=FAILURE_SCHEMA),
        SPECS,
    )
    (warning,) = grouped.warnings
    assert "C1, C2" in warning
    assert "info@acme.com" not in warning
    assert "i***@acme.com" in warning


def test_shared_phones_ignore_extensions_and_one_contact_repeating_its_own_value() -> None:
    """A phone on two contacts (extension aside) is warned about, a value one contact repeats is not, and
    past the listed limit the rest are counted in one line."""
    shared = [f"+1415555{i:04d}" for i in range(SHARED_IDENTIFIER_WARNINGS + 2)]
    n = len(shared)
    contacts = pl.DataFrame(
        {
            "contact.externalId": ["SOLO", *(f"{side}{i:02d}" for side in "AB" for i in range(n))],
            "contact.workPhone": ["+14155550999;ext=12", *(f"{p};ext=7" for p in shared), *[None] * n],
            "contact.cellPhone": ["+14155550999", *[None] * n, *shared],
        }
    )
    warnings = shared_identifier_warnings(contacts, SPECS)
    assert len(warnings) == SHARED_IDENTIFIER_WARNINGS + 1
    assert "on 2 contacts (A00, B00)" in warnings[0]
    assert not any("SOLO" in w for w in warnings)
    assert warnings[-1] == "... and 2 more emails/phones shared by contacts"
