"""Logging: formats, and the scrubbing of personal data and secrets."""

from __future__ import annotations

import io
import json
import logging

from pipeline.genesys.secret import Secret
from pipeline.logs import configure_logging, scrub


def _log(fmt: str, message: str, *args: object) -> str:
    stream = io.StringIO()
    configure_logging("info", fmt, stream)
    logging.getLogger("pipeline.test").info(message, *args)
    return stream.getvalue()


def test_emails_and_phones_in_log_lines_are_masked() -> None:
    """An email or phone that slips into a message is masked before it is written."""
    line = _log("text", "API said: %s", "contact jane.doe@example.com with +14155550123 exists")
    assert "jane.doe@example.com" not in line
    assert "+14155550123" not in line
    assert "j***@example.com" in line


def test_a_secret_is_replaced_wherever_it_appears() -> None:
    """Once a Secret exists, its raw value never reaches a log line, even formatted by mistake."""
    raw = "tok-Zx81-very-secret-value"
    secret = Secret(raw)
    line = _log("text", "header was Bearer %s", secret.reveal())
    assert raw not in line
    assert "***" in line


def test_json_format_writes_one_object_per_line() -> None:
    """--log-format json writes parseable JSON lines with level, logger and message."""
    entry = json.loads(_log("json", "organizations %d/%d", 3, 7).strip())
    assert entry["level"] == "info"
    assert entry["logger"] == "pipeline.test"
    assert entry["message"] == "organizations 3/7"


def test_scrub_leaves_ordinary_text_alone() -> None:
    """Text without personal data or secrets is unchanged."""
    assert scrub("batch 12 of 40 done in 0.4 s") == "batch 12 of 40 done in 0.4 s"


def test_ids_dates_and_counts_survive_scrubbing() -> None:
    """Genesys ids, ISO dates and counts are not mistaken for phone numbers."""
    text = "org 5a0c7e5e-0000-4000-8000-00000000e001 on 2024-03-05: 1200 rows"
    assert scrub(text) == text
