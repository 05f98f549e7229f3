"""The sandbox's data: contacts, organizations, external sources and the identifier claims index.

Everything lives in memory; with a ``state_path`` every change is also written to a SQLite file, and a
new store on the same file starts where the last one stopped. Identifier claims are the ``identifiers``
each stored record holds, so they are rebuilt on load; a record written with an identifier another
record holds takes it from that record (a claim moves). One lock guards
everything: the server thread writes while tests read.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.sandbox import config as demo
from pipeline.sandbox.enrich import Outcome
from pipeline.sandbox.records import API, KINDS, ClaimKey, Kind, identifier_claim_key
from pipeline.sandbox.schemas import demo_schemas, kind_of

SOURCES = "externalsources"
COLLECTIONS = (*KINDS, SOURCES)
_ALIASES = {"contact": "contacts", "organization": "organizations", "externalsource": SOURCES}

_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS records (
    collection TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (collection, id));
CREATE TABLE IF NOT EXISTS redirects (id TEXT PRIMARY KEY, target TEXT NOT NULL);
"""

DIVISIONS = (
    {"id": demo.DEMO_DIVISION_ID, "name": demo.DEMO_DIVISION_NAME, "homeDivision": True},
    {"id": demo.SECOND_DIVISION_ID, "name": demo.SECOND_DIVISION_NAME, "homeDivision": False},
)


