"""Typed shapes of the API responses the pipeline reads: bulk enrich results and scan pages.

Records themselves stay plain dicts (the field specs, not classes, describe them); only the envelopes the
pipeline branches on get types, parsed once here so callers never dig through raw JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["contacts", "organizations"]
KINDS: tuple[Kind, ...] = ("contacts", "organizations")


def external_id_identifier(source_id: str, value: str, division_id: str | None = None) -> dict[str, Any]:
    """The ExternalId identifier naming a record by its key in an external source: what bulk enrich
    matches on and what a lookup asks for (with ``division_id``, a lookup restricted to that division)."""
    identifier: dict[str, Any] = {"type": "ExternalId", "value": value, "externalSource": {"id": source_id}}
    if division_id:
        identifier["division"] = {"id": division_id}
    return identifier


@dataclass(frozen=True)
class EntityError:
    """Why one operation of a bulk request failed; ``retryable`` is the server's own verdict."""

    code: str | None
    message: str
    status: int | None
    retryable: bool
    details: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> EntityError:
        details = body.get("details") or ()
        return cls(
            code=body.get("code"),
            message=str(body.get("message") or ""),
            status=_int_or_none(body.get("status")),
            retryable=bool(body.get("retryable", False)),
            details=tuple(d for d in details if isinstance(d, Mapping)),
        )


@dataclass(frozen=True)
class EntityResult:
    """One operation's outcome, identified by the ``id`` we gave it (results come back in any order)."""

    id: str
    success: bool
    status: int | None
    entity: dict[str, Any] | None
    error: EntityError | None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> EntityResult:
        error = body.get("error")
        return cls(
            id=str(body.get("id", "")),
            success=bool(body.get("success", False)),
            status=_int_or_none(body.get("status")),
            entity=body.get("entity") if isinstance(body.get("entity"), dict) else None,
            error=EntityError.from_json(error) if isinstance(error, Mapping) else None,
        )


@dataclass(frozen=True)
class BulkEnrichResult:
    results: list[EntityResult]
    error_count: int = 0
    dry_run: bool = False

    @classmethod
    def from_json(cls, body: Mapping[str, Any], *, dry_run: bool = False) -> BulkEnrichResult:
        results = [EntityResult.from_json(r) for r in body.get("results") or () if isinstance(r, Mapping)]
        error_count = body.get("errorCount")
        return cls(
            results=results,
            error_count=int(error_count) if error_count is not None else sum(not r.success for r in results),
            dry_run=dry_run,
        )

    def by_id(self) -> dict[str, EntityResult]:
        """Results keyed by operation id: the only safe way to pair them with requests."""
        return {r.id: r for r in self.results}


@dataclass(frozen=True)
class ScanPage:
    """One page of a cursor scan; ``after`` is None on the last page."""

    entities: list[dict[str, Any]] = field(default_factory=list)
    after: str | None = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ScanPage:
        cursors = body.get("cursors") or {}
        after = cursors.get("after") if isinstance(cursors, Mapping) else None
        entities = [e for e in body.get("entities") or () if isinstance(e, dict)]
        return cls(entities=entities, after=after or None)


def _int_or_none(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
