"""Ingest throughput: the whole `seve ingest` pipeline against plain `model.encode` on the same chunks.

Both run in the same process on the same machine, one after the other, so the ratio is meaningful
even on a noisy machine. Prints chunks/s for each and the ratio.

    python -m evals.bench_ingest [--corpus PATH ...] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from assistant.factory import make_embedder, make_ingestor
from assistant.settings import Settings
from evals.calibrate_refusal import DEFAULT_CORPUS
from ingest.chunking import Chunker
from ingest.loaders import load_path
from ingest.pipeline import embedding_text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", nargs="*", type=Path, default=[p for p in DEFAULT_CORPUS if p.exists()])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    base = Settings()
    embedder = make_embedder(base).warm_up()
    embedder.embed_passages(["échauffement du modèle"] * 8)

    with tempfile.TemporaryDirectory() as tmp:
        settings = base.model_copy(update={"data_dir": Path(tmp), "models_dir": base.resolved_models_dir})
        ingestor = make_ingestor(settings, embedder)
        started = time.perf_counter()
        report = ingestor.ingest(args.corpus)
        pipeline_s = time.perf_counter() - started
        started = time.perf_counter()
        again = ingestor.ingest(args.corpus)
        rerun_s = time.perf_counter() - started

    chunker = Chunker(embedder, base.chunk_size, base.chunk_overlap)
    texts = [embedding_text(c) for root in args.corpus for d in load_path(root)[0] for c in chunker.chunk(d)]
    model = embedder.model
    started = time.perf_counter()
    model.encode(texts, batch_size=base.embed_batch_size, prompt_name="passage", normalize_embeddings=True)
    encode_s = time.perf_counter() - started

    result = {
        "chunks": report.chunks_added, "documents": report.documents,
        "pipeline_s": round(pipeline_s, 2), "pipeline_chunks_per_s": round(report.chunks_added / pipeline_s, 1),
        "encode_s": round(encode_s, 2), "encode_chunks_per_s": round(len(texts) / encode_s, 1),
        "pipeline_vs_encode": round(encode_s / pipeline_s, 3),
        "rerun_unchanged_s": round(rerun_s, 2), "rerun_unchanged_docs": again.unchanged,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"corpus: {result['documents']} documents, {result['chunks']} chunks")
    print(f"seve ingest pipeline : {pipeline_s:7.2f} s  {result['pipeline_chunks_per_s']:7.1f} chunks/s")
    print(f"plain model.encode   : {encode_s:7.2f} s  {result['encode_chunks_per_s']:7.1f} chunks/s")
    print(f"pipeline throughput / plain encode throughput = {result['pipeline_vs_encode']:.3f}")
    print(f"second run (nothing changed): {rerun_s:.2f} s, {again.unchanged} documents unchanged")


if __name__ == "__main__":
    main()
