"""Embedding: texts -> L2-normalised vectors, with the model's query/passage prompts.

`SentenceTransformerEmbedder` is the real one (sentence-transformers does the encoding);
`HashEmbedder` is a deterministic fake for fast tests whose vectors still rank by shared words.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ingest.models import fold


@runtime_checkable
class Embedder(Protocol):
    name: str

    @property
    def dim(self) -> int: ...

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded once, explicitly, by `warm_up()` (or on first use)."""

    def __init__(self, model: str | Path, *, batch_size: int = 32, device: str = "cpu") -> None:
        self.name = str(model)
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self._fast_tokenizer = None

    def warm_up(self) -> SentenceTransformerEmbedder:
        if self._model is None:
            quiet_transformers()
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(self.name, device=self.device, local_files_only=True)
            backend = getattr(self._model.tokenizer, "backend_tokenizer", None)
            if backend is not None:
                # A private copy: encode() turns truncation on in the shared one, which would cap counts at 512.
                from tokenizers import Tokenizer

                self._fast_tokenizer = Tokenizer.from_str(backend.to_str())
                self._fast_tokenizer.no_truncation()
                self._fast_tokenizer.no_padding()
        return self

    @property
    def model(self):  # noqa: ANN201 - third-party type stays inside this module
        return self.warm_up()._model

    @property
    def dim(self) -> int:
        dim = self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension") \
            else self.model.get_sentence_embedding_dimension()
        return int(dim)

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def _encode(self, texts: list[str], prompt_name: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        kwargs = {"prompt_name": prompt_name} if prompt_name in (self.model.prompts or {}) else {}
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False, **kwargs,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, "passage")

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, "query")

    def count_tokens(self, text: str) -> int:
        """Tokens the model reads for text (no specials); long texts are fine, nothing is truncated."""
        self.warm_up()
        if self._fast_tokenizer is not None:
            return len(self._fast_tokenizer.encode(text, add_special_tokens=False).ids)
        return len(self.model.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])


def quiet_transformers() -> None:
    """No progress bars or advisory warnings from transformers on a user's terminal."""
    import os

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:  # transformers is a dependency of sentence-transformers; keep going regardless
        pass


_WORD = re.compile(r"\w+", re.UNICODE)


class HashEmbedder:
    """Deterministic fake: hashed bag of (folded, crudely stemmed) words and word bigrams.

    Two texts that share words get a high cosine, unrelated ones a low one, so ranking, refusal
    thresholds and filters can be tested without a model. Queries and passages share a space.
    """

    def __init__(self, dim: int = 256) -> None:
        self.name = f"hash-{dim}"
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    @staticmethod
    def _terms(text: str) -> list[str]:
        words = [w[:6] for w in _WORD.findall(fold(text)) if len(w) > 2]
        return words + [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self._dim, dtype=np.float32)
        for term in self._terms(text):
            digest = hashlib.blake2b(term.encode(), digest_size=8).digest()
            index = int.from_bytes(digest[:4], "little") % self._dim
            vec[index] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self._dim), np.float32)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed_passages(texts)

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text))
