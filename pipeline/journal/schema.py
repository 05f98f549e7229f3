"""The journal's tables, and how a writer upgrades an older journal to them.

Schema versions: 1 also had an ``accounts`` table (Account ID -> organization id) that nothing read; a
writer opening a version-1 journal drops it and marks the journal version 2. Version 3 added
``batches``; a writer creates it, and readers of an older journal (which had no batch timing) see no
batches. Version 4 added ``before_images`` (the stored state of records an ``import --save-before``
updated, read before it wrote them: record contents, so personal data) and ``reverts`` (runs undone by
``runs revert``); both are in :mod:`pipeline.journal.images`. Readers accept 1 to 4.
"""

from __future__ import annotations

SCHEMA_VERSION = 4
# Versions this code reads; a writer upgrades older ones in place, one step of MIGRATIONS at a time.
READABLE_VERSIONS = frozenset({1, 2, 3, 4})
# version -> the SQL taking it to version + 1 (SCHEMA has already created any new table by then).
MIGRATIONS = {1: "DROP TABLE IF EXISTS accounts", 2: "SELECT 1", 3: "SELECT 1"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    input_path TEXT NOT NULL,
    input_sha256 TEXT NOT NULL,
    options TEXT NOT NULL,
    dry_run INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    state TEXT NOT NULL,
    sessions INTEGER NOT NULL DEFAULT 1,
    counts TEXT,
    report_path TEXT,
    error TEXT);
CREATE INDEX IF NOT EXISTS runs_by_input ON runs (input_path, input_sha256);
CREATE TABLE IF NOT EXISTS outcomes (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    status TEXT NOT NULL,
    genesys_id TEXT,
    error_code TEXT,
    error_message TEXT,
    fingerprint TEXT,
    batch INTEGER NOT NULL,
    session INTEGER NOT NULL,
    PRIMARY KEY (run_id, kind, key));
CREATE TABLE IF NOT EXISTS fingerprints (
    scope TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT,
    genesys_id TEXT,
    run_id INTEGER NOT NULL,
    PRIMARY KEY (scope, kind, key));
CREATE TABLE IF NOT EXISTS batches (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    batch INTEGER NOT NULL,
    session INTEGER NOT NULL,
    kind TEXT NOT NULL,
    records INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT NOT NULL,
    duration_s REAL NOT NULL,
    PRIMARY KEY (run_id, batch));
CREATE TABLE IF NOT EXISTS before_images (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    genesys_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    body TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    PRIMARY KEY (run_id, kind, key));
CREATE TABLE IF NOT EXISTS reverts (
    run_id INTEGER PRIMARY KEY REFERENCES runs (id),
    reverted_at TEXT NOT NULL,
    counts TEXT NOT NULL);
"""
