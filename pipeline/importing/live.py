"""Reading the live state of the records an import would touch, by key (the ExternalId of our source).

Three ways, picked by request count:

* records the journal knows (Genesys ids per key, for this target and source) are read by id in bulk,
  ten ids a request (``POST .../bulk/{kind}``); a read record whose ExternalId is no longer the key (merged
  or re-keyed since) counts as not known;
* the others, when there are at least :data:`SCAN_MIN` of them, by a cursor scan of the source's records,
  allowed a quarter as many pages as the lookups it would replace: a store small relative to the file
  is read whole for fewer requests, and a large one costs at most a quarter more than lookups alone;
* what is left, one identifier lookup by ExternalId each.

Every request is a read; :class:`LiveReads` counts them per way, for the summary.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.exporting.layout import external_id
from pipeline.genesys.client import GenesysClient
from pipeline.genesys.models import Kind as ApiKind
from pipeline.genesys.models import external_id_identifier
from pipeline.genesys.scanning import Scanner
from pipeline.importing.plan import Kind

# Fewer unknown records than this are looked up one by one: a scan would not pay off.
SCAN_MIN = 20
SCAN_PAGE = 200
# A scan may spend this share of the lookups it replaces before they are sent after all.
SCAN_SHARE = 4
STRATEGIES = ("bulk", "scan", "lookup")


@dataclass
class LiveReads:
    """Requests sent per strategy, and records read per strategy."""

    requests: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STRATEGIES, 0))
    records: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STRATEGIES, 0))

    def describe(self) -> str:
        used = [s for s in STRATEGIES if self.requests[s]]
        if not used:
            return "no live reads"
        parts = [f"{s} ({self.requests[s]} requests, {self.records[s]} found)" for s in used]
        return f"{', '.join(parts)}; {sum(self.requests.values())} read requests"


@dataclass
class LiveReader:
    client: GenesysClient
    source_id: str
    division_id: str | None = None
    concurrency: int = 4
    reads: LiveReads = field(default_factory=LiveReads)
    scanner: Scanner = field(init=False)

    def __post_init__(self) -> None:
        self.scanner = Scanner(self.client, division_id=self.division_id)

    async def read(
        self, kind: Kind, keys: Collection[str], known: Mapping[str, str | None]
    ) -> dict[str, dict[str, Any]]:
        """The stored record of every key that has one, by key; ``known`` maps keys to Genesys ids."""
        wanted = set(keys)
        found: dict[str, dict[str, Any]] = {}
        ids = {str(known[k]): k for k in wanted if known.get(k)}
        if ids:
            records = await self._counted("bulk", self.client.bulk_get(_api(kind), sorted(ids)))
            for record_id, record in records.items():
                key = ids.get(record_id)
                if key is not None and external_id(record, self.source_id) == key:
                    found[key] = record
                    self.reads.records["bulk"] += 1
        rest = wanted - found.keys()
        if len(rest) >= SCAN_MIN:
            complete = await self._scan(kind, rest, found)
            rest = set() if complete else rest - found.keys()
        found.update(await self._lookups(kind, rest))
        return found

    async def _counted(self, way: str, call: Any) -> Any:
        before = self.client.stats.requests_sent
        try:
            return await call
        finally:
            self.reads.requests[way] += self.client.stats.requests_sent - before

    async def _scan(self, kind: Kind, keys: set[str], found: dict[str, dict[str, Any]]) -> bool:
        """Scan pages into ``found`` until the end (True) or the page budget is spent (False)."""
        budget = max(1, len(keys) // SCAN_SHARE)
        cursor: str | None = None
        for _ in range(budget):
            page = await self._counted(
                "scan",
                self.scanner.page(_api(kind), limit=SCAN_PAGE, cursor=cursor),
            )
            for record in page.entities:
                key = external_id(record, self.source_id)
                if key in keys and key not in found:
                    found[key] = record
                    self.reads.records["scan"] += 1
            # A page the division filter emptied is not the end: only a missing cursor is.
            if page.after is None or page.after == cursor:
                return True
            cursor = page.after
        return False

    async def _lookups(self, kind: Kind, keys: set[str]) -> dict[str, dict[str, Any]]:
        gate = asyncio.Semaphore(max(1, self.concurrency))
        found: dict[str, dict[str, Any]] = {}

        async def lookup(key: str) -> None:
            identifier = external_id_identifier(self.source_id, key, self.division_id)
            async with gate:
                record = await self.client.lookup_identifier(_api(kind), identifier)
            if record is not None:
                found[key] = record

        await self._counted("lookup", asyncio.gather(*(lookup(k) for k in sorted(keys))))
        self.reads.records["lookup"] += len(found)
        return found


def _api(kind: Kind) -> ApiKind:
    return "contacts" if kind == "contact" else "organizations"
