"""Optional reranking with a sentence-transformers CrossEncoder (off unless a model is configured).

No package in the registries reachable here ships a multilingual cross-encoder's weights (see the
README), so the default is no reranking; any local CrossEncoder folder or cached model name works.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from index.store import ScoredChunk


class CrossEncoderReranker:
    """Scores (question, passage) pairs with a CrossEncoder and reorders the candidates."""

    def __init__(self, model: str, *, candidates: int = 20, batch_size: int = 16, device: str = "cpu") -> None:
        self.name = model
        self.candidates = candidates
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None

    def warm_up(self) -> CrossEncoderReranker:
        if self._model is None:
            from sentence_transformers import CrossEncoder

            self._model = CrossEncoder(self.name, device=self.device, local_files_only=True)
        return self

    def scores(self, question: str, texts: Sequence[str]) -> list[float]:
        model = self.warm_up()._model
        values = model.predict([(question, t) for t in texts], batch_size=self.batch_size, show_progress_bar=False)
        return [float(v) for v in values]

    def rerank(self, question: str, hits: Sequence[ScoredChunk], k: int) -> list[ScoredChunk]:
        """The first `candidates` hits reordered by cross-encoder score (which becomes their score)."""
        head = list(hits[: self.candidates])
        if not head:
            return []
        scored = sorted(zip(self.scores(question, [h.text for h in head]), range(len(head)), strict=True),
                        key=lambda p: (-p[0], p[1]))
        return [replace(head[i], score=s) for s, i in scored][:k]
