"""Deterministic real components for fast tests: a hash embedder, a Chroma on disk, an assistant."""

from __future__ import annotations

from pathlib import Path

import chromadb
from chromadb.config import Settings as ChromaSettings

from assistant.gate import FEATURES, GateModel
from assistant.service import Assistant
from assistant.settings import Settings
from index.hybrid import IndexWriter
from index.lexical import LexicalIndex
from index.store import ChromaStore, reopen_embedded
from ingest.chunking import Chunker
from ingest.embedding import HashEmbedder
from ingest.manifest import Manifest
from ingest.pipeline import Ingestor


class CountingEmbedder(HashEmbedder):
    """HashEmbedder that remembers every passage it embedded (to prove nothing is embedded twice)."""

    def __init__(self, dim: int = 256) -> None:
        super().__init__(dim)
        self.passages: list[str] = []

    def embed_passages(self, texts):  # type: ignore[override]
        self.passages.extend(texts)
        return super().embed_passages(texts)


# With the hash embedder, on-topic questions share several words with a chunk (cosine > 0.2)
# while off-topic ones share none (cosine ~0): this threshold separates them in the fake space.
FAKE_THRESHOLD = 0.12


def make_store(data_dir: Path, embedder: HashEmbedder, collection: str = "seve") -> ChromaStore:
    client = chromadb.PersistentClient(str(data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    return ChromaStore(client, collection, embedder.name, embedder.dim, reopen=lambda: reopen_embedded(data_dir))


def make_ingestor(data_dir: Path, embedder: HashEmbedder | None = None, chunk_size: int = 120,
                  store: ChromaStore | None = None) -> Ingestor:
    """An ingestor writing to a real Chroma and a real lexical index (ingestor.store.vector / .lexical)."""
    embedder = embedder or CountingEmbedder()
    store = store or make_store(data_dir, embedder)
    writer = IndexWriter(store, LexicalIndex(data_dir / "lexical.sqlite"))
    return Ingestor(Chunker(embedder, chunk_size, 16), embedder, writer, Manifest(data_dir / "manifest.sqlite"),
                    batch_chunks=8)


def fake_gate(threshold: float = FAKE_THRESHOLD) -> GateModel:
    """The answerability gate for the hash space: answer when the best cosine reaches the threshold
    (the real gate's coefficients are fitted on the real model's scale)."""
    n = len(FEATURES)
    return GateModel((1.0,) + (0.0,) * (n - 1), 0.0, (threshold,) + (0.0,) * (n - 1), (0.01,) + (1.0,) * (n - 1),
                     0.5, "tests: dense cosine only")


def make_assistant(data_dir: Path, ingestor: Ingestor, **overrides) -> Assistant:
    settings = Settings(data_dir=data_dir, refusal_threshold=FAKE_THRESHOLD, **overrides)
    writer = ingestor.store
    return Assistant(settings, ingestor.embedder, writer.vector, writer.lexical,  # type: ignore[attr-defined]
                     gate=fake_gate())


def mini_assistant(tmp: Path):
    """An assistant over a fresh copy of tests/data/mini, ingested with the hash embedder (the API tests' own)."""
    import shutil

    shutil.copytree(Path(__file__).parent / "data" / "mini", tmp / "c")
    ing = make_ingestor(tmp / "d")
    ing.ingest([tmp / "c"])
    return make_assistant(tmp / "d", ing)
