"""Retrieval: question -> ranked chunks (dense top-k with metadata filters)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from index.filters import normalize_filters, to_where
from index.store import ScoredChunk


class QueryEmbedder(Protocol):
    def embed_queries(self, texts: list[str]) -> np.ndarray: ...


class VectorIndex(Protocol):
    def query(self, vector: np.ndarray, k: int, where: dict[str, Any] | None = None) -> list[ScoredChunk]: ...


class Retriever:
    def __init__(self, store: VectorIndex, embedder: QueryEmbedder) -> None:
        self.store = store
        self.embedder = embedder

    def retrieve(self, question: str, k: int = 5, filters: Mapping[str, Any] | None = None,
                 vector: np.ndarray | None = None) -> list[ScoredChunk]:
        """Validate the filters, then return at most k chunks, best first."""
        clean = normalize_filters(filters)
        if vector is None:
            vector = self.embedder.embed_queries([question])[0]
        return self._retrieve(vector, k, to_where(clean))

    def _retrieve(self, vector: np.ndarray, k: int, where: dict[str, Any] | None) -> list[ScoredChunk]:
        hits = self.store.query(vector, k, where)
        return sorted(hits, key=lambda h: h.score, reverse=True)
