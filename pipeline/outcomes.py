"""The vocabulary of per-row outcomes shared by validate, push and the reconciliation file."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

SOURCE_ROW = "source_row"


class Status(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    INVALID = "invalid"
    CONFLICT = "conflict"
    FAILED = "failed"
    # Retries ran out without an answer and a lookup could not tell whether the record was written.
    UNKNOWN = "unknown"
    SKIPPED = "skipped"
    # Found by email/phone, but the match policy did not confirm it is the same person: nothing written.
    AMBIGUOUS_MATCH = "ambiguous_match"


class Stage(StrEnum):
    """Where a row's problem was found (``error_stage``)."""

    READ = "read"
    VALIDATE = "validate"
    GROUP = "group"
    ORGANIZATION = "organization"
    CONTACT = "contact"


class Reason(StrEnum):
    """Reason codes for problems found before any API call (``error_code``)."""

    REQUIRED = "required"
    TOO_LONG = "too_long"
    INVALID_EMAIL = "invalid_email"
    INVALID_PHONE = "invalid_phone"
    INVALID_URL = "invalid_url"
    INVALID_INTEGER = "invalid_integer"
    INVALID_DECIMAL = "invalid_decimal"
    INVALID_BOOLEAN = "invalid_boolean"
    INVALID_DATE = "invalid_date"
    OUT_OF_RANGE = "out_of_range"
    INVISIBLE_CHARACTER = "invisible_character"
    EMPTY_ROW = "empty_row"
    ACCOUNT_CONFLICT = "account_conflict"
    CONTACT_CONFLICT = "contact_conflict"
    ORGANIZATION_NOT_VALID = "organization_not_valid"


# Columns the reconciliation file appends after the original ones, in this order. When a previous
# reconciliation file is read back as input, these columns are dropped from it.
OUTCOME_COLUMNS = (
    SOURCE_ROW,
    "organization_status",
    "organization_id",
    "contact_status",
    "contact_id",
    "error_stage",
    "error_code",
    "error_message",
)


@dataclass(frozen=True)
class Outcome:
    """What became of one record (an organization or a contact)."""

    kind: str
    key: str
    status: Status
    source_rows: tuple[int, ...]
    genesys_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    organization_key: str | None = None
    # False when the request carrying the record failed as a whole: nothing was answered about it, so a
    # resumed run must send it again rather than reuse this outcome.
    answered: bool = True
