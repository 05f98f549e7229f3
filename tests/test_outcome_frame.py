"""Outcome frame: push outcomes merged with validation outcomes, one row per input row."""

from __future__ import annotations

import polars as pl

from pipeline.outcomes import Outcome, Status
from pipeline.report.merge import empty_outcomes, merge_outcomes, row_succeeded


def _decided(rows: list[dict]) -> pl.DataFrame:
    return pl.concat([empty_outcomes(), pl.DataFrame(rows, schema=empty_outcomes().schema)])


def test_each_record_outcome_lands_on_every_row_it_came_from() -> None:
    """An organization written once for three rows reports its id on all three."""
    merged = merge_outcomes(
        empty_outcomes(),
        [
            Outcome("organization", "A", Status.CREATED, (2, 3, 4), genesys_id="o1"),
            Outcome("contact", "C1", Status.UPDATED, (2,), genesys_id="c1"),
            Outcome("contact", "C2", Status.CREATED, (3, 4), genesys_id="c2"),
        ],
    )
    assert merged["source_row"].to_list() == [2, 3, 4]
    assert merged["genesys_organization_id"].to_list() == ["o1", "o1", "o1"]
    assert merged["contact_status"].to_list() == ["updated", "created", "created"]
    assert merged["error_stage"].null_count() == 3


def test_validation_outcomes_win_and_keep_their_error() -> None:
    """A row whose contact was invalid keeps that status and message while its organization is written."""
    decided = _decided(
        [
            {
                "source_row": 2,
                "contact_status": "invalid",
                "error_stage": "validate",
                "error_code": "invalid_email",
                "error_message": "Contact Work Email is not valid",
            }
        ]
    )
    merged = merge_outcomes(decided, [Outcome("organization", "A", Status.CREATED, (2,), genesys_id="o1")])
    row = merged.row(0, named=True)
    assert row["organization_status"] == "created"
    assert row["contact_status"] == "invalid"
    assert row["error_code"] == "invalid_email"


def test_organization_failure_is_the_error_of_its_skipped_contacts() -> None:
    """A failed organization's error is reported on the rows whose contacts were skipped for it."""
    merged = merge_outcomes(
        empty_outcomes(),
        [
            Outcome("organization", "A", Status.FAILED, (2,), error_code="x", error_message="org bad"),
            Outcome("contact", "C1", Status.SKIPPED, (2,), error_code="x", error_message="organization 'A'"),
        ],
    )
    row = merged.row(0, named=True)
    assert (row["organization_status"], row["contact_status"]) == ("failed", "skipped")
    assert (row["error_stage"], row["error_message"]) == ("organization", "org bad")


def test_row_succeeded_requires_every_present_part_to_succeed() -> None:
    """A row succeeds when each part it has was created, updated or unchanged."""
    frame = pl.DataFrame(
        {
            "organization_status": ["created", None, "created", None],
            "contact_status": ["unchanged", "updated", "failed", None],
        }
    )
    assert frame.select(row_succeeded())["organization_status"].to_list() == [True, True, False, False]


def test_error_message_lists_the_validation_and_the_push_problem() -> None:
    """An invalid contact whose organization then failed at the API shows both reasons."""
    decided = _decided(
        [
            {
                "source_row": 2,
                "contact_status": "invalid",
                "error_stage": "validate",
                "error_code": "invalid_email",
                "error_message": "Contact Work Email is not valid",
            }
        ]
    )
    failed = Outcome("organization", "A", Status.FAILED, (2,), error_code="x", error_message="org bad")
    row = merge_outcomes(decided, [failed]).row(0, named=True)
    assert row["error_code"] == "invalid_email"
    assert row["error_message"] == "Contact Work Email is not valid; org bad"
