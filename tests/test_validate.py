"""Field validation: every rule, its reason code and its message."""

from __future__ import annotations

import polars as pl
import pytest

from pipeline.fields import load_specs
from pipeline.outcomes import Reason
from pipeline.prepare.validate import FAILURE_SCHEMA, validate

SPECS = load_specs()


def frame(**columns: list[str | None]) -> pl.DataFrame:
    """A normalized frame with source rows 2, 3, ... and the given canonical columns."""
    height = len(next(iter(columns.values())))
    data: dict[str, list[object]] = {"source_row": list(range(2, height + 2))}
    data.update({name.replace("__", "."): values for name, values in columns.items()})
    return pl.DataFrame(data, schema={k: (pl.Int64 if k == "source_row" else pl.String) for k in data})


def one_failure(failures: pl.DataFrame) -> dict[str, object]:
    assert failures.height == 1, failures
    return failures.row(0, named=True)


def test_valid_rows_have_no_failures() -> None:
    """A clean contact with its account yields an empty failures frame of the documented schema."""
    failures = validate(
        frame(
            contact__externalId=["C1"],
            contact__workEmail=["ann@example.com"],
            contact__workPhone=["+14155550123;ext=42"],
            organization__externalId=["A1"],
            organization__name=["Acme"],
            organization__websites=["https://acme.com;http://acme.io/x"],
            organization__employeeCount=["12"],
        ),
        SPECS,
    )
    assert failures.is_empty()
    assert dict(failures.schema) == FAILURE_SCHEMA


def test_contact_id_is_required_when_the_row_has_contact_data() -> None:
    """A row with a contact name but no Contact ID fails `required` on Contact ID."""
    failures = validate(
        frame(contact__externalId=[None], contact__firstName=["Ann"]),
        SPECS,
        {"contact.externalId": "Contact ID"},
    )
    row = one_failure(failures)
    assert row["code"] == Reason.REQUIRED
    assert row["kind"] == "contact"
    assert row["column"] == "Contact ID"
    assert row["message"].startswith("Contact ID: required for a contact")


def test_account_id_and_name_are_required_when_the_row_has_account_data() -> None:
    """An account phone alone makes an account part, which then needs Account ID and Account Name."""
    failures = validate(
        frame(
            contact__externalId=["C1"],
            organization__externalId=[None],
            organization__name=[None],
            organization__phoneNumber=["+14155550123"],
        ),
        SPECS,
    )
    assert failures.get_column("column").to_list() == ["Account ID", "Account Name"]
    assert set(failures.get_column("code")) == {Reason.REQUIRED}


def test_required_columns_missing_from_the_file_are_reported_per_row() -> None:
    """A file with account columns but no Account Name column reports Account Name on each account row."""
    failures = validate(
        frame(organization__externalId=["A1", "A2"], organization__address__city=["Cork", "Paris"]), SPECS
    )
    assert failures.get_column("source_row").to_list() == [2, 3]
    assert set(failures.get_column("column")) == {"Account Name"}


def test_an_account_id_alone_links_a_contact_without_needing_a_name() -> None:
    """A contact row naming only its Account ID is valid: it links to an account defined elsewhere."""
    failures = validate(frame(contact__externalId=["C1"], organization__externalId=["A1"]), SPECS)
    assert failures.is_empty()


def test_contact_only_rows_do_not_need_account_fields() -> None:
    """A row without account data is not asked for Account ID or Account Name."""
    failures = validate(
        frame(contact__externalId=["C1"], organization__externalId=[None], organization__name=[None]), SPECS
    )
    assert failures.is_empty()


def test_constant_columns_alone_do_not_make_a_part() -> None:
    """A mapping constant on every row does not turn an account-only row into a contact needing an ID."""
    failures = validate(
        frame(
            contact__externalId=[None],
            contact__address__countryCode=["US"],
            organization__externalId=["A1"],
            organization__name=["Acme"],
        ),
        SPECS,
        constants=("contact.address.countryCode",),
    )
    assert failures.is_empty()


def test_a_row_with_no_part_is_an_empty_row() -> None:
    """A row whose mapped cells are all blank gets kind `row` and Reason.EMPTY_ROW."""
    failures = validate(frame(contact__externalId=["C1", None], contact__firstName=["Ann", None]), SPECS)
    row = one_failure(failures)
    assert (row["source_row"], row["kind"], row["code"]) == (3, "row", Reason.EMPTY_ROW)


def test_too_long_values_name_the_length_and_the_limit() -> None:
    """Text over its max length reports the actual length and the limit, without the value."""
    failures = validate(frame(contact__externalId=["C1"], contact__address__city=["x" * 101]), SPECS)
    row = one_failure(failures)
    assert row["code"] == Reason.TOO_LONG
    assert row["message"] == "Contact City: 101 characters; the limit is 100"


@pytest.mark.parametrize(
    "email", ["ann@", "ann@@example.com", "ann example@example.com", "ann@example", "ann@example..com"]
)
def test_malformed_emails_are_invalid(email: str) -> None:
    """Addresses without one @ and a dotted domain fail the email check."""
    failures = validate(frame(contact__externalId=["C1"], contact__workEmail=[email]), SPECS)
    assert one_failure(failures)["code"] == Reason.INVALID_EMAIL


def test_email_messages_mask_the_address() -> None:
    """A personal-data value is masked in the message, which still names the column and the problem."""
    failures = validate(
        frame(contact__externalId=["C1"], contact__workEmail=["john.smith@@example.com"]),
        SPECS,
        {"contact.workEmail": "Contact Work Email"},
    )
    message = one_failure(failures)["message"]
    assert message.startswith("Contact Work Email: '")
    assert message.endswith("' is not a valid email address")
    assert "john.smith" not in message