class Store:
    """In-memory records with optional SQLite write-through. Read methods return copies."""

    def __init__(
        self,
        state_path: Path | str | None = None,
        schemas: list[dict[str, Any]] | None = None,
        strict_claims: bool = False,
    ):
        self.strict_claims = strict_claims
        self.lock = threading.RLock()
        self._records: dict[str, dict[str, dict[str, Any]]] = {c: {} for c in COLLECTIONS}
        self._seq: dict[tuple[str, str], int] = {}
        self._next_seq = 1
        self._claims: dict[ClaimKey, str] = {}
        self._owned: dict[str, list[ClaimKey]] = {}  # record id -> the claims it holds
        self._redirects: dict[str, str] = {}
        self._schemas = {s["id"]: s for s in (schemas if schemas is not None else demo_schemas())}
        self._db: sqlite3.Connection | None = None
        self._depth = 0
        if state_path is not None:
            self._open(Path(state_path))
        if demo.DEMO_EXTERNAL_SOURCE_ID not in self._records[SOURCES]:
            self.put_source(demo_source())

    # --- reading (also the validation.Refs protocol) -------------------------------------------------
    def division(self, division_id: str | None) -> dict[str, Any] | None:
        for division in DIVISIONS:
            if (division_id is None and division["homeDivision"]) or division["id"] == division_id:
                return dict(division)
        return None

    def divisions(self) -> list[dict[str, Any]]:
        return [dict(d) for d in DIVISIONS]

    def source(self, source_id: str) -> dict[str, Any] | None:
        return self.get(SOURCES, source_id)

    # Schemas are fixed when the store is built and nothing writes them, so they are handed out shared:
    # validation reads the schema of every record it checks, and copying it cost more than the check.
    def schema(self, schema_id: str) -> dict[str, Any] | None:
        """The schema, shared: read it, never change it."""
        return self._schemas.get(schema_id)

    def schemas(self, kind: str) -> list[dict[str, Any]]:
        """The kind's schemas, shared: read them, never change them."""
        return [s for s in self._schemas.values() if kind in kind_of(s)]

    def get(self, collection: str, record_id: str) -> dict[str, Any] | None:
        with self.lock:
            record = self._records[_name(collection)].get(record_id)
            return json_copy(record) if record is not None else None

    # One dict lookup is atomic: these two need no lock (they run for every identifier of every write).
    def exists(self, collection: str, record_id: str) -> bool:
        """Whether the record is stored (without the copy :meth:`get` makes)."""
        return record_id in self._records[_name(collection)]

    def resolve(self, collection: str, record_id: str) -> dict[str, Any] | None:
        """Like :meth:`get`, but a contact merged away resolves to the contact it was merged into."""
        with self.lock:
            seen = set()
            while record_id in self._redirects and record_id not in seen:
                seen.add(record_id)
                record_id = self._redirects[record_id]
            return self.get(collection, record_id)

    def claim_owner(self, key: ClaimKey) -> str | None:
        return self._claims.get(key)

    def linked_contacts(self, organization_id: str, limit: int) -> list[str]:
        """The ids of up to ``limit`` contacts whose ``externalOrganization`` is this organization."""
        with self.lock:
            found = []
            for contact in self._records["contacts"].values():
                if (contact.get("externalOrganization") or {}).get("id") == organization_id:
                    found.append(contact["id"])
                    if len(found) >= limit:
                        break
            return found

    def count(self, collection: str) -> int:
        with self.lock:
            return len(self._records[_name(collection)])

    def all(self, collection: str) -> list[dict[str, Any]]:
        """Every record of a collection, oldest first, as the API shows them."""
        with self.lock:
            return json_copy(list(self._records[_name(collection)].values()))

    def page(
        self, collection: str, after: int, limit: int, keep: Any = None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Up to ``limit`` records with a sequence number above ``after`` (and ``keep(record)`` true),
        and the sequence number to continue after, or None on the last page."""
        name = _name(collection)
        rows: list[tuple[int, dict[str, Any]]] = []
        with self.lock:
            # Records iterate in sequence order: new ones are appended, rewrites keep their place.
            for record_id, record in self._records[name].items():
                seq = self._seq[(name, record_id)]
                if seq > after and (keep is None or keep(record)):
                    rows.append((seq, record))
                    if len(rows) > limit:
                        break
            page = [(seq, json_copy(record)) for seq, record in rows[:limit]]
        more = len(rows) > limit
        return [rec for _, rec in page], (page[-1][0] if more else None)

    # --- writing ------------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Hold the lock and commit once at the end (many writes, one SQLite commit)."""
        with self.lock:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
                if self._depth == 0 and self._db is not None:
                    self._db.commit()

    def apply(self, outcome: Outcome) -> None:
        """Store an enrich or merge outcome: drop the records merged away, then write the record.

        The store keeps ``outcome.record`` itself, not a copy (copying every written record was a tenth
        of a bulk request's time): the caller may read it, as the answer's view does, never change it.
        """
        kind = outcome.kind
        with self.transaction():
            for old_id in outcome.replaced:
                self._remove(kind.collection, old_id)
                self._redirect(old_id, outcome.record["id"])
            self._put(kind.collection, outcome.record, copy=False)

    def delete(self, collection: str, record_id: str) -> bool:
        with self.transaction():
            return self._remove(_name(collection), record_id)

    def put_source(self, source: dict[str, Any]) -> None:
        with self.transaction():
            self._put(SOURCES, source)

    def close(self) -> None:
        with self.lock:
            if self._db is not None:
                self._db.commit()
                self._db.close()
                self._db = None

    # --- internals ----------------------------------------------------------------------------------
    def _put(self, collection: str, record: dict[str, Any], *, copy: bool = True) -> None:
        if copy:
            record = json_copy(record)
        key = (collection, record["id"])
        if collection in KINDS:
            kind = KINDS[collection]
            claims = _claim_keys(kind, record)
            self._unclaim(collection, record["id"])
            self._take_claims(kind, record["id"], claims)
            self._claim(record["id"], claims)
        if key not in self._seq:
            self._seq[key] = self._next_seq
            self._next_seq += 1
        self._records[collection][record["id"]] = record
        if self._db is not None:
            self._db.execute(
                "INSERT OR REPLACE INTO records (collection, id, seq, body) VALUES (?, ?, ?, ?)",
                (collection, record["id"], self._seq[key], json.dumps(record)),
            )
            self._autocommit()

    def _remove(self, collection: str, record_id: str) -> bool:
        if self._records[collection].pop(record_id, None) is None:
            return False
        self._seq.pop((collection, record_id), None)
        self._unclaim(collection, record_id)
        if self._db is not None:
            self._db.execute("DELETE FROM records WHERE collection = ? AND id = ?", (collection, record_id))
            self._autocommit()
        return True

    def _redirect(self, old_id: str, new_id: str) -> None:
        self._redirects[old_id] = new_id
        if self._db is not None:
            self._db.execute("INSERT OR REPLACE INTO redirects (id, target) VALUES (?, ?)", (old_id, new_id))

    def _take_claims(self, kind: Kind, record_id: str, claims: list[ClaimKey]) -> None:
        """Other records lose the ``claims`` the record ``record_id`` now holds (a claim moves, it is
        never shared)."""
        losers: dict[str, set[ClaimKey]] = {}
        for key in claims:
            owner = self._claims.get(key)
            if owner is not None and owner != record_id:
                losers.setdefault(owner, set()).add(key)
        for owner, keys in losers.items():
            loser = self._records[kind.collection].get(owner)
            if loser is None:
                continue
            # A new record (stored records are never changed in place: answers may be reading them).
            loser = {
                **loser,
                "identifiers": [
                    i for i in loser.get("identifiers") or () if identifier_claim_key(kind, i) not in keys
                ],
            }
            self._put(kind.collection, loser, copy=False)

    def _claim(self, record_id: str, claims: list[ClaimKey]) -> None:
        for key in claims:
            self._claims[key] = record_id
        self._owned[record_id] = claims

    def _unclaim(self, collection: str, record_id: str) -> None:
        for key in self._owned.pop(record_id, ()):
            if self._claims.get(key) == record_id:
                del self._claims[key]

    def _autocommit(self) -> None:
        if self._depth == 0 and self._db is not None:
            self._db.commit()

    def _open(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False)
            self._db.executescript(_SCHEMA_SQL)
            self._db.execute("PRAGMA journal_mode=WAL")
            rows = self._db.execute("SELECT collection, id, seq, body FROM records ORDER BY seq").fetchall()
        except (OSError, sqlite3.Error) as err:
            raise ConfigError(f"{path} is not a usable sandbox state file ({err}); name a new file") from err
        for collection, record_id, seq, body in rows:
            if collection not in self._records:
                continue
            record = json.loads(body)
            self._records[collection][record_id] = record
            self._seq[(collection, record_id)] = seq
            if collection in KINDS:
                self._claim(record_id, _claim_keys(KINDS[collection], record))
        self._next_seq = max((seq for *_, seq, _ in rows), default=0) + 1
        self._redirects = dict(self._db.execute("SELECT id, target FROM redirects").fetchall())


def _claim_keys(kind: Kind, record: dict[str, Any]) -> list[ClaimKey]:
    """The keys of the claims a record holds (its ``identifiers``), worked out once per write."""
    found = (identifier_claim_key(kind, i) for i in record.get("identifiers") or ())
    return [key for key in found if key is not None]


def json_copy(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, tuples and immutable scalars), about 2.5 times faster than
    ``copy.deepcopy``, which keeps a memo for shared and cyclic objects that JSON data never has."""
    if type(value) is dict:
        return {k: json_copy(v) if type(v) in _CONTAINERS else v for k, v in value.items()}
    if type(value) is list:
        return [json_copy(v) if type(v) in _CONTAINERS else v for v in value]
    if type(value) is tuple:
        return tuple(json_copy(v) for v in value)
    return value


_CONTAINERS = (dict, list, tuple)


def demo_source() -> dict[str, Any]:
    return {
        "id": demo.DEMO_EXTERNAL_SOURCE_ID,
        "name": demo.DEMO_EXTERNAL_SOURCE_NAME,
        "active": True,
        "linkConfiguration": {"uriTemplate": "https://crm.example.com/records/{{externalId.value}}"},
        "selfUri": f"{API}/externalsources/{demo.DEMO_EXTERNAL_SOURCE_ID}",
    }


def _name(collection: str) -> str:
    name = _ALIASES.get(collection, collection)
    if name not in COLLECTIONS:
        raise KeyError(f"unknown collection {collection!r}; one of {', '.join(COLLECTIONS)}")
    return name
