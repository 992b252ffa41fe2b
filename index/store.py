"""The Chroma collection where chunks live. Vectors are always passed in: the collection never embeds.

Embedded mode uses a `PersistentClient` under the data dir; client/server mode an `HttpClient` to a
`chroma run` server. The collection records the embedding model and dimension it was built with,
and refuses vectors from another model instead of silently mixing spaces.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ingest.failpoints import failpoint
from ingest.models import Chunk


class StoreError(Exception):
    """The index cannot be used as configured (server down, model mismatch...)."""


@dataclass(frozen=True)
class ScoredChunk:
    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
    score: float
    metadata: dict[str, Any]


def _chroma_metadata(chunk: Chunk) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key, value in chunk.metadata.items():
        if isinstance(value, (list, tuple)):
            values = [str(v) for v in value if v not in (None, "")]
            if values:
                meta[key] = values
        elif isinstance(value, (str, int, float, bool)) and value != "":
            meta[key] = value
    meta.update({"doc_id": chunk.doc_id, "start": chunk.start, "end": chunk.end})
    return meta


# Keys of a stored chunk's metadata that are bookkeeping, not the document's metadata.
POSITION_KEYS = ("doc_id", "start", "end")
SEQ_KEY = "seq"
VERSION_KEY = "index_version"


def stored_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """A chunk's metadata as Chroma keeps it (lists of strings, no empty values), without positions."""
    return {k: v for k, v in _chroma_metadata(Chunk("", "", 0, 0, metadata)).items() if k not in POSITION_KEYS}


def make_client(data_dir: Path, chroma_url: str | None = None) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        url = urlparse(chroma_url if "://" in chroma_url else f"http://{chroma_url}")
        try:
            return chromadb.HttpClient(host=url.hostname or "127.0.0.1", port=url.port or 8000,
                                       ssl=url.scheme == "https", settings=settings)
        except Exception as exc:  # connection refused, bad handshake...
            raise StoreError(f"serveur Chroma injoignable à {chroma_url} : {exc}") from exc
    path = data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


