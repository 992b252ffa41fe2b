"""Search speed at scale: a 20,000-chunk index, `/api/search` latency p50/p95 over HTTP, and where the time goes.

The chunks are synthetic French text assembled from the corpus's own vocabulary, with random unit vectors
(embedding 20,000 chunks would take the model a quarter of an hour on 2 cores and does not change search
speed). Queries are real questions, embedded by the real model. Two measurements, in one run:
- HTTP: a real `seve serve` on a free loopback port, a bounded number of GET /api/search;
- in-process: the same queries through the retriever, timed per step (embedding, vector, lexical, fusion),
  so the shares and the ratio to the HTTP figure are measured on the same machine at the same time.

    python -m evals.bench_search [--chunks 20000] [--requests 100] [--mode hybrid]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from assistant.factory import make_assistant, make_embedder, make_lexical, make_store
from assistant.settings import Settings
from evals.bench_latency import QUESTIONS_FILE, percentile
from evals.harness import DEFAULT_CORPUS
from evals.serving import free_port, wait_http
from index.hybrid import IndexWriter
from ingest.loaders import load_path
from ingest.models import Chunk

REGIONS = ["Bretagne", "Normandie", "Occitanie", "Grand Est", "Corse", "Île-de-France", "Outre-mer"]


def synthetic_chunks(n: int, seed: int = 0) -> list[Chunk]:
    docs, _ = load_path(DEFAULT_CORPUS)
    words = re.findall(r"[\w’'-]+", " ".join(d.text for d in docs))
    rng = random.Random(seed)
    chunks = []
    for i in range(n):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(80, 160))) + "."
        meta = {"title": f"Document synthétique {i // 4}", "doc_type": rng.choice(["exemple", "fiche", "rapport"]),
                "region": rng.choice(REGIONS), "annee": rng.randint(2012, 2025), "path": f"/synthetic/{i // 4}.md"}
        chunks.append(Chunk(doc_id=f"syn{i // 4}", text=text, start=(i % 4) * 1000, end=(i % 4) * 1000 + len(text),
                            metadata=meta))
    return chunks


def build(settings: Settings, n: int, dim: int) -> None:
    embedder = make_embedder(settings)
    store = make_store(settings, embedder)
    writer = IndexWriter(store, make_lexical(settings, store))
    chunks = synthetic_chunks(n)
    vectors = np.random.default_rng(0).normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for i in range(0, n, 2000):
        writer.upsert(chunks[i:i + 2000], vectors[i:i + 2000])
    writer.set_document_count(n // 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--mode", default=None, help="retrieval mode (default: the configured one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    questions = [json.loads(x)["question"] for x in QUESTIONS_FILE.read_text(encoding="utf-8").splitlines() if x]
    base = Settings()
    mode = args.mode or base.retrieval_mode
    with tempfile.TemporaryDirectory() as tmp:
        settings = base.model_copy(update={"data_dir": Path(tmp), "models_dir": base.resolved_models_dir,
                                           "retrieval_mode": mode})
        started = time.perf_counter()
        build(settings, args.chunks, make_embedder(settings).dim)
        build_s = time.perf_counter() - started
        picks = [questions[i % len(questions)] for i in range(args.requests)]

        assistant = make_assistant(settings).warm_up()
        assistant.search(picks[0], 10)  # builds the BM25 matrix once, as the server's first query does
        steps: dict[str, list[float]] = {}
        totals = []
        for q in picks:
            t0 = time.perf_counter()
            result = assistant.retriever.search(q, 10)
            totals.append((time.perf_counter() - t0) * 1000)
            for step, ms in result.timings.items():
                steps.setdefault(step, []).append(ms)

        port = free_port()
        env = {**os.environ, "SEVE_DATA_DIR": tmp, "SEVE_MODELS_DIR": str(base.resolved_models_dir),
               "SEVE_RETRIEVAL_MODE": mode}
        proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), "--log-level",
                                 "warning"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(url + "/api/health", proc, timeout=180)
            latencies = []
            with httpx.Client(base_url=url, timeout=60) as client:
                for q in picks[:5]:
                    client.get("/api/search", params={"q": q, "k": 10}).raise_for_status()
                for q in picks:
                    t0 = time.perf_counter()
                    client.get("/api/search", params={"q": q, "k": 10}).raise_for_status()
                    latencies.append((time.perf_counter() - t0) * 1000)
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    total_mean = sum(totals) / len(totals)
    shares = {step: round(sum(v) / len(v) / total_mean, 3) for step, v in steps.items()}
    result = {"chunks": args.chunks, "mode": mode, "build_s": round(build_s, 1), "requests": args.requests,
              "http_search_p50_ms": round(percentile(latencies, 50), 1),
              "http_search_p95_ms": round(percentile(latencies, 95), 1),
              "inprocess_p50_ms": round(percentile(totals, 50), 1),
              "step_mean_ms": {s: round(sum(v) / len(v), 2) for s, v in steps.items()},
              "step_share_of_inprocess": shares,
              "http_over_inprocess_p50": round(percentile(latencies, 50) / percentile(totals, 50), 2)}
    if args.json:
        print(json.dumps(result))
        return
    print(f"index: {args.chunks} synthetic chunks, mode {mode}, built in {build_s:.1f} s")
    print(f"HTTP /api/search p50 {result['http_search_p50_ms']} ms, p95 {result['http_search_p95_ms']} ms "
          f"({args.requests} requests)")
    print(f"in-process retrieval p50 {result['inprocess_p50_ms']} ms; HTTP/in-process = "
          f"{result['http_over_inprocess_p50']}")
    for step, ms in result["step_mean_ms"].items():
        print(f"  {step:<10} {ms:7.2f} ms  ({shares[step] * 100:4.1f} % of in-process time)")


if __name__ == "__main__":
    main()
