"""``import --save-before``: the stored state of the records a chunk will write, journaled before the
chunk is sent, so that ``runs revert`` can put updated records back.

Records are read as :class:`~pipeline.importing.live.LiveReader` reads them: by Genesys id in bulk (ten a
request) for those the journal knows, else by a scan of the source or one ExternalId lookup each. A key
with no stored record gets no image: the write creates it, and a revert deletes it. Images are committed
before the write; a resumed run keeps the first image of a record (later reads may see the crashed
session's write).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.importing.live import LiveReader
from pipeline.importing.plan import Kind, Operation
from pipeline.journal.images import BeforeImage
from pipeline.journal.ledger import RunLedger


@dataclass
class BeforeImages:
    reader: LiveReader
    ledger: RunLedger
    source_id: str

    async def save(
        self,
        operations: Sequence[Operation],
        kind: Kind,
        known: Mapping[str, str | None],
        stored: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        """Read (unless ``stored`` already holds them: --compare-live just read them) and journal the
        stored records of ``operations`` that this run has no image of yet."""
        if not operations:
            return
        have = self.ledger.saved_before(kind)
        wanted = [op.key for op in operations if op.key not in have]
        if not wanted:
            return
        if stored is None:
            stored = await self.reader.read(kind, wanted, known)
        images = [
            BeforeImage(kind, key, str(record["id"]), self.source_id, record)
            for key in wanted
            if (record := stored.get(key)) is not None and record.get("id")
        ]
        self.ledger.save_before(images)
