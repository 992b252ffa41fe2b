"""Keeps the vector store and the lexical index in step, and fuses their rankings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from index.lexical import LexicalIndex
from index.store import ChromaStore, ScoredChunk
from ingest.models import Chunk


class IndexWriter:
    """The ingest's chunk store: every write goes to Chroma and to the lexical index."""

    def __init__(self, vector: ChromaStore, lexical: LexicalIndex) -> None:
        self.vector = vector
        self.lexical = lexical

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        self.vector.upsert(chunks, vectors)
        self.lexical.upsert(chunks)

    def delete(self, chunk_ids: Sequence[str]) -> None:
        self.vector.delete(chunk_ids)
        self.lexical.delete(chunk_ids)

    def set_document_count(self, count: int) -> None:
        self.vector.set_document_count(count)

    def known_sentences(self, texts: Sequence[str]) -> set[str]:
        return self.lexical.known_sentences(texts)

    def upsert_sentences(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.lexical.upsert_sentences(texts, vectors)

    def chunks_without_sentences(self) -> list[list[str]]:
        """Chunk texts of an index built before sentence vectors existed (empty when there are some)."""
        if self.lexical.sentence_count() or not self.lexical.count():
            return []
        return list(self.lexical.chunk_texts())


def backfill_lexical(vector: ChromaStore, lexical: LexicalIndex, batch: int = 2000) -> int:
    """Fill an empty lexical index from the chunks already in Chroma (an index built before it existed)."""
    if lexical.count() or not vector.count():
        return 0
    added = 0
    for offset in range(0, vector.count(), batch):
        chunks = [Chunk(doc_id=h.doc_id, text=h.text, start=h.start, end=h.end, metadata=h.metadata)
                  for h in vector.all_chunks(offset, batch)]
        lexical.upsert(chunks)
        added += len(chunks)
    return added


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

