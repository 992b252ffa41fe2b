"""Keeps the vector store and the lexical index in step, and fuses their rankings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from index.lexical import LexicalIndex
from index.store import ChromaStore, ScoredChunk, stored_metadata
from ingest.failpoints import failpoint
from ingest.models import Chunk


class IndexWriter:
    """The ingest's chunk store: every write goes to Chroma and to the lexical index."""

    def __init__(self, vector: ChromaStore, lexical: LexicalIndex) -> None:
        self.vector = vector
        self.lexical = lexical

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        before = self.vector.version()
        version = self.vector.upsert(chunks, vectors)
        failpoint("writer.upsert.between")  # in Chroma, not yet in the lexical copy
        # the metadata as Chroma keeps it, so this copy and the ones synced from Chroma filter alike
        self.lexical.upsert([Chunk(c.doc_id, c.text, c.start, c.end, stored_metadata(c.metadata)) for c in chunks])
        self._mark(before, version)

    def delete(self, chunk_ids: Sequence[str]) -> None:
        before = self.vector.version()
        version = self.vector.delete(chunk_ids)
        failpoint("writer.delete.between")
        self.lexical.delete(chunk_ids)
        self._mark(before, version)

    def _mark(self, before: int, version: int) -> None:
        """This copy reflects `version` only if it reflected the one before and no other writer came between;
        otherwise the next sync (index.live) fetches what it lacks."""
        if version == before + 1 and self.lexical.synced_version() == before:
            self.lexical.set_synced_version(version)

    def set_document_count(self, count: int) -> None:
        before = self.vector.version()
        self.vector.set_document_count(count)
        after = self.vector.version()
        if after != before:
            self._mark(before, after)

    def known_sentences(self, texts: Sequence[str]) -> set[str]:
        return self.lexical.known_sentences(texts)

    def upsert_sentences(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.lexical.upsert_sentences(texts, vectors)

    def chunks_without_sentences(self) -> list[list[str]]:
        """Chunk texts of an index built before sentence vectors existed (empty when there are some)."""
        if self.lexical.sentence_count() or not self.lexical.count():
            return []
        return list(self.lexical.chunk_texts())


def rrf(rankings: Sequence[Sequence[ScoredChunk]], k: int = 60, weights: Sequence[float] | None = None,
        limit: int = 10) -> list[ScoredChunk]:
    """Reciprocal rank fusion: score = sum_i w_i / (k + rank_i). The fused score replaces the chunk's score."""
    weights = weights or [1.0] * len(rankings)
    fused: dict[str, float] = {}
    best: dict[str, ScoredChunk] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, hit in enumerate(ranking):
            fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + weight / (k + rank + 1)
            best.setdefault(hit.chunk_id, hit)
    order = sorted(fused, key=lambda cid: -fused[cid])[:limit]
    return [_with_score(best[cid], fused[cid]) for cid in order]


def _with_score(hit: ScoredChunk, score: float) -> ScoredChunk:
    return replace(hit, score=score)

