"""The vocabulary of per-row outcomes shared by validate, push and the reconciliation file."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pipeline.fields import GENESYS_CONTACT_ID, GENESYS_ORGANIZATION_ID

SOURCE_ROW = "source_row"


class Status(StrEnum):
    # Only in the report of `validate`: the part passed every check and would be sent.
    VALID = "valid"
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    INVALID = "invalid"
    CONFLICT = "conflict"
    FAILED = "failed"
    # Retries ran out without an answer and a lookup could not tell whether the record was written.
    UNKNOWN = "unknown"
    SKIPPED = "skipped"
    # --delete-missing removed the record (its key is no longer in the file); journal and summary only.
    DELETED = "deleted"
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
# reconciliation file is read back as input, these columns are dropped from it. The id columns carry the
# names export writes, so a report and an export name a record's Genesys id alike.
OUTCOME_COLUMNS = (
    SOURCE_ROW,
    "organization_status",
    GENESYS_ORGANIZATION_ID,
    "contact_status",
    GENESYS_CONTACT_ID,
    "error_stage",
    "error_code",
    "error_message",
)

# What an import's reconciliation file adds after the outcome columns: which journal run wrote it and
# whether it was a dry run (its statuses then say what would have happened).
RUN_COLUMNS = ("run_id", "dry_run")

# Names reports had before the id columns took export's names; a report written then is still read back.
OLD_OUTCOME_NAMES = {"organization_id": GENESYS_ORGANIZATION_ID, "contact_id": GENESYS_CONTACT_ID}


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


# Columns of the ``.deleted.csv`` file ``import --delete-missing`` writes after the import layout's: which
# record a row stands for and what became of its deletion. Read back as input (to restore the records)
# they are ignored silently, like a reconciliation file's outcome columns. Not plain error_code/error_message:
# the reconciliation file of that restoring import adds those, and a column may appear only once.
DELETE_COLUMNS = ("delete_kind", "delete_status", "delete_error_code", "delete_error_message")