def reopen_embedded(data_dir: Path) -> Any:
    """A new embedded client on the same folder, whose vector index is read again from disk. Chroma shares one
    system per folder in a process: the cache is cleared first (clients made before keep working)."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    return make_client(data_dir)


def embedded_system(client: Any) -> Any:
    """The system behind an embedded client if no other client of this process uses it (Chroma counts them);
    None otherwise (tests and evals that share one), or for an HTTP client. Read it before a reopening."""
    from chromadb.api.shared_system_client import SharedSystemClient

    identifier = getattr(client, "_identifier", None)
    # chromadb 1.5 counts 2 per client (the client and its admin client)
    if identifier is None or SharedSystemClient._identifier_to_refcount.get(identifier, 0) > 2:
        return None
    return SharedSystemClient._identifier_to_system.get(identifier)


class ChromaStore:
    """The collection is the source of truth. Its metadata carries `index_version`, raised by every write
    (`upsert`, `delete`); each chunk carries the version that wrote it (`seq`), so a derived index can fetch
    only what changed since the version it last saw (index.live)."""

    def __init__(self, client: Any, collection: str, embedding_model: str, dim: int, *,
                 reopen: Any = None) -> None:
        self._client = client
        self._reopen = reopen
        self.local: Any = None  # a synced local copy that can give chunks by id (index.lexical), optional
        self.name = collection
        self.embedding_model = embedding_model
        self.dim = dim
        self._collection = client.get_or_create_collection(
            collection,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"embedding_model": embedding_model, "dim": dim, "documents": 0},
            embedding_function=None,
        )
        self._generation = 0
        self._in_use: dict[int, int] = {}
        self._cond = threading.Condition()
        meta = self._collection.metadata or {}
        if meta.get("embedding_model") not in (None, embedding_model) or meta.get("dim") not in (None, dim):
            raise StoreError(
                f"l'index « {collection} » a été construit avec le modèle {meta.get('embedding_model')} "
                f"(dimension {meta.get('dim')}) et non {embedding_model} (dimension {dim}) : "
                "utilisez un autre --data-dir ou supprimez l'index pour le reconstruire"
            )

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> int:
        """Write chunks, then publish a new index version (returned)."""
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        seq = self.version() + 1
        for i in range(0, len(chunks), 1000):
            part = chunks[i:i + 1000]
            failpoint("chroma.upsert.before")
            self._call("upsert",
                ids=[c.id for c in part],
                embeddings=np.asarray(vectors[i:i + 1000], dtype=np.float32),
                documents=[c.text for c in part],
                metadatas=[{**_chroma_metadata(c), SEQ_KEY: seq} for c in part],
            )
            failpoint("chroma.upsert.after")  # written, the new version not yet published
        return self._publish(seq)

    def update_metadata(self, chunks: Sequence[Chunk]) -> int:
        """Rewrite the metadata of stored chunks, their vectors untouched (a front-matter edit), then publish a
        new index version (returned)."""
        seq = self.version() + 1
        for i in range(0, len(chunks), 1000):
            part = chunks[i:i + 1000]
            self._call("update", ids=[c.id for c in part],
                       metadatas=[{**_chroma_metadata(c), SEQ_KEY: seq} for c in part])
            failpoint("chroma.update.after")
        return self._publish(seq)

    def delete(self, chunk_ids: Sequence[str]) -> int:
        for i in range(0, len(chunk_ids), 1000):
            failpoint("chroma.delete.before")
            self._call("delete", ids=list(chunk_ids[i:i + 1000]))
            failpoint("chroma.delete.after")
        return self._publish(self.version() + 1)

    def _metadata(self) -> dict[str, Any]:
        """The collection's metadata as the database holds it now (a handle's copy goes stale when another
        process writes)."""
        return dict(self._call("get_collection", self.name, on_client=True).metadata or {})

    def _publish(self, version: int, **extra: Any) -> int:
        meta = self._metadata()
        version = max(version, int(meta.get(VERSION_KEY, 0)) + 1)
        meta.update({VERSION_KEY: version, **extra})
        self._call("modify", metadata=meta)
        failpoint("chroma.publish.after")
        return version

    def version(self) -> int:
        """The index version: raised by every write, from any process."""
        return int(self._metadata().get(VERSION_KEY, 0))

    @contextmanager
    def _handle(self) -> Iterator[tuple[Any, Any]]:
        """(collection, client) of the current generation, counted as in use until the block ends."""
        with self._cond:
            generation, collection, client = self._generation, self._collection, self._client
            self._in_use[generation] = self._in_use.get(generation, 0) + 1
        try:
            yield collection, client
        finally:
            with self._cond:
                self._in_use[generation] -= 1
                if not self._in_use[generation]:
                    del self._in_use[generation]
                    self._cond.notify_all()

    def _call(self, method: str, *args: Any, on_client: bool = False, **kwargs: Any) -> Any:
        with self._handle() as (collection, client):
            return getattr(client if on_client else collection, method)(*args, **kwargs)

    def refresh(self) -> None:
        """See writes made by other processes: a fresh handle (its metadata) and, in embedded mode, a reopened
        client (its in-memory vector index only knows what this process wrote). The old embedded client is
        closed once the calls that use it have ended: otherwise each reopening would keep a copy of the vector
        index in memory."""
        if self._reopen is None:
            collection = self._client.get_collection(self.name)
            with self._cond:
                self._collection = collection
            return
        old_system = embedded_system(self._client)
        client = self._reopen()
        collection = client.get_collection(self.name)
        with self._cond:
            old = self._generation
            self._client, self._collection, self._generation = client, collection, old + 1
            self._cond.wait_for(lambda: old not in self._in_use, timeout=120)
        if old_system is not None:
            old_system.stop()

    def set_document_count(self, count: int) -> None:
        if self._metadata().get("documents") != count:
            self._publish(0, documents=count)

    def document_count(self) -> int:
        with self._handle() as (collection, _):
            return int((collection.metadata or {}).get("documents", 0))

    def count(self) -> int:
        return int(self._call("count", ))

    def ids(self, batch: int = 20000) -> list[str]:
        """Every chunk id in the collection."""
        out: list[str] = []
        while part := self._call("get", offset=len(out), limit=batch, include=[])["ids"]:
            out.extend(part)
            if len(part) < batch:
                break
        return out

    def chunks(self, ids: Sequence[str]) -> list[ScoredChunk]:
        """The stored chunks with these ids (those that exist), score 0."""
        out: list[ScoredChunk] = []
        for i in range(0, len(ids), 1000):
            result = self._call("get", ids=list(ids[i:i + 1000]), include=["documents", "metadatas"])
            out.extend(self._hit(cid, text, meta, 0.0) for cid, text, meta in
                       zip(result["ids"], result["documents"], result["metadatas"], strict=True))
        return out

    def changed_since(self, version: int, batch: int = 2000) -> Iterator[list[ScoredChunk]]:
        """Chunks written by versions after `version`, in pages."""
        offset = 0
        while True:
            result = self._call("get", where={SEQ_KEY: {"$gt": version}}, offset=offset, limit=batch,
                                          include=["documents", "metadatas"])
            if not result["ids"]:
                return
            yield [self._hit(cid, text, meta, 0.0) for cid, text, meta in
                   zip(result["ids"], result["documents"], result["metadatas"], strict=True)]
            offset += len(result["ids"])

    def document(self, doc_id: str) -> list[ScoredChunk]:
        """Every stored chunk of one document, in reading order (empty if the document is unknown)."""
        result = self._call("get", where={"doc_id": doc_id}, include=["documents", "metadatas"])
        hits = [self._hit(cid, text, meta, 0.0)
                for cid, text, meta in zip(result["ids"], result["documents"], result["metadatas"], strict=True)]
        return sorted(hits, key=lambda h: (h.start, h.end))

    @staticmethod
    def _hit(chunk_id: str, text: str | None, meta: dict[str, Any] | None, score: float) -> ScoredChunk:
        meta = dict(meta or {})
        meta.pop(SEQ_KEY, None)
        return ScoredChunk(chunk_id=chunk_id, doc_id=str(meta.pop("doc_id", "")), text=text or "",
                           start=int(meta.pop("start", 0)), end=int(meta.pop("end", 0)), score=score, metadata=meta)

    def query(self, vector: np.ndarray, k: int, where: dict[str, Any] | None = None,
              ids: Sequence[str] | None = None) -> list[ScoredChunk]:
        """The k nearest chunks. With a local copy (`self.local`, the synced lexical index), Chroma returns only
        ids and distances and the texts come from the copy: 1 ms instead of 5 at 50 hits, and less traffic
        to a Chroma server. Chunks the copy lacks yet are fetched from Chroma."""
        if k <= 0:
            return []
        include = ["distances"] if self.local is not None else ["documents", "metadatas", "distances"]
        if ids is not None and not ids:
            return []
        result = self._call("query", query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=k,
                                        where=where or None, ids=list(ids) if ids is not None else None,
                                        include=include)
        ids, distances = result["ids"][0], result["distances"][0]
        if self.local is None:
            return [self._hit(cid, text, meta, 1.0 - float(dist))
                    for cid, text, meta, dist in zip(ids, result["documents"][0], result["metadatas"][0], distances,
                                                     strict=True)]
        known = self.local.chunks_by_id(ids)
        missing = [cid for cid in ids if cid not in known]
        if missing:
            known.update({h.chunk_id: h for h in self.chunks(missing)})
        return [replace(known[cid], score=1.0 - float(dist)) for cid, dist in zip(ids, distances, strict=True)
                if cid in known]


def assemble(chunks: Sequence[Any]) -> tuple[int, str]:
    """A document's text rebuilt from its chunks (sorted by start): (offset of the first chunk, text). Overlaps
    are merged and gaps between chunks become line breaks (what separates chunks), so offsets stay exact."""
    if not chunks:
        return 0, ""
    origin = cursor = chunks[0].start
    parts: list[str] = []
    for chunk in chunks:
        if chunk.start > cursor:
            parts.append("\n" * (chunk.start - cursor))
            cursor = chunk.start
        if chunk.end > cursor:
            parts.append(chunk.text[cursor - chunk.start:])
            cursor = chunk.end
    return origin, "".join(parts)
