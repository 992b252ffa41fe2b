"""The ingest manifest: which documents are indexed, with which content hash and chunk ids.

A document is marked `pending` (with the union of its old and new chunk ids) before any chunk is
written, and `done` after; a run that is interrupted leaves pending rows that the next run redoes,
so no chunk is ever written without its id being recorded first.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ManifestEntry:
    doc_id: str
    source: str
    path: str
    hash: str
    chunk_ids: tuple[str, ...]
    state: str


class Manifest:
    def __init__(self, db_path: Path) -> None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(db_path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS docs (doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, path TEXT NOT NULL,"
            " hash TEXT NOT NULL, chunk_ids TEXT NOT NULL, state TEXT NOT NULL, updated REAL NOT NULL)"
        )

    def close(self) -> None:
        self._db.close()

    @staticmethod
    def _entry(row: tuple) -> ManifestEntry:
        return ManifestEntry(row[0], row[1], row[2], row[3], tuple(json.loads(row[4])), row[5])

    def get(self, doc_id: str) -> ManifestEntry | None:
        row = self._db.execute("SELECT doc_id, source, path, hash, chunk_ids, state FROM docs WHERE doc_id=?",
                               (doc_id,)).fetchone()
        return self._entry(row) if row else None

    def entries(self) -> list[ManifestEntry]:
        rows = self._db.execute("SELECT doc_id, source, path, hash, chunk_ids, state FROM docs").fetchall()
        return [self._entry(r) for r in rows]

    def put(self, entry: ManifestEntry) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO docs VALUES (?, ?, ?, ?, ?, ?, ?)",
            (entry.doc_id, entry.source, entry.path, entry.hash, json.dumps(list(entry.chunk_ids)), entry.state,
             time.time()),
        )

    def delete(self, doc_id: str) -> None:
        self._db.execute("DELETE FROM docs WHERE doc_id=?", (doc_id,))

    def count_done(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM docs WHERE state='done'").fetchone()[0])
