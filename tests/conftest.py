"""Fixtures for every test."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.importing import push as push_module


@pytest.fixture(autouse=True)
def _private_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's imports use a journal of their own, never `.contacts-pipeline/` in the working tree:
    a shared one would make a re-import report `unchanged`, and two test sessions at once would meet
    each other's lock."""
    monkeypatch.setenv("CONTACTS_PIPELINE_JOURNAL", str(tmp_path / "journal" / "journal.db"))


@pytest.fixture(autouse=True)
def _fast_entity_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retryable entities are re-sent after a pause meant for a real backend; tests need not wait it."""
    monkeypatch.setattr(push_module, "ENTITY_RETRY_DELAY_S", 0.01)
