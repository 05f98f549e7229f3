"""Logging for the CLI: human-readable or JSON lines, with personal data and secrets scrubbed.

Code is expected to log masked values already (``pipeline.masking``); the filter here is the last line of
defence for what slips through, such as an email quoted inside an API error message. Secrets (the client
secret, access tokens) are registered when they come into existence and replaced wherever they appear.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from typing import TextIO

from pipeline.masking import mask_in_text

ROOT_LOGGER = "pipeline"
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")

_REDACTED = "***"

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Make every later log line replace ``value`` with ``***`` (for secrets and tokens)."""
    # Very short values would blank out ordinary words; real secrets and tokens are long.
    if len(value) >= 8:
        with _secrets_lock:
            _secrets.add(value)


def scrub(text: str) -> str:
    """``text`` with registered secrets removed and emails/phone numbers masked."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, _REDACTED)
    return mask_in_text(text)


class ScrubFilter(logging.Filter):
    """Renders each record's message once, scrubbed, so formatters never see the raw arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception text, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "warning", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send the ``pipeline`` loggers to ``stream`` (stderr) in the chosen format; idempotent."""
    logger = logging.getLogger(ROOT_LOGGER)
    for handler in list(logger.handlers):
        if getattr(handler, "_contacts_pipeline", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._contacts_pipeline = True  # type: ignore[attr-defined]
    handler.addFilter(ScrubFilter())
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
