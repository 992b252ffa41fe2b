"""The incremental ingest: paths -> documents -> chunks -> vectors -> a chunk store.

Unchanged documents are skipped, changed ones re-chunked (only chunks with new content are
embedded), documents gone from an ingested folder are pruned, and a run interrupted at any point
is completed by the next one (see `Manifest`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ingest.chunking import Chunker
from ingest.embedding import Embedder
from ingest.failpoints import failpoint
from ingest.loaders import load_path
from ingest.manifest import Manifest, ManifestEntry
from ingest.models import Chunk, IngestReport, SourceDocument, content_hash
from ingest.structure import sentence_texts


@dataclass(frozen=True)
class _Pending:
    doc: SourceDocument
    chunks: list[Chunk]
    old_ids: set[str]
    reusable: set[str]  # written whole by an earlier finished run (what a store that cannot check relies on)


class ChunkStore(Protocol):
    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None: ...

    def delete(self, chunk_ids: Sequence[str]) -> None: ...

    def set_document_count(self, count: int) -> None: ...


@runtime_checkable
class SentenceStore(Protocol):
    """A store that also keeps sentence vectors (optional)."""

    def known_sentences(self, texts: Sequence[str]) -> set[str]: ...

    def upsert_sentences(self, texts: Sequence[str], vectors: np.ndarray) -> None: ...


def embedding_text(chunk: Chunk) -> str:
    """What the model reads for a chunk: its title gives short chunks their context."""
    title = str(chunk.metadata.get("title") or "")
    if title and not chunk.text.startswith(title):
        return f"{title}\n{chunk.text}"
    return chunk.text


def _under(path: str, root: Path) -> bool:
    root_s = str(root)
    return path == root_s or path.startswith(root_s.rstrip(os.sep) + os.sep)


class Ingestor:
    """Keeps a chunk store in sync with folders of documents."""

    def __init__(self, chunker: Chunker, embedder: Embedder, store: ChunkStore, manifest: Manifest,
                 *, batch_chunks: int = 256, sentence_embedder: Embedder | None = None) -> None:
        # sentence vectors are read at answer time against question vectors: the serving encoder makes them
        self.sentence_embedder = sentence_embedder
        self.chunker = chunker
        self.embedder = embedder
        self.store = store
        self.manifest = manifest
        self.batch_chunks = batch_chunks

    def ingest(self, paths: Sequence[Path]) -> IngestReport:
        report = IngestReport()
        roots = [Path(os.path.realpath(p)) for p in paths]  # realpath: never raises on a link loop
        seen_sources: set[str] = set()
        failed_paths: set[str] = set()
        todo: list[SourceDocument] = []
        for root in roots:
            docs, errors = load_path(root)
            report.errors.extend(errors)
            failed_paths.update(os.path.abspath(e.path) for e in errors)  # as sources are named (load_path)
            for doc in docs:
                failpoint("load.document")
                if doc.source in seen_sources:
                    continue
                seen_sources.add(doc.source)
                report.documents += 1
                prev = self.manifest.get(doc.id)
                if prev and prev.state == "done" and prev.hash == self._hash(doc):
                    report.unchanged += 1
                else:
                    todo.append(doc)
        self._index_documents(todo, report)
        self._backfill_sentences()
        self._prune(roots, seen_sources, failed_paths, report)
        self.store.set_document_count(self.manifest.count_done())
        return report

    def _index_documents(self, docs: list[SourceDocument], report: IngestReport) -> None:
        batch: list[_Pending] = []
        pending_chunks = 0
        for doc in docs:
            chunks = self.chunker.chunk(doc)
            failpoint("chunk.document")
            prev = self.manifest.get(doc.id)
            old_ids = set(prev.chunk_ids) if prev else set()
            # chunks of a fully written earlier version are in the store already: never embed them twice (a run
            # killed halfway wrote some too: the store tells which, see _flush)
            reusable = old_ids if prev and prev.state == "done" else set()
            self.manifest.put(ManifestEntry(doc.id, doc.source, self._path_of(doc), self._hash(doc),
                                            tuple(sorted(old_ids | {c.id for c in chunks})), "pending"))
            failpoint("manifest.pending")
            batch.append(_Pending(doc, chunks, old_ids, reusable))
            pending_chunks += sum(1 for c in chunks if c.id not in reusable)
            if pending_chunks >= self.batch_chunks:
                self._flush(batch, report)
                batch, pending_chunks = [], 0
        if batch:
            self._flush(batch, report)

    def _flush(self, batch: list[_Pending], report: IngestReport) -> None:
        reuse = getattr(self.store, "reuse", None)
        if reuse is not None:
            # chunks of an earlier version, finished or cut by a crash, that the store holds: their vectors stay
            # (their metadata is brought up to date by the store)
            kept = reuse([c for item in batch for c in item.chunks if c.id in item.old_ids])
        else:
            kept = {cid for item in batch for cid in item.reusable}
        to_embed = [c for item in batch for c in item.chunks if c.id not in kept]
        if to_embed:
            failpoint("embed.before")
            vectors = self.embedder.embed_passages([embedding_text(c) for c in to_embed])
            failpoint("embed.after")
            self.store.upsert(to_embed, vectors)
            report.chunks_added += len(to_embed)
        # also the sentences of kept chunks: a run killed after writing a chunk may not have embedded them
        # (known sentences are skipped)
        self._embed_sentences([c for item in batch for c in item.chunks])
        for item in batch:
            stale = sorted(item.old_ids - {c.id for c in item.chunks})
            if stale:
                self.store.delete(stale)
                report.chunks_removed += len(stale)
            self.manifest.put(ManifestEntry(item.doc.id, item.doc.source, self._path_of(item.doc),
                                            self._hash(item.doc), tuple(c.id for c in item.chunks), "done"))
            failpoint("manifest.done")

    def _backfill_sentences(self) -> None:
        """An index built before sentence vectors existed gets them once, on its next ingest."""
        older = getattr(self.store, "chunks_without_sentences", None)
        for texts in older() if older is not None else []:
            self._embed_sentences([Chunk("", t, 0, len(t), {}) for t in texts])

    def _embed_sentences(self, chunks: Sequence[Chunk]) -> None:
        """Embed, once, the sentences an answer may quote, for stores that keep them (a question then
        embeds only itself). Written after the chunks: a run killed here leaves only a colder cache."""
        if not isinstance(self.store, SentenceStore):
            return
        texts = list(dict.fromkeys(t for c in chunks for t in sentence_texts(c.text)))
        fresh = [t for t in texts if t not in self.store.known_sentences(texts)]
        for i in range(0, len(fresh), 512):
            part = fresh[i:i + 512]
            vectors = (self.sentence_embedder or self.embedder).embed_passages(part)
            failpoint("sentences.before")
            self.store.upsert_sentences(part, vectors)
            failpoint("sentences.after")

    def _hash(self, doc: SourceDocument) -> str:
        """The document's content and metadata, and how it is chunked (the collection pins the model)."""
        return content_hash(doc.hash, self.chunker.signature)

    @staticmethod
    def _path_of(doc: SourceDocument) -> str:
        return doc.source.split("#", 1)[0]

    def _prune(self, roots: list[Path], seen: set[str], failed: set[str], report: IngestReport) -> None:
        for entry in self.manifest.entries():
            if entry.source in seen or entry.path in failed:
                continue
            if not any(_under(entry.path, root) for root in roots):
                continue
            if entry.chunk_ids:
                self.store.delete(list(entry.chunk_ids))
                report.chunks_removed += len(entry.chunk_ids)
            failpoint("prune.before_manifest")
            self.manifest.delete(entry.doc_id)
            failpoint("prune.after_manifest")
