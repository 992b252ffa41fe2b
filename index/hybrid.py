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
        self.lexical.upsert([_lexical_chunk(c) for c in chunks])
        self._mark(before, version)

    def reuse(self, chunks: Sequence[Chunk]) -> set[str]:
        """The ids of those chunks Chroma holds already, whose vectors are therefore neither computed nor written
        again. (Writing again a vector Chroma holds can leave it out of search results, chroma-core/chroma#7758;
        a run after a crash used to do that.) A kept chunk stored with other metadata (a front-matter edit) gets
        its metadata rewritten; one the lexical copy lacks (a run killed between the two writes) is added. A
        chunk whose title changed is not kept: its vector is computed again."""
        if not chunks:
            return set()
        stored = {h.chunk_id: h for h in self.vector.chunks([c.id for c in chunks])}
        # a new title changes what the model reads (ingest.pipeline.embedding_text): such a vector is redone
        kept = [c for c in chunks if c.id in stored
                and str(stored[c.id].metadata.get("title") or "") == str(c.metadata.get("title") or "")]
        stale = [c for c in kept if stored[c.id].metadata != stored_metadata(c.metadata)]
        before = version = 0
        if stale:
            before = self.vector.version()
            version = self.vector.update_metadata(stale)
            failpoint("writer.reuse.between")
        copies = self.lexical.chunks_by_id([c.id for c in kept])
        fix = [c for c in kept if c.id not in copies or copies[c.id].metadata != stored_metadata(c.metadata)]
        if fix:
            self.lexical.upsert([_lexical_chunk(c) for c in fix])
        if stale:
            self._mark(before, version)
        return {c.id for c in kept}

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


def _lexical_chunk(chunk: Chunk) -> Chunk:
    """The chunk with its metadata as Chroma keeps it, so this copy and the ones synced from Chroma filter alike."""
    return Chunk(chunk.doc_id, chunk.text, chunk.start, chunk.end, stored_metadata(chunk.metadata))


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

