"""The one division-aware scan every full enumeration uses."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.errors import TerminalApiError
from pipeline.genesys.models import Kind, ScanPage
from pipeline.genesys.scanning import Scanner


class FakeClient:
    """Three pages of the division views; page two holds only another division's record."""

    def __init__(self, divisions: list[str] | Exception) -> None:
        self.divisions = divisions
        self.calls: list[tuple[str | None, bool]] = []
        self.pages = {
            None: ScanPage([{"id": "a", "division": {"id": "d1"}}], after="p2"),
            "p2": ScanPage([{"id": "b", "division": {"id": "d2"}}], after="p3"),
            "p3": ScanPage([{"id": "c", "division": {"id": "d1"}}], after=None),
        }

    async def scan(
        self,
        kind: Kind,
        *,
        limit: int = 200,
        division_id: str | None = None,
        cursor: str | None = None,
        all_divisions: bool = False,
    ) -> ScanPage:
        self.calls.append((division_id, all_divisions))
        return self.pages[cursor]

    async def division_ids(self) -> list[str]:
        if isinstance(self.divisions, Exception):
            raise self.divisions
        return self.divisions


def _ids(scanner: Scanner) -> list[str]:
    async def collect() -> list[str]:
        return [r["id"] async for page in scanner.pages("contacts", limit=10) for r in page.entities]

    return asyncio.run(collect())


def test_several_divisions_scan_every_view_and_a_division_filter_never_ends_the_listing_early() -> None:
    """With two divisions the views are scanned; --division keeps its records across an emptied page."""
    client = FakeClient(["d1", "d2"])
    assert _ids(Scanner(client, division_id="d1")) == ["a", "c"]
    assert {all_divisions for _, all_divisions in client.calls} == {True}


def test_one_division_uses_the_plain_scan_with_its_division_id() -> None:
    """A token seeing one division scans plainly, passing --division to the API."""
    client = FakeClient(["d1"])
    assert _ids(Scanner(client, division_id="d1")) == ["a", "b", "c"]  # the fake ignores divisionId
    assert client.calls[0] == ("d1", False)


@pytest.mark.parametrize("status", [401, 403])
def test_a_token_that_cannot_list_divisions_scans_the_views_and_says_so(status: int) -> None:
    """No permission to list divisions: the views (which work with one division too), and a warning."""
    error = TerminalApiError("no", status=status, code="missing.permissions")
    scanner = Scanner(FakeClient(error))
    assert _ids(scanner) == ["a", "b", "c"]
    assert scanner.warnings == [
        f"cannot list divisions ({status} missing.permissions); scanned every division's view"
    ]


def test_other_errors_listing_divisions_are_not_hidden() -> None:
    """A 400 listing divisions is a real error, not a reason to guess."""
    error = TerminalApiError("bad", status=400, code="bad.request")
    with pytest.raises(TerminalApiError):
        _ids(Scanner(FakeClient(error)))
