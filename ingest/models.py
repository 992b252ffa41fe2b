"""Frozen records that flow through the pipeline: documents, chunks and ingest reports."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass, field
from typing import Any


def content_hash(*parts: str) -> str:
    """A stable sha256 hex digest over text parts (separated so that ("ab","c") != ("a","bc"))."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


def _slow_fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


# NFKD decomposes character by character, so folding a character at a time gives the same text: a table for
# the characters below U+3000 makes fold() several times faster (it runs on every word of every answer).
_FOLD_LIMIT = 0x3000
_FOLD_TABLE = {c: _slow_fold(chr(c)) for c in range(0x80, _FOLD_LIMIT) if _slow_fold(chr(c)) != chr(c)}


def fold(text: str) -> str:
    """Lowercase, strip accents, unify apostrophes: « Élève’s » -> « eleve's »."""
    text = text.replace("’", "'").replace("œ", "oe").replace("Œ", "Oe").lower()
    if text.isascii():
        return text
    folded = text.translate(_FOLD_TABLE)
    if folded.isascii() or max(folded) < chr(_FOLD_LIMIT):
        return folded
    return _slow_fold(text)


def metadata_fingerprint(metadata: dict[str, Any]) -> str:
    return json.dumps(metadata, sort_keys=True, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class SourceDocument:
    """One document as read from a source: its text and its metadata.

    `source` is the stable identity of where it came from (an absolute path, or `path#record-id`
    for one record of a CSV/JSONL file); `id` derives from it, so the same source keeps its id
    across runs while `hash` changes whenever the text or the metadata does.
    """

    source: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return content_hash("doc", self.source)[:24]

    @property
    def hash(self) -> str:
        return content_hash(self.text, metadata_fingerprint(self.metadata))

    @property
    def title(self) -> str:
        return str(self.metadata.get("title") or self.source.rsplit("/", 1)[-1])


@dataclass(frozen=True)
class Chunk:
    """A span of a document: `text == document.text[start:end]`."""

    doc_id: str
    text: str
    start: int
    end: int
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return content_hash("chunk", self.doc_id, str(self.start), self.text)[:32]


@dataclass(frozen=True)
class LoadError:
    path: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


@dataclass
class IngestReport:
    documents: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    unchanged: int = 0
    errors: list[LoadError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "chunks_added": self.chunks_added,
            "chunks_removed": self.chunks_removed,
            "unchanged": self.unchanged,
            "errors": [e.as_dict() for e in self.errors],
        }