def test_phones_not_in_e164_are_invalid_and_masked() -> None:
    """A phone normalization could not parse fails with a hint about the region, value masked."""
    failures = validate(
        frame(contact__externalId=["C1", "C2"], contact__cellPhone=["555-0123-99", "+447700900123"]), SPECS
    )
    row = one_failure(failures)
    assert row["code"] == Reason.INVALID_PHONE
    assert "555-0123-99" not in row["message"]
    assert "--default-region" in row["message"]


@pytest.mark.parametrize("url", ["ftp://example.com", "example.com", "https://", "http:// spaced.com"])
def test_urls_must_be_http_with_a_host(url: str) -> None:
    """External system URLs need an http(s) scheme and a host."""
    failures = validate(frame(contact__externalId=["C1"], contact__externalSystemUrl=[url]), SPECS)
    row = one_failure(failures)
    assert row["code"] == Reason.INVALID_URL
    assert f"'{url}' is not an http(s) URL" in row["message"]


def test_integer_fields_reject_non_integers() -> None:
    """`12.5` and `many` are not whole numbers."""
    failures = validate(
        frame(
            organization__externalId=["A1", "A2"],
            organization__name=["Acme", "Beta"],
            organization__employeeCount=["12.5", "many"],
        ),
        SPECS,
    )
    assert failures.get_column("code").to_list() == [Reason.INVALID_INTEGER] * 2


def test_integer_fields_enforce_their_range() -> None:
    """A negative employee count and a revenue beyond Int64 are out of range, naming the range."""
    failures = validate(
        frame(
            organization__externalId=["A1", "A2"],
            organization__name=["Acme", "Beta"],
            organization__employeeCount=["-1", "5"],
            organization__revenue=["3", "99999999999999999999"],
        ),
        SPECS,
    )
    assert failures.get_column("code").to_list() == [Reason.OUT_OF_RANGE] * 2
    assert "outside the allowed range 0..2147483647" in failures.item(0, "message")


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("score_decimal", "1.2.3", Reason.INVALID_DECIMAL),
        ("vip_boolean", "maybe", Reason.INVALID_BOOLEAN),
        ("since_date", "2024-02-30", Reason.INVALID_DATE),
        ("since_date", "31/01/2024", Reason.INVALID_DATE),
        ("seen_datetime", "2024-01-31 25", Reason.INVALID_DATE),
        ("seats_integer", "ten", Reason.INVALID_INTEGER),
        ("home_url", "www.example.com", Reason.INVALID_URL),
    ],
)
def test_custom_fields_are_checked_by_their_suffix_type(name: str, value: str, reason: Reason) -> None:
    """Custom field values must match the type their name's suffix declares."""
    failures = validate(
        frame(contact__externalId=["C1"], **{f"contact__customFields__{name}": [value]}), SPECS
    )
    assert one_failure(failures)["code"] == reason


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("score_decimal", "-1.25e3"),
        ("vip_boolean", "false"),
        ("since_date", "2024-02-29"),
        ("seen_datetime", "2024-01-31T10:15:00+02:00"),
        ("seen_datetime", "2024-01-31T10:15:00Z"),
        ("seats_integer", "+40"),
    ],
)
def test_well_formed_custom_values_pass(name: str, value: str) -> None:
    """Values of the declared shape are accepted."""
    failures = validate(
        frame(contact__externalId=["C1"], **{f"contact__customFields__{name}": [value]}), SPECS
    )
    assert failures.is_empty()


def test_list_items_are_checked_and_the_bad_item_named() -> None:
    """One non-http website in a `;` list fails and the message quotes only that item."""
    failures = validate(
        frame(
            organization__externalId=["A1"],
            organization__name=["Acme"],
            organization__websites=["https://acme.com;ftp://files.acme.com"],
        ),
        SPECS,
        {"organization.websites": "Account Websites"},
    )
    row = one_failure(failures)
    assert row["code"] == Reason.INVALID_URL
    assert row["message"] == "Account Websites: item 'ftp://files.acme.com' is not an http(s) URL with a host"


def test_every_failure_of_every_row_is_collected() -> None:
    """Validation never stops at the first problem: two rows with two problems each give four failures."""
    failures = validate(
        frame(
            contact__externalId=["C1", "C2"],
            contact__workEmail=["bad", "worse"],
            contact__surveyOptOut=["perhaps", "nope"],
        ),
        SPECS,
    )
    assert failures.select("source_row", "code").rows() == [
        (2, Reason.INVALID_EMAIL),
        (2, Reason.INVALID_BOOLEAN),
        (3, Reason.INVALID_EMAIL),
        (3, Reason.INVALID_BOOLEAN),
    ]


def test_non_personal_values_are_quoted_unmasked() -> None:
    """A non-PII value (an account's employee count) is shown as written, so the user can find it."""
    failures = validate(
        frame(
            organization__externalId=["A1"], organization__name=["Acme"], organization__employeeCount=["lots"]
        ),
        SPECS,
        {"organization.employeeCount": "Employees"},
    )
    assert one_failure(failures)["message"] == "Employees: 'lots' is not a whole number"


def test_infinite_decimals_and_non_ascii_digits_are_invalid() -> None:
    """1e400 is no finite number and Arabic-Indic digits are no integer the API would take."""
    failures = validate(
        frame(
            contact__externalId=["C1", "C2"],
            contact__customFields__lifetime_value_number=["1e400", "12.5"],
            contact__customFields__order_count_integer=["\u0665\u0660", "3"],
        ),
        SPECS,
    )
    assert failures.select("source_row", "code").rows() == [(2, "invalid_decimal"), (2, "invalid_integer")]
