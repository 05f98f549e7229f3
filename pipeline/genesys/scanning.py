"""Enumerating every record of a kind, the way Genesys' own tooling does in orgs with divisions.

Where the token sees several divisions, the plain ``/scan/{kind}`` can come back short or empty (Genesys'
Terraform provider, DEVTOOLING-1826): only ``/scan/{kind}/divisionviews/all`` reaches every record. So
every full enumeration (export, ``duplicates``, ``--delete-missing``, ``plan``'s scans) asks once whether
the token sees several divisions and scans accordingly; a ``division_id`` restricts the result either way
(the division views take no ``divisionId``, so it is applied page by page).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Protocol

from pipeline.errors import TerminalApiError
from pipeline.genesys.models import Kind, ScanPage


class ScanClient(Protocol):
    async def scan(
        self,
        kind: Kind,
        *,
        limit: int = ...,
        division_id: str | None = ...,
        cursor: str | None = ...,
        all_divisions: bool = ...,
    ) -> ScanPage: ...

    async def division_ids(self) -> list[str]: ...


@dataclass
class Scanner:
    """Pages of every record of a kind in the divisions the token sees (or in ``division_id`` only)."""

    client: ScanClient
    division_id: str | None = None
    warnings: list[str] = field(default_factory=list)
    _views: bool | None = None

    async def division_views(self) -> bool:
        """Whether the division-view scans are used: the token sees several divisions (asked once). A token
        not allowed to list divisions is assumed to see several: the views work with one division too."""
        if self._views is None:
            try:
                self._views = len(await self.client.division_ids()) > 1
            except TerminalApiError as err:
                if err.status not in (401, 403):
                    raise
                self.warnings.append(
                    f"cannot list divisions ({err.status} {err.code}); scanned every division's view"
                )
                self._views = True
        return self._views

    async def page(self, kind: Kind, *, limit: int, cursor: str | None = None) -> ScanPage:
        """One page; with the division views and a ``division_id``, only that division's records of it."""
        if not await self.division_views():
            return await self.client.scan(kind, limit=limit, division_id=self.division_id, cursor=cursor)
        page = await self.client.scan(kind, limit=limit, cursor=cursor, all_divisions=True)
        if self.division_id is None:
            return page
        kept = [r for r in page.entities if (r.get("division") or {}).get("id") == self.division_id]
        return replace(page, entities=kept)

    async def pages(self, kind: Kind, *, limit: int) -> AsyncIterator[ScanPage]:
        """Every page to the end of the listing (a page filtered down to nothing does not end it)."""
        cursor: str | None = None
        while True:
            page = await self.page(kind, limit=limit, cursor=cursor)
            yield page
            if page.after is None or page.after == cursor:
                return
            cursor = page.after
