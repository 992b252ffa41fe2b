"""Query latency of a real `seve serve`: /api/search and /api/chat p50/p95, and the server's peak memory.

Starts the server as a user would (a subprocess on a free loopback port) over an index of the corpus,
sends a bounded number of requests, and compares with a baseline measured in the same run: one bare
query embedding (`model.encode`) in this process, so the ratio says what the API adds around the model.

    python -m evals.bench_latency [--requests 60] [--corpus PATH ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from assistant.factory import make_embedders, make_ingestor
from assistant.settings import Settings
from evals.calibrate_refusal import DEFAULT_CORPUS, HERE
from evals.serving import free_port, wait_http

QUESTIONS_FILE = HERE / "gold" / "gold.jsonl"  # every kind of question: lists, definitions, comparisons, English


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(call) -> float:
    started = time.perf_counter()
    response = call()
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=60, help="requests per endpoint (bounded)")
    parser.add_argument("--corpus", nargs="*", type=Path, default=[p for p in DEFAULT_CORPUS if p.exists()])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    questions = [json.loads(x)["question"] for x in QUESTIONS_FILE.read_text(encoding="utf-8").splitlines() if x]
    base = Settings()
    passages, embedder = make_embedders(base)

    with tempfile.TemporaryDirectory() as tmp:
        settings = base.model_copy(update={"data_dir": Path(tmp), "models_dir": base.resolved_models_dir})
        report = make_ingestor(settings, passages, embedder).ingest(args.corpus)
        port = free_port()
        env = {**os.environ, "SEVE_DATA_DIR": tmp, "SEVE_MODELS_DIR": str(base.resolved_models_dir)}
        proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port),
                                 "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(url + "/api/health", proc, timeout=180)
            with httpx.Client(base_url=url, timeout=60) as client:
                for q in questions[:5]:  # warm-up, not measured
                    client.post("/api/chat", json={"message": q})
                picks = [questions[(i * 7) % len(questions)] for i in range(args.requests)]  # spread over kinds
                search = [timed(lambda q=q: client.get("/api/search", params={"q": q, "k": 10})) for q in picks]
                chat = [timed(lambda q=q: client.post("/api/chat", json={"message": q})) for q in picks]
                health = [timed(lambda: client.get("/api/health")) for _ in range(20)]
            rss = peak_rss_mib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    bare = []
    for q in questions[: min(len(questions), args.requests)]:
        started = time.perf_counter()
        embedder.embed_queries([q])
        bare.append((time.perf_counter() - started) * 1000)
    result = {
        "chunks": report.chunks_added, "requests": args.requests,
        "search_p50_ms": round(percentile(search, 50), 1), "search_p95_ms": round(percentile(search, 95), 1),
        "chat_p50_ms": round(percentile(chat, 50), 1), "chat_p95_ms": round(percentile(chat, 95), 1),
        "health_p50_ms": round(statistics.median(health), 1),
        "bare_query_embedding_p50_ms": round(percentile(bare, 50), 1),
        "search_p50_over_bare_embedding": round(percentile(search, 50) / percentile(bare, 50), 2),
        "chat_p50_over_search_p50": round(percentile(chat, 50) / percentile(search, 50), 2),
        "serve_peak_rss_mib": round(rss, 1),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"index: {result['chunks']} chunks; {args.requests} requests per endpoint")
    print(f"/api/search  p50 {result['search_p50_ms']:7.1f} ms   p95 {result['search_p95_ms']:7.1f} ms")
    print(f"/api/chat    p50 {result['chat_p50_ms']:7.1f} ms   p95 {result['chat_p95_ms']:7.1f} ms   "
          f"(chat p50 / search p50 = {result['chat_p50_over_search_p50']})")
    print(f"/api/health  p50 {result['health_p50_ms']:7.1f} ms (HTTP floor)")
    print(f"bare query embedding p50 {result['bare_query_embedding_p50_ms']:.1f} ms in-process; "
          f"search p50 / bare = {result['search_p50_over_bare_embedding']}")
    print(f"seve serve peak RSS: {result['serve_peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
