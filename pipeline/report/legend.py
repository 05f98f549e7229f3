"""What every column the tool adds and every status means: one text for README's table and the Legend sheet.

``tests/test_legend.py`` checks that README lists every column and status given here, so the workbook a
colleague opens alone and the documentation never say different things.
"""

from __future__ import annotations

from pipeline.fields import GENESYS_CONTACT_ID, GENESYS_ORGANIZATION_ID, FieldSpec
from pipeline.outcomes import OUTCOME_COLUMNS, RUN_COLUMNS, SOURCE_ROW, Status

COLUMNS: dict[str, str] = {
    SOURCE_ROW: "The row's number in the input spreadsheet (the header is row 1).",
    "organization_status": "What became of the row's organization (Account ID and account columns); "
    "empty when the row has no organization part.",
    GENESYS_ORGANIZATION_ID: "The Genesys Cloud id of the row's organization, once created, updated or "
    "found unchanged (in an export: the record's id).",
    "contact_status": "What became of the row's contact (Contact ID and contact columns); empty when the "
    "row has no contact part.",
    GENESYS_CONTACT_ID: "The Genesys Cloud id of the row's contact, once created, updated or found "
    "unchanged (in an export: the record's id).",
    "error_stage": "Where the row's first problem was found: read, validate, group (duplicates and "
    "conflicts), organization or contact (the API's answer).",
    "error_code": "The first problem's code: a reason such as required, invalid_email or account_conflict, "
    "or the code the API answered.",
    "error_message": "Every problem of the row, in the order found, separated by '; '.",
    "run_id": "The import run that wrote the file, as `contacts-pipeline runs` lists it.",
    "dry_run": "true when the import was a dry run: nothing was sent, and the statuses say what would have "
    "happened.",
}

STATUSES: dict[Status, str] = {
    Status.VALID: "Passed every check (`validate` only): it would be sent.",
    Status.CREATED: "A new record was created in Genesys Cloud.",
    Status.UPDATED: "The existing record was updated with the row's values.",
    Status.UNCHANGED: "Identical to what the last import sent, so it was not sent again.",
    Status.INVALID: "A value broke a rule (see error_code and error_message); nothing was sent.",
    Status.CONFLICT: "Another row with the same Contact ID or Account ID holds different values; nothing "
    "was sent.",
    Status.FAILED: "The API refused the record or did not answer after every retry; rerun with "
    "--only-failed.",
    Status.UNKNOWN: "Retries ran out and a lookup could not tell whether the record was written; rerun "
    "with --only-failed.",
    Status.SKIPPED: "Not sent because the row's organization is invalid, in conflict or failed.",
    Status.AMBIGUOUS_MATCH: "Found by email or phone, but no second factor confirmed it is the same "
    "person (see error_message and --match-policy); nothing was written.",
    Status.DELETED: "Only in the <report stem>.deleted.csv file of import --delete-missing: the record "
    "was deleted because its key is no longer in the file; importing that file restores it.",
}

# Cell colours of the status columns in a workbook: (fill, font), green for done, red for not done.
STATUS_COLOURS: dict[Status, tuple[str, str]] = {
    Status.VALID: ("#C6EFCE", "#006100"),
    Status.CREATED: ("#C6EFCE", "#006100"),
    Status.UPDATED: ("#C6EFCE", "#006100"),
    Status.UNCHANGED: ("#EDEDED", "#3A3A3A"),
    Status.INVALID: ("#FFC7CE", "#9C0006"),
    Status.CONFLICT: ("#FFC7CE", "#9C0006"),
    Status.FAILED: ("#FFC7CE", "#9C0006"),
    Status.UNKNOWN: ("#FFEB9C", "#9C5700"),
    Status.SKIPPED: ("#FFEB9C", "#9C5700"),
    Status.AMBIGUOUS_MATCH: ("#FFEB9C", "#9C5700"),
    Status.DELETED: ("#EDEDED", "#3A3A3A"),
}

STATUS_COLUMNS = ("organization_status", "contact_status")

LegendRow = tuple[str, str, str]


def report_legend(columns: list[str]) -> list[LegendRow]:
    """(what, name, meaning) for a report's added columns present in ``columns``, then every status."""
    added = [c for c in (*OUTCOME_COLUMNS, *RUN_COLUMNS) if c in columns]
    rows = [("column", c, COLUMNS[c]) for c in added]
    rows.append(("column", "(the columns before source_row)", "The input file's columns, unchanged."))
    return rows + [("status", str(s), text) for s, text in STATUSES.items()]


def export_legend(headers: list[str], fields: list[FieldSpec]) -> list[LegendRow]:
    """(what, name, meaning) for every column of an export: its field, or the Genesys id columns."""
    by_header = {f.header: f for f in fields}
    rows: list[LegendRow] = []
    for header in headers:
        spec = by_header.get(header)
        if spec is not None:
            need = ", required" if spec.required else ""
            meaning = f"{spec.kind.capitalize()} field {spec.path} ({spec.type}{need})."
            rows.append(("column", header, meaning))
        elif header in COLUMNS:
            rows.append(("column", header, COLUMNS[header] + " Read-only: import ignores it."))
    return rows
