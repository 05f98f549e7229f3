"""``--delete-missing``, the pure part: which stored records a file no longer has, and the guard.

A record is *missing* when it carries an ExternalId of the run's external source (and is in the run's
division, when one is given) whose value is not a key of the file. Keys of every row count, invalid rows
included: a row that failed validation is still in the file, and deleting its record would turn a typo
into data loss.

Memory stays bounded by what a scan keeps (:class:`StoredIndex`): whole records only for the missing
ones, the Account ID of every organization of the source (to write a deleted contact's link), and the set
of organizations that contacts staying behind link to. The ``plan`` command lists the same deletions with::

    index = StoredIndex(present_keys(prepared.normalized), source_id, division_id)
    for kind, page in scanned_pages: index.add(kind, page.entities)   # or: await scan_stored(...)
    plan = plan_deletions(index, DeleteGuard.parse(options.max_delete))
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from pipeline.errors import ConfigError
from pipeline.exporting.layout import external_id
from pipeline.fields import CONTACT_KEY, ORGANIZATION_KEY

StoredKind = Literal["contact", "organization"]
DEFAULT_MAX_DELETE = "5%"
_GUARD_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class PresentKeys:
    """The Contact IDs and Account IDs a file holds (every row, valid or not)."""

    contacts: frozenset[str]
    organizations: frozenset[str]


def present_keys(normalized: pl.DataFrame) -> PresentKeys:
    """The keys of every row of a normalized frame, as import matches them (trimmed by normalization)."""

    def keys(column: str) -> frozenset[str]:
        if column not in normalized.columns:
            return frozenset()
        return frozenset(normalized.get_column(column).drop_nulls().cast(pl.String).to_list())

    return PresentKeys(keys(CONTACT_KEY), keys(ORGANIZATION_KEY))


@dataclass(frozen=True)
class DeleteGuard:
    """The most records one run may delete: a count, or a percentage of the source's stored records."""

    count: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, value: str) -> DeleteGuard:
        """``"25"`` (records) or ``"5%"`` (of the source's records); ConfigError (exit 2) otherwise."""
        match = _GUARD_RE.match(value)
        if match is None or (not match.group(2) and "." in match.group(1)):
            raise ConfigError(
                f"--max-delete must be a number of records (e.g. 25) or a percentage (e.g. 5%), not {value!r}"
            )
        number = float(match.group(1))
        if match.group(2):
            if number > 100:
                raise ConfigError(f"--max-delete {value}: a percentage is at most 100%")
            return cls(percent=number)
        return cls(count=int(number))

    def allowed(self, stored: int) -> int:
        if self.count is not None:
            return self.count
        # Rounded down: "5%" never lets through more than 5% of the records.
        return math.floor((self.percent or 0.0) * stored / 100 + 1e-9)

    def __str__(self) -> str:
        return str(self.count) if self.count is not None else f"{self.percent:g}%"


@dataclass(frozen=True)
class Deletion:
    """One stored record the run deletes (or would): its kind, key, Genesys id and whole record."""

    kind: StoredKind
    key: str
    genesys_id: str
    record: Mapping[str, Any]

    @property
    def organization_id(self) -> str | None:
        """For a contact: the Genesys id of the organization it links to."""
        return _organization_id(self.record)


@dataclass
class StoredIndex:
    """What a scan of the target keeps for planning deletions; fed page by page with :meth:`add`."""

    present: PresentKeys
    source_id: str
    division_id: str | None = None
    source_contacts: int = 0
    source_organizations: int = 0
    missing_contacts: list[Deletion] = field(default_factory=list)
    missing_organizations: list[Deletion] = field(default_factory=list)
    # Account ID of every organization of the source, by Genesys id: a deleted contact's link.
    organization_keys: dict[str, str] = field(default_factory=dict)
    # Organizations that contacts staying behind (any source, or none) link to, with how many link.
    linked: dict[str, int] = field(default_factory=dict)

    def add(self, kind: StoredKind, records: Iterable[Mapping[str, Any]]) -> None:
        for record in records:
            key = self._key(record)
            if kind == "contact":
                self._add_contact(record, key)
            else:
                self._add_organization(record, key)

    def _key(self, record: Mapping[str, Any]) -> str | None:
        if self.division_id and (record.get("division") or {}).get("id") != self.division_id:
            return None
        return external_id(record, self.source_id)

    def _add_contact(self, record: Mapping[str, Any], key: str | None) -> None:
        if key is not None:
            self.source_contacts += 1
            if key not in self.present.contacts and record.get("id"):
                self.missing_contacts.append(Deletion("contact", key, str(record["id"]), record))
                return
        if (org := _organization_id(record)) is not None:
            self.linked[org] = self.linked.get(org, 0) + 1

    def _add_organization(self, record: Mapping[str, Any], key: str | None) -> None:
        if key is None or not record.get("id"):
            return
        self.source_organizations += 1
        self.organization_keys[str(record["id"])] = key
        if key not in self.present.organizations:
            self.missing_organizations.append(Deletion("organization", key, str(record["id"]), record))

    @property
    def source_records(self) -> int:
        return self.source_contacts + self.source_organizations


@dataclass(frozen=True)
class DeletionPlan:
    """What ``--delete-missing`` deletes: contacts first, then organizations no staying contact links to;
    ``kept`` are missing organizations that other contacts still link to (never deleted), with why."""

    contacts: tuple[Deletion, ...]
    organizations: tuple[Deletion, ...]
    kept: tuple[tuple[Deletion, str], ...]
    source_id: str
    source_records: int
    allowed: int
    guard: DeleteGuard
    organization_keys: Mapping[str, str]

    @property
    def count(self) -> int:
        """Records the run would delete (the guard's measure)."""
        return len(self.contacts) + len(self.organizations)

    @property
    def over_guard(self) -> bool:
        return self.count > self.allowed

    def refusal(self) -> str:
        """The one-line message when the plan is over the guard."""
        return (
            f"--delete-missing would delete {self.count} records ({len(self.contacts)} contacts, "
            f"{len(self.organizations)} organizations) of the external source's {self.source_records}, "
            f"more than --max-delete {self.guard} allows ({self.allowed}); nothing was sent or deleted. "
            f"If the file is complete, raise the guard, e.g. --max-delete {self.count}"
        )


def plan_deletions(index: StoredIndex, guard: DeleteGuard) -> DeletionPlan:
    """The deletions a scanned ``index`` calls for, checked against ``guard`` (pure)."""
    kept: list[tuple[Deletion, str]] = []
    organizations: list[Deletion] = []
    for org in index.missing_organizations:
        links = index.linked.get(org.genesys_id, 0)
        if links:
            why = f"not deleted: {links} contact(s) staying in Genesys (of any source) link to it"
            kept.append((org, why))
        else:
            organizations.append(org)
    return DeletionPlan(
        contacts=tuple(sorted(index.missing_contacts, key=lambda d: d.key)),
        organizations=tuple(sorted(organizations, key=lambda d: d.key)),
        kept=tuple(sorted(kept, key=lambda k: k[0].key)),
        source_id=index.source_id,
        source_records=index.source_records,
        allowed=guard.allowed(index.source_records),
        guard=guard,
        organization_keys=index.organization_keys,
    )


def _organization_id(record: Mapping[str, Any]) -> str | None:
    org = record.get("externalOrganization")
    if isinstance(org, Mapping) and org.get("id"):
        return str(org["id"])
    return None
